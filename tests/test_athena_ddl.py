"""Athena DDL: every statement parses as Athena SQL, tables use partition projection, and
the columns are the lake's own (checked against real silver and gold files)."""

from __future__ import annotations

from datetime import date

import pyarrow.parquet as pq
import pytest
import sqlglot
from sqlglot import exp

from pipelines.athena_ddl import hive_type, render_all
from pipelines.cli import main
from pipelines.config import Lake, Settings, Standard
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.models import MARTS, Window, build
from tests.conftest import KEY

ROOT = "s3://bucket/footfall"
DAY = date(2026, 11, 2)


def columns(statement: str) -> list[tuple[str, str]]:
    tree = sqlglot.parse_one(statement, read="athena")
    schema = tree.this
    return [(c.name, c.args["kind"].sql("hive").lower().replace(" ", "")) for c in schema.expressions
            if isinstance(c, exp.ColumnDef)]


@pytest.fixture(scope="module")
def ddl():
    return render_all(Settings(), root=ROOT)


def test_every_statement_parses_as_athena_sql(ddl):
    assert set(ddl) == {"database", "raw_realtime_logs", "raw_standard_logs", "requests", "events", *MARTS}
    for name, statement in ddl.items():
        tree = sqlglot.parse_one(statement, read="athena")
        assert isinstance(tree, exp.Create), name
        if name != "database":
            assert "MSCK" not in statement


def test_partition_projection_everywhere_it_can_be(ddl):
    for name in ("requests", "events"):
        s = ddl[name]
        assert "'projection.enabled' = 'true'" in s and "'projection.hour.range' = '0,23'" in s
        assert f"'storage.location.template' = '{ROOT}/silver/{name}/dt=${{dt}}/hour=${{hour}}/'" in s
    for name in MARTS:
        assert f"'storage.location.template' = '{ROOT}/gold/{name}/dt=${{dt}}/'" in ddl[name]
    rtl = ddl["raw_realtime_logs"]
    assert "'projection.arrival_hour.format' = 'yyyy/MM/dd/HH'" in rtl
    assert f"'{ROOT}/landing/rtl/${{arrival_hour}}/'" in rtl


def test_raw_log_tables_have_the_right_layout_and_types(ddl):
    rtl = dict(columns(ddl["raw_realtime_logs"]))
    assert list(rtl)[:5] == ["timestamp", "c_ip", "s_ip", "time_to_first_byte", "sc_status"]
    # AWS's published DDL types time-taken as BIGINT (it is seconds with decimals) and skips
    # two header lines that real-time logs do not have.
    assert rtl["time_taken"] == "double" and rtl["timestamp"] == "double" and rtl["sc_status"] == "int"
    assert "'skip.header.line.count' = '0'" in ddl["raw_realtime_logs"]
    std = columns(ddl["raw_standard_logs"])
    assert len(std) == 33 and std[0] == ("date", "date") and ("cs_host", "string") in std
    assert "'skip.header.line.count' = '2'" in ddl["raw_standard_logs"]


def test_raw_standard_logs_follow_the_configured_delimiter_and_fields():
    """v2 text with another delimiter: one character is Hive's `FIELDS TERMINATED BY`, a
    longer one needs MultiDelimitSerDe; header-less (plain) input has its configured fields
    and no header lines to skip."""
    piped = render_all(Settings(standard=Standard(field_delimiter="|")), root=ROOT)["raw_standard_logs"]
    assert "ROW FORMAT DELIMITED FIELDS TERMINATED BY '|'" in piped and len(columns(piped)) == 33
    plain = render_all(Settings(standard=Standard(field_delimiter="||", fields=("date", "time", "time-taken"))),
                       root=ROOT)["raw_standard_logs"]
    assert isinstance(sqlglot.parse_one(plain, read="athena"), exp.Create)
    assert columns(plain) == [("date", "date"), ("time", "string"), ("time_taken", "double")]
    assert "SERDE 'org.apache.hadoop.hive.serde2.MultiDelimitSerDe'" in plain
    assert "WITH SERDEPROPERTIES ('field.delim' = '||')" in plain
    assert "'skip.header.line.count' = '0'" in plain


def test_silver_and_gold_columns_match_the_files_the_lake_holds(small_lake, ddl):
    root, _ = small_lake
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY, sources=ALL_SOURCES)
    build(settings, Window(DAY, DAY))
    tables = {"requests": "silver/requests/dt=2026-11-02/hour=12", "events": "silver/events/dt=2026-11-02/hour=12",
              **{m: f"gold/{m}/dt=2026-11-02" for m in MARTS}}
    for name, folder in tables.items():
        schema = pq.read_schema(root / folder / "data.parquet")
        partitions = ("dt", "hour") if folder.startswith("silver") else ("dt",)
        in_file = [(f.name, hive_type(f.type)) for f in schema if f.name not in partitions]
        assert columns(ddl[name]) == in_file, name


def test_the_command_writes_one_file_per_table(tmp_path, capsys):
    assert main(["athena-ddl", "--lake", ROOT, "--out", str(tmp_path / "ddl")]) == 0
    assert len(list((tmp_path / "ddl").glob("*.sql"))) == 5 + len(MARTS)
    assert main(["athena-ddl", "--lake", str(tmp_path)]) == 2
    assert "give --lake s3://" in capsys.readouterr().err
