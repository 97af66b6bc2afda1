"""User-agent classification; the vectorised crawler check must agree with crawlerdetect."""

from __future__ import annotations

import polars as pl
import pytest
from crawlerdetect import CrawlerDetect

from pipelines.generate import _user_agents
from pipelines.useragent import classify, classify_column, is_crawler

AGENTS = [a for _, _, a in _user_agents()] + [
    "NetSuite/2019.2 (SuiteScript)", "vscode-restclient", "curl/7.55.1",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (Linux; Android 10) YandexSearch/7.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Wget/1.21", "",
]


def test_vectorised_crawler_check_matches_crawlerdetect():
    reference = CrawlerDetect()
    got = is_crawler(pl.Series(AGENTS)).to_list()
    assert got == [reference.isCrawler(a) for a in AGENTS]


@pytest.mark.parametrize(("ua", "device", "bot"), [
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "mobile", False),
    ("Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1", "tablet", False),
    ("Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "tablet", False),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "desktop", False),
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "bot", True),
    ("python-requests/2.32.3", "bot", True),
    (None, "bot", True),
])
def test_device_types(ua, device, bot):
    agent = classify(ua)
    assert (agent.device_type, agent.is_bot) == (device, bot)


def test_classify_column_maps_back_in_row_order():
    s = pl.Series(["curl/8.7.1", None, "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "curl/8.7.1"])
    df = classify_column(s)
    assert df["is_bot"].to_list() == [True, True, False, True]
    assert df["browser"].to_list()[2] == "Chrome"
