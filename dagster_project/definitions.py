"""Footfall's Dagster definitions: gathers the domains; no logic here.

    dagster dev -m dagster_project.definitions      (or `make ui`)
"""

from collections.abc import Mapping

import dagster as dg

from dagster_project.gold.assets import GOLD_ASSETS
from dagster_project.gold.checks import GOLD_CHECKS
from dagster_project.gold.schedules import daily_schedule
from dagster_project.jobs import JOBS
from dagster_project.maintenance.retention import retention_job, retention_schedule
from dagster_project.maintenance.verify import verify_job
from dagster_project.reports.assets import daily_report
from dagster_project.resources import default_resources
from dagster_project.silver.assets import SILVER_ASSETS
from dagster_project.silver.checks import SILVER_CHECKS
from dagster_project.silver.sensors import landing_sensor


def build_defs(resources: Mapping[str, object]) -> dg.Definitions:
    return dg.Definitions(
        assets=[*SILVER_ASSETS, *GOLD_ASSETS, daily_report],
        asset_checks=[*SILVER_CHECKS, *GOLD_CHECKS],
        jobs=[*JOBS, retention_job, verify_job],
        schedules=[daily_schedule, retention_schedule],
        sensors=[landing_sensor],
        resources=dict(resources),
        # One process per run: ingest and DuckDB already use every core, and a process per
        # step would only add start-up time and a second copy of the memory.
        executor=dg.in_process_executor,
    )


defs = build_defs(default_resources())
