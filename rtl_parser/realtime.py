"""CloudFront real-time log records (TSV, no header), for any selected field set."""

from __future__ import annotations

import polars as pl

from rtl_parser.fields import DEFAULT_REALTIME_FIELDS, realtime_positions
from rtl_parser.lines import Lines, split_lines
from rtl_parser.normalise import USED_FIELDS, normalise
from rtl_parser.result import ParseResult, finish
from rtl_parser.split import split_fields


class RealtimeParser:
    """Parses chunks of one real-time log object; keeps the running line number.

    `fields` is the *set* selected in the real-time log config; positions come from AWS's
    canonical order. Lines with more columns than expected keep the known ones.
    """

    def __init__(
        self,
        fields: list[str] | tuple[str, ...] = DEFAULT_REALTIME_FIELDS,
        *,
        visitor_header: str = "x-visitor-id",
        max_line_bytes: int = 65536,
    ) -> None:
        self.names = realtime_positions(fields)
        self.visitor_header = visitor_header
        self.max_line_bytes = max_line_bytes
        self.next_line = 1

    def feed(self, chunk: bytes) -> ParseResult:
        """Parse the next chunk of one object (line numbers continue across chunks)."""
        lines = split_lines(chunk, self.next_line, self.max_line_bytes)
        self.next_line += lines.span
        return self.parse_lines(lines)

    def parse_lines(self, lines: Lines) -> ParseResult:
        """Parse split lines, possibly of several objects (see `Lines.part`); the result
        includes the line-level rejects that `lines` carries."""
        raw, short = split_fields(lines, self.names, keep=USED_FIELDS)
        extra = raw.filter(pl.col("_fields") > len(self.names)).group_by("_part").len()
        parsed = normalise(
            raw,
            log_source="realtime",
            site_field="cs-host",
            distribution_fields=("primary-distribution-dns-name", "x-host-header"),
            ua_decode="twice",
            referrer_encoded=False,
            visitor_header=self.visitor_header,
        ).with_columns(line_no=raw["_line_no"], part=raw["_part"])
        return finish(parsed, short, lines, extra)
