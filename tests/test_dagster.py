"""The Dagster project: the definitions' shape, in-process materialisation with checks, a
blocking check on bad data, the landing sensor with its cursor, and the daily schedule."""

from __future__ import annotations

import gzip
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from dagster_project.definitions import build_defs, defs
from dagster_project.gold.plan import gold_plan
from dagster_project.resources import FootfallResource, HashKeyResource
from dagster_project.silver.sensors import landing_sensor
from pipelines.ingest import ALL_SOURCES, ingest
from tests.conftest import KEY
from tests.test_ingest import HOUR, _copy_landing, _damaged_lake
from tests.test_ingest import settings as ingest_settings

DAY = "2026-11-02"
REQUESTS = dg.AssetKey(["silver", "requests"])


def resources(root: Path) -> dict[str, object]:
    return {"footfall": FootfallResource(lake_root=str(root)), "hash_key": HashKeyResource(key=KEY.decode())}


def silver_count(root: Path, where: str = "true") -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{root}/silver/requests/*/*/*.parquet', "
                      f"hive_partitioning = false) where {where}").fetchall()[0][0]


def test_definitions_snapshot():
    """A rename or a lost asset, check, job, schedule or sensor must be noticed."""
    graph = defs.resolve_asset_graph()
    assert sorted(k.to_user_string() for k in graph.get_all_asset_keys()) == [
        "gold/cdn_health_hourly", "gold/daily_dimension_stats", "gold/daily_site_metrics",
        "gold/funnel_daily", "gold/page_engagement_daily", "gold/page_transitions_daily", "gold/page_views",
        "gold/path_latency_daily",
        "gold/presence_routes",
        "gold/presence_snapshots", "gold/sessions", "gold/web_vitals_daily", "reports/daily_report",
        "silver/events", "silver/requests",
    ]
    assert sorted(k.to_user_string() for k in graph.asset_check_keys) == sorted([
        "gold/cdn_health_hourly:no_pii", "gold/daily_dimension_stats:no_pii",
        "gold/daily_site_metrics:no_pii", "gold/path_latency_daily:no_pii",
        "gold/funnel_daily:no_pii", "gold/page_engagement_daily:no_pii",
        "gold/page_transitions_daily:no_pii", "gold/page_views:no_pii", "gold/page_views:page_view_id_unique",
        "gold/presence_routes:no_pii", "gold/presence_snapshots:no_pii", "gold/sessions:no_pii",
        "gold/sessions:session_id_unique", "gold/web_vitals_daily:no_pii",
        *(f"silver/{t}:{c}" for t, key in (("requests", "request_id"), ("events", "event_id"))
          for c in ("no_pii", "quarantine_rate", "reconciles", "volume_drop", f"{key}_unique")),
    ])
    jobs = {j.name for j in defs.resolve_all_job_defs()} - {"__ASSET_JOB"}
    assert jobs == {"ingest_landing", "build_gold", "daily_gold_and_report", "retention_job", "verify_job"}
    assert [s.name for s in defs.schedules] == ["daily_schedule", "retention_schedule"]
    assert [s.name for s in defs.sensors] == ["landing_sensor"]
    # The lookbacks are in the dependency graph: sessions of D read silver D-1 .. D+2.
    sessions = defs.resolve_assets_def(dg.AssetKey(["gold", "sessions"]))
    for silver in (REQUESTS, dg.AssetKey(["silver", "events"])):
        mapping = sessions.get_partition_mapping(silver)
        assert (mapping.start_offset, mapping.end_offset) == (-1, 2)
    # Marts that count sessions read the gold sessions of their day.
    metrics = defs.resolve_assets_def(dg.AssetKey(["gold", "daily_site_metrics"]))
    assert dg.AssetKey(["gold", "sessions"]) in metrics.dependency_keys


