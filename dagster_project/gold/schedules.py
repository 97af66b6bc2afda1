"""02:00 UTC every day: yesterday's gold and daily report."""

from datetime import UTC, timedelta

import dagster as dg

from dagster_project.jobs import daily_job


@dg.schedule(cron_schedule="0 2 * * *", execution_timezone="UTC", job=daily_job,
             default_status=dg.DefaultScheduleStatus.RUNNING,
             description="Builds yesterday's gold marts and daily report.")
def daily_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    day = (context.scheduled_execution_time.astimezone(UTC) - timedelta(days=1)).date()
    return dg.RunRequest(run_key=f"daily-{day}", partition_key=day.isoformat())
