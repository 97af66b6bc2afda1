"""The models on Athena (engine = "athena"): each mart's Athena rendering runs as one
`INSERT INTO` its Glue table for the window, after the window's gold partitions are
deleted, so a rebuild replaces exactly the days it owns — as on DuckDB. Queries go through
awswrangler with the workgroup (and its scan limit) from `[athena]`; the SQL is rendered
from the models and validated dates, never from user strings. Bytes scanned per model are
returned for the run's metadata. Like a DuckDB build, it runs again when an erase ended
meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass

from pipelines.athena_ddl import mart_schema
from pipelines.config import Settings
from pipelines.erased import build_past_erasures
from pipelines.models import MARTS, Renderer, Window
from pipelines.storage import Storage


@dataclass
class AthenaRun:
    query_id: str
    state: str
    bytes_scanned: int
    query: str


def insert_statement(settings: Settings, name: str, window: Window) -> str:
    """INSERT INTO the mart's table: its columns in table order, the partition (dt) last."""
    database = settings.athena.database
    columns = [f.name for f in mart_schema(settings, name) if f.name != "dt"] + ["dt"]
    body = Renderer("athena", settings, database=database).render(name, window)
    return (f"insert into {database}.{name}\n"
            f"select {', '.join(columns)}\n"
            f"from (\n{body}\n) as model\n"
            f"where dt between date '{window.start.isoformat()}' and date '{window.end.isoformat()}'")


def build_on_athena(settings: Settings, window: Window, models: list[str] | None = None) -> dict[str, AthenaRun]:
    import awswrangler as wr

    storage = Storage(settings.lake.root)
    if not storage.is_s3:
        raise ValueError("engine = athena needs the lake on S3 (lake.root = s3://bucket/prefix)")

    def run() -> dict[str, AthenaRun]:
        runs: dict[str, AthenaRun] = {}
        for name in models or MARTS:
            if name == "funnel_daily" and not settings.funnels:
                continue
            sql = insert_statement(settings, name, window)
            storage.delete_many([obj.key for day in window.days()  # replace exactly the window's days
                                 for obj in storage.list(f"gold/{name}/dt={day.isoformat()}/")])
            answer = wr.athena.start_query_execution(
                sql=sql, database=settings.athena.database, workgroup=settings.athena.workgroup,
                s3_output=settings.athena.output_location or None, wait=True)
            state = answer["Status"]["State"]
            runs[name] = AthenaRun(query_id=answer["QueryExecutionId"], state=state,
                                   bytes_scanned=int(answer.get("Statistics", {}).get("DataScannedInBytes", 0)),
                                   query=sql)
            if state != "SUCCEEDED":
                reason = answer["Status"].get("StateChangeReason", "")
                raise RuntimeError(f"Athena query for {name} ended {state}: {reason}")
        return runs

    return build_past_erasures(storage, str(window), run)
