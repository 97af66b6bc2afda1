"""The command line as a user runs it: real processes, exit codes, one-line errors."""

from __future__ import annotations

import os
import subprocess
import sys

import polars as pl

from pipelines import ledger
from pipelines.storage import Storage


def run(*args: str, env: dict | None = None, cwd=None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if k != "FOOTFALL_HASH_KEY"}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=600)


def test_generate_then_ingest_then_nothing_new(tmp_path):
    lake = str(tmp_path / "lake")
    gen = run("generate", "--lake", lake, "--days", "1", "--visitors", "150", "--start", "2026-11-01")
    assert gen.returncode == 0, gen.stderr
    key = {"FOOTFALL_HASH_KEY": "k" * 32}
    first = run("ingest", "--lake", lake, env=key)
    assert first.returncode == 0, first.stderr
    assert "every object reconciles" in first.stdout
    rows = pl.read_parquet(f"{lake}/silver/requests/*/*/*.parquet", hive_partitioning=False)
    assert rows.height > 1000 and rows["dt"].cast(pl.String).unique().to_list() == ["2026-11-01"]
    second = run("ingest", "--lake", lake, env=key)
    landed = sum(1 for p in (tmp_path / "lake/landing").rglob("*") if p.is_file())
    assert second.returncode == 0 and f"nothing new in landing: all {landed:,} objects" in second.stdout
    early = run("query", "--lake", lake, "select count(*) from sessions")  # not built yet: say what to run
    assert early.returncode == 2 and early.stderr.strip().endswith(
        "(the lake has no sessions yet: footfall build --date DAY writes them from silver)")
    built = run("build", "--lake", lake, "--date", "2026-11-01")
    assert built.returncode == 0, built.stderr
    views = pl.read_parquet(f"{lake}/gold/page_views/dt=2026-11-01/data.parquet")
    # The beacon-instrumented site counts its beacon page views, the other site its
    # logged ones (page_views.source = auto): each source's own count in silver.
    events = pl.read_parquet(f"{lake}/silver/events/*/*/*.parquet", hive_partitioning=False)
    beacon_views = events.filter(pl.col("event_type") == "page_view")
    assert set(beacon_views["site"]) == {"www.example.com"}
    by_source = dict(views.group_by("source").len().iter_rows())
    assert by_source["beacon"] == beacon_views.height > 0
    logged = rows.filter(pl.col("site") != "www.example.com")
    assert by_source["rtl"] == logged["is_page_view"].sum() > 0
    backwards = run("build", "--lake", lake, "--date", "2026-11-02", "--through", "2026-11-01")
    assert backwards.returncode == 2 and "is before" in backwards.stderr
    # The catalog answers at once; footfall query gives the same figure as the files.
    import duckdb

    with duckdb.connect(f"{lake}/catalog.duckdb", read_only=True) as con:
        assert con.execute("select count(*) from page_views").fetchone()[0] == views.height
    csv = run("query", "--lake", lake, "--csv", "select count(*) as n from sessions")
    sessions = pl.read_parquet(f"{lake}/gold/sessions/dt=2026-11-01/data.parquet")
    assert csv.returncode == 0 and csv.stdout.splitlines() == ["n", str(sessions.height)]
    # A query is given the tables it names; one whose tables DuckDB's parser cannot tell
    # alone (the join's column comes from a table it does not know yet) gets them all.
    joined = run("query", "--lake", lake, "--csv", "with s as (select * from sessions) "
                 "select count(*) as n from s join page_views p using (visitor_id)")
    pairs = sessions.join(views, on="visitor_id").height
    assert joined.returncode == 0 and joined.stdout.splitlines() == ["n", str(pairs)] and pairs > 0
    bad = run("query", "--lake", lake, "select nope from sessions")
    assert bad.returncode == 2 and "query failed" in bad.stderr and "Traceback" not in bad.stderr
    # An error met while the query runs (not while DuckDB plans it) is as plain.
    cast = run("query", "--lake", lake, "select cast(path as integer) from page_views")
    assert cast.returncode == 2 and "Traceback" not in cast.stderr
    assert "query failed: Conversion Error: Could not convert string '/" in cast.stderr


