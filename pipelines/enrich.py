"""Parsed request rows → silver `requests` rows: pseudonymised, classified, page views marked.

Raw identifiers (client IP, user agent, visitor header) enter here and leave only as keyed
hashes and coarse classes; the output schema has no column that could hold them.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from pipelines.config import Settings
from pipelines.hashing import daily_salt, hash_column
from pipelines.schemas import EVENTS_POLARS, REQUESTS_POLARS
from pipelines.useragent import classify_column
from rtl_parser.decode import decode_once, percent_decode
from rtl_parser.normalise import referrer_columns, utm_columns

_SEP = "\x1f"  # unit separator: cannot appear in a decoded host, IP or user agent by accident


@dataclass(frozen=True)
class EnrichOptions:
    key: bytes
    rotate_salt: bool = True
    client_ip: str = "c-ip"
    default_site: str = ""
    collector_prefix: str = "/_footfall/"
    collector_hosts: tuple[str, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings, key: bytes) -> EnrichOptions:
        return cls(
            key=key,
            rotate_salt=settings.identity.derived_salt_rotation == "daily",
            client_ip=settings.identity.client_ip,
            default_site=settings.rtl.site,
            collector_prefix=settings.collector.path_prefix,
            collector_hosts=tuple(h.lower() for h in settings.collector.hosts),
        )


def page_view_rule(opts: EnrichOptions) -> pl.Expr:
    """Contract §7.2: GET, 2xx or 304, not a bot, HTML — or, without a content type, a path
    with no file extension or ending in .html/.htm; never a request to the collector."""
    ctype = pl.col("content_type").str.to_lowercase()
    html_type = ctype.str.starts_with("text/html") | ctype.str.starts_with("application/xhtml")
    last_segment = pl.col("path").str.extract(r"([^/]*)$", 1)
    html_path = (~last_segment.str.contains(r"\.[^.]*$")) | last_segment.str.contains(r"(?i)\.html?$")
    to_collector = pl.col("path").str.starts_with(opts.collector_prefix)
    if opts.collector_hosts:
        to_collector = to_collector | pl.col("site").is_in(list(opts.collector_hosts))
    return (
        (pl.col("method") == "GET")
        & (pl.col("status").is_between(200, 299) | (pl.col("status") == 304))
        & ~pl.col("is_bot")
        & pl.when(pl.col("content_type").is_null()).then(html_path).otherwise(html_type)
        & ~to_collector
    ).fill_null(False)


def visitor_id_column(df: pl.DataFrame, opts: EnrichOptions, *, token: str, ip: pl.Expr,
                      user_agent: str) -> pl.Series:
    """Contract §7.1: the keyed hash of the first-party id where there is one; otherwise
    derived from site + IP + user agent with a salt that rotates daily (Plausible's model).
    The same raw id gives the same visitor_id in requests and beacon events."""
    visitor_ids = hash_column(opts.key, df[token])
    anonymous = visitor_ids.is_null().arg_true()
    if anonymous.len():
        # Only rows without a first-party id need the derived id: build its message there.
        days = df["dt"].gather(anonymous).unique().to_list()
        salts = {d: daily_salt(opts.key, d.isoformat() if opts.rotate_salt else "static")
                 for d in days}
        # Gather the four inputs, not the whole wide frame.
        inputs = df.select("dt", "site", ip.fill_null("").alias("_ip"),
                           pl.col(user_agent).fill_null("").alias("_ua"))[anonymous]
        message = inputs.select(pl.concat_str(
            [pl.col("dt").replace_strict(salts, return_dtype=pl.String), "site", "_ip", "_ua"],
            separator=_SEP,
        )).to_series()
        visitor_ids = visitor_ids.scatter(anonymous, hash_column(opts.key, message))
    return visitor_ids


def source_object_column(source_objects: str | list[str]) -> pl.Expr:
    """The landing object of each row (`part` indexes the objects of a batch)."""
    if isinstance(source_objects, str):
        return pl.lit(source_objects)
    return pl.col("part").replace_strict(dict(enumerate(source_objects)), return_dtype=pl.String)


def enrich_requests(parsed: pl.DataFrame | pa.Table, source_objects: str | list[str],
                    opts: EnrichOptions) -> pl.DataFrame:
    """Silver rows (columns of `REQUESTS`) for one parsed batch.

    `source_objects` names the landing object of each `part` of the batch (or the one
    object of a single-object batch)."""
    df = parsed if isinstance(parsed, pl.DataFrame) else pl.from_arrow(parsed)
    assert isinstance(df, pl.DataFrame)
    fallback = opts.default_site or None
    df = df.with_columns(
        site=pl.coalesce(pl.col("site"), pl.lit(fallback, pl.String), pl.col("distribution_host"),
                         pl.lit("unknown")),
        dt=pl.col("ts").dt.date(),
        hour=pl.col("ts").dt.hour().cast(pl.Int32),
    )
    df = pl.concat([df, classify_column(df["user_agent"])], how="horizontal")

    ip = pl.col("client_ip")
    if opts.client_ip == "x-forwarded-for":
        ip = pl.coalesce(pl.col("forwarded_ip"), ip)
    visitor_ids = visitor_id_column(df, opts, token="visitor_token", ip=ip, user_agent="user_agent")
    df = df.with_columns(
        visitor_id=visitor_ids,
        visitor_id_source=pl.when(pl.col("visitor_token").is_not_null())
        .then(pl.lit("header")).otherwise(pl.lit("derived")),
        source_object=source_object_column(source_objects),
    )
    df = df.with_columns(is_page_view=page_view_rule(opts))
    return df.select([pl.col(n).cast(t) for n, t in REQUESTS_POLARS.items()])


def enrich_events(parsed: pl.DataFrame, source_objects: str | list[str], opts: EnrichOptions) -> pl.DataFrame:
    """Silver rows (columns of `EVENTS`) for one parsed batch of beacon records: the IP and
    user agent leave as a visitor id and coarse classes; the rest is typed and decoded."""
    df = parsed.with_columns(
        ts=pl.from_epoch(pl.col("received_ms"), time_unit="ms").dt.replace_time_zone("UTC"),
        client_ts=pl.from_epoch(pl.col("client_ms"), time_unit="ms").dt.replace_time_zone("UTC"),
        clock_skew_ms=pl.col("received_ms") - pl.col("client_ms"),
        site=pl.col("site").str.to_lowercase(),
        path=percent_decode(parsed["path"], decode_once),
        visitor_token=pl.col("visitor").str.strip_chars().replace("", None),
    ).with_columns(dt=pl.col("ts").dt.date(), hour=pl.col("ts").dt.hour().cast(pl.Int32))
    df = pl.concat([df, classify_column(df["ua"])], how="horizontal")
    query = percent_decode(df["query"].fill_null(""), decode_once)
    df = df.with_columns(
        visitor_id=visitor_id_column(df, opts, token="visitor_token", ip=pl.col("ip"), user_agent="ua"),
        referrer_domain=referrer_columns(df["referrer"])["referrer_domain"],
        schema_version=pl.lit(1, pl.Int16),
        source_object=source_object_column(source_objects),
        **utm_columns(query),
    )
    return df.select([pl.col(n).cast(t) for n, t in EVENTS_POLARS.items()])