def test_a_day_materialises_through_dagster_with_every_check_passing(small_lake):
    root, _ = small_lake
    d = build_defs(resources(root))
    instance = dg.DagsterInstance.ephemeral()
    ingest_run = d.resolve_job_def("ingest_landing").execute_in_process(instance=instance, partition_key=DAY)
    assert ingest_run.success
    meta = ingest_run.asset_materializations_for_node("silver__requests")[0].metadata
    assert meta["rows_written"].value == silver_count(root) > 0
    assert meta["lines"].value == (meta["rows_written"].value + meta["duplicates"].value
                                   + meta["rows_quarantined"].value)
    # Where the run's time went, stage by stage, in the order a line meets them.
    stages = [row.split(" | ")[0].strip("| ") for row in meta["time_by_stage"].value.splitlines()[2:]]
    assert stages[:3] == ["read + gunzip", "split lines", "parse fields"] and stages[-1] == "merge: de-duplicate + write"
    events = ingest_run.asset_materializations_for_node("silver__events")[0].metadata
    beacon_views = duckdb.sql(f"select count(*) from read_parquet('{root}/silver/events/*/*/*.parquet') "
                              "where event_type = 'page_view'").fetchall()[0][0]
    assert events["rows_written"].value > beacon_views > 0

    gold_run = d.resolve_job_def("build_gold").execute_in_process(instance=instance, partition_key=DAY)
    assert gold_run.success
    evaluations = gold_run.get_asset_check_evaluations()
    assert len(evaluations) == 14 and all(e.passed for e in evaluations)
    # Figures the UI shows equal an independent count over silver.
    pv = next(m for m in gold_run.get_asset_materialization_events()
              if m.asset_key == dg.AssetKey(["gold", "page_views"]))
    rows = pv.event_specific_data.materialization.metadata["rows_written"].value
    # The beacon site's page views come from its beacon, the other site's from its logs.
    assert rows == beacon_views + silver_count(root, f"is_page_view and dt = date '{DAY}' "
                                                     "and site <> 'www.example.com'")
    # The ingest run's own checks passed too, and the partition is recorded as materialised.
    assert all(e.passed for e in ingest_run.get_asset_check_evaluations())
    assert instance.get_materialized_partitions(dg.AssetKey(["gold", "sessions"])) == {DAY}



def test_a_backlog_ingested_in_waves_logs_each_wave_in_the_run(small_lake, monkeypatch):
    root, _ = small_lake
    landing = sum(p.stat().st_size for p in (root / "landing").rglob("*") if p.is_file())
    monkeypatch.setenv("FOOTFALL_INGEST_WAVE_BYTES", str(landing // 8))
    instance = dg.DagsterInstance.ephemeral()
    run = build_defs(resources(root)).resolve_job_def("ingest_landing").execute_in_process(
        instance=instance, partition_key=DAY)
    assert run.success
    said = [e.user_message for e in instance.all_logs(run.run_id) if "wave" in (e.user_message or "")]
    requests = [m for m in said if m.startswith("requests: ")]
    assert len(requests) >= 2 and requests[-1].startswith(f"requests: wave {len(requests)} of {len(requests)} ")
    meta = run.asset_materializations_for_node("silver__requests")[0].metadata
    assert meta["rows_written"].value == silver_count(root) > 0

def test_a_damaged_hour_fails_the_run_with_the_way_out_which_the_launchpad_can_take(small_lake, tmp_path):
    """An hour partition damaged outside Footfall, one of whose objects has left landing:
    the ingest run fails naming the file and the run config that accepts the loss, a gold
    build over it says how to repair it, and a run with that config rebuilds the hour."""
    generated, _ = small_lake
    root, gone, _ = _damaged_lake(generated, tmp_path / "damaged", gone=0)
    job = build_defs(resources(root)).resolve_job_def("ingest_landing")
    failed = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), partition_key=DAY,
                                    raise_on_error=False)
    assert not failed.success
    error = next(e for e in failed.all_events if e.is_step_failure).step_failure_data
    assert f"{root / HOUR} cannot be read" in error.user_failure_data.description
    assert f"run config rebuild: [{HOUR}]" in error.user_failure_data.description

    # A gold build that reads the damaged hour fails saying which file and how to repair it.
    gold = build_defs(resources(root)).resolve_implicit_global_asset_job_def().execute_in_process(
        partition_key=DAY, raise_on_error=False, asset_selection=[dg.AssetKey(["gold", "page_views"])])
    assert not gold.success
    error = next(e for e in gold.all_events if e.is_step_failure).step_failure_data
    assert f"{root / HOUR} cannot be read" in error.user_failure_data.description
    assert "footfall ingest --rebuild silver/requests/dt=2026-11-02/hour=13" in error.user_failure_data.description

    instance = dg.DagsterInstance.ephemeral()
    run = job.execute_in_process(instance=instance, partition_key=DAY, run_config={
        "ops": {"silver__requests": {"config": {"rebuild": [HOUR]}}}})
    assert run.success
    meta = run.asset_materializations_for_node("silver__requests")[0].metadata
    assert meta["partitions_rebuilt"].value == HOUR
    warned = [e.user_message for e in instance.all_logs(run.run_id) if HOUR in (e.user_message or "")]
    assert any("rebuilt from" in m and "1 object(s) gone from landing" in m for m in warned)
    without = _copy_landing(generated, tmp_path / "without",
                            [p for p in (generated / "landing").rglob("*.gz") if p.name != gone.name])
    ingest(ingest_settings(without), KEY)
    assert pl.read_parquet(root / HOUR).equals(pl.read_parquet(without / HOUR))


