"""CSV exports of gold tables that are safe to open in a spreadsheet.

A text cell starting with `=`, `+`, `-`, `@`, tab or carriage return is a formula to Excel,
LibreOffice and Google Sheets (CSV injection, OWASP); such cells get a leading `'`, which
spreadsheets show as text. Numbers are left alone (their columns are numeric, not text).
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from typing import BinaryIO

import polars as pl

from pipelines.models import MARTS, Window, gold_partition
from pipelines.storage import Storage

FORMULA_START = r"^[=+\-@\t\r]"


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """Text cells that a spreadsheet would run as a formula, made plain text (vectorised)."""
    text = [c for c, t in frame.schema.items() if t == pl.String]
    return frame.with_columns(
        pl.when(pl.col(c).str.contains(FORMULA_START)).then(pl.lit("'") + pl.col(c)).otherwise(pl.col(c))
        .alias(c) for c in text)


def safe_csv(frame: pl.DataFrame, *, header: bool = True) -> bytes:
    buffer = io.BytesIO()
    neutralise(frame).write_csv(buffer, include_header=header)
    return buffer.getvalue()


def gold_days(storage: Storage, table: str, window: Window) -> Iterator[tuple[date, pl.DataFrame]]:
    """Each day's gold partition of `table` in the window (one day in memory at a time)."""
    for day in window.days():
        keys = gold_partition(storage, table, day)
        if keys:
            yield day, pl.concat([storage.read_frame(k) for k in keys], how="vertical_relaxed")


def export(storage: Storage, table: str, window: Window, out: BinaryIO) -> int:
    """Write `table` for the window as one CSV to `out`; returns the rows written."""
    if table not in MARTS:
        raise ValueError(f"unknown table {table!r}; tables: {', '.join(MARTS)}")
    rows, header = 0, True
    for _, frame in gold_days(storage, table, window):
        if frame.height:
            out.write(safe_csv(frame, header=header))
            header, rows = False, rows + frame.height
    return rows
