"""Beacon landing records (contract §5a) → silver events: validation with reasons, typed
values worked out by hand, de-duplication, reconciliation, stitching with the logs."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines import ledger
from pipelines.config import Lake, Settings
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.models import Window, build
from pipelines.storage import Storage
from rtl_parser.beacon import BeaconParser, record_reason
from rtl_parser.lines import split_lines
from tests.conftest import KEY, examples

RECEIVED = int(datetime(2026, 11, 2, 10, 0, 0, 300000, tzinfo=UTC).timestamp() * 1000)
GOOD = {"v": 1, "event_id": "0b0f6f1e-1111-4222-8333-444455556666", "type": "click",
        "client_ts": RECEIVED - 1300, "received_ts": RECEIVED, "seq": 3, "site": "WWW.Example.com",
        "path": "/caf%C3%A9", "query": "utm_source=news&utm_campaign=black%20friday",
        "title": "Café", "referrer": "https://www.google.com/search?q=x", "visitor": "raw-visitor-1",
        "props": {"target": "buy"}, "ip": "203.0.113.7", "ua": "Mozilla/5.0 (X11; Linux x86_64) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "country": "DE",
        "unknown_extra": "ignored"}


def parse(*records) -> tuple[pl.DataFrame, list[dict]]:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in records]
    result = BeaconParser().parse_lines(split_lines(("\n".join(lines) + "\n").encode()))
    assert result.lines == len(records) == result.frame.height + result.rejects.num_rows
    return result.frame, result.rejects.select(["line_no", "reason"]).to_pylist()


@pytest.mark.parametrize("change, reason", [
    ({"v": 2}, "unsupported schema version (v must be 1)"),
    ({"event_id": "x"}, "missing or malformed event_id"),
    ({"type": "<script>"}, "unknown event type"),
    ({"received_ts": "2026-11-02"}, "received_ts must be epoch milliseconds"),
    ({"client_ts": 1.5}, "client_ts must be epoch milliseconds"),
    ({"seq": "3"}, "seq must be a whole number"),
    ({"site": ""}, "missing site"),
    ({"path": {"nested": 1}}, "path must be a string"),
    ({"props": [1, 2]}, "props must be an object"),
    ({"props": {"x": "y" * 5000}}, "props larger than 4096 bytes"),
    ({"title": "t" * 3000}, "title longer than 2048 characters"),
])
def test_invalid_records_are_rejected_with_their_reason(change, reason):
    frame, rejects = parse(GOOD, {**GOOD, **change})
    assert frame.height == 1 and rejects == [{"line_no": 2, "reason": reason}]


def test_lines_that_are_not_json_objects_are_rejected():
    _, rejects = parse("not json", "[1, 2]", '{"v": 1, "event_id": "abc', "null")
    assert [r["reason"] for r in rejects] == ["not a JSON object"] * 4


def _lake(tmp_path, lines: list[bytes]) -> Settings:
    key = tmp_path / "landing/beacon/2026/11/02/10/footfall-beacon-1-2026-11-02-10-05-00-x.gz"
    key.parent.mkdir(parents=True)
    key.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    return Settings(lake=Lake(root=str(tmp_path)))


def test_a_record_in_silver_with_values_worked_out_by_hand(tmp_path):
    again = json.dumps(GOOD).encode()  # Firehose redelivers: one row
    settings = _lake(tmp_path, [again, again, b"{broken"])
    summary = ingest(settings, KEY, sources=("beacon",))
    assert (summary.lines, summary.rows, summary.duplicates, summary.quarantined) == (3, 1, 1, 1)
    (row,) = pl.read_parquet(tmp_path / "silver/events/dt=2026-11-02/hour=10/data.parquet").to_dicts()
    assert row["event_id"] == GOOD["event_id"] and row["event_type"] == "click"
    assert row["ts"] == datetime(2026, 11, 2, 10, 0, 0, 300000, tzinfo=UTC)
    assert row["clock_skew_ms"] == 1300 and row["seq"] == 3
    assert (row["site"], row["path"], row["title"]) == ("www.example.com", "/café", "Café")
    assert (row["referrer_domain"], row["utm_source"], row["utm_campaign"]) == ("google.com", "news", "black friday")
    assert json.loads(row["props"]) == {"target": "buy"}
    assert (row["browser"], row["os"], row["device_type"], row["is_bot"]) == ("Chrome", "Linux", "desktop", False)
    # The visitor id is the keyed hash of the raw first-party id, as for a request header.
    assert row["visitor_id"] == hmac.new(KEY, b"raw-visitor-1", hashlib.sha256).hexdigest()[:32]
    # Nothing raw: no IP, no user agent anywhere in the row.
    assert not any(str(v) in (GOOD["ip"], GOOD["ua"], GOOD["visitor"]) for v in row.values())
    quarantined = pl.read_parquet(tmp_path / "quarantine/beacon/*/*.parquet")
    assert quarantined["reason"].to_list() == ["not a JSON object"]


def test_generated_beacon_traffic_reconciles_stitches_and_reaches_sessions(small_lake):
    root, stats = small_lake
    settings = Settings(lake=Lake(root=str(root)))
    summary = ingest(settings, KEY, sources=ALL_SOURCES)
    entries = [e for e in ledger.load(Storage(str(root))).values() if e.source == "beacon"]
    assert len(entries) == stats["beacon"]["objects"] and all(e.reconciles for e in entries)
    beacon = summary.by_source["beacon"]
    assert beacon["lines"] == stats["beacon"]["lines"] and beacon["duplicates"] == stats["beacon"]["duplicates"]
    events = pl.read_parquet(str(root / "silver/events/*/*/*.parquet"), hive_partitioning=False)
    assert events["event_id"].n_unique() == events.height == beacon["rows"]
    # Same visitors in both sources: every beacon visitor also made logged requests.
    requests = pl.read_parquet(str(root / "silver/requests/*/*/*.parquet"), hive_partitioning=False)
    assert set(events["visitor_id"]) <= set(requests["visitor_id"])
    build(settings, Window(events["dt"].min(), events["dt"].max()))
    con = duckdb.connect()
    sessions = con.sql(f"select sum(events), sum(interactive_events) from read_parquet('{root}/gold/sessions/*/*.parquet')").fetchall()[0]
    clicks_etc = events.filter(pl.col("event_type").is_in(["click", "form_submit", "download"])).height
    assert sessions[0] > 0 and sessions[1] == clicks_etc
    signed_up = con.sql(f"select max(visitors) from read_parquet('{root}/gold/funnel_daily/*/*.parquet') "
                        "where step_name = 'Signed up'").fetchall()[0][0]
    assert signed_up > 0  # the funnel's last step is a beacon form_submit


VALUES = [None, "", "x", "0b0f6f1e-aaaa", 0, 1, -5, 1.5, True, [], [1], {}, {"a": "b"}, "y" * 3000,
          {"x": "é" * 2100}, 1762077600000, "page_view", "click", "WWW.Example.com"]


@settings(max_examples=examples(400), deadline=None)
@given(st.dictionaries(st.sampled_from(["v", "event_id", "type", "client_ts", "received_ts", "seq",
                                        "site", "path", "title", "visitor", "props", "ua"]),
                       st.sampled_from(VALUES), max_size=4))
def test_the_collectors_check_agrees_with_ingest(changes):
    """The collector's per-request check and ingest's vectorised query give the same verdict
    and reason, so what the collector accepts, ingest keeps."""
    record = {**GOOD, **changes}
    record = {k: v for k, v in record.items() if v is not None}
    _, rejects = parse(record)
    assert record_reason(record) == (rejects[0]["reason"] if rejects else None)
