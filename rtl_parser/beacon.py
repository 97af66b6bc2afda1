"""Beacon landing records (contract §5a): NDJSON lines → typed fields plus rejects.

Validation is one vectorised DuckDB query over the chunk's lines (no per-line Python): a
line that is not a JSON object, or whose fields have the wrong type or size, is rejected
with its reason. Pure: no I/O, no clock, no key.
"""

from __future__ import annotations

import json

import duckdb
import polars as pl
import pyarrow as pa

from rtl_parser.lines import Lines
from rtl_parser.result import ParseResult, rejects_table

EVENT_TYPES = ("page_view", "heartbeat", "click", "form_submit", "download", "chat_message",
               "error", "web_vital", "custom")
MAX_PROPS_BYTES = 4096  # contract §6: props are bounded
MAX_TEXT = 2048  # path, query, title, referrer, ids: longer is not a browser's record

_TEXT = {"event_id": 64, "type": 32, "site": 253, "path": MAX_TEXT, "query": MAX_TEXT,
         "title": MAX_TEXT, "referrer": MAX_TEXT, "visitor": 128, "session_hint": 128,
         "ip": 64, "ua": MAX_TEXT, "country": 8}

_QUERY = """
with src as (
    select part, line_no, rtrim(line, chr(13) || chr(10)) as line from lines
),
typed as (
    select *, json_valid(line) and starts_with(ltrim(line), '{{') as is_object from src
),
fields as (
    select
        part, line_no, line,
        json_extract(line, '$.v') as v,
        json_type(line, '$.received_ts') as received_type,
        json_type(line, '$.client_ts') as client_type,
        json_type(line, '$.seq') as seq_type,
        json_type(line, '$.props') as props_type,
        json_extract(line, '$.props')::varchar as props,
        {text_fields},
        {text_types}
    from typed
    where is_object
),
checked as (
    select *,
        case
            when v is null or v::varchar <> '1' then 'unsupported schema version (v must be 1)'
            when event_id is null or length(event_id) < 8 then 'missing or malformed event_id'
            when type is null or type not in ({types}) then 'unknown event type'
            when received_type is distinct from 'UBIGINT' and received_type is distinct from 'BIGINT'
                then 'received_ts must be epoch milliseconds'
            when client_type is not null and client_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'client_ts must be epoch milliseconds'
            when seq_type is not null and seq_type not in ('UBIGINT', 'BIGINT', 'NULL')
                then 'seq must be a whole number'
            when site is null or site = '' then 'missing site'
            when path is null or path = '' then 'missing path'
            when props_type is not null and props_type not in ('OBJECT', 'NULL') then 'props must be an object'
            when strlen(props) > {max_props} then 'props larger than {max_props} bytes'
            {too_long}
            {wrong_type}
        end as reason
    from fields
),
parsed as (
select
    part, line_no, line, reason, event_id, type as event_type,
    case when reason is null then try_cast(json_extract(line, '$.received_ts') as bigint) end as received_ms,
    case when reason is null and client_type in ('UBIGINT', 'BIGINT')
        then try_cast(json_extract(line, '$.client_ts') as bigint) end as client_ms,
    case when reason is null and seq_type in ('UBIGINT', 'BIGINT')
        then try_cast(json_extract(line, '$.seq') as integer) end as seq,
    site, path, query, title, referrer, visitor, session_hint,
    case when props_type = 'OBJECT' then props end as props,
    ip, ua, country
from checked
)
select * from parsed
union all by name
select part, line_no, line, 'not a JSON object' as reason from typed where not is_object
order by part, line_no
"""


def _query() -> str:
    text_fields = ",\n        ".join(
        f"json_extract_string(line, '$.{f}') as {f}" for f in _TEXT)
    text_types = ",\n        ".join(
        f"json_type(line, '$.{f}') as {f}_type" for f in _TEXT)
    too_long = "\n            ".join(
        f"when {f}_type = 'VARCHAR' and length({f}) > {n} then '{f} longer than {n} characters'"
        for f, n in _TEXT.items())
    wrong_type = "\n            ".join(
        f"when {f}_type is not null and {f}_type not in ('VARCHAR', 'NULL') then '{f} must be a string'"
        for f in _TEXT)
    return _QUERY.format(text_fields=text_fields, text_types=text_types,
                         types=", ".join(f"'{t}'" for t in EVENT_TYPES), max_props=MAX_PROPS_BYTES,
                         too_long=too_long, wrong_type=wrong_type)


def record_reason(record: object) -> str | None:
    """The reason one decoded record would be rejected, or None: the same rules as the
    DuckDB query, in Python, for the collector's per-request check (a batch is at most a
    few dozen records, where planning a query would cost more than the check)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    r = record
    if type(r.get("v")) is not int or r["v"] != 1:
        return "unsupported schema version (v must be 1)"

    def whole(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    event_id = r.get("event_id")
    if event_id is None or len(str(event_id)) < 8:
        return "missing or malformed event_id"
    if r.get("type") not in EVENT_TYPES:
        return "unknown event type"
    if not whole(r.get("received_ts")):
        return "received_ts must be epoch milliseconds"
    if r.get("client_ts") is not None and not whole(r["client_ts"]):
        return "client_ts must be epoch milliseconds"
    if r.get("seq") is not None and not whole(r["seq"]):
        return "seq must be a whole number"
    if r.get("site") in (None, ""):
        return "missing site"
    if r.get("path") in (None, ""):
        return "missing path"
    props = r.get("props")
    if props is not None and not isinstance(props, dict):
        return "props must be an object"
    if props is not None and len(json.dumps(props, separators=(",", ":"),
                                            ensure_ascii=False).encode()) > MAX_PROPS_BYTES:
        return f"props larger than {MAX_PROPS_BYTES} bytes"
    for name, cap in _TEXT.items():
        if isinstance(r.get(name), str) and len(r[name]) > cap:
            return f"{name} longer than {cap} characters"
    for name in _TEXT:
        if r.get(name) is not None and not isinstance(r[name], str):
            return f"{name} must be a string"
    return None


class BeaconParser:
    """Parses beacon NDJSON lines, possibly of several objects (see `Lines.part`)."""

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.sql = _query()

    def parse_lines(self, lines: Lines) -> ParseResult:
        src = pa.Table.from_arrays(
            [pl.Series(lines.parts()).to_arrow(), pl.Series(lines.line_no).to_arrow(),
             lines.text],
            names=["part", "line_no", "line"])
        self.con.register("lines", src)
        try:
            out = pl.from_arrow(self.con.sql(self.sql).to_arrow_table())
        finally:
            self.con.unregister("lines")
        assert isinstance(out, pl.DataFrame)
        bad = out.filter(pl.col("reason").is_not_null())
        items = [*((0, *r) for r in lines.rejects),
                 *zip(bad["part"].to_list(), bad["line_no"].to_list(), bad["reason"].to_list(),
                      [t.encode() for t in bad["line"].to_list()], strict=True)]
        frame = out.filter(pl.col("reason").is_null()).drop("line", "reason")
        return ParseResult(frame=frame, rejects=rejects_table(items), lines=lines.count)