def test_the_checks_of_a_days_run_look_at_that_day_and_warn_of_a_drop_in_volume(tmp_path):
    """A run for one day checks that day's silver only (not the whole lake), and warns when
    the day has fewer than half the rows of the day before: here most of its landing is
    missing, as when a delivery stream stalls."""
    from pipelines.generate import GenerateOptions, generate
    from pipelines.storage import Storage

    root = tmp_path / "lake"
    generate(Storage(str(root)), GenerateOptions(start=date(2026, 11, 1), days=2, visitors=300, seed=5))
    for path in (root / "landing").rglob("*"):
        # Of the second day, only what arrived in its first three hours stays.
        if path.is_file() and ("/2026/11/02/" in str(path) or "2026-11-02-" in path.name) \
                and not re.search(r"/2026/11/02/0[0-2]/|2026-11-02-0[0-2]", str(path)):
            path.unlink()
    run = build_defs(resources(root)).resolve_job_def("ingest_landing").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key=DAY)
    assert run.success  # a WARN check does not fail the run
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in run.get_asset_check_evaluations()}

    now, before = (silver_count(root, f"dt = date '{d}'") for d in (DAY, "2026-11-01"))
    assert 0 < now < 0.5 * before
    drop = checks[("silver/requests", "volume_drop")]
    assert not drop.passed and drop.severity == dg.AssetCheckSeverity.WARN
    assert drop.metadata["days_checked"].value == 1
    assert drop.metadata[DAY].value == f"{now:,} rows vs {before:,} the day before"
    # The key check read the run's day: its files, not the day before's too.
    day_files = len(list((root / f"silver/requests/dt={DAY}").rglob("*.parquet")))
    assert checks[("silver/requests", "request_id_unique")].metadata["files"].value == day_files
    assert len(list((root / "silver/requests").rglob("*.parquet"))) > day_files


def test_the_report_of_a_day_whose_gold_is_not_built_fails_instead_of_saying_no_data(small_lake):
    root, _ = small_lake
    ingest(ingest_settings(root), KEY)
    job = build_defs(resources(root)).resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(partition_key=DAY, raise_on_error=False,
                                    asset_selection=[dg.AssetKey(["reports", "daily_report"])])
    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure).step_failure_data.error
    assert f"gold daily_site_metrics for {DAY} is not built yet, though silver has data" in failure.message
    assert not (root / "reports").exists()


def test_pii_in_silver_fails_the_blocking_check_and_stops_gold(small_lake):
    root, _ = small_lake
    ingest(ingest_settings(root), KEY)
    # A bug upstream leaks a client IP and a user agent into silver.
    part = next((root / "silver/requests").rglob("data.parquet"))
    frame = pl.read_parquet(part)
    frame = frame.with_columns(pl.lit("198.51.100.23").alias("query"),
                               pl.lit("Mozilla/5.0 (X11; Linux x86_64)").alias("referrer_path"))
    frame.write_parquet(part)
    d = build_defs(resources(root))
    job = d.resolve_implicit_global_asset_job_def()
    result = job.execute_in_process(partition_key=DAY, raise_on_error=False,
                                    asset_selection=[REQUESTS, dg.AssetKey(["gold", "sessions"])])
    failed = {e.check_name: e for e in result.get_asset_check_evaluations() if not e.passed}
    assert set(failed) == {"no_pii"} and all(e.asset_key == REQUESTS for e in failed.values())
    found = failed["no_pii"].metadata
    assert found["query:ipv4"].value == frame.height and found["referrer_path:user_agent"].value == frame.height
    materialized = {m.asset_key for m in result.get_asset_materialization_events()}
    assert dg.AssetKey(["gold", "sessions"]) not in materialized
    assert not (root / "gold/sessions").exists()


