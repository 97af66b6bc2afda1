"""Gold models: given hand-built silver rows, expected rows (written by hand); the Athena
rendering parses as Athena SQL and, transpiled back, gives DuckDB's rows."""

from __future__ import annotations

import dataclasses
import time
from datetime import UTC, date, datetime
from shutil import rmtree

import duckdb
import polars as pl
import pytest
import sqlglot

from pipelines.config import Build, Lake, PageViews, Settings
from pipelines.models import MARTS, MODELS, Renderer, Window, build, build_batches, plan_batches
from pipelines.schemas import EVENTS, REQUESTS
from pipelines.storage import Storage

DAY = date(2026, 11, 2)


def request(rid: str, hh: int, mm: int, *, day: date = DAY, site="www.example.com", visitor="v1",
            path="/", page=True, bot=False) -> dict:
    ts = datetime(day.year, day.month, day.day, hh, mm, tzinfo=UTC)
    row = {f.name: None for f in REQUESTS}
    row.update(request_id=rid, ts=ts, dt=day, hour=hh, log_source="realtime", site=site,
               method="GET", path=path, status=200, visitor_id=visitor, visitor_id_source="header",
               is_bot=bot, is_page_view=page and not bot, device_type="bot" if bot else "desktop",
               browser="Chrome", os="Windows", country="DE", source_object="o")
    return row


def event(eid: str, hh: int, mm: int, *, kind="page_view", site="www.example.com", visitor="v1",
          path="/") -> dict:
    ts = datetime(DAY.year, DAY.month, DAY.day, hh, mm, tzinfo=UTC)
    row = {f.name: None for f in EVENTS}
    row.update(event_id=eid, schema_version=1, event_type=kind, ts=ts, client_ts=ts, dt=DAY, hour=hh,
               site=site, visitor_id=visitor, path=path, is_bot=False, device_type="desktop",
               browser="Chrome", os="Windows", country="DE", source_object="b")
    return row


def write_silver(root, requests: list[dict], events: list[dict] = ()) -> None:
    storage = Storage(str(root))
    for table, rows, schema in (("requests", requests, REQUESTS), ("events", list(events), EVENTS)):
        if not rows:
            continue
        frame = pl.from_arrow(__import__("pyarrow").Table.from_pylist(rows, schema=schema))
        for (dt, hour), part in frame.partition_by(["dt", "hour"], as_dict=True).items():
            storage.write_parquet(f"silver/{table}/dt={dt}/hour={hour:02d}/data.parquet", part)


def gold(root, table: str, day: date = DAY) -> pl.DataFrame:
    return pl.read_parquet(str(root / f"gold/{table}/dt={day}/data.parquet"))


def settings(root, source="auto") -> Settings:
    return dataclasses.replace(Settings(lake=Lake(root=str(root))), page_views=PageViews(source=source))


ROWS = [
    request("r1", 9, 0, path="/"),
    request("r2", 9, 1, path="/static/app.js", page=False),
    request("r3", 9, 2, path="/pricing"),
    request("r4", 10, 0, bot=True, visitor="crawler", path="/"),
    request("r5", 11, 0, site="docs.example.com", path="/docs/"),
    request("r6", 23, 59, path="/late"),
]
EVENTS_ROWS = [event("e1", 9, 0, path="/"), event("e2", 9, 2, path="/pricing"),
               event("e3", 9, 3, kind="click", path="/pricing")]


@pytest.mark.parametrize(("source", "expected"), [
    # auto: www has beacon page views that day -> beacon rows; docs has none -> log rows.
    ("auto", {("e1", "beacon"), ("e2", "beacon"), ("r5", "rtl")}),
    ("rtl", {("r1", "rtl"), ("r3", "rtl"), ("r5", "rtl"), ("r6", "rtl")}),
    ("beacon", {("e1", "beacon"), ("e2", "beacon")}),
])
def test_page_views_follow_the_source_setting(tmp_path, source, expected):
    write_silver(tmp_path, ROWS, EVENTS_ROWS)
    build(settings(tmp_path, source), Window(DAY, DAY), ["page_views"])
    rows = gold(tmp_path, "page_views")
    assert set(zip(rows["page_view_id"], rows["source"], strict=True)) == expected


@pytest.mark.parametrize(("source", "page_views", "events"), [
    # auto and beacon: e1 and e2 are www's page views, so only the click e3 is an event.
    ("auto", 2, 1),
    ("beacon", 2, 1),
    # rtl: r1, r3 and r6 are the page views; the beacon's page_view events e1 and e2 are
    # then activity like any event, beside the click.
    ("rtl", 3, 3),
])
def test_a_beacon_page_view_is_an_event_only_where_page_views_do_not_take_it(tmp_path, source, page_views,
                                                                              events):
    write_silver(tmp_path, ROWS, EVENTS_ROWS)
    build(settings(tmp_path, source), Window(DAY, DAY), ["sessions"])
    www = gold(tmp_path, "sessions").filter(pl.col("site") == "www.example.com")
    assert (www["page_views"].sum(), www["events"].sum()) == (page_views, events)


