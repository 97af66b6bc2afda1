"""Synthetic, realistic landing data: CloudFront real-time logs (Firehose objects, gzip) and
standard logs, from one vectorised traffic model. Deterministic for a given seed.

The model: visitors (browser, IP, country, first-party id for most) have sessions; a session
has an entry referrer or campaign and a few page views separated by reading time, now and
then an idle gap longer than the session timeout; each page view pulls assets; crawlers walk
the site. Then delivery: Firehose objects rotate every few minutes and are keyed by arrival
hour, a few records are delivered twice or late, and a few lines arrive corrupt.
"""

from __future__ import annotations

import base64
import csv
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from importlib import resources

import numpy as np
import polars as pl
from isal import igzip

from pipelines.storage import Storage
from rtl_parser.fields import DEFAULT_REALTIME_FIELDS, STANDARD_FIELDS_33

RTL_SITE, RTL_DIST, RTL_DIST_ID = "www.example.com", "d1example.cloudfront.net", "E1EXAMPLE"
STD_SITE, STD_DIST, STD_DIST_ID = "docs.example.com", "d2example.cloudfront.net", "E2EXAMPLE"
STREAM = "footfall-rtl"

PAGES = ["/", "/pricing", "/signup", "/features", "/about", "/contact", "/blog/",
         "/blog/launch-week", "/blog/cloudfront-logs-explained", "/blog/privacy-first-analytics",
         "/docs/", "/docs/getting-started", "/docs/athena", "/docs/dagster", "/careers"]
PAGE_WEIGHTS = np.array([14, 8, 4, 6, 3, 2, 5, 6, 7, 5, 6, 6, 3, 3, 2], dtype=float)
FUNNEL = ["/", "/pricing", "/signup"]
ASSETS = [("/static/app.3f9a1c.js", "application/javascript", 48_000),
          ("/static/style.8fb2b.css", "text/css", 12_000),
          ("/static/logo.svg", "image/svg+xml", 3_100),
          ("/fonts/inter.woff2", "font/woff2", 31_000),
          ("/favicon.ico", "image/x-icon", 1_150),
          ("/images/hero.webp", "image/webp", 84_000)]
REFERRERS = [("", 40), ("https://www.google.com/", 28), ("https://duckduckgo.com/", 4),
             ("https://news.ycombinator.com/", 5), ("https://t.co/abc123", 4),
             ("https://www.linkedin.com/feed/", 3), ("https://github.com/footfall/footfall", 4)]
CAMPAIGNS = [("utm_source=newsletter&utm_medium=email&utm_campaign=november", 6),
             ("utm_source=google&utm_medium=cpc&utm_campaign=brand&utm_term=web+analytics", 4),
             ("utm_source=twitter&utm_medium=social&utm_campaign=launch-week", 2)]
COUNTRIES = [("US", 35, "IAD89-C1"), ("DE", 12, "FRA56-P3"), ("GB", 10, "LHR61-C2"),
             ("FR", 7, "CDG52-P1"), ("IN", 9, "BOM78-P4"), ("BR", 6, "GRU3-C1"),
             ("JP", 6, "NRT57-C3"), ("CA", 5, "YTO50-C1"), ("AU", 4, "SYD62-P2"),
             ("NL", 6, "AMS58-C1")]


@dataclass(frozen=True)
class GenerateOptions:
    start: date
    days: int = 3
    visitors: int = 3000  # human visitors per site
    bots: int = 12
    seed: int = 7
    rtl: bool = True
    standard: bool = True
    beacon: bool = True  # the real-time-log site also runs the collector beacon
    object_minutes: int = 5  # Firehose buffer interval
    duplicate_rate: float = 0.002
    late_rate: float = 0.001
    malformed_rate: float = 0.0005
    gzip: bool = True


def _user_agents() -> list[tuple[str, float, str]]:
    text = resources.files("pipelines.data").joinpath("user_agents.tsv").read_text()
    rows = list(csv.DictReader(text.splitlines(), delimiter="\t"))
    return [(r["kind"], float(r["weight"]), r["user_agent"]) for r in rows]


_PHONES = ("Pixel 8", "Pixel 7a", "Pixel 6", "SM-S911B", "SM-A546B", "SM-G991B", "SM-A137F",
           "SM-A525F", "Redmi Note 12", "2201117TG", "CPH2371", "moto g54 5G", "M2101K6G",
           "V2207", "RMX3630")


