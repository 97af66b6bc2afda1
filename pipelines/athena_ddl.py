"""Glue/Athena DDL for every lake table, rendered from `athena_ddl/*.sql.j2`.

Columns come from the code: the real-time log fields selected in `rtl.fields`, the
standard log layout, the silver schemas, and each gold mart's own output types (the mart
is planned on DuckDB over empty inputs and its Arrow schema mapped to Hive types).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import duckdb
import jinja2
import pyarrow as pa

from pipelines.config import Settings
from pipelines.models import MARTS, Renderer, Window
from pipelines.schemas import SILVER, sql_type
from rtl_parser.fields import STANDARD_FIELDS_33

TEMPLATES = Path(__file__).resolve().parents[1] / "athena_ddl"
# Log fields that are numbers (the rest are strings; `-` reads as NULL for numbers).
NUMERIC = {"timestamp": "double", "timestamp(ms)": "bigint", "time-taken": "double",
           "time-to-first-byte": "double", "origin-fbl": "double", "origin-lbl": "double",
           "sc-status": "int", "sc-bytes": "bigint", "cs-bytes": "bigint", "c-port": "int",
           "cs-headers-count": "int", "sc-content-len": "bigint", "sc-range-start": "bigint",
           "sc-range-end": "bigint", "asn": "bigint", "fle-encrypted-fields": "int", "date": "date"}


def column_name(field: str) -> str:
    """A log field as a Glue column name: lower case, `_` for anything else (cs(Host) → cs_host)."""
    return re.sub(r"[^a-z0-9]+", "_", field.lower()).strip("_")


def hive_type(t: pa.DataType) -> str:
    return sql_type(t, "hive")


def mart_schema(settings: Settings, name: str) -> pa.Schema:
    """The Arrow schema of a mart's output, planned on DuckDB over empty inputs."""
    sql = Renderer("duckdb", settings, sources={t: [] for t in SILVER}).render(name, Window(date.today(), date.today()))
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    return con.sql(f"select * from ({sql}) limit 0").to_arrow_table().schema


def render_all(settings: Settings, database: str = "footfall", root: str | None = None) -> dict[str, str]:
    """table name → CREATE statement (plus `database`)."""
    root = (root or settings.lake.root).rstrip("/")
    start_day = settings.dagster.partitions_start
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    common = {"database": database, "root": root, "start_day": start_day}
    out = {"database": env.get_template("database.sql.j2").render(common)}
    out["raw_realtime_logs"] = env.get_template("raw_realtime_logs.sql.j2").render(
        common, start_hour=start_day.replace("-", "/") + "/00",
        columns=[(column_name(f), NUMERIC.get(f, "string")) for f in settings.rtl.fields])
    out["raw_standard_logs"] = env.get_template("raw_standard_logs.sql.j2").render(
        common, delimiter=settings.standard.field_delimiter, headerless=bool(settings.standard.fields),
        columns=[(column_name(f), NUMERIC.get(f, "string")) for f in settings.standard.fields or STANDARD_FIELDS_33])
    table = env.get_template("parquet_table.sql.j2")
    for name, schema in SILVER.items():
        out[name] = table.render(common, table=name, zone="silver", hourly=True,
                                 columns=[(f.name, hive_type(f.type)) for f in schema if f.name not in ("dt", "hour")])
    for name in MARTS:
        out[name] = table.render(common, table=name, zone="gold", hourly=False,
                                 columns=[(f.name, hive_type(f.type)) for f in mart_schema(settings, name)
                                          if f.name != "dt"])
    return {k: v.strip() + "\n" for k, v in out.items()}
