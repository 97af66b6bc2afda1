"""The daily report asset: one report per day, from that day's gold (and the week before,
for the comparisons). Blocking gold checks keep it from reporting on bad data."""

import dagster as dg

from dagster_project.gold.assets import gold_key
from dagster_project.partitions import DAILY, day_mapping, run_window
from dagster_project.resources import FootfallResource
from pipelines.delivery import deliver
from pipelines.models import MARTS
from pipelines.report import readiness, render_markdown, write_report


@dg.asset(
    key=dg.AssetKey(["reports", "daily_report"]),
    group_name="reports",
    partitions_def=DAILY,
    backfill_policy=dg.BackfillPolicy.single_run(),
    deps=[dg.AssetDep(gold_key(m), partition_mapping=day_mapping(7 * 24 if m == "daily_site_metrics" else 0))
          for m in MARTS],
    kinds={"html", "csv"},
    description="reports/dt=D/daily_report.html (+ .md and CSV): headline figures with day and week "
                "comparisons, hourly traffic and presence, top pages/sources/audience, funnels, CDN "
                "health, data quality.",
)
def daily_report(context: dg.AssetExecutionContext, footfall: FootfallResource) -> dg.MaterializeResult:
    settings = footfall.settings()
    storage = footfall.storage()
    days = run_window(context).days()
    problem = readiness(storage, days, settings.report.site)
    if problem:  # a "no data" page for a day that has data would mislead its readers
        raise dg.Failure(problem)
    written = [write_report(settings, day) for day in days]
    deliveries = [deliver(settings, w) for w in written]
    last = written[-1]
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(storage.uri(last.keys[0])),
        "days": len(written),
        "days_without_data": sum(w.report.empty for w in written),
        "sites": ", ".join(s.site for s in last.report.sites) or "none",
        "s3_copies": sum(len(d.s3_keys) for d in deliveries),
        "emails": sum(1 for d in deliveries if d.email_message_id),
        "summary": dg.MetadataValue.md(render_markdown(last.report)),
    })
