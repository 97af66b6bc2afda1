"""A real browser visit, end to end: the beacon script in headless Chromium on a demo site,
the collector on loopback, then ingest and gold — the visit is in events, page_views,
sessions (one session, right entry and exit) and presence_snapshots."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import uvicorn

from pipelines.collector.asgi import CollectorApp
from pipelines.collector.sinks import LandingSink
from pipelines.config import Collector, Lake, Settings
from pipelines.ingest import ingest
from pipelines.models import Window, build
from pipelines.storage import Storage
from tests.browser import chromium
from tests.conftest import KEY, REPO

DEMO = REPO / "web" / "demo"
OUT = REPO / "test-output" / "beacon"
# A person's browser: headless Chromium's own user agent is (rightly) classified as a bot.
UA = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
      "Chrome/156.0.0.0 Safari/537.36")


class DemoSite:
    """The demo pages under /demo/, and the collector under /_footfall/, on one origin."""

    def __init__(self, collector: CollectorApp):
        self.collector = collector

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith("/demo/"):
            page = DEMO / Path(scope["path"]).name
            status, body = (200, page.read_bytes()) if page.suffix == ".html" and page.exists() else (404, b"")
            await send({"type": "http.response.start", "status": status,
                        "headers": [(b"content-type", b"text/html; charset=utf-8")]})
            await send({"type": "http.response.body", "body": body})
            return
        await self.collector(scope, receive, send)


@contextmanager
def served(app):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_browser_visit_reaches_events_sessions_and_presence(tmp_path):
    settings = Settings(lake=Lake(root=str(tmp_path)), collector=Collector(sites=("127.0.0.1",)))
    sink = LandingSink(Storage(str(tmp_path)), rotate_seconds=3600)
    OUT.mkdir(parents=True, exist_ok=True)
    with served(DemoSite(CollectorApp(settings, sink))) as url, chromium(1000, 700, user_agent=UA) as browser:
        page = browser.new_page()
        page.goto(f"{url}/demo/index.html")
        page.wait_for_function("window.footfall !== undefined")
        page.click("#cta")                       # a tracked click
        page.click("#spa")                       # an SPA route change: a page view
        page.wait_for_timeout(2600)              # idle while visible: a heartbeat (data-heartbeat=2)
        page.click("#pricing")                   # a real navigation: the first page's batch is beaconed
        page.wait_for_function("window.footfall !== undefined")
        page.click("#submit")                    # a form submit
        page.click("#track")                     # footfall.track('chat_opened', ...)
        page.screenshot(path=str(OUT / "pricing.png"))
        # Scroll down the long pricing page, pause (the beacon measures 200 ms after a
        # scroll), and back up: its scroll depth is the deepest point seen, by the page's own
        # figures; the heartbeat sent when the tab is hidden carries it.
        height, viewport = page.evaluate("[document.documentElement.scrollHeight, window.innerHeight]")
        page.evaluate(f"window.scrollTo(0, {height * 0.6 - viewport})")
        page.wait_for_timeout(400)
        deepest = round((page.evaluate("window.pageYOffset") + viewport) / height * 100)
        page.evaluate("window.scrollTo(0, 0)")
        page.wait_for_timeout(400)
        # Hide the tab: vitals are reported and the queue flushed; then leave.
        page.evaluate("Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});"
                      "document.dispatchEvent(new Event('visibilitychange'))")
        page.wait_for_timeout(500)
        cookie = next(c["value"] for c in browser.cookies() if c["name"] == "ff_vid")
        page.close()
        time.sleep(0.5)
    sink.flush()

    summary = ingest(settings, KEY, sources=("beacon",))
    assert summary.quarantined == 0 and summary.rows > 0
    events = pl.read_parquet(str(tmp_path / "silver/events/*/*/*.parquet"), hive_partitioning=False) \
        .sort(["client_ts", "seq"])  # a batch shares one receive time: the browser's order
    visitor = hmac.new(KEY, cookie.encode(), hashlib.sha256).hexdigest()[:32]
    assert events["visitor_id"].unique().to_list() == [visitor]  # the cookie the edge also sees
    assert events["site"].unique().to_list() == ["127.0.0.1"] and not events["is_bot"].any()
    assert events["browser"].unique().to_list() == ["Chrome"]
    kinds = events["event_type"].to_list()
    views = events.filter(pl.col("event_type") == "page_view")["path"].to_list()
    assert views == ["/demo/index.html", "/demo/features", "/demo/pricing.html"]
    assert kinds.count("click") == 1 and kinds.count("form_submit") == 1 and kinds.count("custom") == 1
    assert kinds.count("heartbeat") >= 1 and "web_vital" in kinds
    assert events["event_id"].n_unique() == events.height
    assert events.filter(pl.col("event_type") == "custom")["props"].str.json_decode().to_list() == \
        [{"name": "chat_opened", "plan": "pro"}]

    today = datetime.now(UTC).date()
    build(settings, Window(today, today))
    gold = lambda t: pl.read_parquet(tmp_path / f"gold/{t}/dt={today}/data.parquet")  # noqa: E731
    page_views = gold("page_views").filter(pl.col("site") == "127.0.0.1")
    assert page_views.height == 3 and page_views["source"].unique().to_list() == ["beacon"]
    [session] = gold("sessions").filter(pl.col("visitor_id") == visitor).to_dicts()
    assert (session["entry_path"], session["exit_path"]) == ("/demo/index.html", "/demo/pricing.html")
    assert session["page_views"] == 3 and session["interactive_events"] == 3 and not session["is_bounce"]
    # Scroll depth: the long page as scrolled; the two short ones were seen whole.
    assert height > 3 * viewport and 55 <= deepest <= 65
    engagement = {r["path"]: r for r in gold("page_engagement_daily").filter(pl.col("site") == "127.0.0.1").to_dicts()}
    assert {p: (r["scrolled_views"], r["scroll_depth_pct_p50"]) for p, r in engagement.items()} == {
        "/demo/index.html": (1, 100), "/demo/features": (1, 100), "/demo/pricing.html": (1, deepest)}
    presence = gold("presence_snapshots").filter(pl.col("site") == "127.0.0.1")
    assert presence["online_visitors"].max() == 1
    # Online from the first minute-grid instant at or after the first event (contract §7.5).
    first = events["ts"].min()
    grid = first.replace(second=0, microsecond=0) + (timedelta(minutes=1) if first.second or first.microsecond else timedelta())
    assert presence.filter(pl.col("online_visitors") == 1)["snapshot_ts"].min() == grid


def test_do_not_track_and_missing_consent_send_nothing(tmp_path):
    settings = Settings(lake=Lake(root=str(tmp_path)), collector=Collector(sites=("127.0.0.1",)))
    sink = LandingSink(Storage(str(tmp_path)), rotate_seconds=3600)
    with served(DemoSite(CollectorApp(settings, sink))) as url, chromium(user_agent=UA) as browser:
        page = browser.new_page()
        page.add_init_script("Object.defineProperty(navigator, 'globalPrivacyControl', {value: true})")
        page.goto(f"{url}/demo/index.html")
        page.wait_for_function("window.footfall !== undefined")
        page.click("#cta")
        page.evaluate("footfall.flush()")
        page.wait_for_timeout(300)
        assert sink.buffer == [] and not any(c["name"] == "ff_vid" for c in browser.cookies())
        # Consent required: nothing until the page grants it, then the page view is sent.
        page = browser.new_page()
        page.goto(f"{url}/demo/consent.html")
        page.wait_for_function("window.footfall !== undefined")
        page.click("#cta")
        page.evaluate("footfall.flush()")
        page.wait_for_timeout(300)
        assert sink.buffer == []
        page.evaluate("footfall.consent(true); footfall.flush()")
        page.wait_for_function("true")
        for _ in range(50):
            if sink.buffer:
                break
            time.sleep(0.05)
        assert [json.loads(r)["type"] for r in sink.buffer] == ["page_view"]


def test_a_route_change_ends_the_old_routes_page_view_with_its_scroll_depth(tmp_path):
    """pushState and the back button: each new route is a page view, and the route left
    behind gets a heartbeat under its own path first (the page fits the window: 100 %)."""
    settings = Settings(lake=Lake(root=str(tmp_path)), collector=Collector(sites=("127.0.0.1",)))
    sink = LandingSink(Storage(str(tmp_path)), rotate_seconds=3600)
    with served(DemoSite(CollectorApp(settings, sink))) as url, chromium(user_agent=UA) as browser:
        page = browser.new_page()
        page.goto(f"{url}/demo/index.html")
        page.wait_for_function("window.footfall !== undefined")
        page.click("#spa")
        page.evaluate("history.back()")
        page.wait_for_function("location.pathname === '/demo/index.html'")
        page.evaluate("history.replaceState({}, '')")  # the same path: no page view
        page.evaluate("footfall.flush()")
        for _ in range(50):
            if len(sink.buffer) >= 5:
                break
            time.sleep(0.05)
        time.sleep(0.2)
    sent = [(r["type"], r["path"], (r.get("props") or {}).get("scroll")) for r in map(json.loads, sink.buffer)]
    assert sent == [("page_view", "/demo/index.html", None), ("heartbeat", "/demo/index.html", 100),
                    ("page_view", "/demo/features", None), ("heartbeat", "/demo/features", 100),
                    ("page_view", "/demo/index.html", None)]
