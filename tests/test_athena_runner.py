"""The Athena runner's calls against an AWS API server process (moto in server mode): the
query text it submits (an INSERT of the mart's Athena rendering, valid Athena SQL), the
workgroup, and the gold locations it clears first. Athena itself does not run here: moto
accepts the queries without executing them."""

from __future__ import annotations

from datetime import date

import boto3
import sqlglot
from sqlglot import exp

from pipelines.athena import build_on_athena
from pipelines.athena_ddl import render_all
from pipelines.config import Athena, Lake, Settings
from pipelines.erased import LOG_KEY
from pipelines.models import Window
from pipelines.storage import Storage
from tests.s3server import apply_env, moto_server

DAY = date(2026, 11, 2)


def test_models_are_submitted_to_athena_as_inserts_into_their_tables(monkeypatch):
    with moto_server() as url:
        apply_env(monkeypatch, url)
        boto3.client("s3").create_bucket(Bucket="lake")
        athena = boto3.client("athena")
        athena.create_work_group(Name="footfall", Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://lake/footfall/athena-results/"},
            "BytesScannedCutoffPerQuery": 10_000_000_000})
        settings = Settings(engine="athena", lake=Lake(root="s3://lake/footfall"),
                            athena=Athena(database="footfall", workgroup="footfall"))
        storage = Storage(settings.lake.root)
        stale = "gold/sessions/dt=2026-11-02/20261102_old_run.parquet"
        kept = "gold/sessions/dt=2026-11-01/data.parquet"
        storage.write_bytes(stale, b"old")
        storage.write_bytes(kept, b"other day")

        runs = build_on_athena(settings, Window(DAY, DAY), ["sessions", "daily_site_metrics"])
        assert {n: r.state for n, r in runs.items()} == {"sessions": "SUCCEEDED", "daily_site_metrics": "SUCCEEDED"}
        assert all(r.bytes_scanned == 0 for r in runs.values())  # reported per model (moto scans nothing)
        assert not storage.exists(stale) and storage.exists(kept)  # the window's day only

        ddl = render_all(settings)
        for name, run in runs.items():
            submitted = athena.get_query_execution(QueryExecutionId=run.query_id)["QueryExecution"]
            assert submitted["WorkGroup"] == "footfall"
            assert submitted["QueryExecutionContext"]["Database"] == "footfall"
            tree = sqlglot.parse_one(submitted["Query"], read="athena")
            assert isinstance(tree, exp.Insert) and tree.this.sql() == f"footfall.{name}"
            # The SELECT list is the table's columns in its DDL order, then the partition.
            table_columns = [c.name for c in sqlglot.parse_one(ddl[name], read="athena").this.expressions
                             if isinstance(c, exp.ColumnDef)]
            assert [e.alias_or_name for e in tree.expression.expressions] == table_columns + ["dt"]
            # It reads the silver tables of the lake's database, restricted to the window.
            tables = {t.sql() for t in tree.find_all(exp.Table)}
            assert "footfall.requests" in tables and "footfall.events" in tables
            assert "read_parquet" not in submitted["Query"] and "date '2026-11-02'" in submitted["Query"]


def test_an_athena_build_alongside_an_erase_runs_its_inserts_again(monkeypatch):
    """An erase that ends while the Athena build runs may have rebuilt gold before the
    build's inserts, from silver they had already read: the build submits them again."""
    import awswrangler as wr

    with moto_server() as url:
        apply_env(monkeypatch, url)
        boto3.client("s3").create_bucket(Bucket="lake")
        boto3.client("athena").create_work_group(Name="footfall", Configuration={
            "ResultConfiguration": {"OutputLocation": "s3://lake/footfall/athena-results/"}})
        settings = Settings(engine="athena", lake=Lake(root="s3://lake/footfall"),
                            athena=Athena(database="footfall", workgroup="footfall"))
        storage = Storage(settings.lake.root)
        submitted: list[str] = []
        submit = wr.athena.start_query_execution

        def erase_meanwhile(*args, **kwargs):
            submitted.append(kwargs["sql"].split("\n")[0])
            if len(submitted) == 1:  # an erase ends while the first insert runs
                storage.write_bytes(LOG_KEY, b'[{"subject": "someone"}]')
            return submit(*args, **kwargs)

        monkeypatch.setattr(wr.athena, "start_query_execution", erase_meanwhile)
        runs = build_on_athena(settings, Window(DAY, DAY), ["sessions", "daily_site_metrics"])
        assert submitted == ["insert into footfall.sessions", "insert into footfall.daily_site_metrics"] * 2
        assert {r.state for r in runs.values()} == {"SUCCEEDED"}
