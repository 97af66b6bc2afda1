"""Keyed pseudonymisation: HMAC-SHA256 with a secret that never enters the repo or the lake."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
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


def keyed_hash(key: bytes, value: str) -> str:
    """The pseudonym of one value: HMAC-SHA256(key, value), first 32 hex characters."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:ID_HEX]


def daily_salt(key: bytes, day: str) -> str:
    """Salt for derived ids; rotating it daily makes them unlinkable across days."""
    return keyed_hash(key, f"footfall-derived-salt:{day}")


def hash_column(key: bytes, values: pl.Series) -> pl.Series:
    """Keyed hash of every value, computed once per distinct value."""
    return map_distinct(values, lambda v: keyed_hash(key, v))
