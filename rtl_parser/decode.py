"""Percent-decoding and other per-value work, done once per distinct value.

A day of logs has millions of rows but far fewer distinct paths and user agents, so every
transform here works on the distinct values of a column and joins the answers back, and
values without a `%` skip decoding. Decoding itself is vectorised over the bytes of those
values: Python's `unquote` costs 2-6 µs a value, and query strings can be as varied as the
requests. `unquote` stays the definition, and decodes the few values whose bytes do not
decode to valid UTF-8 (it substitutes U+FFFD there).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

import numpy as np
import polars as pl
import pyarrow as pa

_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def decode_once(value: str) -> str:
    """One percent-decoding pass: restores what the client sent (CloudFront's `%25` → `%`)."""
    return unquote(value, errors="replace")


def decode_twice(value: str) -> str:
    """Decode until stable, at most twice: user agents in standard logs are encoded twice."""
    once = unquote(value, errors="replace")
    return unquote(once, errors="replace") if _ESCAPE.search(once) else once


def decode_form(value: str) -> str:
    """A query-parameter value as a form would mean it (`+` is a space)."""
    return unquote(value.replace("+", " "), errors="replace")


def on_distinct(series: pl.Series, fn: Callable[[pl.Series], pl.DataFrame]) -> pl.DataFrame:
    """The columns `fn` computes from the distinct non-null values of `series` (one row
    each, in their order), for every row of `series` (nulls for null rows)."""
    uniq = series.drop_nulls().unique()
    lookup = fn(uniq)
    if uniq.len() == 0:  # no key to join on (the column may not even be typed as text)
        return lookup.clear(series.len())
    lookup = lookup.with_columns(_key=uniq)
    return series.to_frame("_key").join(lookup, on="_key", how="left", maintain_order="left").drop("_key")


def map_distinct(
    series: pl.Series, fn: Callable[[str], object], dtype: pl.DataType = pl.String
) -> pl.Series:
    """Apply `fn` to each distinct non-null value of `series` and map the results back."""
    def apply(uniq: pl.Series) -> pl.DataFrame:
        return pl.DataFrame({"v": pl.Series([fn(v) for v in uniq.to_list()], dtype=dtype)})
    return on_distinct(series, apply)["v"].alias(series.name)


def percent_decode(series: pl.Series, fn: Callable[[str], str] = decode_once) -> pl.Series:
    """Decode a string column as `fn` (one of the decoders above) would, touching only
    values that contain an escape (or a `+`, for a form), each distinct one once."""
    has_escape = (series.str.contains("[%+]") if fn is decode_form
                  else series.str.contains("%", literal=True)).fill_null(False)
    if not has_escape.any():
        return series
    decoded = on_distinct(series.filter(has_escape), lambda uniq: pl.DataFrame({"v": _decode_bulk(uniq, fn)}))
    return series.clone().scatter(has_escape.arg_true(), decoded["v"])


def _decode_bulk(values: pl.Series, fn: Callable[[str], str]) -> pl.Series:
    """`fn` of each non-null value: vectorised, with `fn` itself where that would differ."""
    source = values.str.replace_all("+", " ", literal=True) if fn is decode_form else values
    out = unescape(source)
    if fn is decode_twice:
        again = out.str.contains(_ESCAPE.pattern).fill_null(False).arg_true()
        if again.len():
            out = out.scatter(again, unescape(out.gather(again)))
    odd = out.is_null().arg_true()
    if odd.len():
        out = out.scatter(odd, pl.Series([fn(v) for v in values.gather(odd).to_list()], dtype=pl.String))
    return out


_HEX = np.full(256, 16, np.uint8)  # the value of each hex digit; 16 for any other byte
_HEX[np.frombuffer(b"0123456789abcdefABCDEF", np.uint8)] = [*range(16), *range(10, 16)]


def unescape(values: pl.Series) -> pl.Series:
    """One pass of percent-decoding over non-null values, at the byte level: each `%XY`
    with two hex digits becomes that byte, any other `%` stays. Null where the bytes are
    not valid UTF-8 (`unquote` would substitute U+FFFD there). Where the bytes are valid
    the result equals `unquote`'s: it decodes each run of ASCII on its own, and a run's
    bytes can only join a neighbouring non-ASCII character into valid UTF-8 if they were
    valid alone (a character's encoding starts with a lead byte, a run's split sequence
    would end in a lead or continuation byte needing more)."""
    arr = values.rechunk().to_arrow()
    _, offsets_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(offsets_buf, np.int64)[arr.offset : arr.offset + len(arr) + 1]
    first = int(offsets[0])
    data = np.frombuffer(data_buf, np.uint8)[first : int(offsets[-1])]
    offsets = offsets - first
    at = np.flatnonzero(data[:-2] == ord("%"))
    hi, lo = _HEX[data[at + 1]], _HEX[data[at + 2]]
    # An escape needs two hex digits, both inside its own value.
    ends = offsets[np.searchsorted(offsets, at, side="right")]
    ok = (hi < 16) & (lo < 16) & (at + 2 < ends)
    at, hi, lo = at[ok], hi[ok], lo[ok]
    out = data.copy()
    out[at] = (hi << 4) | lo
    gone = np.empty(2 * len(at), np.int64)
    gone[0::2], gone[1::2] = at + 1, at + 2  # in order: escapes never overlap
    out = np.delete(out, gone)
    new_offsets = offsets - np.searchsorted(gone, offsets, side="left")
    decoded = pa.LargeStringArray.from_buffers(len(arr), pa.py_buffer(new_offsets), pa.py_buffer(out))
    try:
        decoded.validate(full=True)
    except pa.ArrowInvalid:  # some value is not UTF-8: those with a byte >= 0x80 go null
        high = np.zeros(len(out) + 1, np.int64)
        high[1:] = np.cumsum(out >= 0x80)
        ascii_only = high[new_offsets[1:]] == high[new_offsets[:-1]]
        decoded = pa.LargeStringArray.from_buffers(
            len(arr), pa.py_buffer(new_offsets), pa.py_buffer(out),
            pa.py_buffer(np.packbits(ascii_only, bitorder="little")))
    return pl.Series(values.name, decoded, dtype=pl.String)
