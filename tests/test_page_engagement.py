"""page_engagement_daily: time on page and exits per path, on a hand-built day; every
expected figure worked out by hand from the timeline below."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from pipelines.config import Lake, Settings
from pipelines.models import Window, build
from tests.test_models import gold, write_silver
from tests.test_sessions import D, ev, pv

NEXT = date(2026, 11, 3)


def at(h, m=0, s=0, day=2):
    return datetime(2026, 11, day, h, m, s, tzinfo=UTC)


REQUESTS = [
    # v1: / for 150 s, then /pricing, where a heartbeat and a click follow (last at 10:04:00).
    pv("a", at(10), visitor="v1", path="/"),
    pv("b", at(10, 2, 30), visitor="v1", path="/pricing"),
    # v2: one page view and nothing after it: an exit with no time.
    pv("c", at(11), visitor="v2", path="/"),
    # v3: / for 600 s, /docs ends the session (the next view is 45 min later: a new session,
    # which is a single / with nothing after it).
    pv("d", at(12), visitor="v3", path="/"),
    pv("e", at(12, 10), visitor="v3", path="/docs"),
    pv("f", at(12, 55), visitor="v3", path="/"),
    # v4: /late at 23:58 continues at 00:03 the next day: 300 s, and not an exit.
    pv("g", at(23, 58), visitor="v4", path="/late"),
    pv("h", at(0, 3, day=3), visitor="v4", path="/"),
    # v5: a click before the session's first page view belongs to no page view.
    pv("i", at(14, 1), visitor="v5", path="/x"),
    # A crawler's page view is no page view at all.
    pv("bot", at(12, 30), visitor="crawler", path="/", bot=True),
]
EVENTS = [
    ev("hb", at(10, 3, 30), "heartbeat", visitor="v1", path="/pricing"),
    ev("click", at(10, 4), "click", visitor="v1", path="/pricing"),
    ev("early", at(14), "click", visitor="v5", path="/x"),
]
COLUMNS = ("page_views", "visitors", "exits", "exit_rate", "timed_views", "avg_time_on_page_s",
           "time_on_page_s_p50")


def engagement(tmp_path, day):
    write_silver(tmp_path, REQUESTS, EVENTS)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(day, day), ["page_engagement_daily"])
    return {r["path"]: tuple(r[c] for c in COLUMNS)
            for r in gold(tmp_path, "page_engagement_daily", day).iter_rows(named=True)}


def test_time_on_page_runs_to_the_next_page_view_or_the_sessions_last_activity(tmp_path):
    rows = engagement(tmp_path, D)
    assert rows == {
        # v1 (150 s), v2 (exit, no time), v3 (600 s), v3 again (exit, no time).
        "/": (4, 3, 2, 0.5, 2, 375.0, 150.0),
        # The heartbeat and the click after it: 10:02:30 to 10:04:00.
        "/pricing": (1, 1, 1, 1.0, 1, 90.0, 90.0),
        "/docs": (1, 1, 1, 1.0, 0, None, None),
        "/late": (1, 1, 0, 0.0, 1, 300.0, 300.0),
        "/x": (1, 1, 1, 1.0, 0, None, None),
    }


def test_the_next_day_alone_sees_the_session_that_crossed_midnight(tmp_path):
    assert engagement(tmp_path, NEXT) == {"/": (1, 1, 1, 1.0, 0, None, None)}


@pytest.mark.parametrize("day", [D, NEXT])
def test_page_views_and_visitors_agree_with_the_dimension_stats(tmp_path, day):
    rows = engagement(tmp_path, day)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(day, day), ["daily_dimension_stats"])
    pages = {r["value"]: (r["page_views"], r["visitors"])
             for r in gold(tmp_path, "daily_dimension_stats", day).iter_rows(named=True)
             if r["dimension"] == "page"}
    assert pages == {path: r[:2] for path, r in rows.items()}
