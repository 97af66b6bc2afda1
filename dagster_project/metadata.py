"""Run metadata shown in the Dagster UI: counts and a small preview of what was written."""

from __future__ import annotations

import dagster as dg
import polars as pl

PREVIEW_ROWS = 5


def preview(frame: pl.DataFrame, columns: list[str] | None = None) -> dg.MetadataValue:
    """The first rows as a Markdown table (values escaped, long values cut)."""
    cols = [c for c in (columns or frame.columns) if c in frame.columns]
    head = frame.select(cols).head(PREVIEW_ROWS)

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        text = text[:40] + ("…" if len(text) > 40 else "")
        return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))