def agent_variant(ua: str, r: np.ndarray) -> str:
    """One visitor's version of a browser's user agent: browser majors, builds, OS releases
    and device models vary as in real traffic, which has thousands of distinct user agents
    a day, not a handful (per-distinct-value work must be measured against that). `r` is
    four random integers; the browser family and device kind stay those of `ua`."""
    def older(m: re.Match, back: int) -> str:
        return str(int(m.group(1)) - int(r[0]) % back)

    ios_major, ios_minor = 16 + int(r[1]) % 3, int(r[2]) % 7
    ua = re.sub(r"(?<=Chrome/)(\d+)(?=\.0\.0\.0)", lambda m: older(m, 6), ua)
    ua = re.sub(r"(?<=Edg/)(\d+)\.0\.0\.0", lambda m: f"{older(m, 6)}.0.{2400 + int(r[1]) % 12 * 47}.{int(r[2]) % 5 * 23}", ua)
    ua = re.sub(r"(?<=CriOS/)(\d+)\.0\.\d+\.\d+", lambda m: f"{older(m, 6)}.0.{6000 + int(r[1]) % 12 * 61}.{int(r[3]) % 5 * 29}", ua)
    ua = re.sub(r"(?<=Firefox/)(\d+)", lambda m: older(m, 5), ua)
    ua = re.sub(r"(?<=rv:)(\d+)", lambda m: older(m, 5), ua)
    ua = re.sub(r"(?<=SamsungBrowser/)(\d+)", lambda m: older(m, 5), ua)
    ua = re.sub(r"(?<=OS )\d+_\d+(?= like Mac OS X)", f"{ios_major}_{ios_minor}", ua)
    if "like Mac OS X" in ua or "Macintosh" in ua:
        ua = re.sub(r"(?<=Version/)\d+\.\d+", f"{ios_major}.{ios_minor}", ua)
    ua = re.sub(r"(?<=Android )\d+", str(10 + int(r[3]) % 5), ua)
    if "Android" in ua and "Mobile" in ua:
        ua = re.sub(r"(?<=; )(Pixel 8|SM-S911B)(?=\))", _PHONES[int(r[1]) % len(_PHONES)], ua)
    return ua


def _pick(rng: np.random.Generator, items: list, weights, n: int) -> np.ndarray:
    w = np.asarray(weights, dtype=float)
    return rng.choice(len(items), size=n, p=w / w.sum())


def _ids(rng: np.random.Generator, n: int, nbytes: int = 39) -> list[str]:
    raw = rng.bytes(n * nbytes)
    return [base64.urlsafe_b64encode(raw[i * nbytes:(i + 1) * nbytes]).decode() + "=="
            for i in range(n)]


