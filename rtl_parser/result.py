"""What a parser returns for one chunk: typed rows, rejects, and the counts that reconcile."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa

from rtl_parser import arrow
from rtl_parser.lines import texts_at
from rtl_parser.normalise import to_arrow, typed

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
        return to_arrow(self.frame)


def rejects_table(items: list[tuple], part: int = 0) -> pa.Table:
    """Rejects from (line_no, reason, raw) or (part, line_no, reason, raw) tuples."""
    if not items:
        return arrow.empty(REJECT_SCHEMA)
    rows = [t if len(t) == 4 else (part, *t) for t in items]
    parts, line_no, reason, raw = zip(*rows, strict=True)
    return arrow.table(
        {"part": parts, "line_no": line_no, "reason": reason, "raw": raw}, REJECT_SCHEMA,
    ).sort_by([("part", "ascending"), ("line_no", "ascending")])


def finish(parsed: pl.DataFrame, short: pl.Series, lines, extra: pl.DataFrame,
           text_at: Callable[[pl.Series], pl.Series] | None = None) -> ParseResult:
    """Split a normalised batch into rows and rejects (line-level rejects included).

    `text_at(rows)` gives the text of a few rows (to quarantine them, or to key a row without
    a request id); by default their lines, without the terminator."""
    if text_at is None:
        def text_at(rows: pl.Series) -> pl.Series:
            return texts_at(lines, rows).str.strip_chars_end("\r\n")
    reason = pl.Series("reason", short).fill_null(parsed["reject_reason"])
    bad = reason.is_not_null()
    missing_id = parsed["request_id"].is_null() & ~bad
    if missing_id.any():
        # No x-edge-request-id selected (or `-`): key the row by a hash of its own line, so
        # an at-least-once redelivery of the same record still de-duplicates.
        idx = missing_id.arg_true()
        ids = [
            "line-" + hashlib.blake2b(t.encode(), digest_size=16).hexdigest()
            for t in text_at(idx).to_list()
        ]
        parsed = parsed.with_columns(
            request_id=parsed["request_id"].scatter(idx, pl.Series(ids, dtype=pl.String))
        )
    rejects = rejects_table(lines.rejects)
    if bad.any():  # built column-wise: a batch can be all rejects (say, a wrong field set)
        idx = bad.arg_true()
        rows = pl.DataFrame({
            "part": parsed["part"].gather(idx),
            "line_no": parsed["line_no"].gather(idx),
            "reason": reason.gather(idx),
            "raw": text_at(idx).cast(pl.Binary),
        }).to_arrow().cast(REJECT_SCHEMA)
        rejects = pa.concat_tables([rejects, rows]).sort_by(
            [("part", "ascending"), ("line_no", "ascending")]) if rejects.num_rows else rows
    by_part = dict(zip(extra["_part"].to_list(), extra["len"].to_list(), strict=True))
    return ParseResult(frame=typed(parsed.filter(~bad)), rejects=rejects,
                       lines=lines.count, extra_columns=sum(by_part.values()),
                       extra_by_part=by_part)
