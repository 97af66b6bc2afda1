"""Keyed pseudonymisation: HMAC-SHA256 with a secret that never enters the repo or the lake."""

from __future__ import annotations

import hashlib
import os
import secrets
from functools import lru_cache
from pathlib import Path

import polars as pl

from rtl_parser.decode import map_distinct

ID_HEX = 32  # contract §7.1: 32 hex characters


class MissingKeyError(RuntimeError):
    """The hash key is not configured."""


def load_key(env_name: str = "FOOTFALL_HASH_KEY") -> bytes:
    value = os.environ.get(env_name, "")
    if len(value) < 16:
        raise MissingKeyError(
            f"the hash key is missing: set {env_name} to a secret of at least 16 characters "
            f"(e.g. `export {env_name}=$(python -c 'import secrets;print(secrets.token_hex(32))')`), "
            "or keep it in your secret store and export it before running"
        )
    return value.encode()


def demo_key(path: Path) -> bytes:
    """A local key for `footfall demo`, kept outside the lake (created once)."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


_BLOCK = 64  # SHA-256 block size
_IPAD = bytes(b ^ 0x36 for b in range(256))
_OPAD = bytes(b ^ 0x5C for b in range(256))


@lru_cache(maxsize=4)
def _pads(key: bytes) -> tuple:
    """SHA-256 states after absorbing the HMAC inner and outer key pads (RFC 2104)."""
    if len(key) > _BLOCK:
        key = hashlib.sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    return hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))


def keyed_hash(key: bytes, value: str) -> str:
    """The pseudonym of one value: HMAC-SHA256(key, value), first 32 hex characters."""
    # HMAC by hand from precomputed pad states: copying two hash states is about 2.5x
    # cheaper than `hmac.new` per call, which matters at a million distinct values a day.
    inner, outer = _pads(key)
    h = inner.copy()
    h.update(value.encode())
    o = outer.copy()
    o.update(h.digest())
    return o.hexdigest()[:ID_HEX]


def daily_salt(key: bytes, day: str) -> str:
    """Salt for derived ids; rotating it daily makes them unlinkable across days."""
    return keyed_hash(key, f"footfall-derived-salt:{day}")


def hash_column(key: bytes, values: pl.Series) -> pl.Series:
    """Keyed hash of every value, computed once per distinct value."""
    return map_distinct(values, lambda v: keyed_hash(key, v))
