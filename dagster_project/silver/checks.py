"""Checks on silver: every landing line accounted for, quarantine rate, unique keys, no raw
personal data, and day-over-day volume. Blocking checks stop gold from building on bad data."""

from datetime import UTC, datetime, timedelta

import dagster as dg

from dagster_project.partitions import check_window
from dagster_project.resources import FootfallResource
from dagster_project.silver.assets import EVENTS, REQUESTS, SOURCES
from pipelines.ingest import KEY_OF
from pipelines.models import silver_objects
from pipelines.quality import duplicate_keys, partition_rows, pii_findings, reconcile
from pipelines.storage import ObjectInfo, Storage


def _objects(storage: Storage, table: str, context: dg.AssetCheckExecutionContext) -> list[ObjectInfo]:
    window = check_window(context)
    if window:
        return silver_objects(storage, table, window.start, window.end)
    return [o for o in storage.list(f"silver/{table}/") if o.key.endswith(".parquet")]


def silver_checks(key: dg.AssetKey) -> list[dg.AssetChecksDefinition]:
    table, sources = key.path[-1], SOURCES[key]
    id_column = KEY_OF[table]

    @dg.asset_check(asset=key, name="reconciles", blocking=True,
                    description="Per landing object: lines = rows + duplicates + quarantined (contract §9).")
    def reconciles(context: dg.AssetCheckExecutionContext, footfall: FootfallResource) -> dg.AssetCheckResult:
        window = check_window(context)
        r = reconcile(footfall.storage(), window.days() if window else None, sources)
        return dg.AssetCheckResult(
            passed=not r.unreconciled,
            metadata={"objects": r.objects, "lines": r.lines, "rows": r.rows,
                      "duplicates": r.duplicates, "quarantined": r.quarantined,
                      "unreconciled_objects": len(r.unreconciled),
                      "first_unreconciled": r.unreconciled[0] if r.unreconciled else ""})

    @dg.asset_check(asset=key, name="quarantine_rate",
                    description="WARN when the share of landing lines quarantined exceeds "
                                "checks.quarantine_rate_warn.")
    def quarantine_rate(context: dg.AssetCheckExecutionContext,
                        footfall: FootfallResource) -> dg.AssetCheckResult:
        window = check_window(context)
        r = reconcile(footfall.storage(), window.days() if window else None, sources)
        limit = footfall.settings().checks.quarantine_rate_warn
        return dg.AssetCheckResult(
            passed=r.quarantine_rate <= limit, severity=dg.AssetCheckSeverity.WARN,
            metadata={"quarantine_rate": round(r.quarantine_rate, 6), "threshold": limit,
                      "quarantined": r.quarantined, "lines": r.lines})

    @dg.asset_check(asset=key, name=f"{id_column}_unique", blocking=True,
                    description=f"{id_column} identifies one row of silver {table} (de-duplication held).")
    def unique(context: dg.AssetCheckExecutionContext, footfall: FootfallResource) -> dg.AssetCheckResult:
        storage = footfall.storage()
        objects = _objects(storage, table, context)
        dupes = duplicate_keys(storage, objects, id_column)
        return dg.AssetCheckResult(passed=dupes == 0, metadata={"files": len(objects),
                                                                 "duplicate_or_null_keys": dupes})

    @dg.asset_check(asset=key, name="no_pii", blocking=True,
                    description=f"No IP address, user agent, cookie or header value (nor a column for "
                                f"one) in silver {table}.")
    def no_pii(context: dg.AssetCheckExecutionContext, footfall: FootfallResource) -> dg.AssetCheckResult:
        storage = footfall.storage()
        objects = _objects(storage, table, context)
        findings = pii_findings(storage, objects)
        return dg.AssetCheckResult(passed=not findings, metadata={"files": len(objects), **findings})

    @dg.asset_check(asset=key, name="volume_drop",
                    description="WARN when a complete day has fewer rows than checks.volume_drop_warn "
                                "of the day before.")
    def volume_drop(context: dg.AssetCheckExecutionContext,
                    footfall: FootfallResource) -> dg.AssetCheckResult:
        settings, storage = footfall.settings(), footfall.storage()
        window = check_window(context)
        today = datetime.now(UTC).date()
        days = [d for d in (window.days() if window else []) if d < today]  # today is not over yet
        drops = {}
        for day in days:
            now, before = (partition_rows(storage, f"silver/{table}", d) for d in (day, day - timedelta(days=1)))
            if before and now < settings.checks.volume_drop_warn * before:
                drops[day.isoformat()] = f"{now:,} rows vs {before:,} the day before"
        return dg.AssetCheckResult(passed=not drops, severity=dg.AssetCheckSeverity.WARN,
                                   metadata={"days_checked": len(days), **drops})

    return [reconciles, quarantine_rate, unique, no_pii, volume_drop]


SILVER_CHECKS = silver_checks(REQUESTS) + silver_checks(EVENTS)