def test_missing_hash_key_is_a_one_line_error(tmp_path):
    result = run("ingest", "--lake", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "FOOTFALL_HASH_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_impossible_sizes_for_generated_data_are_one_line_errors_and_write_nothing(tmp_path):
    """`--days 0` or `--visitors -3` used to end in a numpy traceback after the lake was made."""
    lake = tmp_path / "lake"
    for command, flag, value, says in [("generate", "--days", "0", "is not a number of days like 7"),
                                       ("generate", "--visitors", "-3", "is not a number of visitors"),
                                       ("generate", "--bots", "-1", "is not a number of bots"),
                                       ("demo", "--days", "two", "is not a number of days like 7"),
                                       ("demo", "--visitors", "0", "is not a number of visitors")]:
        result = run(command, "--lake", str(lake), flag, value)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert f"argument {flag}: '{value}' {says}" in result.stderr
    assert not lake.exists()


def test_a_lake_that_is_not_there_is_named_and_left_uncreated(tmp_path):
    """A typo in --lake is an error naming the path, not an empty lake: no command reports
    "nothing new" or writes empty gold and a no-data report into a new folder."""
    typo = tmp_path / "lkae"
    key = {"FOOTFALL_HASH_KEY": "k" * 32}
    for command in (["ingest"], ["build", "--date", "2026-11-01"], ["report", "--date", "2026-11-01"],
                    ["query", "select 1"], ["export", "sessions", "--date", "2026-11-01"], ["online"]):
        result = run(*command, "--lake", str(typo), env=key)
        assert result.returncode == 2, command
        assert result.stderr == f"error: no lake at {typo}: the directory does not exist; " \
                                "check --lake or lake.root in footfall.toml\n"
    assert not typo.exists()


def test_an_empty_landing_zone_is_told_apart_from_nothing_new(tmp_path):
    (tmp_path / "lake").mkdir()
    result = run("ingest", "--lake", str(tmp_path / "lake"), "--sources", "rtl", "standard",
                 env={"FOOTFALL_HASH_KEY": "k" * 32})
    assert result.returncode == 0
    assert f"landing is empty: no rtl or standard objects under {tmp_path / 'lake'}/landing/" in result.stdout


def test_a_storage_failure_is_one_line_and_loses_nothing(tmp_path):
    """A lake folder in the way of a partition (as a full or read-only disk would be) stops
    the run with the path and what to check; once fixed, the rerun ingests every object."""
    lake = tmp_path / "lake"
    assert run("generate", "--lake", str(lake), "--days", "1", "--visitors", "40",
               "--start", "2026-11-01").returncode == 0
    (lake / "silver").write_text("not a folder")
    key = {"FOOTFALL_HASH_KEY": "k" * 32}
    failed = run("ingest", "--lake", str(lake), env=key)
    message = failed.stderr
    assert failed.returncode == 1 and message.count("\n") == 1 and "Traceback" not in message
    assert message.startswith(f"error: Not a directory: {lake}/silver/")
    assert "FOOTFALL_DEBUG=1" in failed.stderr
    debug = run("ingest", "--lake", str(lake), env={**key, "FOOTFALL_DEBUG": "1"})
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "NotADirectoryError" in debug.stderr
    (lake / "silver").unlink()
    fixed = run("ingest", "--lake", str(lake), env=key)
    landed = sum(1 for p in (lake / "landing").rglob("*") if p.is_file())
    assert fixed.returncode == 0 and "every object reconciles" in fixed.stdout
    entries = ledger.load(Storage(str(lake)))
    assert len(entries) == landed and all(e.reconciles for e in entries.values())


def test_a_build_under_a_memory_limit_gives_the_same_gold_or_says_what_to_raise(tmp_path):
    lake = tmp_path / "lake"
    assert run("generate", "--lake", str(lake), "--days", "1", "--visitors", "60",
               "--start", "2026-11-01").returncode == 0
    assert run("ingest", "--lake", str(lake), env={"FOOTFALL_HASH_KEY": "k" * 32}).returncode == 0
    build = ("build", "--lake", str(lake), "--date", "2026-11-01")
    assert run(*build).returncode == 0
    unlimited = {p.relative_to(lake): p.read_bytes() for p in (lake / "gold").rglob("*.parquet")}
    assert run(*build, env={"FOOTFALL_BUILD_MEMORY_LIMIT": "256MB"}).returncode == 0
    assert {p.relative_to(lake): p.read_bytes() for p in (lake / "gold").rglob("*.parquet")} == unlimited
    starved = run(*build, env={"FOOTFALL_BUILD_MEMORY_LIMIT": "1KB"})
    assert starved.returncode == 2 and "Traceback" not in starved.stderr
    assert starved.stderr.strip().startswith("error: the build ran out of memory (DuckDB's limit: 1KB): "
                                             "raise build.memory_limit, or lower build.batch_bytes")


def test_bad_config_and_bad_date_are_reported_plainly(tmp_path):
    cfg = tmp_path / "footfall.toml"
    cfg.write_text("[sessions]\ntimeout_minutes = 'x'\n")
    bad = run("ingest", "--config", str(cfg), env={"FOOTFALL_HASH_KEY": "k" * 32})
    assert bad.returncode == 2 and "sessions.timeout_minutes" in bad.stderr
    assert "Traceback" not in bad.stderr
    date = run("generate", "--start", "21/11/2026", "--lake", str(tmp_path))
    assert date.returncode == 2 and "is not a date" in date.stderr


def test_demo_keeps_its_key_outside_the_lake(tmp_path):
    result = run("demo", "--lake", str(tmp_path / "lake"), "--days", "1", "--visitors", "100",
                 cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    key_file = tmp_path / ".local/demo-hash-key"
    assert key_file.exists()
    secret = key_file.read_text().strip()
    assert not [p for p in (tmp_path / "lake").rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]
    assert list((tmp_path / "lake/silver/requests").glob("dt=*/hour=*/data.parquet"))


def test_build_on_athena_needs_an_s3_lake(tmp_path):
    cfg = tmp_path / "footfall.toml"
    cfg.write_text('engine = "athena"\n')
    athena = run("build", "--config", str(cfg), "--lake", str(tmp_path), "--date", "2026-11-01")
    assert athena.returncode == 2 and "s3://" in athena.stderr and "Traceback" not in athena.stderr


def test_the_daily_path_starts_without_importing_pandas(small_lake):
    """pandas costs about a second to import and nothing on the daily path needs it:
    ingest (twice, so the ledger is read back), build and report run without it."""
    root, _ = small_lake
    script = f"""
import sys
from datetime import date
from pipelines.config import load_settings
from pipelines.ingest import ingest, ALL_SOURCES
from pipelines.models import Window, build
from pipelines.report import write_report
settings = load_settings(lake={str(root)!r})
first = ingest(settings, b"k" * 32, sources=ALL_SOURCES)
ingest(settings, b"k" * 32, sources=ALL_SOURCES)
build(settings, Window(date(2026, 11, 2), date(2026, 11, 2)))
write_report(settings, date(2026, 11, 2))
print(first.quarantined, "pandas" in sys.modules)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    quarantined, pandas_loaded = done.stdout.split()
    assert int(quarantined) > 0  # the rejects path ran too
    assert pandas_loaded == "False"


def test_online_answers_for_now_after_a_build_of_today(tmp_path):
    """Today's presence ends at the build's time, so `online` shows the visitor who was
    active a minute ago, at the current minute, not a zero at 23:59."""
    import re
    from datetime import UTC, datetime, timedelta

    from tests.test_models import write_silver
    from tests.test_sessions import pv

    started = datetime.now(UTC).replace(second=0, microsecond=0)
    write_silver(tmp_path, [pv("a", started - timedelta(minutes=1), path="/pricing")])
    assert run("build", "--lake", str(tmp_path), "--date", started.date().isoformat()).returncode == 0
    shown = run("online", "--lake", str(tmp_path))
    assert shown.returncode == 0, shown.stderr
    when = re.search(r"^www\.example\.com: 1 online at (\S+ \S+) UTC \(peak that day: 1\), just now$",
                     shown.stdout, re.M)
    assert when, shown.stdout
    at = datetime.strptime(when[1], "%Y-%m-%d %H:%M").replace(tzinfo=UTC)
    assert started <= at <= datetime.now(UTC) + timedelta(minutes=1)  # the grid instant holding "now"
    assert re.search(r"^\s+1\s+/pricing$", shown.stdout, re.M)


def test_snapshot_ages_read_as_people_say_them():
    from datetime import timedelta

    from pipelines.cli import age

    assert age(timedelta(seconds=90)) == "just now"
    assert age(timedelta(minutes=7, seconds=59)) == "7 min ago"
    assert age(timedelta(hours=5, minutes=3)) == "5 h 3 min ago"
    assert age(timedelta(days=3, hours=1)) == "3 days ago"


def test_ingest_recent_takes_the_recent_hours_and_leaves_older_ones_for_a_full_run(tmp_path):
    """`ingest --recent 2` (a cheap run for cron every few minutes) takes an object
    Firehose delivered this hour and leaves one delivered into a day-old hour, which the
    next plain ingest takes."""
    import shutil
    from datetime import UTC, datetime, timedelta

    lake = tmp_path / "lake"
    assert run("generate", "--lake", str(lake), "--days", "1", "--visitors", "100",
               "--start", "2026-11-01", "--sources", "rtl").returncode == 0
    key = {"FOOTFALL_HASH_KEY": "k" * 32, "COLUMNS": "1000"}
    assert run("ingest", "--lake", str(lake), env=key).returncode == 0
    src = sorted((lake / "landing/rtl").rglob("*.gz"))[0]
    now = datetime.now(UTC)
    copies = {}
    for name, arrived in (("recent", now), ("day-old", now - timedelta(hours=26))):
        copies[name] = lake / f"landing/rtl/{arrived:%Y/%m/%d/%H}/footfall-rtl-1-{arrived:%Y-%m-%d-%H}-{name}.gz"
        copies[name].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, copies[name])  # the same records again: duplicates, one object each

    def taken() -> set[str]:
        return {k.rsplit("-", 1)[-1] for k in ledger.load(Storage(str(lake))) if k.endswith(("recent.gz", "old.gz"))}

    recent = run("ingest", "--lake", str(lake), "--recent", "2", env=key)
    assert recent.returncode == 0, recent.stderr
    assert any(f"listed landing from {now - timedelta(hours=h):%Y-%m-%d %H}:00 UTC on (--recent 2)"
               in recent.stdout for h in (2, 1))  # 1: the hour turned meanwhile
    assert taken() == {"recent.gz"}
    again = run("ingest", "--lake", str(lake), "--recent", "2", env=key)
    assert "nothing new in landing: the 1 object is already in the ledger" in again.stdout
    full = run("ingest", "--lake", str(lake), env=key)
    assert full.returncode == 0 and taken() == {"recent.gz", "old.gz"}
    bad = run("ingest", "--lake", str(lake), "--recent", "two", env=key)
    assert bad.returncode == 2 and "'two' is not a whole number of hours" in bad.stderr
