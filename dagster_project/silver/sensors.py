"""The landing sensor: new or late landing objects → an ingest run; freshly ingested days →
gold runs for exactly the partitions they make stale (days that ended within
`late.lookback_hours`; older ones are left for a deliberate build or backfill).

The cursor is the ledger time of the newest ingest already turned into gold runs, so each
ingest (whether the sensor, the UI or the CLI started it) is followed by gold once, and the
time of the last full listing of landing: between full listings (`dagster.full_listing_minutes`)
a tick lists landing from RECENT_HOURS back only (see `discover`), and so does the ingest run it
starts, so that a tick's S3 LIST requests do not grow with the landing retention.
"""

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import dagster as dg

from dagster_project.gold.assets import gold_key
from dagster_project.gold.plan import gold_plan
from dagster_project.jobs import gold_job, ingest_job
from dagster_project.partitions import clamp, range_tags
from dagster_project.resources import FootfallResource
from dagster_project.silver.assets import LANDING_SINCE_TAG
from pipelines import ledger
from pipelines.config import load_settings
from pipelines.ingest import ALL_SOURCES, pending_objects
from pipelines.landing import hours_back, landing_hour
from pipelines.storage import Storage

# Firehose delivers within its 15-minute buffer, retries aside; CloudFront delivers most of
# an hour's standard logs within the hour after it.
RECENT_HOURS = 2
IN_FLIGHT = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED,
             dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.STARTED]


def _ingest_running(instance: dg.DagsterInstance) -> bool:
    runs = instance.get_runs(filters=dg.RunsFilter(job_name=ingest_job.name, statuses=IN_FLIGHT), limit=1)
    return bool(runs)


@dg.sensor(jobs=[ingest_job, gold_job], default_status=dg.DefaultSensorStatus.RUNNING,
           minimum_interval_seconds=load_settings().dagster.sensor_interval_seconds,
           description="Ingests new or late landing objects, then rebuilds the gold days they touch.")
def landing_sensor(context: dg.SensorEvaluationContext, footfall: FootfallResource) -> dg.SensorResult:
    settings = footfall.settings()
    storage = Storage(settings.lake.root)
    now = datetime.now(UTC)
    today = now.date()
    cursor = json.loads(context.cursor) if context.cursor else {}
    seen = ledger.load(storage)
    entries = seen.values()
    newest = max((e.ingested_at.isoformat() for e in entries if e.ingested_at), default="")
    run_requests: list[dg.RunRequest] = []

    listed = cursor.get("listed")  # epoch seconds of the last full listing
    full = listed is None or now.timestamp() - listed >= 60 * settings.dagster.full_listing_minutes
    since = None if full else hours_back(now, RECENT_HOURS)
    pending = pending_objects(storage, ALL_SOURCES, seen, since)
    requested = bool(pending) and not _ingest_running(context.instance)
    if requested:
        fingerprint = hashlib.sha1("\n".join(
            f"{o.key}:{o.size}:{o.mtime_ns}" for _, o in sorted(pending, key=lambda p: p[1].key)
        ).encode()).hexdigest()[:16]
        days = clamp({landing_hour(o).date() for _, o in pending}, today) or [today]
        tags = {"footfall/landing_objects": str(len(pending))}
        if since:
            tags[LANDING_SINCE_TAG] = since.isoformat()
        run_requests.append(dg.RunRequest(run_key=f"ingest-{fingerprint}", job_name=ingest_job.name,
                                          partition_key=days[-1].isoformat(), tags=tags))
    if full and (requested or not pending):  # else the next tick lists all of landing again
        listed = now.timestamp()

    if "ledger" not in cursor:
        # First tick: start watching from now; what was ingested before is already built.
        return dg.SensorResult(run_requests=run_requests,
                               cursor=json.dumps({"ledger": newest, "listed": listed}))
    fresh = [e for e in entries if e.ingested_at and e.ingested_at.isoformat() > cursor["ledger"]]
    changed = {date.fromisoformat(h[:10]) for e in fresh for h in e.hours}
    # A day that ended more than late.lookback_hours ago keeps the gold it has: a stray old
    # object must not rebuild a month of marts on its own. Its rows are in silver already.
    horizon = (now - timedelta(hours=settings.late.lookback_hours)).date()
    too_late = sorted(d for d in changed if d < horizon)
    if too_late:
        context.log.info(
            f"silver changed for {', '.join(map(str, too_late))}, older than late.lookback_hours: "
            f"gold not rebuilt; run `footfall build --date {too_late[0]} --through {too_late[-1]}` "
            "or backfill those partitions to include the late rows")
    for marts, start, end in gold_plan(changed - set(too_late), today):
        run_requests.append(dg.RunRequest(
            run_key=f"gold-{'+'.join(marts)}-{start}-{end}-{newest}",
            job_name=gold_job.name, asset_selection=[gold_key(m) for m in marts],
            tags=range_tags(start, end)))
    return dg.SensorResult(run_requests=run_requests,
                           cursor=json.dumps({"ledger": max(newest, cursor["ledger"]), "listed": listed}))