def traffic(opts: GenerateOptions, site: str, seed_offset: int = 0) -> pl.DataFrame:
    """Requests of one site over the days, as semantic columns (one row per request)."""
    rng = np.random.default_rng(opts.seed + seed_offset)
    agents = _user_agents()
    humans = [a for a in agents if a[0] != "bot"]
    bots = [a for a in agents if a[0] == "bot"]
    day0 = datetime(opts.start.year, opts.start.month, opts.start.day, tzinfo=UTC)
    t0 = int(day0.timestamp() * 1000)
    span_ms = opts.days * 86_400_000

    # --- visitors -----------------------------------------------------------------------
    v = opts.visitors
    v_ua = _pick(rng, humans, [a[1] for a in humans], v)
    v_country = _pick(rng, COUNTRIES, [c[1] for c in COUNTRIES], v)
    v_ipv6 = rng.random(v) < 0.15
    v_ip = [
        f"2001:db8:{rng.integers(0, 65535):x}:{rng.integers(0, 65535):x}::{rng.integers(1, 65535):x}"
        if six else f"{rng.integers(11, 223)}.{rng.integers(0, 255)}.{rng.integers(0, 255)}.{rng.integers(1, 254)}"
        for six in v_ipv6
    ]
    v_token = [str(uuid.UUID(bytes=rng.bytes(16), version=4)) if rng.random() < 0.8 else ""
               for _ in range(v)]

    # --- sessions: diurnal start times, entry source, length ------------------------------
    per_visitor = 1 + rng.poisson(0.4 * opts.days, v)
    s_visitor = np.repeat(np.arange(v), per_visitor)
    s = len(s_visitor)
    hour_w = np.array([2, 1.5, 1, 1, 1, 1.5, 2.5, 4, 5, 6, 6.5, 7, 7, 7.5, 8, 8, 7.5, 7, 6.5,
                       6, 5, 4, 3.5, 2.5])
    s_day = rng.integers(0, opts.days, s)
    s_hour = _pick(rng, list(range(24)), hour_w, s)
    s_start = t0 + s_day * 86_400_000 + s_hour * 3_600_000 + rng.integers(0, 3_600_000, s)
    s_ref = _pick(rng, REFERRERS, [r[1] for r in REFERRERS], s)
    s_camp = np.where(rng.random(s) < 0.12, _pick(rng, CAMPAIGNS, [c[1] for c in CAMPAIGNS], s), -1)
    s_funnel = rng.random(s) < 0.3
    s_pages = np.minimum(rng.geometric(0.33, s), 25)

    # --- page views -----------------------------------------------------------------------
    p_session = np.repeat(np.arange(s), s_pages)
    n = len(p_session)
    first = np.r_[True, p_session[1:] != p_session[:-1]]
    k = np.arange(n) - np.maximum.accumulate(np.where(first, np.arange(n), 0))
    gap = rng.exponential(45_000, n).astype(np.int64) + 2_000
    idle = rng.random(n) < 0.04  # longer than the session timeout: a new session starts
    gap = np.where(idle, rng.integers(31 * 60_000, 120 * 60_000, n), gap)
    gap[first] = 0
    cum = np.cumsum(gap)
    p_ts = s_start[p_session] + cum - cum[np.flatnonzero(first)][np.cumsum(first) - 1]
    page_idx = _pick(rng, PAGES, PAGE_WEIGHTS, n)
    # Funnel sessions walk / → /pricing → /signup and drop off along the way.
    s_depth = 1 + rng.binomial(len(FUNNEL) - 1, 0.6, s)
    funnel_pos = s_funnel[p_session] & (k < s_depth[p_session])
    funnel_idx = np.array([PAGES.index(p) for p in FUNNEL])
    p_path = np.where(funnel_pos, funnel_idx[np.minimum(k, len(FUNNEL) - 1)], page_idx)
    paths = np.array(PAGES, dtype=object)[p_path]
    status = np.full(n, 200)
    roll = rng.random(n)
    status[roll < 0.08] = 304
    status[(roll >= 0.08) & (roll < 0.095)] = 404
    status[(roll >= 0.095) & (roll < 0.099)] = 502
    status[(roll >= 0.099) & (roll < 0.105)] = 301  # "/blog" redirects to "/blog/"
    paths = np.where(status == 404, "/old-page", paths)
    paths = np.where(status == 301, "/blog", paths)
    entry_ref = np.array([r[0] for r in REFERRERS], dtype=object)[s_ref[p_session]]
    prev_path = np.r_[["/"], paths[:-1]]
    referer = np.where(first, entry_ref, np.char.add(f"https://{site}", prev_path.astype(str)))
    camp = np.array([c[0] for c in CAMPAIGNS] + [""], dtype=object)[s_camp[p_session]]
    query = np.where(first, camp, "")
    pv = pl.DataFrame({
        "ts": p_ts, "visitor": s_visitor[p_session], "path": paths.astype(str),
        "query": query.astype(str), "status": status, "referer": referer.astype(str),
        "first": first,
    }).with_columns(
        kind=pl.lit("page"), content_type=pl.when(pl.col("status").is_in([301, 304])).then(None)
        .otherwise(pl.lit("text/html;charset=UTF-8")),
        bytes=pl.lit(9_000) + pl.col("ts") % 51_000,
    )

    # --- assets: a full set on the first page of a session, a few afterwards -----------------
    n_assets = np.where(pv["first"].to_numpy(), len(ASSETS), rng.binomial(2, 0.3, pv.height))
    a_parent = np.repeat(np.arange(pv.height), n_assets)
    a_which = rng.integers(0, len(ASSETS), len(a_parent))
    a_first = np.repeat(pv["first"].to_numpy(), n_assets)
    starts = np.cumsum(n_assets) - n_assets
    a_which = np.where(a_first, np.arange(len(a_parent)) - np.repeat(starts, n_assets), a_which)
    parent = pv[a_parent]
    assets = pl.DataFrame({
        "ts": parent["ts"].to_numpy() + rng.integers(40, 1500, len(a_parent)),
        "visitor": parent["visitor"],
        "path": [ASSETS[i][0] for i in a_which],
        "query": [""] * len(a_parent),
        "status": np.where(rng.random(len(a_parent)) < 0.1, 304, 200),
        "referer": [f"https://{site}{p}" for p in parent["path"].to_list()],
        "first": [False] * len(a_parent),
        "kind": ["asset"] * len(a_parent),
        "content_type": [ASSETS[i][1] for i in a_which],
        "bytes": [ASSETS[i][2] for i in a_which],
    }).with_columns(content_type=pl.when(pl.col("status") == 304).then(None).otherwise("content_type"))

    # --- crawlers ------------------------------------------------------------------------------
    b_ua = _pick(rng, bots, [a[1] for a in bots], opts.bots)
    b_hits = rng.integers(40, 400, opts.bots) * opts.days
    b_of = np.repeat(np.arange(opts.bots), b_hits)
    crawl = pl.DataFrame({
        "ts": t0 + rng.integers(0, span_ms, len(b_of)),
        "visitor": v + b_of,
        "path": np.array(PAGES + ["/robots.txt", "/sitemap.xml"], dtype=object)[
            rng.integers(0, len(PAGES) + 2, len(b_of))].astype(str),
        "query": [""] * len(b_of), "status": np.full(len(b_of), 200), "referer": [""] * len(b_of),
        "first": [False] * len(b_of), "kind": ["bot"] * len(b_of),
        "content_type": ["text/html;charset=UTF-8"] * len(b_of),
        "bytes": rng.integers(9_000, 60_000, len(b_of)),
    })

    # Each visitor's own variant, drawn from a generator of its own so the rest of the data
    # stays what this seed always gave.
    versions = np.random.default_rng(opts.seed + seed_offset + 7919).integers(0, 1 << 30, (len(v_ua), 4))
    all_ua = [agent_variant(humans[i][2], r) for i, r in zip(v_ua, versions, strict=True)] \
        + [bots[i][2] for i in b_ua]
    all_ip = v_ip + [f"66.249.{rng.integers(64, 95)}.{rng.integers(1, 254)}" for _ in range(opts.bots)]
    all_country = [COUNTRIES[i][0] for i in v_country] + ["US"] * opts.bots
    all_edge = [COUNTRIES[i][2] for i in v_country] + ["IAD89-C1"] * opts.bots
    all_token = v_token + [""] * opts.bots
    people = pl.DataFrame({"visitor": np.arange(len(all_ua)), "ua": all_ua, "ip": all_ip,
                           "country": all_country, "edge": all_edge, "token": all_token})
    reqs = pl.concat([pv.with_columns(pl.col("bytes").cast(pl.Int64)),
                      assets.with_columns(pl.col("bytes").cast(pl.Int64)),
                      crawl.with_columns(pl.col("bytes").cast(pl.Int64))], how="vertical_relaxed")
    reqs = reqs.filter(pl.col("ts") < t0 + span_ms).join(people, on="visitor", how="left",
                                                          maintain_order="left")
    m = reqs.height
    hit = rng.random(m)
    is_page = pl.Series((reqs["kind"] != "asset").to_numpy())
    result = np.where(reqs["status"].to_numpy() == 502, "Error",
                      np.where(hit < np.where(is_page, 0.35, 0.85), "Hit",
                               np.where(hit < 0.92, "Miss", "RefreshHit")))
    taken = np.where(result == "Hit", rng.lognormal(2.5, 0.6, m), rng.lognormal(4.8, 0.7, m))
    return reqs.with_columns(
        site=pl.lit(site),
        request_id=pl.Series(_ids(rng, m)),
        result=pl.Series(result),
        time_taken_ms=pl.Series(np.maximum(taken, 1).astype(np.int64)),
        ttfb_frac=pl.Series(rng.uniform(0.3, 0.95, m)),
        bytes_in=pl.Series(rng.integers(300, 1_100, m)),
        port=pl.Series(rng.integers(1024, 65535, m)),
        asn=pl.Series(rng.choice([7018, 3320, 16509, 15169, 2856, 4134, 9498], m)),
    ).sort(["ts", "request_id"])


