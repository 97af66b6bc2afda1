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


def hb(eid, ts, visitor, path, props):
    return {**ev(eid, ts, "heartbeat", visitor=visitor, path=path), "props": props}


# Scroll depth: the deepest `scroll` among the heartbeats from a page view's own path.
SCROLL_REQUESTS = [
    pv("w1a", at(9), visitor="w1", path="/guide"),
    pv("w1b", at(9, 4), visitor="w1", path="/pricing"),
    pv("w2", at(10), visitor="w2", path="/guide"),
    pv("w3", at(11), visitor="w3", path="/guide"),
    pv("w4", at(12), visitor="w4", path="/guide"),
]
SCROLL_EVENTS = [
    # w1 scrolls /guide to 75 % (a later heartbeat after scrolling back up says 60); a
    # heartbeat from another tab's /other page says 100 and is not /guide's.
    hb("w1-1", at(9, 1), "w1", "/guide", '{"scroll":30}'),
    hb("w1-x", at(9, 1, 30), "w1", "/other", '{"scroll":100}'),
    hb("w1-2", at(9, 2), "w1", "/guide", '{"scroll":75}'),
    hb("w1-3", at(9, 3), "w1", "/guide", '{"scroll":60}'),
    hb("w1-4", at(9, 5), "w1", "/pricing", '{"scroll":40}'),
    # w2: not a number and out of range measure nothing; 12.5 rounds to 13.
    hb("w2-1", at(10, 1), "w2", "/guide", '{"scroll":"deep"}'),
    hb("w2-2", at(10, 2), "w2", "/guide", '{"scroll":150}'),
    hb("w2-3", at(10, 3), "w2", "/guide", '{"scroll":12.5}'),
    # w3: a click's props are not a heartbeat's; no heartbeat, no scroll depth.
    {**ev("w3-1", at(11, 1), "click", visitor="w3", path="/guide"), "props": '{"scroll":90}'},
    # w4: the top of the page is a measurement too.
    hb("w4-1", at(12, 1), "w4", "/guide", '{"scroll":0}'),
]


def test_scroll_depth_is_the_deepest_heartbeat_on_the_page_views_own_path(tmp_path):
    write_silver(tmp_path, SCROLL_REQUESTS, SCROLL_EVENTS)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D), ["page_engagement_daily"])
    rows = {r["path"]: r for r in gold(tmp_path, "page_engagement_daily", D).iter_rows(named=True)}
    assert set(rows) == {"/guide", "/pricing"}  # /other had heartbeats but no page view
    guide, pricing = rows["/guide"], rows["/pricing"]
    # /guide: w1 75, w2 13, w4 0; w3 unmeasured.
    assert (guide["page_views"], guide["scrolled_views"], guide["scroll_depth_pct_p50"]) == (4, 3, 13)
    assert guide["avg_scroll_depth_pct"] == pytest.approx(88 / 3)
    assert (pricing["scrolled_views"], pricing["avg_scroll_depth_pct"], pricing["scroll_depth_pct_p50"]) == (1, 40.0, 40)
    # Heartbeats from the other tab still end w1's time on /guide no earlier than before:
    # /guide runs to /pricing (240 s); w2's last heartbeat gives 180 s, w4's 60 s, w3's click 60 s.
    assert (guide["timed_views"], guide["avg_time_on_page_s"]) == (4, (240 + 180 + 60 + 60) / 4)
