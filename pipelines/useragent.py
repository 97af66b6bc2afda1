"""User agent → browser, OS, device type and bot flag, once per distinct user agent.

ua-parser (with its Rust resolver) names browser and OS; crawlerdetect's pattern list and
ua-parser's `Spider` device catch crawlers. crawlerdetect's own matcher runs a 1,400-way
alternation through Python's backtracking `re` (~300 µs a call); the same patterns run
through the Rust regex engine in Polars, vectorised over the distinct agents, cost ~5 µs
and give identical answers (tests/test_useragent.py compares them). A request without a
user agent counts as a bot: browsers always send one, scripts often do not.
"""

from __future__ import annotations

import re
from typing import NamedTuple

import polars as pl
import ua_parser
from crawlerdetect.providers.crawlers import data as _crawler_patterns
from crawlerdetect.providers.exclusions import data as _exclusion_patterns


class Agent(NamedTuple):
    browser: str
    browser_version: str | None
    os: str
    device_type: str  # desktop | mobile | tablet | bot | other
    is_bot: bool


_DESKTOP_OS = {"Windows", "Mac OS X", "Linux", "Ubuntu", "Chrome OS", "Fedora", "FreeBSD",
               "Debian", "OpenBSD", "NetBSD", "Solaris", "macOS"}
_MOBILE_OS = {"iOS", "Android", "Windows Phone", "BlackBerry OS", "KaiOS", "HarmonyOS"}
_TABLET = re.compile(r"iPad|Tablet|Kindle|Silk/|PlayBook|SM-T\d", re.I)
_MOBILE = re.compile(r"Mobi|iPhone|iPod|Android.*Mobile|Opera Mini|IEMobile", re.I)
_CACHE_LIMIT = 200_000

# Rust's regex has no look-around: those few patterns (one today) go through Python's `re`.
_LOOKAROUND = ("(?!", "(?<", "(?=")
_CRAWLERS = "(?i)(" + "|".join(p for p in _crawler_patterns if not any(x in p for x in _LOOKAROUND)) + ")"
_CRAWLERS_PY = re.compile(
    "|".join(p for p in _crawler_patterns if any(x in p for x in _LOOKAROUND)) or "(?!)", re.I
)
_EXCLUSIONS = "(?i)(" + "|".join(_exclusion_patterns) + ")"
_cache: dict[str, Agent] = {}
BOT_AGENT = Agent("Bot", None, "Other", "bot", True)


def is_crawler(user_agents: pl.Series) -> pl.Series:
    """crawlerdetect's verdict for each user agent: strip the browser tokens it excludes,
    then look for a crawler pattern in what is left."""
    rest = user_agents.str.strip_chars().str.replace_all(_EXCLUSIONS, "")
    py = pl.Series([bool(_CRAWLERS_PY.search(a)) for a in rest.fill_null("").to_list()], dtype=pl.Boolean)
    return ((rest.str.len_bytes() > 0) & (rest.str.contains(_CRAWLERS) | py)).fill_null(False)


def classify(ua: str | None, crawler: bool | None = None) -> Agent:
    """Classify one user agent (cached). `crawler` is the precomputed crawlerdetect verdict."""
    if not ua:
        return BOT_AGENT
    hit = _cache.get(ua)
    if hit is not None:
        return hit
    if crawler is None:
        crawler = bool(is_crawler(pl.Series([ua]))[0])
    parsed = ua_parser.parse(ua)
    browser = parsed.user_agent.family if parsed.user_agent else "Other"
    version = parsed.user_agent.major if parsed.user_agent else None
    os_name = parsed.os.family if parsed.os else "Other"
    device = parsed.device.family if parsed.device else "Other"
    is_bot = device == "Spider" or crawler
    if is_bot:
        kind = "bot"
    elif device == "iPad" or _TABLET.search(ua) or (os_name == "Android" and "Mobile" not in ua):
        kind = "tablet"
    elif _MOBILE.search(ua) or os_name in _MOBILE_OS:
        kind = "mobile"
    elif os_name in _DESKTOP_OS:
        kind = "desktop"
    else:
        kind = "other"
    agent = Agent(browser, version, os_name, kind, is_bot)
    if len(_cache) >= _CACHE_LIMIT:
        _cache.clear()
    _cache[ua] = agent
    return agent


def classify_column(user_agents: pl.Series) -> pl.DataFrame:
    """Classification columns for a column of user agents, one parse per distinct value."""
    uniq = user_agents.unique()
    unseen = pl.Series([u for u in uniq.to_list() if u and u not in _cache], dtype=pl.String)
    for ua, crawler in zip(unseen.to_list(), is_crawler(unseen).to_list(), strict=True):
        classify(ua, crawler)
    agents = [classify(u) for u in uniq.to_list()]
    lookup = pl.DataFrame(
        {
            "_ua": uniq,
            "browser": [a.browser for a in agents],
            "browser_version": pl.Series([a.browser_version for a in agents], dtype=pl.String),
            "os": [a.os for a in agents],
            "device_type": [a.device_type for a in agents],
            "is_bot": [a.is_bot for a in agents],
        }
    )
    joined = user_agents.rename("_ua").to_frame().join(
        lookup, on="_ua", how="left", nulls_equal=True, maintain_order="left"
    )
    return joined.drop("_ua")
