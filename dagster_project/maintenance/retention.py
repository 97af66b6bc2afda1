"""Retention as a daily job at 03:00 UTC (after the 02:00 gold and report)."""

import dagster as dg

from dagster_project.resources import FootfallResource
from pipelines.retention import apply_retention
from pipelines.writer_lock import LakeBusy, LeaseLost


@dg.op(description="Delete landing, quarantine and silver (and gold when retention.gold is set) "
                   "older than their configured ages, after reading back the silver hours "
                   "whose last landing objects go; records what it did in state/retention/.")
def apply_retention_op(context: dg.OpExecutionContext, footfall: FootfallResource) -> None:
    try:
        result = apply_retention(footfall.writer_settings())
    except (LakeBusy, LeaseLost) as err:  # nothing deleted; tomorrow's run deletes it all
        raise dg.Failure(description=str(err)) from err
    counts = result.counts()
    context.log.info(f"retention deleted {len(result.deleted)} object(s): {counts or 'none'}")
    if result.uningested:
        context.log.warning(f"{len(result.uningested)} landing object(s) were deleted before ingest "
                            f"took them, their lines with them: {', '.join(result.uningested[:5])}")
    damage = result.damage_messages()
    for _, line in damage:
        context.log.warning(line)
    needs_user = [line for act, line in damage if act]
    if needs_user:  # a failed run is what the UI shows; a warning in its log would go unseen
        raise dg.Failure(description=needs_user[0])


@dg.job(description="Retention: delete what is past its age in every zone.")
def retention_job():
    apply_retention_op()


retention_schedule = dg.ScheduleDefinition(
    job=retention_job, cron_schedule="0 3 * * *", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.RUNNING, name="retention_schedule")
