"""sessions (contract §7.3): hand-built activity, expected sessions worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl

from pipelines.config import Lake, Settings
from pipelines.models import Window, build
from pipelines.schemas import EVENTS, REQUESTS
from tests.test_models import gold, write_silver

D = date(2026, 11, 2)
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def pv(rid: str, ts: datetime, *, visitor="v1", path="/", bot=False, referrer=None, **utm) -> dict:
    row = {f.name: None for f in REQUESTS}
    row.update(request_id=rid, ts=ts, dt=ts.date(), hour=ts.hour, log_source="realtime",
               site="www.example.com", method="GET", path=path, status=200, visitor_id=visitor,
               visitor_id_source="header", is_bot=bot, is_page_view=not bot,
               device_type="bot" if bot else "desktop", browser="Chrome", os="Windows",
               country="DE", referrer_domain=referrer, source_object="o", **utm)
    return row


def ev(eid: str, ts: datetime, kind: str, *, visitor="v1", path="/") -> dict:
    row = {f.name: None for f in EVENTS}
    row.update(event_id=eid, schema_version=1, event_type=kind, ts=ts, client_ts=ts, dt=ts.date(),
               hour=ts.hour, site="www.example.com", visitor_id=visitor, path=path, is_bot=False,
               device_type="desktop", browser="Chrome", os="Windows", country="DE", source_object="b")
    return row


def sessions(tmp_path, requests, events=(), day=D, through=None) -> pl.DataFrame:
    write_silver(tmp_path, requests, events)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(day, through or day), ["sessions"])
    days = Window(day, through or day).days()
    return pl.concat([gold(tmp_path, "sessions", d) for d in days]).sort("start_ts")


def test_a_gap_of_exactly_the_timeout_continues_the_session(tmp_path):
    rows = sessions(tmp_path, [pv("a", T0), pv("b", T0 + timedelta(minutes=30), path="/pricing")])
    assert rows.height == 1
    s = rows.row(0, named=True)
    assert (s["page_views"], s["entry_path"], s["exit_path"], s["duration_s"]) == (2, "/", "/pricing", 1800.0)
    assert s["is_bounce"] is False


def test_one_millisecond_more_starts_a_new_session(tmp_path):
    rows = sessions(tmp_path, [pv("a", T0), pv("b", T0 + timedelta(minutes=30, milliseconds=1))])
    assert rows["page_views"].to_list() == [1, 1]
    assert rows["is_bounce"].to_list() == [True, True]
    assert rows["session_id"].n_unique() == 2


def test_a_session_over_midnight_belongs_to_the_day_it_starts(tmp_path):
    start = datetime(2026, 11, 2, 23, 50, tzinfo=UTC)
    reqs = [pv("a", start), pv("b", start + timedelta(minutes=20), path="/next")]
    rows = sessions(tmp_path, reqs, through=date(2026, 11, 3))
    assert rows.height == 1
    s = rows.row(0, named=True)
    assert s["dt"] == D and s["end_ts"] == start + timedelta(minutes=20) and s["exit_path"] == "/next"
    assert gold(tmp_path, "sessions", date(2026, 11, 3)).height == 0


def test_building_the_next_day_alone_still_sees_yesterdays_session(tmp_path):
    start = datetime(2026, 11, 2, 23, 50, tzinfo=UTC)
    write_silver(tmp_path, [pv("a", start), pv("b", start + timedelta(minutes=20))])
    build(Settings(lake=Lake(root=str(tmp_path))), Window(date(2026, 11, 3), date(2026, 11, 3)), ["sessions"])
    assert gold(tmp_path, "sessions", date(2026, 11, 3)).height == 0  # 00:10 continues D's session


def test_a_25_hour_visitor_is_cut_at_24_hours(tmp_path):
    # A page view every 20 minutes from 00:00 for 25 hours (76 page views).
    start = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
    reqs = [pv(f"r{i:03d}", start + timedelta(minutes=20 * i)) for i in range(76)]
    rows = sessions(tmp_path, reqs, through=date(2026, 11, 3))
    # 00:00 .. 24:00 the next day is exactly 24 h (not more): 73 page views; then 3 more.
    assert rows["page_views"].to_list() == [73, 3]
    assert rows["duration_s"].to_list() == [86400.0, 2400.0]
    assert rows["dt"].to_list() == [D, date(2026, 11, 3)]


def test_bots_have_no_sessions(tmp_path):
    rows = sessions(tmp_path, [pv("a", T0, visitor="bot", bot=True), pv("b", T0, visitor="human")])
    assert rows["visitor_id"].to_list() == ["human"]


def test_bounce_is_one_page_view_without_an_interactive_event(tmp_path):
    reqs = [pv("a", T0, visitor="reader"), pv("b", T0, visitor="clicker")]
    evs = [ev("e1", T0 + timedelta(seconds=5), "heartbeat", visitor="reader"),
           ev("e2", T0 + timedelta(seconds=9), "click", visitor="clicker")]
    rows = sessions(tmp_path, reqs, evs).sort("visitor_id")
    assert rows.select("visitor_id", "page_views", "events", "interactive_events", "is_bounce").rows() == [
        ("clicker", 1, 1, 1, False),
        ("reader", 1, 1, 0, True),  # a heartbeat is activity but not an interaction
    ]


def test_attribution_comes_from_the_first_activity_and_a_new_campaign_does_not_split(tmp_path):
    reqs = [pv("a", T0, referrer=None, utm_source="newsletter", utm_medium="email", utm_campaign="nov"),
            pv("b", T0 + timedelta(minutes=5), referrer="google.com", utm_source="google",
               utm_medium="cpc", utm_campaign="brand")]
    rows = sessions(tmp_path, reqs)
    assert rows.height == 1
    s = rows.row(0, named=True)
    assert (s["utm_source"], s["utm_campaign"], s["channel"]) == ("newsletter", "nov", "Email")


def test_channels(tmp_path):
    cases = {"direct": (None, {}), "search": ("google.com", {}), "social": ("t.co", {}),
             "referral": ("news.ycombinator.com", {}), "self": ("example.com", {}),
             "paid": ("google.com", {"utm_medium": "cpc", "utm_source": "google"})}
    reqs = [pv(f"r-{name}", T0 + timedelta(hours=i), visitor=name, referrer=ref, **utm)
            for i, (name, (ref, utm)) in enumerate(cases.items())]
    rows = sessions(tmp_path, reqs)
    got = dict(zip(rows["visitor_id"], rows["channel"], strict=True))
    assert got == {"direct": "Direct", "search": "Organic Search", "social": "Social",
                   "referral": "Referral", "self": "Direct", "paid": "Paid Search"}
    referrers = dict(zip(rows["visitor_id"], rows["referrer_domain"], strict=True))
    assert referrers == {"direct": None, "search": "google.com", "social": "t.co",
                         "referral": "news.ycombinator.com", "self": None, "paid": "google.com"}


def test_session_ids_are_deterministic_and_unique(tmp_path):
    reqs = [pv("a", T0, visitor="x"), pv("b", T0, visitor="y"), pv("c", T0 + timedelta(hours=2), visitor="x")]
    first = sessions(tmp_path, reqs)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D), ["sessions"])
    again = gold(tmp_path, "sessions").sort("start_ts")
    assert first["session_id"].to_list() == again["session_id"].to_list()
    assert first["session_id"].n_unique() == 3 and all(len(s) == 32 for s in first["session_id"])


def test_beacon_events_of_one_batch_keep_the_browsers_order(tmp_path):
    """A batch's events share one receive time (`ts`); the session's entry and exit follow
    the browser's clock and sequence, not the random event ids."""
    at = datetime(D.year, D.month, D.day, 12, tzinfo=UTC)
    first, second = ev("zzz-first", at, "page_view", path="/landing"), ev("aaa-second", at, "page_view", path="/next")
    first.update(client_ts=at - timedelta(seconds=9), seq=1)
    second.update(client_ts=at - timedelta(seconds=2), seq=2)
    [s] = sessions(tmp_path, [], [second, first]).to_dicts()
    assert (s["entry_path"], s["exit_path"], s["page_views"]) == ("/landing", "/next", 2)