def test_gold_plan_rebuilds_exactly_the_stale_days():
    today = date(2026, 11, 22)
    # Live data for today: page views and presence rebuild today only; sessions (and the
    # daily figures made of them) also the two days before, whose sessions may run into
    # today; funnels the four days before (window plus their sessions).
    plan = {tuple(sorted(names)): (s.isoformat(), e.isoformat()) for names, s, e in gold_plan({today}, today)}
    assert plan == {
        ("daily_dimension_stats", "daily_site_metrics", "page_engagement_daily", "page_transitions_daily",
         "sessions"): ("2026-11-20", "2026-11-22"),
        ("cdn_health_hourly", "page_views", "path_latency_daily", "presence_routes",
         "presence_snapshots", "web_vitals_daily"): ("2026-11-22", "2026-11-22"),
        ("funnel_daily",): ("2026-11-18", "2026-11-22"),
    }
    # A late object for the 10th: the MAU of every later day (up to today), presence of
    # the 10th and of the 11th (whose first minutes look back into the 10th).
    late = {tuple(sorted(names)): (s.isoformat(), e.isoformat())
            for names, s, e in gold_plan({date(2026, 11, 10)}, today)}
    assert late[("daily_site_metrics",)] == ("2026-11-08", "2026-11-22")
    assert late[("presence_routes", "presence_snapshots")] == ("2026-11-10", "2026-11-11")
    assert late[("cdn_health_hourly", "page_views", "path_latency_daily", "web_vitals_daily")] \
        == ("2026-11-10", "2026-11-10")


def _write_rtl(root: Path, when: datetime, request_id: str, arrived: datetime) -> None:
    """One real-time log record (the generator's first line, retimed) in a Firehose object."""
    src = next((root / "landing/rtl").rglob("*.gz"))
    fields = gzip.decompress(src.read_bytes()).split(b"\n")[0].split(b"\t")
    fields[0] = f"{when.timestamp():.3f}".encode()
    fields[12] = request_id.encode()
    key = root / f"landing/rtl/{arrived:%Y/%m/%d/%H}/footfall-rtl-1-{arrived:%Y-%m-%d-%H-%M-%S}-{request_id}.gz"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_bytes(gzip.compress(b"\t".join(fields) + b"\n"))


def _write_standard(root: Path, when: datetime, request_id: str) -> None:
    """One standard log record (the generator's first, retimed) in a file of its hour."""
    src = next((root / "landing/standard").rglob("*.gz"))
    version, names, line = gzip.decompress(src.read_bytes()).split(b"\n")[:3]
    fields = line.split(b"\t")
    position = names.split()[1:].index(b"x-edge-request-id")
    fields[:2] = f"{when:%Y-%m-%d}".encode(), f"{when:%H:%M:%S}".encode()
    fields[position] = request_id.encode()
    dist = src.name.split(".")[0]
    key = root / f"landing/standard/{dist}.{when:%Y-%m-%d-%H}.{request_id}.gz"
    key.write_bytes(gzip.compress(b"\n".join([version, names, b"\t".join(fields)]) + b"\n"))


def _tick(root: Path, instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    context = dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources(root))
    return landing_sensor(context)


def _sensor_at(monkeypatch, now: datetime) -> None:
    monkeypatch.setattr("dagster_project.silver.sensors.datetime",
                        type("Now", (), {"now": staticmethod(lambda tz=None: now)}))


def _gold_days(result: dg.SensorResult) -> dict[str, set[str]]:
    """The gold days each mart is to be rebuilt for, over all the gold runs requested."""
    requested: dict[str, set[str]] = {}
    for r in result.run_requests:
        assert r.job_name == "build_gold"
        start = date.fromisoformat(r.tags["dagster/asset_partition_range_start"])
        end = date.fromisoformat(r.tags["dagster/asset_partition_range_end"])
        for key in r.asset_selection:
            requested.setdefault(key.path[1], set()).update(d.isoformat() for d in _days(start, end))
    return requested


