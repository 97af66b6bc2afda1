"""Silver assets: landing objects parsed, pseudonymised and written as hour partitions.

Ingest works per landing object, not per day: one run takes every new or changed object
(whichever days its records fall on) and replaces the hour partitions they touch. The run's
own partition is the day the sensor or the user asked for; the other days it wrote are
recorded as materializations too, so the UI shows what really changed.
"""

from collections import defaultdict
from datetime import date, datetime

import dagster as dg
from pydantic import Field

from dagster_project.metadata import preview, stage_times
from dagster_project.partitions import DAILY, run_window
from dagster_project.resources import FootfallResource, HashKeyResource
from pipelines.ingest import EVENT_SOURCES, REQUEST_SOURCES, IngestSummary, ingest
from pipelines.partitions import DamagedPartition, hour_key, named_partition
from pipelines.storage import DamagedFile
from pipelines.writer_lock import LakeBusy, LeaseLost

REQUESTS = dg.AssetKey(["silver", "requests"])
EVENTS = dg.AssetKey(["silver", "events"])
SOURCES = {REQUESTS: REQUEST_SOURCES, EVENTS: EVENT_SOURCES}
# Set by the landing sensor between its full listings: the run takes the landing objects of
# that hour on (the ones the tick found, see `discover`), listing landing from there only.
LANDING_SINCE_TAG = "footfall/landing_since"

PREVIEW_COLUMNS = {
    REQUESTS: ["ts", "site", "method", "path", "status", "edge_result_type", "country",
               "device_type", "is_bot", "is_page_view", "visitor_id"],
    EVENTS: ["ts", "site", "event_type", "path", "seq", "clock_skew_ms", "country", "device_type",
             "visitor_id", "props"],
}


class SilverConfig(dg.Config):
    """Run config of a silver asset, for the Launchpad; a run without it ingests as usual."""

    rebuild: list[str] = Field(default=[], description=(
        "Hour partitions to rebuild from the landing objects still there, even if some are gone, "
        "e.g. silver/requests/dt=2026-12-01/hour=23 (as `footfall ingest --rebuild`)."))


def objects_per_day(summary: IngestSummary) -> dict[date, int]:
    """Days the run wrote, with how many landing objects had records on each."""
    per_day: dict[date, int] = defaultdict(int)
    for entry in summary.entries:
        for day in {h[:10] for h in entry.hours}:
            per_day[date.fromisoformat(day)] += 1
    return per_day


def silver_asset(key: dg.AssetKey, description: str) -> dg.AssetsDefinition:
    table = key.path[-1]

    @dg.asset(key=key, group_name="silver", partitions_def=DAILY,
              backfill_policy=dg.BackfillPolicy.single_run(), kinds={"polars", "parquet"},
              description=description, metadata={"landing_sources": ", ".join(SOURCES[key])})
    def _silver(context: dg.AssetExecutionContext, config: SilverConfig, footfall: FootfallResource,
                hash_key: HashKeyResource) -> dg.MaterializeResult:
        def log_waves(phase: str, done: int, total: int) -> None:
            if phase == "wave" and total > 1:  # a long backlog: say how far it has got
                context.log.info(f"{table}: wave {done} of {total} ingested and in the ledger")

        settings = footfall.writer_settings()
        for text in config.rebuild:
            try:
                named_partition(text, {table})
            except ValueError as err:
                raise dg.Failure(description=f"rebuild: {err}", allow_retries=False) from None
        try:
            since = context.run.tags.get(LANDING_SINCE_TAG)
            summary = ingest(settings, hash_key.bytes(settings), sources=SOURCES[key],
                             on_progress=log_waves, rebuild=tuple(config.rebuild),
                             since=datetime.fromisoformat(since) if since else None)
        except (LakeBusy, LeaseLost) as err:  # nothing written: the sensor asks again as landing grows
            raise dg.Failure(description=str(err)) from err
        except DamagedPartition as err:  # its rebuild would lose rows: the user decides
            raise dg.Failure(description=f"{err} (here: this asset's run config rebuild: [{err.key}])",
                             allow_retries=False) from err
        except DamagedFile as err:  # a damaged ledger
            raise dg.Failure(description=str(err), allow_retries=False) from err
        for r in summary.rebuilt:
            lost = f"; {len(r.lost)} object(s) gone from landing lost their rows of that hour" if r.lost else ""
            context.log.warning(f"{r.key} ({r.cause}): rebuilt from {len(r.taken_again)} landing "
                                f"object(s); the old file is kept at {r.kept_as}{lost}")
        written = objects_per_day(summary)
        window = run_window(context)
        for day in sorted(d for d in written if not window.start <= d <= window.end):
            if DAILY.has_partition_key(day.isoformat()):  # late or spread-out records
                context.log_event(dg.AssetMaterialization(
                    asset_key=key, partition=day.isoformat(),
                    metadata={"run_id": summary.run_id, "objects": written[day]}))
        context.log.info(f"{summary.objects} landing object(s), {summary.lines:,} lines → "
                         f"{summary.rows:,} {table} rows on {len(written)} day(s)")
        failed = [e for e in summary.entries if e.failed]
        for e in failed:
            context.log.error(f"{e.object}: {e.error}; none of its lines were taken: it stays in "
                              "landing and every run tries it again (a Footfall bug: please report it)")
        hours = [h for e in summary.entries for h in e.hours]
        metadata: dict[str, object] = {
            "run_id": summary.run_id,
            "landing_objects": summary.objects,
            "landing_bytes": dg.MetadataValue.int(summary.bytes_in),
            "lines": summary.lines,
            "rows_written": summary.rows,
            "duplicates": summary.duplicates,
            "rows_quarantined": summary.quarantined,
            "rows_of_erased_visitors": summary.erased,
            "objects_failed": len(failed),
            "partitions_rebuilt": ", ".join(r.key for r in summary.rebuilt) or "none",
            "hour_partitions_rewritten": summary.partitions,
            "days_written": ", ".join(d.isoformat() for d in sorted(written)) or "none",
            "lines_per_second": round(summary.lines_per_second),
            "time_by_stage": stage_times(summary.stage_seconds),
        }
        if hours:
            newest = max(hours)
            sample = footfall.storage().read_frame(hour_key(table, newest[:10], int(newest[11:13])))
            metadata["preview"] = preview(sample, PREVIEW_COLUMNS[key])
        return dg.MaterializeResult(metadata=metadata)

    return _silver


silver_requests = silver_asset(
    REQUESTS, "One row per CloudFront request (real-time and standard logs), de-duplicated on "
              "request_id, pseudonymised; silver/requests/dt=/hour=/data.parquet (contract §6).")
silver_events = silver_asset(
    EVENTS, "One row per beacon event from the collector, de-duplicated on event_id, "
            "pseudonymised, with clock skew; silver/events/dt=/hour=/data.parquet (contract §6).")
SILVER_ASSETS = [silver_requests, silver_events]
