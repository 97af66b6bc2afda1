"""What a parser returns for one chunk: typed rows, rejects, and the counts that reconcile."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

REJECT_SCHEMA = pa.schema([
    ("part", pa.int32()),  # object index within a batch (0 for a single object)
    ("line_no", pa.int64()),
    ("reason", pa.string()),
    ("raw", pa.binary()),
])


@dataclass
class ParseResult:
    """Rows and rejects of one chunk. Invariant: lines == len(frame) + rejects.num_rows.

    `frame` is the typed rows as a Polars frame (zero-copy for the pipeline's next step);
    `rows` is the same as an Arrow table in `PARSED_SCHEMA`.
    """

    frame: pl.DataFrame
    rejects: pa.Table
    lines: int
    extra_columns: int = 0  # lines with unknown trailing columns (kept, counted)
    extra_by_part: dict[int, int] = field(default_factory=dict)

    @property
    def rows(self) -> pa.Table:
        from rtl_parser.normalise import to_arrow

        return to_arrow(self.frame)


def rejects_table(items: list[tuple], part: int = 0) -> pa.Table:
    """Rejects from (line_no, reason, raw) or (part, line_no, reason, raw) tuples."""
    if not items:
        return REJECT_SCHEMA.empty_table()
    rows = [t if len(t) == 4 else (part, *t) for t in items]
    parts, line_no, reason, raw = zip(*rows, strict=True)
    return pa.table(
        [pa.array(parts, pa.int32()), pa.array(line_no, pa.int64()),
         pa.array(reason, pa.string()), pa.array(raw, pa.binary())],
        schema=REJECT_SCHEMA,
    ).sort_by([("part", "ascending"), ("line_no", "ascending")])
