"""CloudFront standard (access) logs: W3C lines driven by `#Fields`, and v2 JSON lines."""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pyarrow as pa

from rtl_parser.fields import STANDARD_ALIASES, STANDARD_FIELDS_33, standard_names
from rtl_parser.lines import Lines, select, slice_lines, split_lines
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
    the 33-field layout of December 2019. Directive lines are not records and not counted.
    """

    def __init__(self, *, visitor_header: str = "x-visitor-id", max_line_bytes: int = 65536):
        self.names = [STANDARD_ALIASES.get(n, n) for n in STANDARD_FIELDS_33]
        self.visitor_header = visitor_header
        self.max_line_bytes = max_line_bytes
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
                    self.names = standard_names(value)
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
        raw, short = split_fields(lines, list(names), keep=USED_FIELDS)
        extra = raw.filter(pl.col("_fields") > len(names)).group_by("_part").len()
        parsed = normalise(raw, visitor_header=self.visitor_header, **_NORMALISE).with_columns(
            line_no=raw["_line_no"], part=raw["_part"]
        )
        return finish(parsed, short, lines, extra)


class StandardJsonParser:
    """Standard logging v2 delivered as JSON lines (every value is a string)."""

    def __init__(self, *, visitor_header: str = "x-visitor-id", max_line_bytes: int = 65536):
        self.visitor_header = visitor_header
        self.max_line_bytes = max_line_bytes
        self.next_line = 1

    def feed(self, chunk: bytes) -> ParseResult:
        lines = split_lines(chunk, self.next_line, self.max_line_bytes)
        self.next_line += lines.span
        text = pl.Series(lines.text, dtype=pl.String).str.strip_chars_end("\r\n")
        records: list[dict | None] = []
        for value in text.to_list():  # v2 JSON is low-volume; json.loads is C code
            try:
                obj = json.loads(value)
                # An object with no fields is not a log record (and would make a zero-width row).
                records.append(obj if isinstance(obj, dict) and obj else None)
            except ValueError:
                records.append(None)
        ok = np.array([r is not None for r in records], dtype=bool)
        rejects = list(lines.rejects)
        rejects += [(int(n), "not a JSON object", t.encode())
                    for n, t, good in zip(lines.line_no, text.to_list(), ok, strict=True) if not good]
        good = [{STANDARD_ALIASES.get(k, k): (None if v in ("-", "") else str(v))
                 for k, v in r.items()} for r in records if r is not None]
        if not good:
            return ParseResult(frame=empty(), rejects=rejects_table(sorted(rejects)),
                               lines=lines.count)
        raw = pl.DataFrame(good, infer_schema_length=None).cast(pl.String)
        kept = select(lines, ok)
        parsed = normalise(raw, visitor_header=self.visitor_header, **_NORMALISE).with_columns(
            line_no=pl.Series(kept.line_no), part=pl.Series(kept.parts())
        )
        no_short = pl.Series("reason", [None] * raw.height, dtype=pl.String)
        none = pl.DataFrame(schema={"_part": pl.Int32, "len": pl.UInt32})
        result = finish(parsed, no_short, kept, none)
        result.rejects = pa.concat_tables([result.rejects, rejects_table(rejects)]).sort_by("line_no")
        result.lines = lines.count
        return result
