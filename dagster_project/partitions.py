"""Daily UTC partitions shared by every asset, and the days a run covers."""

from __future__ import annotations

from datetime import date, timedelta

import dagster as dg

from pipelines.config import load_settings
from pipelines.models import Window


def daily_partitions() -> dg.DailyPartitionsDefinition:
    # end_offset=1 includes today, so presence and today's traffic can be built as data lands.
    start = load_settings().dagster.partitions_start
    return dg.DailyPartitionsDefinition(start_date=start, timezone="UTC", end_offset=1)


DAILY = daily_partitions()


def whole_days(hours: int) -> int:
    """Hours rounded up to whole days."""
    return -(-hours // 24)


def day_mapping(before_hours: int = 0, after_hours: int = 0) -> dg.TimeWindowPartitionMapping:
    """Upstream days a partition reads: `before_hours` of lookback, `after_hours` of lookahead."""
    return dg.TimeWindowPartitionMapping(start_offset=-whole_days(before_hours),
                                         end_offset=whole_days(after_hours),
                                         allow_nonexistent_upstream_partitions=True)


def run_window(context: dg.OpExecutionContext | dg.AssetExecutionContext) -> Window:
    """The days of the run's partition or partition range (single-run backfills)."""
    keys = context.partition_key_range
    return Window(date.fromisoformat(keys.start), date.fromisoformat(keys.end))


def check_window(context: dg.AssetCheckExecutionContext) -> Window | None:
    """The days an asset check looks at: the run's partitions, or None (everything) when the
    check is launched on its own from the UI."""
    op = context.op_execution_context
    # A run of one partition has a key but no key range (Dagster 1.13); a backfill has both.
    return run_window(op) if op.has_partition_key or op.has_partition_key_range else None


def range_tags(start: date, end: date) -> dict[str, str]:
    """Tags that make one run cover a range of partitions (what a single-run backfill uses)."""
    return {"dagster/asset_partition_range_start": start.isoformat(),
            "dagster/asset_partition_range_end": end.isoformat()}


def clamp(days: set[date], today: date) -> list[date]:
    """Days that are partitions: from partitions_start through today."""
    first = date.fromisoformat(DAILY.start.strftime("%Y-%m-%d"))
    return sorted(d for d in days if first <= d <= today)


def contiguous(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (start, end) runs of consecutive days."""
    out: list[tuple[date, date]] = []
    for d in days:
        if out and d == out[-1][1] + timedelta(days=1):
            out[-1] = (out[-1][0], d)
        else:
            out.append((d, d))
    return out