def _enc(expr: pl.Expr) -> pl.Expr:
    """CloudFront's encoding of user agents and headers: spaces as %20."""
    return expr.str.replace_all("%", "%25", literal=True).str.replace_all(" ", "%20", literal=True)


def _secs(expr: pl.Expr) -> pl.Expr:
    return (expr.cast(pl.Float64) / 1000).round(3).cast(pl.String)


def rtl_lines(reqs: pl.DataFrame, dist: str, dist_id: str, visitor_header: str = "x-visitor-id") -> pl.Series:
    """Format requests as real-time log lines with the default 46 fields."""
    dash = pl.lit("-")
    ttfb = (pl.col("time_taken_ms") * pl.col("ttfb_frac")).round(0).cast(pl.Int64)
    miss = pl.col("result") != "Hit"
    stem = pl.when(pl.col("query") != "").then(pl.col("path") + "?" + pl.col("query")).otherwise(pl.col("path"))
    ua = _enc(pl.col("ua"))
    accept = pl.when(pl.col("kind") == "asset").then(pl.lit("*/*")).otherwise(
        pl.lit("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"))
    ref = pl.col("referer")
    headers = pl.concat_str([
        pl.lit("host:"), pl.col("site"), pl.lit("%0Auser-agent:"), ua,
        pl.lit("%0Aaccept:"), accept, pl.lit("%0Aaccept-encoding:gzip,%20deflate,%20br"),
        pl.lit("%0Aaccept-language:en-US,en;q=0.9"),
        pl.when(ref != "").then(pl.lit("%0Areferer:") + ref).otherwise(pl.lit("")),
        pl.when(pl.col("token") != "").then(pl.lit(f"%0A{visitor_header}:") + pl.col("token")).otherwise(pl.lit("")),
        pl.lit("%0Asec-fetch-mode:navigate%0Asec-fetch-site:same-origin%0Aupgrade-insecure-requests:1%0A"),
    ])
    names = pl.concat_str([
        pl.lit("host%0Auser-agent%0Aaccept%0Aaccept-encoding%0Aaccept-language%0A"),
        pl.when(ref != "").then(pl.lit("referer%0A")).otherwise(pl.lit("")),
        pl.when(pl.col("token") != "").then(pl.lit(f"{visitor_header}%0A")).otherwise(pl.lit("")),
        pl.lit("sec-fetch-mode%0Asec-fetch-site%0Aupgrade-insecure-requests%0A"),
    ])
    count = 8 + (ref != "").cast(pl.Int32) + (pl.col("token") != "").cast(pl.Int32)
    # CloudFront keeps at most 800 bytes of cs-headers, dropping whole trailing headers.
    headers = pl.when(headers.str.len_bytes() > 800).then(
        headers.str.slice(0, 800).str.extract(r"^(.*%0A)", 1)).otherwise(headers)
    cols = {
        "timestamp": (pl.col("ts").cast(pl.Float64) / 1000).map_batches(
            lambda s: s.round(3), return_dtype=pl.Float64).cast(pl.String).str.pad_end(14, "0"),
        "c-ip": pl.col("ip"), "s-ip": pl.lit("18.160.41.") + (pl.col("port") % 250).cast(pl.String),
        "time-to-first-byte": _secs(ttfb), "sc-status": pl.col("status").cast(pl.String),
        "sc-bytes": pl.col("bytes").cast(pl.String), "cs-method": pl.lit("GET"),
        "cs-protocol": pl.lit("https"), "cs-host": pl.col("site"), "cs-uri-stem": stem,
        "cs-bytes": pl.col("bytes_in").cast(pl.String), "x-edge-location": pl.col("edge"),
        "x-edge-request-id": pl.col("request_id"), "x-host-header": pl.lit(dist),
        "time-taken": _secs(pl.col("time_taken_ms")), "cs-protocol-version": pl.lit("HTTP/2.0"),
        "c-ip-version": pl.when(pl.col("ip").str.contains(":", literal=True)).then(pl.lit("IPv6")).otherwise(pl.lit("IPv4")),
        "cs-user-agent": ua, "cs-referer": pl.when(ref != "").then(ref).otherwise(dash),
        "cs-cookie": dash, "cs-uri-query": pl.when(pl.col("query") != "").then(pl.col("query")).otherwise(dash),
        "x-edge-response-result-type": pl.col("result"), "x-forwarded-for": dash,
        "ssl-protocol": pl.lit("TLSv1.3"), "ssl-cipher": pl.lit("TLS_AES_128_GCM_SHA256"),
        "x-edge-result-type": pl.col("result"), "fle-encrypted-fields": dash, "fle-status": dash,
        "sc-content-type": pl.col("content_type").fill_null("-"),
        "sc-content-len": (pl.col("bytes") - 300).cast(pl.String), "sc-range-start": dash,
        "sc-range-end": dash, "c-port": pl.col("port").cast(pl.String),
        "x-edge-detailed-result-type": pl.col("result"), "c-country": pl.col("country"),
        "cs-accept-encoding": pl.lit("gzip,%20deflate,%20br"), "cs-accept": accept,
        "cache-behavior-path-pattern": pl.when(pl.col("kind") == "asset").then(pl.lit("/static/*")).otherwise(pl.lit("*")),
        "cs-headers": headers, "cs-header-names": names, "cs-headers-count": count.cast(pl.String),
        "primary-distribution-id": pl.lit(dist_id), "primary-distribution-dns-name": pl.lit(dist),
        "origin-fbl": pl.when(miss).then(_secs(ttfb - 2)).otherwise(dash),
        "origin-lbl": pl.when(miss).then(_secs(pl.col("time_taken_ms") - 1)).otherwise(dash),
        "asn": pl.col("asn").cast(pl.String),
    }
    assert list(cols) == list(DEFAULT_REALTIME_FIELDS)
    return reqs.select(pl.concat_str(list(cols.values()), separator="\t").alias("line"))["line"]


