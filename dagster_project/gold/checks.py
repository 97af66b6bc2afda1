"""Checks on gold: primary keys unique (blocking: reports must not count a session twice)
and no raw personal data in any mart (blocking)."""

import dagster as dg

from dagster_project.gold.assets import gold_key
from dagster_project.partitions import check_window
from dagster_project.resources import FootfallResource
from pipelines.models import MARTS, Window
from pipelines.quality import duplicate_keys, pii_findings
from pipelines.storage import ObjectInfo, Storage

PRIMARY_KEYS = {"sessions": "session_id", "page_views": "page_view_id"}


def gold_objects(storage: Storage, name: str, window: Window | None) -> list[ObjectInfo]:
    days = {d.isoformat() for d in window.days()} if window else None
    return [o for o in storage.list(f"gold/{name}/")
            if o.key.endswith(".parquet") and (days is None or o.key.split("dt=")[1][:10] in days)]


def unique_key_check(name: str, key: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=gold_key(name), name=f"{key}_unique", blocking=True,
                    description=f"{key} identifies one row of gold {name}.")
    def _check(context: dg.AssetCheckExecutionContext, footfall: FootfallResource) -> dg.AssetCheckResult:
        storage = footfall.storage()
        objects = gold_objects(storage, name, check_window(context))
        dupes = duplicate_keys(storage, objects, key)
        return dg.AssetCheckResult(passed=dupes == 0, metadata={"files": len(objects),
                                                                 "duplicate_or_null_keys": dupes})

    return _check


def no_pii_check(name: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=gold_key(name), name="no_pii", blocking=True,
                    description="No IP address, user agent, cookie or header value in this mart.")
    def _check(context: dg.AssetCheckExecutionContext, footfall: FootfallResource) -> dg.AssetCheckResult:
        storage = footfall.storage()
        objects = gold_objects(storage, name, check_window(context))
        findings = pii_findings(storage, objects)
        return dg.AssetCheckResult(passed=not findings, metadata={"files": len(objects), **findings})

    return _check


GOLD_CHECKS = ([unique_key_check(name, key) for name, key in PRIMARY_KEYS.items()]
               + [no_pii_check(name) for name in MARTS])