def test_the_landing_sensor_requests_ingest_then_the_gold_days_it_touched(small_lake, monkeypatch):
    root, _ = small_lake
    _sensor_at(monkeypatch, datetime(2026, 11, 5, 12, tzinfo=UTC))
    monkeypatch.setenv("FOOTFALL_LATE_LOOKBACK_HOURS", "96")  # the 2nd ended 84 h before "now"
    instance = dg.DagsterInstance.ephemeral()
    ingest(ingest_settings(root), KEY, sources=ALL_SOURCES)  # before the sensor was switched on

    first = _tick(root, instance, None)
    assert first.run_requests == []  # nothing new; the cursor starts at the current ledger
    cursor = first.cursor

    # A new object for today and a late one (arriving now) with a record of the 2nd.
    _write_rtl(root, datetime(2026, 11, 5, 11, 58, tzinfo=UTC), "NEW-1", datetime(2026, 11, 5, 12, tzinfo=UTC))
    _write_rtl(root, datetime(2026, 11, 2, 9, 30, tzinfo=UTC), "LATE-1", datetime(2026, 11, 5, 12, tzinfo=UTC))
    second = _tick(root, instance, cursor)
    [req] = second.run_requests
    assert req.job_name == "ingest_landing" and req.partition_key == "2026-11-05"
    assert req.tags["footfall/landing_objects"] == "2"
    assert _tick(root, instance, second.cursor).run_requests[0].run_key == req.run_key  # same key: no second run

    summary = ingest(ingest_settings(root), KEY, sources=ALL_SOURCES)  # the requested run
    assert summary.rows == 2
    third = _tick(root, instance, second.cursor)
    requested = _gold_days(third)
    # Changed silver days: the 2nd (late) and the 5th (new, "today"). Worked out by hand from
    # each model's lookback/lookahead: page views only those days; presence also the day
    # after each (its first minutes look back), but not the future; sessions and the daily
    # figures two days before each (sessions that may run into them) through today.
    assert requested["page_views"] == {"2026-11-02", "2026-11-05"}
    assert requested["presence_snapshots"] == {"2026-11-02", "2026-11-03", "2026-11-05"}
    span = {f"2026-{d}" for d in ("10-31", "11-01", "11-02", "11-03", "11-04", "11-05")}
    assert requested["sessions"] == span and requested["daily_site_metrics"] == span
    assert json.loads(third.cursor)["ledger"] > json.loads(second.cursor)["ledger"]
    assert _tick(root, instance, third.cursor).run_requests == []  # each ingest followed once


def test_a_day_older_than_the_late_lookback_keeps_its_gold(small_lake, monkeypatch):
    """With late.lookback_hours = 48, a record of the 2nd arriving on the 5th at noon (the
    2nd ended 84 h before) is ingested into silver, but only the new day's gold is rebuilt."""
    root, _ = small_lake
    _sensor_at(monkeypatch, datetime(2026, 11, 5, 12, tzinfo=UTC))
    instance = dg.DagsterInstance.ephemeral()
    ingest(ingest_settings(root), KEY, sources=ALL_SOURCES)
    cursor = _tick(root, instance, None).cursor
    _write_rtl(root, datetime(2026, 11, 5, 11, 58, tzinfo=UTC), "NEW-1", datetime(2026, 11, 5, 12, tzinfo=UTC))
    _write_rtl(root, datetime(2026, 11, 2, 9, 30, tzinfo=UTC), "LATE-1", datetime(2026, 11, 5, 12, tzinfo=UTC))
    assert ingest(ingest_settings(root), KEY, sources=ALL_SOURCES).rows == 2
    assert silver_count(root, "request_id = 'LATE-1'") == 1  # nothing lost: the row is in silver
    requested = _gold_days(_tick(root, instance, cursor))
    # Only the 5th changed as far as gold goes: sessions and daily figures of the two days
    # before it (sessions that may run into it) through today, the rest that day alone.
    assert requested["page_views"] == requested["presence_snapshots"] == {"2026-11-05"}
    assert requested["sessions"] == requested["daily_site_metrics"] == {"2026-11-03", "2026-11-04", "2026-11-05"}


