"""Checks on silver requests: every landing line accounted for, quarantine rate, no raw
personal data, and day-over-day volume. Blocking checks stop gold from building on bad data."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from dagster_project.partitions import check_window
from dagster_project.resources import FootfallResource
from dagster_project.silver.assets import REQUESTS
from pipelines.models import silver_files
from pipelines.quality import partition_rows, pii_findings, reconcile


@dg.asset_check(asset=REQUESTS, name="reconciles", blocking=True,
                description="Per landing object: lines = rows + duplicates + quarantined (contract §9).")
def requests_reconcile(context: dg.AssetCheckExecutionContext,
                       footfall: FootfallResource) -> dg.AssetCheckResult:
    window = check_window(context)
    r = reconcile(footfall.storage(), window.days() if window else None)
    return dg.AssetCheckResult(
        passed=not r.unreconciled,
        metadata={"objects": r.objects, "lines": r.lines, "rows": r.rows,
                  "duplicates": r.duplicates, "quarantined": r.quarantined,
                  "unreconciled_objects": len(r.unreconciled),
                  "first_unreconciled": r.unreconciled[0] if r.unreconciled else ""},
    )


@dg.asset_check(asset=REQUESTS, name="quarantine_rate",
                description="WARN when the share of landing lines quarantined exceeds "
                            "checks.quarantine_rate_warn.")
def requests_quarantine_rate(context: dg.AssetCheckExecutionContext,
                             footfall: FootfallResource) -> dg.AssetCheckResult:
    settings = footfall.settings()
    window = check_window(context)
    r = reconcile(footfall.storage(), window.days() if window else None)
    limit = settings.checks.quarantine_rate_warn
    return dg.AssetCheckResult(
        passed=r.quarantine_rate <= limit, severity=dg.AssetCheckSeverity.WARN,
        metadata={"quarantine_rate": round(r.quarantine_rate, 6), "threshold": limit,
                  "quarantined": r.quarantined, "lines": r.lines},
    )


@dg.asset_check(asset=REQUESTS, name="no_pii", blocking=True,
                description="No IP address, user agent, cookie or header value (nor a column for "
                            "one) in silver requests.")
def requests_no_pii(context: dg.AssetCheckExecutionContext,
                    footfall: FootfallResource) -> dg.AssetCheckResult:
    storage = footfall.storage()
    window = check_window(context)
    files = (silver_files(storage, "requests", window.start, window.end) if window
             else [storage.uri(o.key) for o in storage.list("silver/requests/") if o.key.endswith(".parquet")])
    findings = pii_findings(files)
    return dg.AssetCheckResult(passed=not findings, metadata={"files": len(files), **findings})


@dg.asset_check(asset=REQUESTS, name="volume_drop",
                description="WARN when a day has fewer requests than checks.volume_drop_warn of "
                            "the day before.")
def requests_volume_drop(context: dg.AssetCheckExecutionContext,
                         footfall: FootfallResource) -> dg.AssetCheckResult:
    settings = footfall.settings()
    storage = footfall.storage()
    window = check_window(context)
    today = datetime.now(UTC).date()
    days = [d for d in (window.days() if window else []) if d < today]  # today is not over yet
    drops = {}
    for day in days:
        today, before = (partition_rows(storage, "silver/requests", d) for d in (day, day - timedelta(days=1)))
        if before and today < settings.checks.volume_drop_warn * before:
            drops[day.isoformat()] = f"{today:,} rows vs {before:,} the day before"
    return dg.AssetCheckResult(passed=not drops, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"days_checked": len(days), **drops})
