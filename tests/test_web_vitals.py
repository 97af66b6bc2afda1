"""web_vitals_daily: p75 of each Core Web Vital per page and site, worked out by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from pipelines.config import Lake, Settings
from pipelines.models import Window, build
from tests.test_models import gold, write_silver
from tests.test_sessions import D, ev

AT = datetime(D.year, D.month, D.day, 9, tzinfo=UTC)


def vital(i: int, name: str, value, path="/", bot=False) -> dict:
    row = ev(f"e{i}", AT + timedelta(seconds=i), "web_vital", visitor=f"v{i}", path=path)
    row.update(props=json.dumps({"name": name, "value": value}), is_bot=bot)
    return row


def test_p75_per_page_and_for_the_whole_site(tmp_path):
    events = [vital(i, "LCP", v) for i, v in enumerate([400, 100, 300, 200])]  # on /
    events += [vital(10, "LCP", 5000, path="/pricing"), vital(11, "cls", 0.25, path="/pricing")]
    events += [vital(20, "LCP", 99999, bot=True),  # bots do not count
               vital(21, "FID", 50),  # not a Core Web Vital any more
               vital(22, "INP", "fast")]  # not a number
    write_silver(tmp_path, [], events)
    build(Settings(lake=Lake(root=str(tmp_path))), Window(D, D), ["web_vitals_daily"])
    got = {(r["path"], r["metric"]): (r["samples"], r["p75"]) for r in gold(tmp_path, "web_vitals_daily").to_dicts()}
    # / LCP: 100 200 300 400 → nearest rank of 0.75 × 4 = 3rd value = 300.
    assert got == {
        ("/", "LCP"): (4, 300.0),
        ("/pricing", "LCP"): (1, 5000.0),
        ("/pricing", "CLS"): (1, 0.25),
        # The site: LCP 100 200 300 400 5000 → 0.75 × 5 = 3.75 → 4th value = 400.
        ("(all)", "LCP"): (5, 400.0),
        ("(all)", "CLS"): (1, 0.25),
    }
