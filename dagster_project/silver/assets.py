"""Silver assets: landing objects parsed, pseudonymised and written as hour partitions.

Ingest works per landing object, not per day: one run takes every new or changed object
(whichever days its records fall on) and replaces the hour partitions they touch. The run's
own partition is the day the sensor or the user asked for; the other days it wrote are
recorded as materializations too, so the UI shows what really changed.
"""

from collections import defaultdict
from datetime import date

import dagster as dg

from dagster_project.metadata import preview
from dagster_project.partitions import DAILY, run_window
from dagster_project.resources import FootfallResource, HashKeyResource
from pipelines.ingest import REQUEST_SOURCES, IngestSummary, ingest
from pipelines.partitions import hour_key

REQUESTS = dg.AssetKey(["silver", "requests"])

PREVIEW_COLUMNS = ["ts", "site", "method", "path", "status", "edge_result_type", "country",
                   "device_type", "is_bot", "is_page_view", "visitor_id"]


def objects_per_day(summary: IngestSummary) -> dict[date, int]:
    """Days the run wrote, with how many landing objects had records on each."""
    per_day: dict[date, int] = defaultdict(int)
    for entry in summary.entries:
        for day in {h[:10] for h in entry.hours}:
            per_day[date.fromisoformat(day)] += 1
    return per_day


@dg.asset(
    key=REQUESTS,
    group_name="silver",
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    kinds={"polars", "parquet"},
    description="One row per CloudFront request (real-time and standard logs), de-duplicated on "
                "request_id, pseudonymised; silver/requests/dt=/hour=/data.parquet (contract §6).",
)
def silver_requests(context: dg.AssetExecutionContext, footfall: FootfallResource,
                    hash_key: HashKeyResource) -> dg.MaterializeResult:
    settings = footfall.settings()
    summary = ingest(settings, hash_key.bytes(), sources=REQUEST_SOURCES)
    written = objects_per_day(summary)
    window = run_window(context)
    others = sorted(d for d in written if not window.start <= d <= window.end)
    for day in others:  # late or spread-out records: those days changed too
        if DAILY.has_partition_key(day.isoformat()):
            context.log_event(dg.AssetMaterialization(
                asset_key=REQUESTS, partition=day.isoformat(),
                metadata={"run_id": summary.run_id, "objects": written[day]}))
    context.log.info(f"{summary.objects} landing object(s), {summary.lines:,} lines → "
                     f"{summary.rows:,} rows on {len(written)} day(s)")
    storage = footfall.storage()
    hours = [h for e in summary.entries for h in e.hours]
    sample = storage.read_frame(hour_key("requests", max(hours)[:10], int(max(hours)[11:13]))) if hours else None
    metadata: dict[str, object] = {
        "run_id": summary.run_id,
        "landing_objects": summary.objects,
        "landing_bytes": dg.MetadataValue.int(summary.bytes_in),
        "lines": summary.lines,
        "rows_written": summary.rows,
        "duplicates": summary.duplicates,
        "rows_quarantined": summary.quarantined,
        "hour_partitions_rewritten": summary.partitions,
        "days_written": ", ".join(d.isoformat() for d in sorted(written)) or "none",
        "lines_per_second": round(summary.lines_per_second),
    }
    if sample is not None:
        metadata["preview"] = preview(sample, PREVIEW_COLUMNS)
    return dg.MaterializeResult(metadata=metadata)
