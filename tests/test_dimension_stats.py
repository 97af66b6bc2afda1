"""daily_dimension_stats (contract §7.6) on a hand-built day; expected rows by hand."""

from __future__ import annotations

from datetime import UTC, datetime

from pipelines.config import Lake, Settings
from pipelines.models import Window, build
from tests.test_models import gold, write_silver
from tests.test_sessions import D, ev, pv


def at(h, m=0, s=0):
    return datetime(2026, 11, 2, h, m, s, tzinfo=UTC)


def edge(row, location):
    row["edge_location"] = location
    return row


REQUESTS = [
    edge(pv("a", at(10), visitor="v1", path="/", referrer="google.com"), "FRA"),
    edge(pv("c", at(10, 5), visitor="v1", path="/pricing"), "FRA"),
    edge({**pv("asset", at(10, 0, 1), visitor="v1", path="/app.js"), "is_page_view": False}, "FRA"),
    edge(pv("d", at(11), visitor="v2", path="/"), "LHR"),
    edge(pv("e", at(12), visitor="v3", path="/", referrer="t.co"), "FRA"),
    # 60 min later, a click in a tab left open: a new session the site itself referred.
    edge(pv("f", at(13), visitor="v3", path="/pricing", referrer="example.com"), "FRA"),
    edge(pv("bot", at(13), visitor="crawler", path="/", bot=True), "IAD"),
]
EVENTS = [ev("click", at(10, 6), "click", visitor="v1", path="/pricing")]


def stats(tmp_path):
    write_silver(tmp_path, REQUESTS, EVENTS)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D), ["daily_dimension_stats"])
    rows = gold(tmp_path, "daily_dimension_stats")
    return {(r["dimension"], r["value"]): r for r in rows.iter_rows(named=True)}


def measures(row, *names):
    return tuple(row[n] for n in names)


def test_pages_and_entry_exit(tmp_path):
    s = stats(tmp_path)
    cols = ("page_views", "visitors", "sessions", "rank")
    assert measures(s[("page", "/")], *cols) == (3, 3, 3, 1)
    assert measures(s[("page", "/pricing")], *cols) == (2, 2, 2, 2)
    # Sessions: v1 (/ -> /pricing), v2 (/), v3 (/), v3 again (/pricing).
    assert measures(s[("entry_page", "/")], *cols) == (4, 3, 3, 1)
    assert measures(s[("entry_page", "/pricing")], *cols) == (1, 1, 1, 2)
    assert measures(s[("exit_page", "/")], *cols) == (2, 2, 2, 1)  # tie on sessions: by value
    assert measures(s[("exit_page", "/pricing")], *cols) == (3, 2, 2, 2)


def test_acquisition_dimensions(tmp_path):
    s = stats(tmp_path)
    cols = ("sessions", "visitors", "page_views", "rank")
    assert measures(s[("channel", "Direct")], *cols) == (2, 2, 2, 1)
    assert measures(s[("channel", "Organic Search")], *cols) == (1, 1, 2, 2)
    assert measures(s[("channel", "Social")], *cols) == (1, 1, 1, 3)
    assert measures(s[("referrer_domain", "(none)")], *cols) == (2, 2, 2, 1)  # v2's, v3's internal
    assert {v for d, v in s if d == "referrer_domain"} == {"(none)", "google.com", "t.co"}
    assert s[("device_type", "desktop")]["sessions"] == 4
    assert ("device_type", "bot") not in s  # bots have no sessions


def test_events_and_edges(tmp_path):
    s = stats(tmp_path)
    assert measures(s[("event_type", "page_view")], "events", "visitors", "sessions", "rank") == (5, 3, 4, 1)
    assert measures(s[("event_type", "click")], "events", "visitors", "sessions", "page_views") == (1, 1, 1, 0)
    cols = ("requests", "page_views", "visitors", "rank")
    assert measures(s[("edge_location", "FRA")], *cols) == (5, 4, 2, 1)
    assert measures(s[("edge_location", "IAD")], *cols) == (1, 0, 0, 2)
    assert measures(s[("edge_location", "LHR")], *cols) == (1, 1, 1, 3)
