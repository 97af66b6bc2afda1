"""footfall online and journey over hand-built gold, through the real CLI entry point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pipelines.cli import main
from pipelines.config import Lake, Settings
from pipelines.models import Window, build
from tests.test_models import write_silver
from tests.test_sessions import D, ev, pv


def lake_with_a_visit(tmp_path):
    t = datetime(2026, 11, 2, 23, 57, tzinfo=UTC)
    reqs = [pv("a", t, visitor="v1", path="/"), pv("b", t + timedelta(minutes=1), visitor="v1", path="/pricing"),
            pv("c", t, visitor="v2", path="/"), pv("z", t - timedelta(hours=3), visitor="v3", path="/old")]
    evs = [ev("e1", t + timedelta(seconds=70), "click", visitor="v1", path="/pricing")]
    write_silver(tmp_path, reqs, evs)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D))
    return str(tmp_path)


def test_online_prints_the_latest_snapshot_and_its_routes(tmp_path, capsys):
    lake = lake_with_a_visit(tmp_path)
    assert main(["online", "--lake", lake]) == 0
    text = capsys.readouterr().out
    # At 23:59 both visitors are within the 5-minute window: v1 last on /pricing, v2 on /.
    assert "www.example.com: 2 online at 2026-11-02 23:59 UTC (peak that day: 2)" in text
    assert text.splitlines()[0].endswith(" days ago")  # a past day's snapshot says how old it is
    assert [ln.split() for ln in text.splitlines()[1:3]] == [["1", "/"], ["1", "/pricing"]]


def test_journey_lists_a_visitors_session_in_order(tmp_path, capsys):
    lake = lake_with_a_visit(tmp_path)
    assert main(["journey", "--lake", lake, "--visitor", "v1"]) == 0
    text = capsys.readouterr().out
    order = [w for w in text.split() if w in ("page_view", "click")]
    assert order == ["page_view", "page_view", "click"]
    assert main(["journey", "--lake", lake, "--session", "x' or '1'='1"]) == 2
    assert "no session with session_id" in capsys.readouterr().err
