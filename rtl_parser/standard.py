"""CloudFront standard (access) logs: W3C lines driven by `#Fields`, v2 JSON lines and v2 Parquet."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa

from rtl_parser.fields import STANDARD_ALIASES, STANDARD_FIELDS_33, standard_names
from rtl_parser.lines import Lines, select, slice_lines, split_lines, texts_at
from rtl_parser.normalise import USED_FIELDS, empty, normalise
from rtl_parser.result import ParseResult, finish, rejects_table
from rtl_parser.split import split_fields

_NORMALISE = dict(
    log_source="standard",
    site_field="site-host",
    distribution_fields=("distribution-host",),
    ua_decode="twice",
    referrer_encoded=True,
)


def _concat(results: list[ParseResult], lines: int) -> ParseResult:
    frame = pl.concat([r.frame for r in results]) if results else empty()
    rejects = pa.concat_tables([r.rejects for r in results]).sort_by("line_no")
    return ParseResult(frame=frame, rejects=rejects, lines=lines,
                       extra_columns=sum(r.extra_columns for r in results),
                       extra_by_part={0: sum(r.extra_columns for r in results)})


class StandardParser:
    """Parses chunks of one standard log object.

    The layout comes from the latest `#Fields:` directive; input without one is read with
    `fields` (default: the 33-field layout of December 2019). Fields are separated by
    `delimiter` (a tab, or what standard logging v2 was told to use). Directive lines are
    not records and not counted.
    """

    def __init__(self, *, visitor_header: str = "x-visitor-id", max_line_bytes: int = 65536,
                 delimiter: str = "\t", fields: tuple[str, ...] | list[str] = ()):
        self.default_names = [STANDARD_ALIASES.get(n, n) for n in (fields or STANDARD_FIELDS_33)]
        self.delimiter = delimiter
        self.visitor_header = visitor_header
        self.max_line_bytes = max_line_bytes
        self.start_object()

    def start_object(self) -> None:
        """Before the first chunk of each object: its own directives give its layout."""
        self.names = list(self.default_names)
        self.next_line = 1

    def segments(self, chunk: bytes) -> tuple[Lines, list[tuple[tuple[str, ...], Lines]]]:
        """Split the next chunk into runs of records that share a layout.

        Returns the chunk's lines (for counts and line-level rejects) and (layout, records)
        pairs; directive lines update the layout and are neither records nor counted.
        """
        lines = split_lines(chunk, self.next_line, self.max_line_bytes)
        self.next_line += lines.span
        text = pl.Series(lines.text, dtype=pl.String)
        directive = text.str.starts_with("#").to_numpy()
        out: list[tuple[tuple[str, ...], Lines]] = []
        start = 0
        for b in [*np.flatnonzero(directive), len(directive)]:
            if b > start:  # a run of records between directives: a zero-copy slice
                out.append((tuple(self.names), slice_lines(lines, start, int(b))))
            if b < len(directive):
                value = text[int(b)].strip()
                if value.startswith("#Fields:"):
                    self.names = standard_names(value, self.delimiter)
            start = b + 1
        directives = int(directive.sum())
        counted = Lines(lines.text, lines.line_no, lines.rejects, lines.count - directives)
        return counted, out

    def feed(self, chunk: bytes) -> ParseResult:
        """Parse the next chunk of one object (line numbers and layout carry over)."""
        lines, segments = self.segments(chunk)
        results = [ParseResult(frame=empty(), rejects=rejects_table(lines.rejects), lines=0)]
        results += [self.parse_lines(seg, names) for names, seg in segments]
        return _concat(results, lines.count)

    def parse_lines(self, lines: Lines, names: tuple[str, ...] | list[str]) -> ParseResult:
        """Parse records of one layout, possibly from several objects (see `Lines.part`)."""
        raw, short = split_fields(lines, list(names), sep=self.delimiter, keep=USED_FIELDS)
        long = pl.col("_fields") > len(names)
        if not USED_FIELDS & set(names):  # say why every line fails, not "missing timestamp"
            short = pl.repeat(_unknown_layout(names, self.delimiter), raw.height, dtype=pl.String, eager=True)
        elif self.delimiter != "\t":
            # CloudFront percent-encodes tabs, spaces and `|` in values, but not every
            # character a v2 delimiter may hold (user agents carry commas and semicolons): a
            # line with more fields than its layout has a value split in two and every
            # later field shifted, so it is quarantined rather than read askew.
            short = raw.select(pl.when(long).then(pl.format(
                f"expected {len(names)} fields, got {{}}: a value holds the field delimiter "
                f"{self.delimiter!r}, or the layout lists too few fields", pl.col("_fields")))
                .otherwise(pl.lit(short))).to_series()
            long = pl.lit(False)
        extra = raw.filter(long).group_by("_part").len()
        parsed = normalise(raw, visitor_header=self.visitor_header, **_NORMALISE).with_columns(
            line_no=raw["_line_no"], part=raw["_part"]
        )
        return finish(parsed, short, lines, extra)


def _unknown_layout(names: tuple[str, ...] | list[str], delimiter: str) -> str:
    shown = " ".join(names)
    return (f"the layout names no field Footfall reads ({shown[:80]}{'...' if len(shown) > 80 else ''}); "
            f"fields separated by something else than {delimiter!r} need standard.field_delimiter, "
            "and header-less ones standard.fields")


# JSON keys worth reading (the fields `normalise` uses, under either name) → column name.
_JSON_KEYS = {k: STANDARD_ALIASES.get(k, k) for k in sorted({*USED_FIELDS, *STANDARD_ALIASES})
              if STANDARD_ALIASES.get(k, k) in USED_FIELDS}

# One pass of DuckDB's JSON reader over the chunk: the lines that are objects with fields,
# and the value of each key worth reading (null where absent). Materialised, so the reader
# runs once per line, not again for the filter on its result (measured: 3x the time).
_JSON_QUERY = r"""
with objects as materialized (
    select i, try(json_transform(line, '{struct}')) as fields from lines  -- "\r\n" is JSON space
    where regexp_matches(line, '^\s*\{{') and not regexp_full_match(line, '\s*\{{\s*\}}\s*')
)
select i, unnest(fields) from objects where fields is not null order by i
""".format(struct=json.dumps(dict.fromkeys(_JSON_KEYS, "VARCHAR")))
_THREAD = threading.local()  # one DuckDB connection per thread: opening one costs ~40 ms


def _connection() -> duckdb.DuckDBPyConnection:
    if not hasattr(_THREAD, "con"):
        _THREAD.con = duckdb.connect()
    return _THREAD.con


class StandardJsonParser:
    """Standard logging v2 delivered as JSON lines (every value is a string).

    Read by DuckDB's JSON functions over the whole chunk, not line by line in Python (which
    ran ~13x slower than the W3C reader on the same records)."""

    def __init__(self, *, visitor_header: str = "x-visitor-id", max_line_bytes: int = 65536):
        self.visitor_header = visitor_header
        self.max_line_bytes = max_line_bytes
        self.next_line = 1

    def _objects(self, text: pa.Array | pa.ChunkedArray) -> pl.DataFrame:
        """Row index `i` and one column per key worth reading, for each line that is a
        JSON object with at least one field."""
        con = _connection()  # a parser per landing object, so the connection outlives them
        con.register("lines", pa.table({"i": pa.array(np.arange(len(text))), "line": text}))
        try:
            out = pl.from_arrow(con.sql(_JSON_QUERY).to_arrow_table())
        finally:
            con.unregister("lines")
        assert isinstance(out, pl.DataFrame)
        return out

    def feed(self, chunk: bytes) -> ParseResult:
        lines = split_lines(chunk, self.next_line, self.max_line_bytes)
        self.next_line += lines.span
        objects = self._objects(lines.text)
        ok = np.zeros(len(lines.line_no), dtype=bool)
        ok[objects["i"].to_numpy()] = True
        rejects = list(lines.rejects)
        if not ok.all():
            bad = np.flatnonzero(~ok)
            text = texts_at(lines, bad).str.strip_chars_end("\r\n")
            rejects += [(int(n), "not a JSON object", t.encode()) for n, t in
                        zip(lines.line_no[bad], text.to_list(), strict=True)]
        if not ok.any():
            return ParseResult(frame=empty(), rejects=rejects_table(sorted(rejects)),
                               lines=lines.count)
        return _records(objects.drop("i"), select(lines, ok), rejects, lines.count,
                        self.visitor_header)


def _records(values: pl.DataFrame, kept: Lines, rejects: list[tuple[int, str, bytes]],
             count: int, visitor_header: str,
             text_at: Callable[[pl.Series], pl.Series] | None = None) -> ParseResult:
    """Rows from v2 records given as text values by field name (JSON keys or Parquet
    columns), one per line of `kept`; `rejects` are the lines already refused; `text_at`
    as in `finish`."""
    values = values.select(pl.all().replace(["-", ""], None))
    # A column for each field that some record of the chunk gives a value: `normalise`
    # goes by which fields are there (`timestamp(ms)`, or `date` and `time`).
    columns: dict[str, list[str]] = {}
    for key, name in _JSON_KEYS.items():
        if key in values.columns and values[key].null_count() < values.height:
            columns.setdefault(name, []).append(key)
    raw = values.select(pl.coalesce(keys).alias(name) for name, keys in columns.items()) \
        if columns else pl.DataFrame({"_": pl.repeat(None, len(kept.line_no), dtype=pl.String, eager=True)})
    parsed = normalise(raw, visitor_header=visitor_header, **_NORMALISE).with_columns(
        line_no=pl.Series(kept.line_no), part=pl.Series(kept.parts())
    )
    no_short = pl.Series("reason", [None] * raw.height, dtype=pl.String)
    none = pl.DataFrame(schema={"_part": pl.Int32, "len": pl.UInt32})
    result = finish(parsed, no_short, kept, none, text_at)
    result.rejects = pa.concat_tables([result.rejects, rejects_table(rejects)]).sort_by("line_no")
    result.lines = count
    return result


def _name_key(name: str) -> str:
    """A field name as columnar tools spell it: `cs(User-Agent)` → `cs_user_agent`,
    `timestamp(ms)` → `timestamp_ms`."""
    return re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")


# Parquet column (in any spelling) → JSON key. Where two fields share a spelling (`cs_host`),
# the legacy name in parentheses wins: v2 Parquet keeps the legacy layout, where `cs(Host)`
# is the distribution's domain (Athena's documented table for these files names it `cs_host`).
_PARQUET_KEYS = {_name_key(k): k for k in _JSON_KEYS if "(" not in k} | \
    {_name_key(k): k for k in _JSON_KEYS if "(" in k}


class StandardParquetParser:
    """Standard logging v2 delivered to S3 as Parquet: record batches of one file.

    Columns are matched to fields whatever their spelling (`c-ip`, `c_ip`); values may be
    text (as CloudFront writes them) or numbers; a column of lists, structs or bytes is no
    field's value. A rejected row is quarantined as its JSON."""

    def __init__(self, *, visitor_header: str = "x-visitor-id"):
        self.visitor_header = visitor_header
        self.next_line = 1

    def feed(self, batch: pa.RecordBatch | pa.Table) -> ParseResult:
        frame = pl.from_arrow(batch)
        assert isinstance(frame, pl.DataFrame)
        first, self.next_line = self.next_line, self.next_line + frame.height
        if frame.height == 0:
            return ParseResult(frame=empty(), rejects=rejects_table([]), lines=0)
        rows = Lines(text=pa.nulls(frame.height, pa.string()), rejects=[], count=frame.height,
                     line_no=np.arange(first, self.next_line, dtype=np.int64))

        def as_json(at: pl.Series) -> pl.Series:
            """Rows as JSON text: what a reject keeps, and the key of a row without an id
            (only for those rows: encoding all of them took half the parse time)."""
            fields = [pl.col(c).bin.encode("base64") if t == pl.Binary else pl.col(c)
                      for c, t in frame.schema.items()
                      if t == pl.Binary or "Binary" not in str(t)]  # nested bytes: no JSON writer
            return frame[at].select(pl.struct(fields).struct.json_encode() if fields else
                                    pl.repeat("{}", len(at), dtype=pl.String)).to_series()

        keys: dict[str, str] = {}
        for column, dtype in frame.schema.items():
            key = _PARQUET_KEYS.get(_name_key(column))
            if key is not None and key not in keys.values() and not (dtype.is_nested() or dtype == pl.Binary):
                keys[column] = key
        values = frame.select(pl.col(c).cast(pl.String).alias(k) for c, k in keys.items())
        return _records(values, rows, [], frame.height, self.visitor_header, as_json)
