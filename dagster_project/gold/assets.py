"""Gold assets: one per mart in `sql/marts/`, built per day by `pipelines.models.build`.

Each asset reads silver over its model's lookback/lookahead (a day's sessions need the
previous day's last hours and the next two days, where its sessions may end), which the
dependencies below carry as partition mappings. A backfill over a date range is one run:
the model runs once over the whole range and replaces each day's partition.
"""

import re

import dagster as dg

from dagster_project.metadata import preview
from dagster_project.partitions import DAILY, day_mapping, run_window
from dagster_project.resources import FootfallResource
from dagster_project.silver.assets import EVENTS, REQUESTS
from pipelines.athena import build_on_athena
from pipelines.models import MARTS, MODELS, SQL_DIR, Model, build
from pipelines.partitions import damaged_file_message

_HEADER = re.compile(r"\{#-?\s*(.*?)\s*-?#\}", re.S)
_REF = re.compile(r"ref\('(\w+)'")


def gold_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["gold", name])


def model_description(model: Model) -> str:
    """The grain-and-columns comment at the top of the model's SQL file."""
    m = _HEADER.search((SQL_DIR / model.path).read_text())
    text = m.group(1) if m else model.name
    return re.sub(r"\{\{.*?\}\}", "(setting)", " ".join(text.split()))


def mart_refs(model: Model) -> list[str]:
    """Marts this model reads from gold when they are fresh (see `pipelines.models.Renderer.ref`)."""
    text = (SQL_DIR / model.path).read_text()
    return sorted({m for m in _REF.findall(text) if m in MARTS and m != model.name})


def gold_asset(model: Model) -> dg.AssetsDefinition:
    @dg.asset(
        key=gold_key(model.name),
        group_name="gold",
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        deps=[dg.AssetDep(silver, partition_mapping=day_mapping(model.lookback_hours, model.lookahead_hours))
              for silver in (REQUESTS, EVENTS)]
        + [dg.AssetDep(gold_key(m)) for m in mart_refs(model)],
        kinds={"duckdb", "sql"},
        description=model_description(model),
        metadata={"sql": f"sql/{model.path}", "lookback_hours": model.lookback_hours,
                  "lookahead_hours": model.lookahead_hours},
    )
    def _gold(context: dg.AssetExecutionContext, footfall: FootfallResource) -> dg.MaterializeResult:
        settings = footfall.settings()
        window = run_window(context)
        if settings.engine == "athena":  # the cloud switch: the same model text, run by Athena
            run = build_on_athena(settings, window, [model.name]).get(model.name)
            return dg.MaterializeResult(metadata={} if run is None else {
                "athena_query_id": run.query_id, "bytes_scanned": dg.MetadataValue.int(run.bytes_scanned),
                "days": len(window.days())})
        try:
            rows = build(settings, window, [model.name]).get(model.name, {})
        except Exception as err:
            message = damaged_file_message(err)  # a damaged lake file: say which, and the way out
            if message is None:
                raise
            raise dg.Failure(description=message, allow_retries=False) from err
        last = window.end.isoformat()
        sample = footfall.storage().read_frame(f"gold/{model.name}/dt={last}/data.parquet") \
            if rows else None
        metadata: dict[str, object] = {
            "rows_written": sum(rows.values()),
            "rows_per_day": dg.MetadataValue.json(rows),
            "days": len(rows),
        }
        if sample is not None and sample.height:
            metadata["preview"] = preview(sample)
        return dg.MaterializeResult(metadata=metadata)

    return _gold


GOLD_ASSETS = [gold_asset(MODELS[name]) for name in MARTS]
