"""CloudFront real-time log records (TSV, no header), for any selected field set."""

from __future__ import annotations

import hashlib

import polars as pl

from rtl_parser.fields import DEFAULT_REALTIME_FIELDS, realtime_positions
from rtl_parser.lines import Lines, split_lines
from rtl_parser.normalise import USED_FIELDS, normalise, typed
from rtl_parser.result import ParseResult, rejects_table
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
        self.next_line += chunk.count(b"\n") + (0 if chunk.endswith(b"\n") or not chunk else 1)
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


def finish(parsed: pl.DataFrame, short: pl.Series, lines, extra: pl.DataFrame) -> ParseResult:
    """Split a normalised batch into rows and rejects (line-level rejects included)."""
    reason = pl.Series("reason", short).fill_null(parsed["reject_reason"])
    bad = reason.is_not_null()
    text_all = pl.Series(lines.text, dtype=pl.String)
    missing_id = parsed["request_id"].is_null() & ~bad
    if missing_id.any():
        # No x-edge-request-id selected (or `-`): key the row by a hash of its own line, so
        # an at-least-once redelivery of the same record still de-duplicates.
        idx = missing_id.arg_true()
        ids = [
            "line-" + hashlib.blake2b(t.encode(), digest_size=16).hexdigest()
            for t in text_all.gather(idx).str.strip_chars_end("\r\n").to_list()
        ]
        parsed = parsed.with_columns(
            request_id=parsed["request_id"].scatter(idx, pl.Series(ids, dtype=pl.String))
        )
    rejects: list[tuple] = list(lines.rejects)
    if bad.any():
        idx = bad.arg_true()
        text = text_all.gather(idx).str.strip_chars_end("\r\n")
        rejects.extend(
            zip(
                parsed["part"].gather(idx).to_list(),
                parsed["line_no"].gather(idx).to_list(),
                reason.gather(idx).to_list(),
                [t.encode() for t in text.to_list()],
                strict=True,
            )
        )
    by_part = dict(zip(extra["_part"].to_list(), extra["len"].to_list(), strict=True))
    return ParseResult(frame=typed(parsed.filter(~bad)), rejects=rejects_table(rejects),
                       lines=lines.count, extra_columns=sum(by_part.values()),
                       extra_by_part=by_part)
