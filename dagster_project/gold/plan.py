"""Which gold partitions a change to silver days makes stale.

A mart's day D reads silver from D − lookback to D + lookahead, so a change on silver day X
affects D in [X − lookahead, X + lookback]: a late object for Monday rebuilds Monday's
sessions, the Saturday and Sunday sessions that may run into it, and the MAU of the month
after it (up to today).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

from dagster_project.partitions import clamp, contiguous, whole_days
from pipelines.models import MARTS, MODELS


def affected_days(name: str, changed: set[date], today: date) -> list[date]:
    model = MODELS[name]
    before = whole_days(model.lookahead_hours)
    after = whole_days(model.lookback_hours)
    days = {d + timedelta(days=k) for d in changed for k in range(-before, after + 1)}
    return clamp(days, today)


def gold_plan(changed: set[date], today: date) -> list[tuple[tuple[str, ...], date, date]]:
    """(marts, first day, last day) runs covering every stale partition; marts with the same
    stale range share a run."""
    by_range: dict[tuple[date, date], list[str]] = defaultdict(list)
    for name in MARTS:
        for start, end in contiguous(affected_days(name, changed, today)):
            by_range[(start, end)].append(name)
    return [(tuple(names), start, end) for (start, end), names in sorted(by_range.items())]