def test_page_views_from_logs_only_without_any_events(tmp_path):
    write_silver(tmp_path, ROWS)
    build(settings(tmp_path), Window(DAY, DAY), ["page_views"])
    rows = gold(tmp_path, "page_views")
    assert rows["page_view_id"].to_list() == ["r1", "r3", "r5", "r6"]  # no asset, no bot
    assert rows.filter(pl.col("page_view_id") == "r3")["path"].item() == "/pricing"


def test_a_day_without_traffic_gets_an_empty_partition(tmp_path):
    write_silver(tmp_path, ROWS)
    nextday = date(2026, 11, 3)
    report = build(settings(tmp_path), Window(DAY, nextday), ["page_views"])
    assert report["page_views"] == {"2026-11-02": 4, "2026-11-03": 0}
    assert gold(tmp_path, "page_views", nextday).height == 0


def test_building_twice_gives_identical_partitions(tmp_path):
    write_silver(tmp_path, ROWS, EVENTS_ROWS)
    build(settings(tmp_path), Window(DAY, DAY))
    first = (tmp_path / "gold/page_views/dt=2026-11-02/data.parquet").read_bytes()
    build(settings(tmp_path), Window(DAY, DAY))
    assert (tmp_path / "gold/page_views/dt=2026-11-02/data.parquet").read_bytes() == first


def test_one_build_of_every_mart_equals_each_mart_built_alone(tmp_path):
    """A full build computes shared intermediates (sessionization, presence buckets, page
    sequences, which are built on sessionization) once
    into temporary tables; each mart built on its own computes them inline."""
    alone, together = tmp_path / "alone", tmp_path / "together"
    for root in (alone, together):
        write_silver(root, ROWS, EVENTS_ROWS)
    for name in MARTS:  # alone first: a mart built later must not find fresher gold
        rmtree(alone / "gold", ignore_errors=True)
        build(settings(alone), Window(DAY, DAY), [name])
        (alone / "keep").mkdir(exist_ok=True)
        (alone / "gold" / name).rename(alone / "keep" / name)
    build(settings(together), Window(DAY, DAY))
    for name in MARTS:
        part = f"{name}/dt=2026-11-02/data.parquet"
        assert (together / "gold" / part).read_bytes() == (alone / "keep" / part).read_bytes(), name


def test_batches_of_days_follow_the_silver_bytes():
    d = [date(2026, 11, n) for n in range(1, 6)]
    sizes = {"2026-11-01": 60, "2026-11-02": 50, "2026-11-04": 120, "2026-11-05": 10}  # 11-03: no silver
    batches = plan_batches(Window(d[0], d[4]), sizes, batch_bytes=100)
    assert [(b.start, b.end) for b in batches] == [(d[0], d[0]), (d[1], d[2]), (d[3], d[3]), (d[4], d[4])]
    assert plan_batches(Window(d[0], d[4]), sizes, batch_bytes=10**9) == [Window(d[0], d[4])]
    assert plan_batches(Window(d[2], d[2]), sizes, batch_bytes=1) == [Window(d[2], d[2])]


def test_a_window_built_day_by_day_equals_the_window_built_at_once(tmp_path):
    """Batches of days bound a build's memory; they must not change a byte of gold, even for
    a session that crosses midnight into the next batch and for the 30-day audience."""
    nextday, third = date(2026, 11, 3), date(2026, 11, 4)
    rows = [*ROWS, request("m1", 23, 50, site="docs.example.com", visitor="v9", path="/night"),
            request("m2", 0, 10, day=nextday, site="docs.example.com", visitor="v9", path="/pricing"),
            request("n1", 12, 0, day=nextday, visitor="v1"), request("t1", 8, 0, day=third, visitor="v2")]
    roots = {"at_once": tmp_path / "at_once", "by_day": tmp_path / "by_day"}
    for root in roots.values():
        write_silver(root, rows, EVENTS_ROWS)
    window = Window(DAY, third)
    build(settings(roots["at_once"]), window)
    by_day = dataclasses.replace(settings(roots["by_day"]), build=Build(batch_bytes=1))
    assert len(build_batches(by_day, window)) == 3
    build(by_day, window)
    parts = sorted(p.relative_to(roots["at_once"]) for p in (roots["at_once"] / "gold").rglob("*.parquet"))
    assert len(parts) == 3 * len(MARTS)
    for part in parts:
        assert (roots["by_day"] / part).read_bytes() == (roots["at_once"] / part).read_bytes(), part
    # The night visitor's session starts on the first day and ends on the next.
    night = gold(roots["by_day"], "sessions").filter(pl.col("visitor_id") == "v9")
    assert night.select("entry_path", "exit_path", "page_views").rows() == [("/night", "/pricing", 2)]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_athena_rendering_parses_as_athena_sql(name):
    sql = Renderer("athena", Settings()).render(name, Window(DAY, DAY))
    assert "read_parquet" not in sql
    sqlglot.parse_one(sql, read="athena")  # raises on anything Athena would not accept


