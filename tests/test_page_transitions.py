"""page_transitions_daily: where visitors go from each page, on the hand-built day of
test_page_engagement; every expected figure worked out by hand from its timeline."""

from __future__ import annotations

import pytest

from pipelines.config import Lake, Settings
from pipelines.models import Window, build
from tests.test_models import gold, write_silver
from tests.test_page_engagement import EVENTS, NEXT, REQUESTS
from tests.test_sessions import D


def transitions(tmp_path, day, models=("page_transitions_daily",)):
    write_silver(tmp_path, REQUESTS, EVENTS)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(day, day), list(models))
    return {(r["from_path"], r["to_path"]): (r["transitions"], r["visitors"], r["share"], r["rank"])
            for r in gold(tmp_path, "page_transitions_daily", day).iter_rows(named=True)}


def test_each_page_view_leads_to_its_sessions_next_page_or_to_the_exit(tmp_path):
    assert transitions(tmp_path, D) == {
        # / four times: v2 and v3's second session leave, v3 goes on to /docs, v1 to /pricing
        # (the tie at one each goes to the path that sorts first).
        ("/", "(exit)"): (2, 2, 0.5, 1),
        ("/", "/docs"): (1, 1, 0.25, 2),
        ("/", "/pricing"): (1, 1, 0.25, 3),
        ("/pricing", "(exit)"): (1, 1, 1.0, 1),
        ("/docs", "(exit)"): (1, 1, 1.0, 1),
        # v4's session runs over midnight: its /late leads to the next day's /.
        ("/late", "/"): (1, 1, 1.0, 1),
        ("/x", "(exit)"): (1, 1, 1.0, 1),
    }


def test_the_next_day_counts_its_own_page_views_only(tmp_path):
    assert transitions(tmp_path, NEXT) == {("/", "(exit)"): (1, 1, 1.0, 1)}


@pytest.mark.parametrize("day", [D, NEXT])
def test_a_pages_transitions_are_its_page_views_and_its_exit_share_its_exit_rate(tmp_path, day):
    rows = transitions(tmp_path, day, ("page_transitions_daily", "page_engagement_daily"))
    pages = {r["path"]: r for r in gold(tmp_path, "page_engagement_daily", day).iter_rows(named=True)}
    for path, page in pages.items():
        mine = {to: v for (src, to), v in rows.items() if src == path}
        assert sum(t for t, *_ in mine.values()) == page["page_views"]
        assert mine.get("(exit)", (0, 0, 0.0, 0))[2] == pytest.approx(page["exit_rate"])
    assert {src for src, _ in rows} == set(pages)
