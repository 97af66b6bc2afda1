"""A bounded load run against the real collector process on loopback: every accepted event
reaches silver (the figure itself comes from `make bench`)."""

from __future__ import annotations

from bench.collector_bench import run


def test_no_event_is_lost_under_concurrent_load(tmp_path):
    r = run(tmp_path / "lake", batches=300, clients=4)
    assert r["refused_batches"] == 0 and r["events"] == 300 * 20
    assert r["in_silver"] == r["events"] and r["quarantined"] == 0
