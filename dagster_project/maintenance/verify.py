"""Reading the lake back from the Launchpad (`footfall verify`): no schedule, as retention
already reads back every silver hour before its landing objects go."""

import dagster as dg
from pydantic import Field

from dagster_project.resources import FootfallResource
from pipelines.verify import verify


class VerifyConfig(dg.Config):
    days: int | None = Field(default=None, ge=1, description="only the partitions of the last DAYS UTC "
                             "days, today included (default: all)")


@dg.op(description="Read the ingest ledger and every silver and gold file back; fails naming each "
                   "damaged file with its repair.")
def verify_lake_op(context: dg.OpExecutionContext, config: VerifyConfig, footfall: FootfallResource) -> None:
    result = verify(footfall.settings(), days=config.days)
    read = ", ".join(f"{n:,} {zone}" for zone, n in result.read.items())
    context.log.info(f"read back {read} file(s); {len(result.damaged)} damaged")
    for finding in result.damaged:
        context.log.error(str(finding))
    if result.damaged:
        raise dg.Failure(description="\n".join(str(f) for f in result.damaged),
                         metadata={f"{zone}_files": n for zone, n in result.read.items()})


@dg.job(description="Verify: read the lake back and name each damaged file with its repair.")
def verify_job():
    verify_lake_op()