def standard_lines(reqs: pl.DataFrame, dist: str) -> pl.Series:
    """Format requests as standard log lines (33 fields; user agents encoded twice)."""
    dash = pl.lit("-")
    ts = pl.from_epoch(pl.col("ts"), time_unit="ms")
    cols = {
        "date": ts.dt.strftime("%Y-%m-%d"), "time": ts.dt.strftime("%H:%M:%S"),
        "x-edge-location": pl.col("edge"), "sc-bytes": pl.col("bytes").cast(pl.String),
        "c-ip": pl.col("ip"), "cs-method": pl.lit("GET"), "cs(Host)": pl.lit(dist),
        "cs-uri-stem": pl.col("path"), "sc-status": pl.col("status").cast(pl.String),
        "cs(Referer)": pl.when(pl.col("referer") != "").then(pl.col("referer")).otherwise(dash),
        "cs(User-Agent)": _enc(_enc(pl.col("ua"))),
        "cs-uri-query": pl.when(pl.col("query") != "").then(pl.col("query")).otherwise(dash),
        "cs(Cookie)": dash, "x-edge-result-type": pl.col("result"),
        "x-edge-request-id": pl.col("request_id"), "x-host-header": pl.col("site"),
        "cs-protocol": pl.lit("https"), "cs-bytes": pl.col("bytes_in").cast(pl.String),
        "time-taken": _secs(pl.col("time_taken_ms")), "x-forwarded-for": dash,
        "ssl-protocol": pl.lit("TLSv1.3"), "ssl-cipher": pl.lit("TLS_AES_128_GCM_SHA256"),
        "x-edge-response-result-type": pl.col("result"), "cs-protocol-version": pl.lit("HTTP/2.0"),
        "fle-status": dash, "fle-encrypted-fields": dash, "c-port": pl.col("port").cast(pl.String),
        "time-to-first-byte": _secs((pl.col("time_taken_ms") * pl.col("ttfb_frac")).round(0)),
        "x-edge-detailed-result-type": pl.col("result"),
        "sc-content-type": pl.col("content_type").fill_null("-"),
        "sc-content-len": (pl.col("bytes") - 300).cast(pl.String), "sc-range-start": dash,
        "sc-range-end": dash,
    }
    assert list(cols) == list(STANDARD_FIELDS_33)
    return reqs.select(pl.concat_str(list(cols.values()), separator="\t").alias("line"))["line"]


