"""presence_snapshots and presence_routes (contract §7.5), expected values by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl

from pipelines.config import Lake, Settings
from pipelines.models import Window, build
from tests.test_models import gold, write_silver
from tests.test_sessions import D, pv


def at(h: int, m: int, s: int = 0, ms: int = 0) -> datetime:
    return datetime(2026, 11, 2, h, m, s, ms * 1000, tzinfo=UTC)


def presence(tmp_path, requests) -> tuple[pl.DataFrame, pl.DataFrame]:
    write_silver(tmp_path, requests)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D), ["presence_snapshots", "presence_routes"])
    return gold(tmp_path, "presence_snapshots"), gold(tmp_path, "presence_routes")


def online(snapshots: pl.DataFrame) -> dict[str, int]:
    nonzero = snapshots.filter(pl.col("online_visitors") > 0).sort("snapshot_ts")
    return {ts.strftime("%H:%M"): n for ts, n in zip(nonzero["snapshot_ts"], nonzero["online_visitors"], strict=True)}


def test_full_minute_grid_with_zero_rows(tmp_path):
    snapshots, _ = presence(tmp_path, [pv("a", at(10, 0))])
    assert snapshots.height == 1440
    assert snapshots["snapshot_ts"].min() == at(0, 0) and snapshots["snapshot_ts"].max() == at(23, 59)
    assert (snapshots["online_visitors"] == 0).sum() == 1440 - 5


def test_window_is_open_at_the_start_and_closed_at_the_end(tmp_path):
    # Active exactly at 10:00: online at t in [10:00, 10:05), i.e. (t - 5 min, t] holds 10:00.
    snapshots, _ = presence(tmp_path, [pv("a", at(10, 0))])
    assert online(snapshots) == {"10:00": 1, "10:01": 1, "10:02": 1, "10:03": 1, "10:04": 1}


def test_activity_between_grid_points(tmp_path):
    snapshots, _ = presence(tmp_path, [pv("a", at(10, 0, 30))])
    assert online(snapshots) == {"10:01": 1, "10:02": 1, "10:03": 1, "10:04": 1, "10:05": 1}


def test_distinct_visitors_and_no_bots(tmp_path):
    reqs = [pv("a", at(10, 0)), pv("b", at(10, 1), visitor="v2"), pv("c", at(10, 1, 5)),
            pv("d", at(10, 2), visitor="crawler", bot=True)]
    snapshots, _ = presence(tmp_path, reqs)
    # v1 at 10:00 and 10:01:05 -> online 10:00..10:06; v2 at 10:01 -> 10:01..10:05.
    assert online(snapshots) == {"10:00": 1, "10:01": 2, "10:02": 2, "10:03": 2, "10:04": 2,
                                 "10:05": 2, "10:06": 1}


def test_routes_follow_each_visitors_latest_activity(tmp_path):
    reqs = [pv("a", at(10, 0), path="/a"), pv("b", at(10, 2), path="/b"),
            pv("c", at(10, 3), visitor="v2", path="/a")]
    _, routes = presence(tmp_path, reqs)
    got = {(r["snapshot_ts"].strftime("%H:%M"), r["path"]): r["online_visitors"]
           for r in routes.iter_rows(named=True)}
    assert got == {
        ("10:00", "/a"): 1, ("10:01", "/a"): 1,
        ("10:02", "/b"): 1, ("10:03", "/b"): 1, ("10:03", "/a"): 1, ("10:04", "/b"): 1,
        ("10:04", "/a"): 1, ("10:05", "/b"): 1, ("10:05", "/a"): 1, ("10:06", "/b"): 1,
        ("10:06", "/a"): 1, ("10:07", "/a"): 1,
    }


def test_yesterdays_late_activity_counts_at_midnight(tmp_path):
    snapshots, _ = presence(tmp_path, [pv("a", at(0, 0) - timedelta(minutes=2))])
    assert online(snapshots) == {"00:00": 1, "00:01": 1, "00:02": 1}


def test_a_day_in_progress_ends_at_the_builds_time(tmp_path):
    """Built at 10:03:30, the day's snapshots end at 10:04, the grid instant that holds
    everything seen by then: the minutes still to come are not zeros, and the latest
    snapshot (what `footfall online` shows) is 'now'."""
    write_silver(tmp_path, [pv("a", at(9, 59, 10), path="/a"), pv("b", at(10, 1), visitor="v2", path="/b"),
                            pv("c", at(10, 3, 20), visitor="v3", path="/c")])
    settings = Settings(lake=Lake(root=str(tmp_path)))
    build(settings, Window(D, D), ["presence_snapshots", "presence_routes"], now=at(10, 3, 30))
    snapshots, routes = gold(tmp_path, "presence_snapshots"), gold(tmp_path, "presence_routes")
    assert snapshots.height == 10 * 60 + 5  # 00:00 .. 10:04
    assert snapshots["snapshot_ts"].max() == at(10, 4) == routes["snapshot_ts"].max()
    # v1 (09:59:10) is online 10:00..10:04, v2 (10:01) 10:01..10:05, v3 (10:03:20) from 10:04.
    assert online(snapshots) == {"10:00": 1, "10:01": 2, "10:02": 2, "10:03": 2, "10:04": 3}
    latest = routes.filter(pl.col("snapshot_ts") == at(10, 4)).sort("path")
    assert latest.select("path", "online_visitors").rows() == [("/a", 1), ("/b", 1), ("/c", 1)]
    # Built on the grid, the day ends right there.
    build(settings, Window(D, D), ["presence_snapshots"], now=at(10, 3))
    assert gold(tmp_path, "presence_snapshots")["snapshot_ts"].max() == at(10, 3)
    # Built again after midnight, the day is whole; built "before" it (data from a clock
    # ahead of this machine's), it is whole too.
    for now in (at(0, 0) + timedelta(days=1, seconds=5), at(0, 0) - timedelta(hours=1)):
        build(settings, Window(D, D), ["presence_snapshots"], now=now)
        assert gold(tmp_path, "presence_snapshots").height == 1440
