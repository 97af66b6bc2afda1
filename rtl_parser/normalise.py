"""Raw log fields → typed request columns, shared by real-time and standard logs.

Input: a Polars frame whose columns are log field names (missing values already null).
Output: the parser's typed columns (see `PARSED_SCHEMA`) plus a `reject_reason` that is set
when a field the row cannot do without does not parse. Nothing here knows about keys,
hashing or user-agent classification: that is the pipeline's job.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import polars as pl
import pyarrow as pa

from rtl_parser.arrow import polars_schema
from rtl_parser.decode import (
    decode_form,
    decode_once,
    decode_twice,
    map_distinct,
    on_distinct,
    percent_decode,
)

# Columns the parser emits. Identity columns (client_ip, forwarded_ip, user_agent,
# visitor_token) are raw personal data: the pipeline pseudonymises and drops them.
PARSED_SCHEMA = pa.schema([
    ("part", pa.int32()),  # object index within a parsed batch (0 for one object)
    ("line_no", pa.int64()),
    ("ts", pa.timestamp("ms", tz="UTC")),
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
    ("referrer_domain", pa.string()),
    ("referrer_path", pa.string()),
    ("utm_source", pa.string()),
    ("utm_medium", pa.string()),
    ("utm_campaign", pa.string()),
    ("utm_term", pa.string()),
    ("utm_content", pa.string()),
    ("headers_truncated", pa.bool_()),
    ("client_ip", pa.string()),
    ("forwarded_ip", pa.string()),
    ("user_agent", pa.string()),
    ("visitor_token", pa.string()),
])
IDENTITY_COLUMNS = ("client_ip", "forwarded_ip", "user_agent", "visitor_token")

UTM_KEYS = ("source", "medium", "campaign", "term", "content")

# Raw fields `normalise` reads (either log format); the splitter materialises only these.
USED_FIELDS = frozenset({
    "timestamp", "timestamp(ms)", "date", "time", "c-ip", "time-to-first-byte", "sc-status",
    "sc-bytes", "cs-method", "cs-protocol", "cs-host", "cs-uri-stem", "cs-bytes",
    "x-edge-location", "x-edge-request-id", "x-host-header", "time-taken",
    "cs-protocol-version", "cs-user-agent", "cs-referer", "cs-cookie", "cs-uri-query",
    "x-edge-response-result-type", "x-forwarded-for", "ssl-protocol", "x-edge-result-type",
    "sc-content-type", "x-edge-detailed-result-type", "c-country", "cs-headers",
    "cs-header-names", "cs-headers-count", "primary-distribution-dns-name", "origin-fbl",
    "origin-lbl", "asn", "site-host", "distribution-host",
})

# Seconds with millisecond precision → integer milliseconds.
_SECONDS_FIELDS = {
    "time-taken": "time_taken_ms",
    "time-to-first-byte": "ttfb_ms",
    "origin-fbl": "origin_fbl_ms",
    "origin-lbl": "origin_lbl_ms",
}
_INT_FIELDS = {
    "sc-status": ("status", pl.Int16),
    "sc-bytes": ("bytes_sent", pl.Int64),
    "cs-bytes": ("bytes_received", pl.Int64),
    "asn": ("asn", pl.Int64),
    "cs-headers-count": ("_headers_count", pl.Int32),
}
_TEXT_FIELDS = {
    "cs-method": "method",
    "x-edge-location": "edge_location",
    "x-edge-result-type": "edge_result_type",
    "x-edge-response-result-type": "edge_response_result_type",
    "x-edge-detailed-result-type": "edge_detailed_result_type",
    "sc-content-type": "content_type",
    "cs-protocol": "protocol",
    "cs-protocol-version": "http_version",
    "ssl-protocol": "tls_protocol",
    "c-country": "country",
    "c-ip": "client_ip",
}
# 2000-01-01 .. 2100-01-01 in ms: anything outside is a corrupt timestamp, not a request.
_TS_MIN, _TS_MAX = 946_684_800_000, 4_102_444_800_000

_XFF_FIRST = r"^\s*([^,]*)"


def _col(df: pl.DataFrame, name: str) -> pl.Expr:
    # A missing field is a column of nulls the frame's height (a bare literal would make a
    # frame whose known fields are all missing collapse to one row).
    return pl.col(name) if name in df.columns else pl.repeat(None, pl.len(), dtype=pl.String)


def forwarded_first(expr: pl.Expr) -> pl.Expr:
    """First address of an `x-forwarded-for` list, normalised.

    Handles the observed oddities: comma-separated lists, `\\x20` for spaces, ports on
    IPv4 (`1.2.3.4:5678`) and bracketed IPv6 (`[2001:db8::1]:443`), and `unknown`.
    """
    first = expr.str.replace_all("\\x20", " ", literal=True).str.extract(_XFF_FIRST, 1)
    first = first.str.strip_chars()
    first = (
        pl.when(first.str.starts_with("["))
        .then(first.str.extract(r"^\[([^\]]*)\]", 1))
        .when(first.str.count_matches(":", literal=True) == 1)
        .then(first.str.replace(r":[0-9]*$", ""))
        .otherwise(first)
    )
    return pl.when(first.str.to_lowercase().is_in(["", "unknown", "-"])).then(None).otherwise(first)


_VALUE_SLICE = 256  # characters read after a header name before looking for the value's end


def extract_header(headers: pl.Series, header: str) -> pl.Series:
    """Value of `header` (name case-insensitive) from `cs-headers`, still percent-encoded.

    Entries are `name:value%0A`; matching `(^|%0A)name:` before any decoding means an
    encoded newline inside a value (which arrives as `%250A`) can never forge a header.
    One pattern finds the first entry with that name in any case (the regex engine skips
    ahead by a literal prefilter); the value is then cut from a short slice after it, and
    only the rare value longer than that slice from the whole rest of the field.
    """
    h, at = pl.col("h"), pl.col("at")
    # The match starts at the "%0A" before the name, or at 0 for the field's first entry.
    start = at + len(header) + 1 + pl.when((at == 0) & ~h.str.starts_with("%0A")).then(0).otherwise(3)

    def cut(rest: pl.Expr) -> pl.Expr:  # the value: up to the next entry's "%0A", or the end
        return rest.str.slice(0, rest.str.find("%0A", literal=True))

    piece = pl.col("piece")
    found = (
        headers.to_frame("h").lazy()
        .with_columns(at=h.str.find(r"(?:^|%0A)(?i:" + re.escape(header) + "):"))
        .with_columns(start=start)
        .select("start", piece=h.str.slice(pl.col("start"), _VALUE_SLICE))
        .select("start", value=cut(piece),
                long=(piece.str.len_chars() == _VALUE_SLICE) & ~piece.str.contains("%0A", literal=True))
        .collect()
    )
    value = found["value"]
    long = found["long"].fill_null(False).arg_true()
    if long.len():  # values longer than the slice: cut from the whole rest of the field
        rest = pl.DataFrame({"h": headers.gather(long), "start": found["start"].gather(long)})
        value = value.scatter(long, rest.select(cut(h.str.slice(pl.col("start")))).to_series())
    return value


def _referrer_parts(value: str) -> tuple[str | None, str | None]:
    """(domain without `www.`, path) of a referrer URL; scheme-less values are allowed.
    The definition, and the route for the values `referrer_columns` leaves to Python."""
    try:
        parts = urlsplit(value if "://" in value else "//" + value)
        host = (parts.hostname or "").removeprefix("www.")
    except ValueError:
        return None, None
    if not host:
        return None, None
    return host, parts.path or "/"


_SCHEME = r"(?:[A-Za-z][A-Za-z0-9+.\-]*:)?"  # as urlsplit reads one: up to the first colon


def referrer_columns(referrer: pl.Series) -> dict[str, pl.Series]:
    """`referrer_domain` and `referrer_path` of each referrer URL, as `_referrer_parts`
    gives them.

    Referrers can be nearly as varied as the requests (each asset request carries its
    page's URL, query string and all), so the distinct values are split by expressions, not
    one by one in Python (~7 µs a value). Only values `urlsplit` treats specially go to
    Python: anything beyond printable ASCII (it strips leading controls and spaces, drops
    tabs, and checks non-ASCII hosts), and hosts with a bracket (IPv6, checked) or a `%`
    (whose case it keeps after it).
    """
    parts = on_distinct(referrer, _referrer_frame)
    return {"referrer_domain": parts["domain"].alias("referrer_domain"),
            "referrer_path": parts["path"].alias("referrer_path")}


def _referrer_frame(values: pl.Series) -> pl.DataFrame:
    """(domain, path) of distinct non-null referrers, by `referrer_columns`' rules."""
    v = pl.col("v")
    url = pl.when(v.str.contains("://", literal=True)).then(v).otherwise(pl.lit("//") + v)
    netloc = pl.col("netloc")
    host = (netloc.str.replace(r"^.*@", "").str.replace(r":.*$", "")  # user@host:port
            .str.to_lowercase().str.strip_prefix("www."))
    found = (
        values.to_frame("v").lazy()
        .with_columns(netloc=url.str.extract(rf"^{_SCHEME}//([^/?#]*)", 1),
                      path=url.str.extract(rf"^{_SCHEME}//[^/?#]*([^?#]*)", 1))
        .select(
            domain=pl.when(host != "").then(host),
            path=pl.when(host != "").then(pl.when(pl.col("path") != "").then("path").otherwise(pl.lit("/"))),
            odd=~v.str.contains(r"^[!-~]*$") | netloc.str.contains(r"[\[\]%]"),
        )
        .collect()
    )
    odd = found["odd"].arg_true()
    if odd.len():
        parts = [_referrer_parts(value) for value in values.gather(odd).to_list()]
        found = found.with_columns(
            domain=found["domain"].scatter(odd, pl.Series([d for d, _ in parts], dtype=pl.String)),
            path=found["path"].scatter(odd, pl.Series([p for _, p in parts], dtype=pl.String)))
    return found.drop("odd")


def _host_of(value: str) -> str:
    return value.lower().rsplit(":", 1)[0] if value.count(":") == 1 else value.lower()


def normalise(
    df: pl.DataFrame,
    *,
    log_source: str,
    site_field: str,
    distribution_fields: tuple[str, ...],
    ua_decode: str,
    referrer_encoded: bool,
    visitor_header: str,
) -> pl.DataFrame:
    """Type and decode the raw fields of one batch. Adds `reject_reason` (null when fine)."""
    # (condition, reason) per field, first failure wins. Only the conditions run on every
    # row; reason strings are built for the few failing rows alone.
    checks: list[tuple[pl.Expr, pl.Expr]] = []

    def number(field: str, dtype: pl.DataType) -> pl.Expr:
        raw = _col(df, field)
        value = raw.cast(dtype, strict=False)
        checks.append((raw.is_not_null() & value.is_null(),
                       pl.lit(f"{field} is not a number: ") + raw.str.slice(0, 40)))
        return value

    def milliseconds(field: str, dtype: pl.DataType, scale: int, low: int, high: int) -> pl.Expr:
        """A number of seconds (scale 1000) or milliseconds as whole ms of `dtype`; a value
        outside [low, high) ms — "1e400" reads as infinity — rejects the row."""
        ms = (number(field, pl.Float64) * scale).round(0)
        checks.append((~ms.is_between(low, high, closed="left"), pl.lit(f"{field} out of range")))
        return ms.cast(dtype, strict=False)

    # --- time --------------------------------------------------------------------------------
    if "timestamp(ms)" in df.columns or "timestamp" in df.columns:
        field = "timestamp(ms)" if "timestamp(ms)" in df.columns else "timestamp"
        ts_ms = milliseconds(field, pl.Int64, 1 if field == "timestamp(ms)" else 1000, _TS_MIN, _TS_MAX)
        ts_missing = pl.col(field).is_null()
    else:
        stamp = _col(df, "date") + pl.lit(" ") + _col(df, "time")
        parsed = stamp.str.strptime(pl.Datetime("ms"), "%Y-%m-%d %H:%M:%S", strict=False)
        checks.append((stamp.is_not_null() & parsed.is_null(),
                       pl.lit("date/time not parseable: ") + stamp.str.slice(0, 40)))
        ts_ms = parsed.dt.epoch("ms")
        ts_missing = stamp.is_null()
        checks.append(((ts_ms < _TS_MIN) | (ts_ms >= _TS_MAX), pl.lit("timestamp out of range")))
    checks.insert(0, (ts_missing, pl.lit("missing timestamp")))

    cols: dict[str, pl.Expr] = {
        "ts": ts_ms.cast(pl.Datetime("ms", "UTC")),
        "request_id": _col(df, "x-edge-request-id"),
        "log_source": pl.lit(log_source),
        "_site": _col(df, site_field),
        "_distribution": pl.coalesce([_col(df, f) for f in distribution_fields]),
    }
    for field, name in _TEXT_FIELDS.items():
        cols[name] = _col(df, field)
    for field, (name, dtype) in _INT_FIELDS.items():
        cols[name] = number(field, dtype)
    for field, name in _SECONDS_FIELDS.items():
        cols[name] = milliseconds(field, pl.Int32, 1000, -(2**31), 2**31)

    # --- URL: real-time logs keep the query inside cs-uri-stem, standard logs do not --------
    stem = _col(df, "cs-uri-stem")
    cols["_path_raw"] = stem.str.split_exact("?", 1).struct.field("field_0")
    cols["_query_raw"] = pl.coalesce(
        _col(df, "cs-uri-query"), stem.str.split_exact("?", 1).struct.field("field_1")
    )
    cols["_ua_raw"] = _col(df, "cs-user-agent")
    cols["_referrer_raw"] = _col(df, "cs-referer")
    cols["forwarded_ip"] = pl.lit(None, dtype=pl.String)  # filled below where present

    # --- headers: visitor id and truncation --------------------------------------------------
    headers = _col(df, "cs-headers")
    if "cs-headers" in df.columns and "cs-headers-count" in df.columns:
        # As a pattern, not `literal=True`: Polars counts a literal pattern a third slower.
        kept = headers.str.count_matches("%0A").fill_null(0)
        # CloudFront logs the Cookie header in cs-cookie, never in cs-headers: a cookie the
        # request carried is not a header that truncation dropped.
        cookie = (
            _col(df, "cs-header-names").str.contains(r"(?i)(?:^|%0A)cookie(?:%0A|$)").fill_null(False)
            | _col(df, "cs-cookie").is_not_null()
        ).cast(pl.Int32)
        cols["_kept"] = kept
        cols["_cookie"] = cookie
    out = df.select(**cols, _bad=pl.any_horizontal([c.fill_null(False) for c, _ in checks]))
    reason = pl.repeat(None, df.height, dtype=pl.String, eager=True)
    if out["_bad"].any():
        idx = out["_bad"].arg_true()
        reasons = df[idx].select(pl.coalesce([pl.when(c).then(r) for c, r in checks])).to_series()
        reason = reason.scatter(idx, reasons)
    out = out.drop("_bad").with_columns(_reason=reason)
    if "x-forwarded-for" in df.columns:
        # Few requests carry the header: normalise those values alone, not every row.
        xff = df["x-forwarded-for"]
        present = xff.is_not_null().arg_true()
        if present.len():
            first = xff.gather(present).to_frame("x").select(forwarded_first(pl.col("x"))).to_series()
            out = out.with_columns(forwarded_ip=out["forwarded_ip"].scatter(present, first))

    if "_kept" in out.columns:
        out = out.with_columns(
            headers_truncated=pl.when(pl.col("_headers_count").is_null())
            .then(None)
            .otherwise(pl.col("_kept") < pl.col("_headers_count") - pl.col("_cookie"))
        )
    else:
        out = out.with_columns(headers_truncated=pl.lit(None, dtype=pl.Boolean))

    if "cs-headers" in df.columns:
        out = out.with_columns(_visitor_raw=extract_header(df["cs-headers"], visitor_header))
    else:
        out = out.with_columns(_visitor_raw=pl.lit(None, dtype=pl.String))

    # --- per-distinct decoding (the only Python-level work, on distinct values) --------------
    path = percent_decode(out["_path_raw"], decode_once)
    query = percent_decode(out["_query_raw"], decode_once)
    ua = percent_decode(out["_ua_raw"], decode_twice if ua_decode == "twice" else decode_once)
    referrer = out["_referrer_raw"]
    if referrer_encoded:
        referrer = percent_decode(referrer, decode_once)
    visitor = percent_decode(out["_visitor_raw"], decode_once).str.strip_chars()

    out = out.with_columns(
        path=path,
        query=query,
        user_agent=ua,
        visitor_token=pl.when(visitor.str.len_bytes() > 0).then(visitor).otherwise(None),
        _referrer=referrer,
    )
    out = out.with_columns(
        site=map_distinct(out["_site"], _host_of),
        distribution_host=map_distinct(out["_distribution"], _host_of),
        **referrer_columns(out["_referrer"]),
    )
    out = out.with_columns(**utm_columns(out["query"]))
    return out.rename({"_reason": "reject_reason"})


def utm_columns(query: pl.Series) -> dict[str, pl.Series]:
    """utm_source … utm_content of decoded query strings (form-decoded, empty → null)."""
    # Few requests carry a campaign: one literal scan finds them and the patterns run on
    # those alone. The five values are then decoded together and spread back in one call:
    # on a batch's few tagged rows each Polars call's fixed cost (~0.1 ms) is most of the
    # work, and doing this key by key took twice as long. Emptiness is tested before
    # decoding, which is the same: decoding never turns a non-empty value into "".
    tagged = query.str.contains("utm_", literal=True).fill_null(False).to_frame("t")
    values = query.filter(tagged["t"]).to_frame("q").select(
        pl.col("q").str.extract(rf"(?:^|&)utm_{k}=([^&#]*)", 1).replace("", None).alias(f"utm_{k}")
        for k in UTM_KEYS)
    n = values.height
    decoded = percent_decode(pl.concat(values.get_columns()), decode_form)
    values = pl.DataFrame([decoded.slice(i * n, n).alias(name) for i, name in enumerate(values.columns)])
    # Each row's place among the tagged rows (null for the others).
    at = tagged.select(pl.when("t").then(pl.col("t").cum_sum() - 1)).to_series()
    return {column.name: column for column in values.select(pl.all().gather(at)).get_columns()}


PARSED_POLARS = polars_schema(PARSED_SCHEMA)


def to_arrow(df: pl.DataFrame) -> pa.Table:
    """The parsed rows in `PARSED_SCHEMA` order and types."""
    return df.select(PARSED_SCHEMA.names).to_arrow().cast(PARSED_SCHEMA)


def typed(df: pl.DataFrame) -> pl.DataFrame:
    """The parsed rows in `PARSED_SCHEMA` order and types, staying in Polars."""
    return df.select([pl.col(n).cast(t) for n, t in PARSED_POLARS.items()])


def empty() -> pl.DataFrame:
    return pl.DataFrame(schema=PARSED_POLARS)


__all__ = [
    "IDENTITY_COLUMNS", "PARSED_SCHEMA", "USED_FIELDS", "UTM_KEYS", "extract_header", "forwarded_first",
    "normalise", "referrer_columns", "to_arrow",
]
