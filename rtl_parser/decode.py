"""Percent-decoding and other per-value work, done once per distinct value.

Python's `unquote` costs microseconds a call; a day of logs has millions of rows but only
thousands of distinct paths and user agents. So every Python-level transform here maps the
distinct values of a column and joins the answers back, and values without a `%` skip it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import unquote

import polars as pl

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


def map_distinct(
    series: pl.Series, fn: Callable[[str], object], dtype: pl.DataType = pl.String
) -> pl.Series:
    """Apply `fn` to each distinct non-null value of `series` and map the results back."""
    uniq = series.drop_nulls().unique()
    if uniq.len() == 0:
        return pl.Series(series.name, [None] * series.len(), dtype=dtype)
    lookup = pl.DataFrame(
        {"k": uniq, "v": pl.Series([fn(v) for v in uniq.to_list()], dtype=dtype)}
    )
    out = series.to_frame("k").join(lookup, on="k", how="left", maintain_order="left")
    return out["v"].alias(series.name)


def percent_decode(series: pl.Series, fn: Callable[[str], str] = decode_once) -> pl.Series:
    """Decode a string column, touching only values that contain an escape."""
    has_escape = series.str.contains("%", literal=True).fill_null(False)
    if not has_escape.any():
        return series
    decoded = map_distinct(series.filter(has_escape), fn)
    return series.clone().scatter(has_escape.arg_true(), decoded)
