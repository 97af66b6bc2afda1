"""Split delimited lines into named field columns, with field-count checks."""

from __future__ import annotations

import polars as pl

from rtl_parser.lines import Lines


def split_fields(
    lines: Lines, names: list[str], sep: str = "\t", keep: set[str] | None = None
) -> tuple[pl.DataFrame, pl.Series]:
    """Split each line into `names`; returns (fields, reason) where reason is set for short lines.

    Only the columns in `keep` (default: all) are returned, with missing values (`-`, or
    empty) as null. Columns past the known ones are ignored and counted in `_fields`.
    """
    n = len(names)
    text = pl.Series("_line", lines.text, dtype=pl.String)
    parts = (
        text.to_frame()
        .select(pl.col("_line").str.splitn(sep, n + 1).struct.rename_fields([*names, "_rest"]))
        .unnest("_line")
    )
    wanted = [c for c in names if keep is None or c in keep]
    last = names[-1]
    # splitn leaves trailing parts null when a line is short, and puts everything past the
    # known fields into `_rest`: so the field count needs no second scan of the bytes.
    count = pl.sum_horizontal(pl.col(names).is_not_null()) + (
        pl.col("_rest").str.count_matches(sep, literal=True).fill_null(-1) + 1
    )
    out = parts.select(
        count.alias("_fields"),
        pl.Series("_line_no", lines.line_no),
        pl.Series("_part", lines.parts()),
        *[
            # The last field still carries the line terminator when nothing follows it.
            (pl.col(c).str.strip_chars_end("\r\n") if c == last else pl.col(c))
            .replace(["-", ""], None)
            .alias(c)
            for c in wanted
        ],
    )
    reason = (
        pl.when(pl.col("_fields") < n)
        .then(pl.format(f"expected {n} fields, got {{}}", pl.col("_fields")))
        .otherwise(None)
    )
    return out, out.select(reason.alias("reason")).to_series()
