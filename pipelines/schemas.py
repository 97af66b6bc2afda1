"""Arrow schemas of the lake's tables (contract §6). One place, used by writers and tests."""

from __future__ import annotations

import pyarrow as pa

from rtl_parser.arrow import polars_schema

REQUESTS = pa.schema([
    ("ts", pa.timestamp("ms", tz="UTC")),
    ("dt", pa.date32()),
    ("hour", pa.int32()),
    ("request_id", pa.string()),
    ("log_source", pa.string()),
    ("site", pa.string()),
    ("distribution_host", pa.string()),
    ("method", pa.string()),
    ("path", pa.string()),
    ("query", pa.string()),
    ("status", pa.int16()),
    ("bytes_sent", pa.int64()),
    ("bytes_received", pa.int64()),
    ("time_taken_ms", pa.int32()),
    ("ttfb_ms", pa.int32()),
    ("origin_fbl_ms", pa.int32()),
    ("origin_lbl_ms", pa.int32()),
    ("edge_location", pa.string()),
    ("edge_result_type", pa.string()),
    ("edge_response_result_type", pa.string()),
    ("edge_detailed_result_type", pa.string()),
    ("content_type", pa.string()),
    ("protocol", pa.string()),
    ("http_version", pa.string()),
    ("tls_protocol", pa.string()),
    ("country", pa.string()),
    ("asn", pa.int64()),
    ("visitor_id", pa.string()),
    ("visitor_id_source", pa.string()),
    ("browser", pa.string()),
    ("browser_version", pa.string()),
    ("os", pa.string()),
    ("device_type", pa.string()),
    ("is_bot", pa.bool_()),
    ("referrer_domain", pa.string()),
    ("referrer_path", pa.string()),
    ("utm_source", pa.string()),
    ("utm_medium", pa.string()),
    ("utm_campaign", pa.string()),
    ("utm_term", pa.string()),
    ("utm_content", pa.string()),
    ("is_page_view", pa.bool_()),
    ("headers_truncated", pa.bool_()),
    ("source_object", pa.string()),
])

QUARANTINE = pa.schema([
    ("source", pa.string()),
    ("source_object", pa.string()),
    ("line_no", pa.int64()),
    ("reason", pa.string()),
    ("raw", pa.binary()),
])

# The same columns as Polars types, for frames that stay in Polars until they are written.
REQUESTS_POLARS = polars_schema(REQUESTS)

EVENTS = pa.schema([
    ("event_id", pa.string()),
    ("schema_version", pa.int16()),
    ("event_type", pa.string()),
    ("ts", pa.timestamp("ms", tz="UTC")),
    ("client_ts", pa.timestamp("ms", tz="UTC")),
    ("clock_skew_ms", pa.int64()),
    ("seq", pa.int32()),
    ("dt", pa.date32()),
    ("hour", pa.int32()),
    ("site", pa.string()),
    ("visitor_id", pa.string()),
    ("session_hint", pa.string()),
    ("path", pa.string()),
    ("title", pa.string()),
    ("referrer_domain", pa.string()),
    ("utm_source", pa.string()),
    ("utm_medium", pa.string()),
    ("utm_campaign", pa.string()),
    ("utm_term", pa.string()),
    ("utm_content", pa.string()),
    ("props", pa.string()),
    ("browser", pa.string()),
    ("os", pa.string()),
    ("device_type", pa.string()),
    ("is_bot", pa.bool_()),
    ("country", pa.string()),
    ("source_object", pa.string()),
])

EVENTS_POLARS = polars_schema(EVENTS)

SILVER = {"requests": REQUESTS, "events": EVENTS}


def sql_type(t: pa.DataType, engine: str) -> str:
    """The SQL type of an Arrow type in DuckDB, Athena (Trino) queries, or Hive DDL (Glue)."""
    hive = engine == "hive"
    if pa.types.is_timestamp(t):
        return {"duckdb": "timestamp with time zone", "hive": "timestamp"}.get(engine, "timestamp(3)")
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_int8(t) or pa.types.is_int16(t):
        return "smallint"
    if pa.types.is_int32(t):
        return "int" if hive else "integer"
    if pa.types.is_integer(t):
        return "bigint"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    return "string" if hive else "varchar"
