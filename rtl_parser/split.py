"""Split delimited lines into named field columns, with field-count checks."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from rtl_parser.lines import Lines, texts_at


def _sources(lines: Lines) -> list[bytes]:
    """The lines as buffers Polars can read, each ending in a newline.

    Usually these are the chunks as read, untouched (`Lines.raw`). Otherwise every line
    still carries its terminator, so the values buffer of each piece of `text` *is* the
    text of its lines, copied out once; only a piece whose last line had no newline needs
    one added.
    """
    if lines.raw is not None:
        return list(lines.raw)
    text = lines.text
    pieces: list[bytes] = []
    for chunk in text.chunks if isinstance(text, pa.ChunkedArray) else [text]:
        if len(chunk) == 0:
            continue
        offsets = chunk.buffers()[1]
        first, last = (int.from_bytes(offsets[4 * i : 4 * i + 4], "little", signed=True)
                       for i in (chunk.offset, chunk.offset + len(chunk)))
        data = chunk.buffers()[2][first:last].to_pybytes()  # Polars reads bytes, not buffers
        pieces.append(data if data.endswith(b"\n") else data + b"\n")
    return pieces


def split_fields(
    lines: Lines, names: list[str], sep: str = "\t", keep: set[str] | None = None
) -> tuple[pl.DataFrame, pl.Series]:
    """Split each line into `names`; returns (fields, reason) where reason is set for short lines.

    Only the columns in `keep` (default: all) are returned, with missing values (`-`, or
    empty) as null. Columns past the known ones are ignored and counted in `_fields`.

    The splitting is Polars' multi-threaded CSV reader with quoting off (log fields are
    never quoted) over the lines' own buffer: one row per line, as the lines arrive here
    already non-blank and valid UTF-8. Short lines are padded with nulls, long ones cut
    after one extra column. Only lines that may be short (no last field) or long (an
    extra column) have their separators counted for the exact field count.
    """
    n = len(names)
    rows = len(lines.line_no)
    wanted = [i for i, c in enumerate(names) if keep is None or c in keep]
    columns = [f"column_{i}" for i in sorted({*wanted, n - 1, n})]
    # One source per chunk: Polars reads them in place and in parallel, no joined copy.
    sources, one_byte = _sources(lines), sep
    if len(sep.encode()) != 1:  # Polars splits on one byte: a longer delimiter becomes a tab
        sources, one_byte = [s.replace(sep.encode(), b"\t") for s in sources], "\t"
    fields = pl.scan_csv(
        sources, has_header=False, separator=one_byte, quote_char=None,
        schema={f"column_{i}": pl.String for i in range(n + 1)},
        # `-` is a missing value, but not in the last known column (standard logs often end
        # in a `-` field) nor past it: there a null means the line ended before it.
        null_values={f"column_{i}": "-" for i in range(n - 1)},
        truncate_ragged_lines=True, missing_columns="insert", extra_columns="ignore",
        raise_if_empty=False,
    ).select(columns).collect() if rows else pl.DataFrame(schema=dict.fromkeys(columns, pl.String))
    odd = fields[f"column_{n - 1}"].is_null() | fields[f"column_{n}"].is_not_null()
    count = pl.repeat(n, rows, dtype=pl.Int64, eager=True)
    if odd.any():
        idx = odd.arg_true()
        count = count.scatter(idx, texts_at(lines, idx).str.count_matches(sep, literal=True) + 1)
    out = pl.concat([
        pl.DataFrame({"_fields": count, "_line_no": lines.line_no, "_part": lines.parts()}),
        fields.select(
            (pl.col(f"column_{i}").replace("-", None) if i == n - 1 else pl.col(f"column_{i}")).alias(names[i])
            for i in wanted),
    ], how="horizontal")
    reason = (
        pl.when(pl.col("_fields") < n)
        .then(pl.format(f"expected {n} fields, got {{}}", pl.col("_fields")))
        .otherwise(None)
    )
    return out, out.select(reason.alias("reason")).to_series()
