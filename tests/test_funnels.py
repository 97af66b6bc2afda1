"""funnel_daily (contract §7.4): steps out of order, outside the window, repeated, props.
Expected figures worked out by hand in the comments."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime

from pipelines.config import Funnel, FunnelStep, Lake, Settings
from pipelines.models import Window, build
from tests.test_models import gold, write_silver
from tests.test_sessions import D, ev, pv

FUNNEL = Funnel(name="signup", window_minutes=60, steps=(
    FunnelStep(name="Home", path="/"),
    FunnelStep(name="Pricing", path="/pricing"),
    FunnelStep(name="Signup form", path="/sign*"),
    FunnelStep(name="Signed up", event_type="form_submit", props={"form": "signup"}),
))


def at(h, m):
    return datetime(2026, 11, 2, h, m, tzinfo=UTC)


def visit(visitor, *steps):
    return [pv(f"{visitor}-{i}", at(*t), visitor=visitor, path=p) for i, (t, p) in enumerate(steps)]


REQUESTS = (
    # v1: the whole funnel: 120 s, 180 s, then the form 60 s later.
    visit("v1", ((10, 0), "/"), ((10, 2), "/pricing"), ((10, 5), "/signup"))
    # v2: pricing before home, signup without pricing: level 1.
    + visit("v2", ((10, 0), "/pricing"), ((10, 1), "/"), ((10, 3), "/signup"))
    # v3: pricing 90 min after the first home (outside 60 min), but 30 min after a second
    # home: level 2 from the later start, 1800 s.
    + visit("v3", ((10, 0), "/"), ((11, 0), "/"), ((11, 30), "/pricing"))
    # v4: repeated steps; the earliest chain: 09:00 -> 09:03 (180 s) -> 09:10 (420 s).
    + visit("v4", ((9, 0), "/"), ((9, 1), "/"), ((9, 3), "/pricing"), ((9, 4), "/pricing"), ((9, 10), "/signup"))
    # v5: level 3 (60 s, 60 s); its form submit has other props.
    + visit("v5", ((12, 0), "/"), ((12, 1), "/pricing"), ((12, 2), "/signup"))
)
EVENTS = [
    {**ev("f1", at(10, 6), "form_submit", visitor="v1", path="/signup"), "props": '{"form": "signup"}'},
    {**ev("f5", at(12, 3), "form_submit", visitor="v5", path="/signup"), "props": '{"form": "newsletter"}'},
]


def funnel_rows(tmp_path, day=D):
    write_silver(tmp_path, REQUESTS, EVENTS)
    cfg = dataclasses.replace(Settings(lake=Lake(root=str(tmp_path))), funnels=(FUNNEL,))
    build(cfg, Window(day, day), ["funnel_daily"])
    return gold(tmp_path, "funnel_daily", day).sort("step").to_dicts()


def test_levels_conversions_and_medians(tmp_path):
    rows = funnel_rows(tmp_path)
    assert [(r["step"], r["step_name"], r["visitors"]) for r in rows] == [
        (1, "Home", 5), (2, "Pricing", 4), (3, "Signup form", 3), (4, "Signed up", 1)]
    assert [r["conversion_from_start"] for r in rows] == [1.0, 0.8, 0.6, 0.2]
    assert [r["conversion_from_previous"] for r in rows] == [None, 0.8, 0.75, 1 / 3]
    # Step 2: 60, 120, 180, 1800 -> 150; step 3: 60, 180, 420 -> 180; step 4: 60.
    assert [r["median_s_from_previous"] for r in rows] == [None, 150.0, 180.0, 60.0]


def test_a_day_without_visitors_has_zero_rows(tmp_path):
    rows = funnel_rows(tmp_path, date(2026, 11, 4))
    assert [(r["step"], r["visitors"]) for r in rows] == [(1, 0), (2, 0), (3, 0), (4, 0)]
    assert all(r["conversion_from_start"] is None for r in rows)


def test_path_globs_treat_only_star_as_a_wildcard():
    import duckdb

    from pipelines.models import _glob_like

    def matches(glob: str, path: str) -> bool:
        return duckdb.sql(f"select ? like {_glob_like(glob)} escape '!'", params=[path]).fetchall()[0][0]

    assert matches("/blog/*", "/blog/launch-week") and not matches("/blog/*", "/blogs")
    assert matches("/a_b", "/a_b") and not matches("/a_b", "/axb")
    assert matches("/100%", "/100%") and not matches("/100%", "/1000")
    assert matches("/it's!", "/it's!") and not matches("/it's!", "/its")


def test_no_configured_funnels_builds_nothing(tmp_path):
    write_silver(tmp_path, REQUESTS, EVENTS)
    cfg = dataclasses.replace(Settings(lake=Lake(root=str(tmp_path))), funnels=())
    assert "funnel_daily" not in build(cfg, Window(D, D))
