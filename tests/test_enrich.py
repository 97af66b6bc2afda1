"""Silver enrichment: page-view rule (contract §7.2), keyed visitor ids (§7.1), no PII."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

import polars as pl
import pytest

from pipelines.enrich import EnrichOptions, enrich_requests
from pipelines.schemas import REQUESTS
from rtl_parser.normalise import PARSED_POLARS
from tests.conftest import KEY

CHROME = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
          "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36")


def parsed(**over) -> pl.DataFrame:
    row = {name: None for name in PARSED_POLARS}
    row.update(part=0, line_no=1, ts=datetime(2026, 11, 2, 10, 30, tzinfo=UTC), request_id="r1",
               log_source="realtime", site="www.example.com", method="GET", path="/pricing",
               status=200, content_type="text/html", client_ip="198.51.100.7", user_agent=CHROME)
    row.update(over)
    return pl.DataFrame([row], schema=PARSED_POLARS)


def enrich(**over) -> dict:
    return enrich_requests(parsed(**over), "landing/rtl/x.gz", EnrichOptions(key=KEY)).to_dicts()[0]


@pytest.mark.parametrize(("over", "expected"), [
    ({}, True),
    ({"status": 304, "content_type": None}, True),  # no content type: path has no extension
    ({"content_type": None, "path": "/guide.html"}, True),
    ({"content_type": None, "path": "/guide.HTM"}, True),
    ({"content_type": None, "path": "/app.js"}, False),
    ({"content_type": "application/xhtml+xml"}, True),
    ({"content_type": "text/css"}, False),
    ({"method": "POST"}, False),
    ({"status": 404}, False),
    ({"status": 301}, False),
    ({"status": 0}, False),
    ({"user_agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, False),
    ({"path": "/_footfall/events"}, False),  # the collector is never a page view
])
def test_page_view_rule(over, expected):
    assert enrich(**over)["is_page_view"] is expected


def test_visitor_id_from_header_is_the_keyed_hash_of_the_raw_value():
    row = enrich(visitor_token="3f0c2a9e-visitor")
    assert row["visitor_id"] == hmac.new(KEY, b"3f0c2a9e-visitor", hashlib.sha256).hexdigest()[:32]
    assert row["visitor_id_source"] == "header"


def test_derived_visitor_ids_rotate_daily_and_are_stable_within_a_day():
    morning = enrich()
    evening = enrich(ts=datetime(2026, 11, 2, 22, 0, tzinfo=UTC))
    next_day = enrich(ts=datetime(2026, 11, 3, 9, 0, tzinfo=UTC))
    other_ip = enrich(client_ip="198.51.100.8")
    assert morning["visitor_id_source"] == "derived" and len(morning["visitor_id"]) == 32
    assert morning["visitor_id"] == evening["visitor_id"]
    assert morning["visitor_id"] != next_day["visitor_id"]
    assert morning["visitor_id"] != other_ip["visitor_id"]
    fixed = enrich_requests(parsed(), "o", EnrichOptions(key=KEY, rotate_salt=False)).to_dicts()[0]
    later = enrich_requests(parsed(ts=datetime(2026, 11, 9, tzinfo=UTC)), "o",
                            EnrichOptions(key=KEY, rotate_salt=False)).to_dicts()[0]
    assert fixed["visitor_id"] == later["visitor_id"]


def test_another_key_gives_other_ids():
    a = enrich(visitor_token="v")["visitor_id"]
    b = enrich_requests(parsed(visitor_token="v"), "o", EnrichOptions(key=b"another-key-123456")).to_dicts()[0]
    assert a != b["visitor_id"]


def test_silver_row_has_contract_columns_and_no_raw_identifiers():
    row = enrich(visitor_token="raw-visitor", forwarded_ip="203.0.113.1")
    assert list(row) == REQUESTS.names
    values = {str(v) for v in row.values()}
    assert not values & {"198.51.100.7", CHROME, "raw-visitor", "203.0.113.1"}
    assert (row["browser"], row["os"], row["device_type"]) == ("Chrome", "Windows", "desktop")
    assert row["dt"].isoformat() == "2026-11-02" and row["hour"] == 10


def test_missing_site_falls_back_to_configured_site():
    row = enrich_requests(parsed(site=None), "o", EnrichOptions(key=KEY, default_site="mapthe.cloud")).to_dicts()[0]
    assert row["site"] == "mapthe.cloud"


def test_keyed_hash_is_hmac_sha256_for_every_key_length():
    from pipelines.hashing import keyed_hash

    for key in (b"k" * 16, b"x" * 64, b"long-key-" * 20, bytes(range(200))):
        for value in ("", "203.0.113.9", "é-visitor", "a" * 500):
            expected = hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:32]
            assert keyed_hash(key, value) == expected
