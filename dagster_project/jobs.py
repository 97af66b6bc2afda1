"""The jobs the sensor, the schedule and the UI launch (asset checks ride along)."""

from __future__ import annotations

import dagster as dg

ingest_job = dg.define_asset_job(
    "ingest_landing", selection=dg.AssetSelection.groups("silver"),
    description="Parse every new or changed landing object into silver.")
gold_job = dg.define_asset_job(
    "build_gold", selection=dg.AssetSelection.groups("gold"),
    description="Build gold marts for a day or a range of days (one run per range).")
daily_job = dg.define_asset_job(
    "daily_gold_and_report", selection=dg.AssetSelection.groups("gold", "reports"),
    description="Yesterday's gold and daily report, at 02:00 UTC.")

JOBS = [ingest_job, gold_job, daily_job]
