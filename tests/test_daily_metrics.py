"""daily_site_metrics (contract §7.6) on a hand-built day; every figure worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from pipelines.config import Lake, Report, Settings
from pipelines.models import Window, build
from tests.test_models import gold, write_silver
from tests.test_sessions import D, pv


def req(rid, when, visitor, path, status, taken, ttfb, result, size, *, page=True, bot=False):
    row = pv(rid, when, visitor=visitor, path=path, bot=bot)
    row.update(status=status, time_taken_ms=taken, ttfb_ms=ttfb, edge_result_type=result,
               bytes_sent=size, is_page_view=page and not bot)
    return row


def at(h, m=0, s=0, day=D):
    return datetime(day.year, day.month, day.day, h, m, s, tzinfo=UTC)


ROWS = [
    req("a", at(10), "v1", "/", 200, 100, 50, "Hit", 1000),
    req("b", at(10, 0, 1), "v1", "/app.js", 200, 20, 10, "Hit", 500, page=False),
    req("c", at(10, 5), "v1", "/pricing", 200, 300, 200, "Miss", 2000),
    req("d", at(11), "v2", "/", 304, 5, 5, "RefreshHit", 200),
    req("e", at(12), "v3", "/missing", 404, 40, 30, "Error", 300, page=False),
    req("f", at(13), "bot", "/", 200, 60, 20, "Miss", 800, bot=True),
    req("g", at(14), "v2", "/x", 502, 1000, 900, "Error", 100, page=False),
    # Earlier activity for the rolling counts: 3 and 10 days before.
    req("h", at(9, day=D - timedelta(days=3)), "v4", "/", 200, 10, 10, "Hit", 100),
    req("i", at(9, day=D - timedelta(days=10)), "v5", "/", 200, 10, 10, "Hit", 100),
]


def test_daily_site_metrics(tmp_path):
    write_silver(tmp_path, ROWS)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D), ["daily_site_metrics"])
    (m,) = gold(tmp_path, "daily_site_metrics").to_dicts()
    assert (m["dt"], m["site"]) == (D, "www.example.com")
    # Page views: a, c, d (the asset, the 404, the 502 and the bot do not count).
    assert m["page_views"] == 3
    # Visitors with activity that day: v1 and v2 (v3's only request was a 404, no activity).
    assert (m["visitors"], m["dau"], m["wau"], m["mau"]) == (2, 2, 3, 4)
    # Sessions: v1 (a -> c, 300 s), v2 (d alone: a bounce).
    assert m["sessions"] == 2 and m["bounce_rate"] == 0.5
    assert m["avg_session_duration_s"] == 150.0 and m["views_per_session"] == 1.5
    # CDN health over all 7 requests of the day, the bot and the asset included.
    assert (m["requests"], m["bot_requests"], m["bytes_sent"]) == (7, 1, 4900)
    assert (m["status_2xx"], m["status_3xx"], m["status_4xx"], m["status_5xx"]) == (4, 1, 1, 1)
    assert m["error_rate_5xx"] == 1 / 7 and m["cache_hit_ratio"] == 3 / 7
    # time_taken sorted: 5 20 40 60 100 300 1000; nearest rank: p50 -> 4th, p95/p99 -> 7th.
    assert (m["time_taken_ms_p50"], m["time_taken_ms_p95"], m["time_taken_ms_p99"]) == (60, 1000, 1000)
    # ttfb sorted: 5 10 20 30 50 200 900.
    assert (m["ttfb_ms_p50"], m["ttfb_ms_p95"], m["ttfb_ms_p99"]) == (30, 900, 900)


def test_a_day_without_traffic_has_no_site_rows(tmp_path):
    write_silver(tmp_path, ROWS)
    quiet = date(2026, 11, 5)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(quiet, quiet), ["daily_site_metrics"])
    assert gold(tmp_path, "daily_site_metrics", quiet).height == 0


def test_cdn_health_per_hour(tmp_path):
    write_silver(tmp_path, ROWS)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D), ["cdn_health_hourly"])
    hours = {r["hour"]: r for r in gold(tmp_path, "cdn_health_hourly").to_dicts()}
    assert sorted(hours) == [10, 11, 12, 13, 14]
    # 10:00 — a (100 ms, Hit), b (20 ms, Hit), c (300 ms, Miss); nearest rank p50 = 2nd = 100.
    ten = hours[10]
    assert (ten["requests"], ten["page_view_requests"], ten["status_2xx"]) == (3, 2, 3)
    assert ten["cache_hit_ratio"] == 2 / 3 and ten["error_rate_5xx"] == 0
    assert (ten["time_taken_ms_p50"], ten["time_taken_ms_p95"], ten["ttfb_ms_p50"]) == (100, 300, 50)
    assert (hours[13]["bot_requests"], hours[14]["status_5xx"], hours[14]["error_rate_5xx"]) == (1, 1, 1.0)
    # Summed over the hours, the day's figures of daily_site_metrics.
    assert sum(r["requests"] for r in hours.values()) == 7


def test_slowest_paths_rank_only_paths_with_enough_requests(tmp_path):
    rows = [req(f"s{i}", at(10, i), "v1", "/slow", 200, 100 * (i + 1), 10, "Miss", 1) for i in range(3)]
    rows += [req(f"f{i}", at(11, i), "v2", "/fast", 200, 10, 5, "Hit", 1) for i in range(3)]
    rows += [req("r", at(12), "v3", "/rare", 200, 9999, 10, "Miss", 1)]
    settings = Settings(lake=Lake(root=str(tmp_path)), report=Report(slow_path_min_requests=3))
    write_silver(tmp_path, rows)
    build(settings, Window(D, D), ["path_latency_daily"])
    paths = {r["path"]: r for r in gold(tmp_path, "path_latency_daily").to_dicts()}
    # /slow: 100, 200, 300 ms → p50 200, p95 300. /rare is slowest but has one request.
    assert (paths["/slow"]["time_taken_ms_p50"], paths["/slow"]["time_taken_ms_p95"]) == (200, 300)
    assert (paths["/slow"]["slowness_rank"], paths["/fast"]["slowness_rank"]) == (1, 2)
    assert paths["/rare"]["slowness_rank"] is None and paths["/rare"]["requests"] == 1
