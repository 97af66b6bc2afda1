"""Run metadata shown in the Dagster UI: counts, a small preview of what was written, and
where an ingest run's time went."""

from __future__ import annotations

import dagster as dg
import polars as pl

PREVIEW_ROWS = 5


def preview(frame: pl.DataFrame, columns: list[str] | None = None, rows: int = PREVIEW_ROWS) -> dg.MetadataValue:
    """The first rows as a Markdown table (values escaped, long values cut)."""
    cols = [c for c in (columns or frame.columns) if c in frame.columns]
    head = frame.select(cols).head(rows)

    def cell(value: object) -> str:
        text = "" if value is None else str(value)
        text = text[:40] + ("…" if len(text) > 40 else "")
        return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")

    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.iter_rows()]
    return dg.MetadataValue.md("\n".join(lines))


def stage_times(seconds: dict[str, float]) -> dg.MetadataValue:
    """An ingest run's seconds per stage (summed over its threads) and each one's share."""
    total = sum(seconds.values()) or 1.0
    frame = pl.DataFrame({"stage": list(seconds), "seconds": [round(v, 2) for v in seconds.values()],
                          "share": [f"{v / total:.0%}" for v in seconds.values()]})
    return preview(frame, rows=frame.height)