@pytest.fixture(scope="module")
def athena_tables() -> dict:
    """The column types of the tables the Athena renderings read, for sqlglot."""
    from pipelines.athena_ddl import mart_schema
    from pipelines.schemas import SILVER, sql_type

    tables = {t: {f.name: sql_type(f.type, "hive") for f in schema} for t, schema in SILVER.items()}
    tables["sessions"] = {f.name: sql_type(f.type, "hive") for f in mart_schema(Settings(), "sessions")}
    return {"footfall": tables}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_athena_rendering_divides_as_duckdb_does(name, athena_tables):
    """Trino divides integers as integers (7 / 2 = 3) and reads `1000.0` as DECIMAL(5,1), so
    a bigint divided by it keeps one decimal place (a 1.234 s session would last 1.2 s on
    Athena), where DuckDB divides as doubles: the transpiled comparison below cannot see
    either, as DuckDB reads the SQL its own way. Every division must be of doubles."""
    from sqlglot.optimizer.annotate_types import annotate_types
    from sqlglot.optimizer.qualify import qualify

    tree = sqlglot.parse_one(Renderer("athena", Settings()).render(name, Window(DAY, DAY)), read="athena")
    tree = annotate_types(qualify(tree, schema=athena_tables, dialect="athena"), schema=athena_tables,
                          dialect="athena")
    divisions = list(tree.find_all(sqlglot.exp.Div))
    decimal = [d.sql("athena") for d in divisions
               if isinstance(d.expression, sqlglot.exp.Literal) and d.expression.is_number
               and "." in d.expression.this]
    integer = [d.sql("athena") for d in divisions
               if all(side.type and side.type.is_type(*sqlglot.exp.DataType.INTEGER_TYPES)
                      for side in (d.this, d.expression))]
    assert not decimal and not integer


@pytest.mark.parametrize("name", MARTS)
def test_athena_rendering_gives_duckdbs_rows(tmp_path, name):
    write_silver(tmp_path, ROWS, EVENTS_ROWS)
    cfg = settings(tmp_path)
    build(cfg, Window(DAY, DAY), [name] if name == "sessions" else ["sessions", name])
    expected = gold(tmp_path, name)
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    con.execute("create schema footfall")
    for table in ("requests", "events"):
        con.execute(f"create view footfall.{table} as select * from read_parquet("
                    f"'{tmp_path}/silver/{table}/*/*/*.parquet', hive_partitioning = false)")
    con.execute(f"create view footfall.sessions as select * from read_parquet("
                f"'{tmp_path}/gold/sessions/*/*.parquet', hive_partitioning = false)")
    athena = Renderer("athena", cfg).render(name, Window(DAY, DAY))
    as_duckdb = sqlglot.transpile(athena, read="athena", write="duckdb")[0]
    got = pl.from_arrow(con.sql(as_duckdb).to_arrow_table())
    assert got.sort(got.columns).equals(expected.select(got.columns).sort(got.columns))


@pytest.mark.parametrize("mart", ["daily_site_metrics", "daily_dimension_stats"])
def test_a_mart_reads_fresh_gold_sessions_and_recomputes_stale_ones(tmp_path, mart):
    """Marts that count sessions read gold `sessions` when it is newer than its silver, and
    sessionize inline when it is missing or stale: the rows are the same either way."""
    write_silver(tmp_path, ROWS, EVENTS_ROWS)
    cfg = settings(tmp_path)
    build(cfg, Window(DAY, DAY), [mart])  # no gold sessions yet: inline
    inline = gold(tmp_path, mart)
    build(cfg, Window(DAY, DAY), ["sessions", mart])  # reads the fresh gold sessions
    reads = Renderer("duckdb", cfg, sources={"requests": [], "events": []},
                     gold=lambda m, w: [f"{m}.parquet"]).render(mart, Window(DAY, DAY))
    assert "'sessions.parquet'" in reads
    assert gold(tmp_path, mart).equals(inline)
    # Silver changes after sessions were built: a new visitor's page view at 15:00.
    time.sleep(0.01)
    write_silver(tmp_path, ROWS + [request("late", 15, 0, visitor="v9", path="/late")], EVENTS_ROWS)
    build(cfg, Window(DAY, DAY), [mart])  # gold sessions are stale now: recomputed inline
    stale_safe = gold(tmp_path, mart)
    fresh = tmp_path / "fresh"
    write_silver(fresh, ROWS + [request("late", 15, 0, visitor="v9", path="/late")], EVENTS_ROWS)
    build(settings(fresh), Window(DAY, DAY), [mart])
    assert stale_safe.equals(gold(fresh, mart))
    assert not stale_safe.equals(inline)