def _corrupt(rng: np.random.Generator, lines: list[str], rate: float) -> list[bytes]:
    """Turn a few lines into the kinds of damage real pipelines see."""
    out = [ln.encode() for ln in lines]
    for i in np.flatnonzero(rng.random(len(out)) < rate):
        kind = int(rng.integers(0, 4))
        if kind == 0:
            out[i] = out[i][: int(rng.integers(10, max(11, len(out[i]) // 3)))]  # truncated
        elif kind == 1:
            out[i] = out[i][:40] + b"\xff\xfe\xc3(" + out[i][44:]  # invalid UTF-8
        elif kind == 2:
            out[i] = out[i].replace(b"\t", b" ", 3)  # wrong column count
        else:
            parts = out[i].split(b"\t")
            parts[0] = b"not-a-time"
            out[i] = b"\t".join(parts)
    return out


def _write(storage: Storage, key: str, lines: list[bytes], gz: bool) -> int:
    data = b"\n".join(lines) + b"\n"
    storage.write_bytes(key, igzip.compress(data, compresslevel=1, mtime=0) if gz else data)
    return len(lines)


def _deliver(storage: Storage, rng: np.random.Generator, render: Callable[[np.ndarray], list[str]],
             arrival: np.ndarray, opts: GenerateOptions, source: str, stream: str,
             redelivery_ms: tuple[int, int]) -> dict[str, int]:
    """Firehose's delivery of records arriving at `arrival` (epoch ms): a few delivered twice
    (at-least-once), objects rotated every `object_minutes` of arrival time and keyed by
    the arrival hour under landing/<source>/, a few lines damaged. `render` gives the
    lines of the records at some positions: an object's lines are made when it is written,
    so memory follows one object, not the day (a day's lines at once took 5.7 GB for 2M
    requests)."""
    n = len(arrival)
    dup = np.flatnonzero(rng.random(n) < opts.duplicate_rate)
    idx = np.concatenate([np.arange(n), dup])
    when = np.concatenate([arrival, arrival[dup] + rng.integers(*redelivery_ms, len(dup))])
    order = np.argsort(when, kind="stable")
    idx, when = idx[order], when[order]
    bucket = when // (opts.object_minutes * 60_000)
    stats = {"objects": 0, "lines": 0, "duplicates": len(dup)}
    cuts = np.flatnonzero(np.diff(bucket)) + 1
    for part_idx, part_when in zip(np.split(idx, cuts), np.split(when, cuts), strict=True):
        first = datetime.fromtimestamp(part_when[0] / 1000, tz=UTC)
        name = (f"{stream}-1-{first:%Y-%m-%d-%H-%M-%S}-"
                f"{uuid.UUID(bytes=rng.bytes(16), version=4)}{'.gz' if opts.gzip else ''}")
        body = _corrupt(rng, render(part_idx), opts.malformed_rate)
        stats["lines"] += _write(storage, f"landing/{source}/{first:%Y/%m/%d/%H}/{name}", body, opts.gzip)
        stats["objects"] += 1
    return stats


def write_rtl(storage: Storage, reqs: pl.DataFrame, opts: GenerateOptions) -> dict[str, int]:
    """Deliver requests as Firehose objects: rotated by arrival time, keyed by arrival hour."""
    rng = np.random.default_rng(opts.seed + 101)
    n = reqs.height
    arrival = reqs["ts"].to_numpy() + rng.integers(1_000, 60_000, n)
    late = rng.random(n) < opts.late_rate
    arrival = np.where(late, arrival + rng.integers(3_600_000, 3 * 3_600_000, n), arrival)
    stats = _deliver(storage, rng, lambda at: rtl_lines(reqs[at], RTL_DIST, RTL_DIST_ID).to_list(),
                     arrival, opts, "rtl", STREAM, (60_000, 900_000))
    return {**stats, "late": int(late.sum())}


def write_standard(storage: Storage, reqs: pl.DataFrame, opts: GenerateOptions) -> dict[str, int]:
    """Deliver requests as standard log files: per request hour, 1–3 files, unordered lines."""
    rng = np.random.default_rng(opts.seed + 202)
    hours = (reqs["ts"] // 3_600_000).to_numpy()
    header = [b"#Version: 1.0", ("#Fields: " + " ".join(STANDARD_FIELDS_33)).encode()]
    stats = {"objects": 0, "lines": 0}
    for h in np.unique(hours):
        members = np.flatnonzero(hours == h)
        rng.shuffle(members)
        stamp = datetime.fromtimestamp(int(h) * 3600, tz=UTC)
        for part in np.array_split(members, int(rng.integers(1, 4))):
            if len(part) == 0:
                continue
            key = f"landing/standard/{STD_DIST_ID}.{stamp:%Y-%m-%d-%H}.{rng.bytes(4).hex()}.gz"
            body = header + _corrupt(rng, standard_lines(reqs[part], STD_DIST).to_list(), opts.malformed_rate)
            _write(storage, key, body, True)
            stats["lines"] += len(part)
            stats["objects"] += 1
    return stats


def beacon_events(reqs: pl.DataFrame, opts: GenerateOptions) -> pl.DataFrame:
    """What the beacon on a page sends for the human page views of `reqs` (contract §5a):
    a page_view, a heartbeat each minute the page stays open (up to 10, with how far down
    the page the visitor has scrolled) and one as it is left, web vitals, clicks,
    a form submit on the signup page, now and then a download. Same visitor id, IP and
    user agent as the page's request, so the two sources stitch."""
    rng = np.random.default_rng(opts.seed + 303)
    pages = reqs.filter((pl.col("kind") == "page") & pl.col("status").is_in([200, 304])).sort(["visitor", "ts"])
    n = pages.height
    nxt = pages["ts"].shift(-1)
    same = pages["visitor"].shift(-1) == pages["visitor"]
    stay = pl.when(same & ((nxt - pages["ts"]) < 30 * 60_000)).then(nxt - pages["ts"]).otherwise(
        pl.lit(rng.integers(5_000, 240_000, n))).alias("stay")
    pages = pages.with_columns(stay=pl.select(stay).to_series(), page_id=pl.int_range(n))
    base = pages.select("page_id", "ts", "visitor", "path", "query", "referer", "token", "ua", "ip",
                        "country", "stay", "site")

    def kind(frame: pl.DataFrame, name: str, offset: pl.Expr, props: pl.Expr, seq: pl.Expr) -> pl.DataFrame:
        return frame.with_columns(type=pl.lit(name), at=(pl.col("ts") + offset).cast(pl.Int64),
                                  props=props, seq=seq.cast(pl.Int64))

    views = kind(base, "page_view", pl.lit(300), pl.lit("{}"), pl.lit(1))
    # How far down the page each visit gets (its own generator, so that the other draws
    # stay as they were), deeper on articles than elsewhere: 60 % of the way by the first
    # heartbeat, all of it by the second.
    article = pages["path"].str.contains("^/(blog|docs)/.").to_numpy()
    depth = np.random.default_rng(opts.seed + 305).random(n) ** np.where(article, 0.5, 1.5)
    reached = base.with_columns(reach=pl.Series((20 + 80 * depth).round().astype(np.int64)))
    beats = reached.with_columns(k=pl.int_ranges(1, pl.min_horizontal(pl.col("stay") // 60_000, 10) + 1)) \
        .explode("k").drop_nulls("k")
    scroll = (pl.col("reach") * pl.when(pl.col("k") == 1).then(0.6).otherwise(1.0)).round().cast(pl.Int64)
    beats = kind(beats, "heartbeat", pl.col("k") * 60_000, pl.format('{{"scroll":{}}}', scroll),
                 pl.col("k") + 1).drop("k", "reach")
    # And one as the page is left (hidden), with the depth reached, unless a periodic one
    # went within the second before (the beacon skips it then too).
    last_beat = pl.min_horizontal(pl.col("stay") // 60_000, 10) * 60_000
    leaving = reached.filter(pl.col("stay") - 100 - last_beat > 1_000)
    leaves = kind(leaving, "heartbeat", pl.col("stay") - 100, pl.format('{{"scroll":{}}}', pl.col("reach")),
                  pl.lit(99)).drop("reach")
    vit = base.filter(pl.Series(rng.random(n) < 0.5))
    vitals = pl.concat([
        kind(vit, "web_vital", pl.lit(2_500), pl.format('{{"name":"LCP","value":{}}}',
             pl.Series(rng.lognormal(7.3, 0.5, vit.height).astype(int))), pl.lit(50)),
        kind(vit, "web_vital", pl.lit(2_600), pl.format('{{"name":"TTFB","value":{}}}',
             pl.Series(rng.lognormal(5.5, 0.6, vit.height).astype(int))), pl.lit(51)),
    ])
    clk = base.filter(pl.Series(rng.random(n) < 0.25) & (pl.col("stay") > 10_000))
    clicks = kind(clk, "click", pl.lit(8_000), pl.lit('{"target":"cta"}'), pl.lit(60))
    sub = base.filter((pl.col("path") == "/signup") & pl.Series(rng.random(n) < 0.5) & (pl.col("stay") > 20_000))
    submits = kind(sub, "form_submit", pl.lit(15_000), pl.lit('{"form":"signup"}'), pl.lit(61))
    dl = base.filter(pl.col("path").str.starts_with("/docs") & pl.Series(rng.random(n) < 0.1))
    downloads = kind(dl, "download", pl.lit(5_000), pl.lit('{"file":"footfall.pdf"}'), pl.lit(62))
    events = pl.concat([views, beats, leaves, vitals, clicks, submits, downloads]).sort(["at", "page_id", "seq"])
    m = events.height
    skew = rng.integers(-2_000, 800, m)
    return events.with_columns(
        event_id=pl.Series([str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(m)]),
        received=pl.col("at"), client=pl.col("at") - pl.Series(skew),
    )


def beacon_lines(events: pl.DataFrame) -> pl.Series:
    """NDJSON landing records, as the collector writes them."""
    record = pl.struct(
        v=pl.lit(1), event_id="event_id", type="type", client_ts="client", received_ts="received",
        seq="seq", site="site", path="path", query=pl.col("query").replace("", None),
        title=pl.concat_str(pl.lit("Example — "), pl.col("path")), referrer=pl.col("referer").replace("", None),
        visitor=pl.col("token").replace("", None), ip="ip", ua="ua", country="country",
    ).struct.json_encode().str.replace_all(r',"[a-z_]+":null', "")
    # props is already JSON text: appended as the record's last key.
    return events.select(pl.concat_str(record.str.strip_suffix("}"), pl.lit(',"props":'), pl.col("props"),
                                       pl.lit("}"))).to_series()


def write_beacon(storage: Storage, reqs: pl.DataFrame, opts: GenerateOptions) -> dict[str, int]:
    """Deliver beacon records as Firehose objects under landing/beacon/, by arrival time."""
    rng = np.random.default_rng(opts.seed + 404)
    events = beacon_events(reqs, opts)
    text = beacon_lines(events)
    arrival = events["received"].to_numpy() + rng.integers(500, 30_000, len(text))
    return {**_deliver(storage, rng, lambda at: text.gather(at).to_list(), arrival, opts, "beacon",
                       "footfall-beacon", (1_000, 60_000)),
            "events": len(text)}


def generate(storage: Storage, opts: GenerateOptions) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    if opts.rtl or opts.beacon:
        reqs = traffic(opts, RTL_SITE)
        if opts.rtl:
            out["rtl"] = write_rtl(storage, reqs, opts)
        if opts.beacon:
            out["beacon"] = write_beacon(storage, reqs, opts)
    if opts.standard:
        small = GenerateOptions(**{**opts.__dict__, "visitors": max(1, opts.visitors // 4),
                                   "bots": max(1, opts.bots // 3)})
        out["standard"] = write_standard(storage, traffic(small, STD_SITE, 1), small)
    return out


def default_start(days: int) -> date:
    """Days ending yesterday (UTC), so a demo's last day is complete."""
    return (datetime.now(UTC) - timedelta(days=days)).date()