def test_between_full_listings_the_sensor_and_its_run_list_only_the_recent_firehose_hours(small_lake, monkeypatch):
    """Between full listings (`dagster.full_listing_minutes`, 60) a tick lists the Firehose
    sources from two hours before the current one, and so does the ingest run it starts: an
    object copied into an older hour waits for the next full listing, which finds it."""
    root, _ = small_lake
    noon = datetime(2026, 11, 5, 12, 10, tzinfo=UTC)
    _sensor_at(monkeypatch, noon)
    monkeypatch.setenv("FOOTFALL_LATE_LOOKBACK_HOURS", "96")
    instance = dg.DagsterInstance.ephemeral()
    ingest(ingest_settings(root), KEY, sources=ALL_SOURCES)
    first = _tick(root, instance, None)  # a full listing: nothing new
    assert first.run_requests == []

    _write_rtl(root, datetime(2026, 11, 5, 11, 58, tzinfo=UTC), "NEW-1", datetime(2026, 11, 5, 12, tzinfo=UTC))
    _write_rtl(root, datetime(2026, 11, 5, 10, 30, tzinfo=UTC), "EDGE-1", datetime(2026, 11, 5, 10, 59, tzinfo=UTC))
    _write_rtl(root, datetime(2026, 11, 3, 9, 30, tzinfo=UTC), "OLD-1", datetime(2026, 11, 3, 9, 45, tzinfo=UTC))
    _write_standard(root, datetime(2026, 11, 5, 11, 20, tzinfo=UTC), "STD-NEW")
    _write_standard(root, datetime(2026, 11, 3, 8, 5, tzinfo=UTC), "STD-OLD")  # delivered late
    second = _tick(root, instance, first.cursor)
    [req] = second.run_requests
    assert req.tags["footfall/landing_objects"] == "3"  # the 12:00, 11:00 and 10:00 hours, not the 3rd's
    assert req.tags["footfall/landing_since"] == "2026-11-05T10:00:00+00:00"
    run = build_defs(resources(root)).resolve_job_def("ingest_landing").execute_in_process(
        instance=instance, partition_key=req.partition_key, tags=req.tags)
    assert run.success
    assert silver_count(root, "request_id in ('NEW-1', 'EDGE-1')") == 2
    assert silver_count(root, "request_id = 'STD-NEW'") == 1
    # The run listed from 10:00 too.
    assert silver_count(root, "request_id = 'OLD-1'") == 0
    assert silver_count(root, "request_id = 'STD-OLD'") == 0

    def ingest_requests(at: datetime, cursor: str | None) -> tuple[list[dg.RunRequest], str | None]:
        _sensor_at(monkeypatch, at)
        result = _tick(root, instance, cursor)
        return [r for r in result.run_requests if r.job_name == "ingest_landing"], result.cursor

    later, cursor = ingest_requests(noon + timedelta(minutes=59), second.cursor)
    assert later == []  # 59 minutes after the full listing: still only the recent hours
    monkeypatch.setenv("FOOTFALL_DAGSTER_FULL_LISTING_MINUTES", "0")  # every tick lists all
    [now_full], _ = ingest_requests(noon + timedelta(minutes=59), cursor)
    monkeypatch.delenv("FOOTFALL_DAGSTER_FULL_LISTING_MINUTES")
    [hourly], _ = ingest_requests(noon + timedelta(minutes=60), cursor)
    for r in (now_full, hourly):
        assert r.tags["footfall/landing_objects"] == "2" and "footfall/landing_since" not in r.tags
    assert ingest(ingest_settings(root), KEY, sources=ALL_SOURCES).rows == 2  # OLD-1, STD-OLD


def _days(start: date, end: date) -> list[date]:
    from pipelines.models import Window

    return Window(start, end).days()


def test_the_schedule_builds_yesterday_at_two():
    from dagster_project.gold.schedules import daily_schedule

    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 2, 0, tzinfo=UTC))
    request = daily_schedule(context)
    assert request.partition_key == "2026-11-21"
    assert daily_schedule.cron_schedule == "0 2 * * *" and daily_schedule.execution_timezone == "UTC"
    assert daily_schedule.job_name == "daily_gold_and_report"


def test_no_change_no_gold():
    assert gold_plan(set(), date(2026, 11, 22)) == []
