"""`footfall demo` through Dagster: materialise the demo lake in-process, recorded in a
persistent Dagster instance so that `make ui` shows the same runs, partitions and checks."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import dagster as dg

from dagster_project.definitions import build_defs
from dagster_project.jobs import daily_job, ingest_job
from dagster_project.partitions import clamp, range_tags
from dagster_project.resources import FootfallResource, HashKeyResource
from pipelines.landing import landing_hour
from pipelines.storage import Storage

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class RunOutcome:
    job: str
    run_id: str
    success: bool
    materialized: dict[str, int] = field(default_factory=dict)  # asset → rows written
    checks_passed: int = 0
    checks_failed: list[str] = field(default_factory=list)


def dagster_home(default: Path = Path(".local/dagster")) -> Path:
    """$DAGSTER_HOME, or a folder beside the demo key (created), shared with `make ui`."""
    home = Path(os.environ.get("DAGSTER_HOME") or default).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():  # a local demo instance: no telemetry from a laptop's demo lake
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _outcome(job: str, result: dg.ExecuteInProcessResult) -> RunOutcome:
    out = RunOutcome(job=job, run_id=result.run_id, success=result.success)
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        rows = mat.metadata.get("rows_written")
        if rows is not None:  # a range run repeats the run's metadata on each partition
            out.materialized.setdefault(mat.asset_key.to_user_string(), int(rows.value))
    for evaluation in result.get_asset_check_evaluations():
        if evaluation.passed:
            out.checks_passed += 1
        else:
            out.checks_failed.append(f"{evaluation.asset_key.to_user_string()}:{evaluation.check_name}")
    return out


def silver_days(storage: Storage) -> list[date]:
    return sorted({date.fromisoformat(o.key.split("dt=")[1][:10])
                   for o in storage.list("silver/requests/") if "dt=" in o.key})


def materialize_demo(config_path: str | None, lake_root: str, key: bytes,
                     instance: dg.DagsterInstance) -> list[RunOutcome]:
    """Ingest every landing object, then build gold and reports for every day in silver in
    one run (a single-run backfill)."""
    footfall = FootfallResource(config_path=config_path, lake_root=lake_root)
    defs = build_defs({"footfall": footfall, "hash_key": HashKeyResource(key=key.decode())})
    storage = footfall.storage()
    today = datetime.now(UTC).date()
    landed = clamp({landing_hour(o).date() for o in storage.list("landing/")}, today) or [today]
    outcomes = []
    ingest = defs.resolve_job_def(ingest_job.name).execute_in_process(
        instance=instance, partition_key=landed[-1].isoformat(), run_config=QUIET,
        raise_on_error=False)
    outcomes.append(_outcome(ingest_job.name, ingest))
    days = clamp(set(silver_days(storage)), today)
    if ingest.success and days:
        first, last = days[0], days[-1]
        daily = defs.resolve_job_def(daily_job.name).execute_in_process(
            instance=instance, tags=range_tags(first, last), run_config=QUIET, raise_on_error=False)
        outcomes.append(_outcome(daily_job.name, daily))
    return outcomes
