"""Retention deletes exactly what is past its age (gold only when configured) and logs it;
erasure removes one visitor from silver and gold, rebuilds what counted them, and logs it
without the id."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import hmac
import json
import threading
from datetime import date

import duckdb
import pytest

from pipelines.cli import main
from pipelines.config import Lake, Retention, Settings
from pipelines.erasure import erase
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.models import Window, build
from pipelines.retention import apply_retention
from pipelines.storage import Storage
from tests.conftest import KEY

DAY = date(2026, 11, 2)


@pytest.fixture
def built(small_lake):
    root, stats = small_lake
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY, sources=ALL_SOURCES)
    build(settings, Window(DAY, DAY))
    return root, settings


def count(root, pattern: str, where: str = "true") -> int:
    return duckdb.sql(f"select count(*) from read_parquet('{root}/{pattern}', hive_partitioning = false, "
                      f"union_by_name = true) where {where}").fetchall()[0][0]


def files(root, zone: str) -> set[str]:
    return {str(p.relative_to(root)) for p in (root / zone).rglob("*") if p.is_file()}


def test_retention_deletes_by_age_and_never_gold_unless_configured(built, capsys):
    root, settings = built
    # An object that landed after the last ingest: retention deletes it too, and says so.
    late = root / "landing/rtl/2026/11/02/23/footfall-rtl-1-2026-11-02-23-58-00-never.gz"
    late.write_bytes(next((root / "landing/rtl").rglob("*.gz")).read_bytes())
    landing, quarantine, silver, gold = (files(root, z) for z in ("landing", "quarantine", "silver", "gold"))
    # 2026-11-10: landing and quarantine (7 days) expire — records of 2026-11-02 and the
    # late objects that landed on the 3rd are kept until the 10th (3rd + 7 = 10th).
    dry = apply_retention(settings, today=date(2026, 11, 10), dry_run=True)
    assert set(dry.deleted) == {k for k in landing | quarantine if "2026/11/02" in k or "2026-11-02" in k}
    assert files(root, "landing") == landing  # a dry run deletes nothing
    assert dry.uningested == [str(late.relative_to(root))]
    assert main(["retention", "--lake", str(root), "--dry-run"]) == 0
    assert "1 landing object(s) would be deleted before ingest took them" in " ".join(capsys.readouterr().err.split())
    done = apply_retention(settings, today=date(2026, 11, 10))
    assert done.deleted == dry.deleted and files(root, "silver") == silver and files(root, "gold") == gold
    [log] = (root / "state/retention").glob("*.json")
    assert json.loads(log.read_text())["counts"] == done.counts()
    assert json.loads(log.read_text())["uningested"] == dry.uningested
    # A year later silver goes too; gold stays (retention.gold = 0 keeps it forever)...
    apply_retention(settings, today=date(2027, 12, 31))
    assert files(root, "silver") == set() and files(root, "gold") == gold and files(root, "landing") == set()
    # ...unless configured.
    aged = dataclasses.replace(settings, retention=Retention(gold=30))
    apply_retention(aged, today=date(2026, 12, 15))
    assert files(root, "gold") == set()


def raw_visitor(root) -> str:
    """A first-party id from a beacon landing record (what the cookie holds)."""
    for path in sorted((root / "landing/beacon").rglob("*.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("visitor"):
                return record["visitor"]
    raise AssertionError("no visitor id in the beacon landing records")


def assert_visitors_counted_from_silver(root) -> None:
    """The day's visitor count in gold is silver's: on the beacon site every non-bot beacon
    event is activity (page_views.source = auto), so those visitors are counted directly."""
    visitors = duckdb.sql(f"select visitors from read_parquet('{root}/gold/daily_site_metrics/*/*.parquet') "
                          f"where site = 'www.example.com' and dt = date '{DAY}'").fetchall()[0][0]
    assert visitors == duckdb.sql(
        f"select count(distinct visitor_id) from read_parquet('{root}/silver/events/*/*/*.parquet', "
        f"hive_partitioning = false) where site = 'www.example.com' and not is_bot and dt = date '{DAY}'"
    ).fetchall()[0][0]


def test_erasure_removes_one_visitor_everywhere_and_only_them(built, capsys, monkeypatch):
    root, settings = built
    raw = raw_visitor(root)
    vid = hmac.new(KEY, raw.encode(), hashlib.sha256).hexdigest()[:32]  # computed here, independently
    before = {t: count(root, f"silver/{t}/*/*/*.parquet") for t in ("requests", "events")}
    theirs = {t: count(root, f"silver/{t}/*/*/*.parquet", f"visitor_id = '{vid}'") for t in before}
    assert theirs["requests"] > 0 and theirs["events"] > 0
    sessions_before = count(root, "gold/sessions/*/*.parquet")
    their_sessions = count(root, "gold/sessions/*/*.parquet", f"visitor_id = '{vid}'")

    result = erase(settings, KEY, raw_id=raw)
    assert result.rows_removed == theirs and result.remaining == 0
    for t in before:  # exactly their rows left
        assert count(root, f"silver/{t}/*/*/*.parquet") == before[t] - theirs[t]
        assert count(root, f"silver/{t}/*/*/*.parquet", f"visitor_id = '{vid}'") == 0
    for mart in ("page_views", "sessions"):
        assert count(root, f"gold/{mart}/*/*.parquet", f"visitor_id = '{vid}'") == 0
    assert count(root, "gold/sessions/*/*.parquet") == sessions_before - their_sessions
    assert_visitors_counted_from_silver(root)  # rebuilt without them
    log = (root / "state/erasure_log.json").read_text()
    assert raw not in log and vid not in log and json.loads(log)[0]["verified_absent"] is True
    # By hash, through the CLI: nothing is left to remove, and it says so.
    monkeypatch.setenv("FOOTFALL_HASH_KEY", KEY.decode())
    assert main(["erase", "--lake", str(root), "--visitor-id", vid]) == 0
    assert "removed 0 requests, 0 events row(s)" in capsys.readouterr().out


def test_an_erased_visitor_stays_out_when_ingest_takes_landing_again(built, capsys, monkeypatch):
    """Landing keeps raw records for days after an erasure, and ingest takes objects again
    (late, changed, failed, a rebuilt hour; here all of them, the ledger moved aside): the
    erased visitor's rows must not come back, and every object still reconciles."""
    import polars as pl

    from pipelines import ledger
    from pipelines.storage import Storage

    root, settings = built
    raw = raw_visitor(root)
    vid = hmac.new(KEY, raw.encode(), hashlib.sha256).hexdigest()[:32]
    theirs = {t: count(root, f"silver/{t}/*/*/*.parquet", f"visitor_id = '{vid}'") for t in ("requests", "events")}
    assert theirs["requests"] > 0 and theirs["events"] > 0
    per_object = dict(duckdb.sql(
        f"select source_object, count(*) from read_parquet('{root}/silver/*/*/*/*.parquet', hive_partitioning = false, "
        f"union_by_name = true) where visitor_id = '{vid}' group by all").fetchall())
    erase(settings, KEY, raw_id=raw)
    erased_lake = {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "silver").rglob("*.parquet"))}

    # A ledger from before the `erased` column still loads, its objects with none erased.
    path = root / ledger.LEDGER_KEY
    old = pl.read_parquet(path)
    old.drop("erased").write_parquet(path)
    assert all(e.erased == 0 and e.reconciles for e in ledger.load(Storage(str(root))).values())

    path.unlink()  # lost: the next run takes every landing object again
    monkeypatch.setenv("FOOTFALL_HASH_KEY", KEY.decode())
    assert main(["ingest", "--lake", str(root)]) == 0
    assert "row(s) of erased visitors left out of silver" in capsys.readouterr().out
    for t in theirs:
        assert count(root, f"silver/{t}/*/*/*.parquet", f"visitor_id = '{vid}'") == 0
    assert {str(p.relative_to(root)): p.read_bytes()
            for p in sorted((root / "silver").rglob("*.parquet"))} == erased_lake
    entries = ledger.load(Storage(str(root)))
    assert all(e.reconciles for e in entries.values())
    # Every row of theirs was left out (more if some of their lines were duplicates).
    assert sum(e.erased for e in entries.values()) >= sum(theirs.values())
    # Each object holds its rows as before, less exactly its rows of the erased visitor.
    assert {o: e.rows for o, e in entries.items()} == {
        o: n - per_object.get(o, 0) for o, n in zip(old["object"], old["rows"], strict=True)}
    assert {o for o, e in entries.items() if e.erased} >= set(per_object)


def test_erasing_again_repairs_gold_that_a_build_wrote_from_silver_read_before_the_erase(built, capsys, monkeypatch):
    """Gold written from silver read before an erase (by a build from before builds waited
    out erases, or restored from a backup): erasing again finds those days, though silver
    no longer holds the visitor, and rebuilds them."""
    root, settings = built
    vid = hmac.new(KEY, raw_visitor(root).encode(), hashlib.sha256).hexdigest()[:32]
    stale = {p: p.read_bytes() for mart in ("page_views", "sessions")
             for p in sorted((root / f"gold/{mart}").rglob("*.parquet"))}
    assert count(root, "gold/sessions/*/*.parquet", f"visitor_id = '{vid}'") > 0
    assert erase(settings, KEY, visitor_id=vid).remaining == 0
    erased = {t: count(root, f"gold/{t}/*/*.parquet") for t in ("page_views", "sessions")}
    for path, body in stale.items():  # the late build's output lands after the erase
        path.write_bytes(body)
    assert count(root, "gold/sessions/*/*.parquet", f"visitor_id = '{vid}'") > 0

    monkeypatch.setenv("FOOTFALL_HASH_KEY", KEY.decode())
    assert main(["erase", "--lake", str(root), "--visitor-id", vid]) == 0
    said = capsys.readouterr().out
    assert "removed 0 requests, 0 events row(s)" in said and "rows left with this visitor: 0" in said
    for t, n in erased.items():
        assert count(root, f"gold/{t}/*/*.parquet", f"visitor_id = '{vid}'") == 0
        assert count(root, f"gold/{t}/*/*.parquet") == n


def test_a_build_that_read_silver_before_an_erase_builds_again_and_gold_stays_without_the_visitor(
        built, caplog, monkeypatch):
    """An erase runs from start to end while a build holds its first mart, computed from
    silver that still held the visitor, unwritten. The build writes it, sees the erasure
    log changed, and builds again: gold ends without the visitor, without erasing again."""
    root, settings = built
    vid = hmac.new(KEY, raw_visitor(root).encode(), hashlib.sha256).hexdigest()[:32]
    assert count(root, "gold/page_views/*/*.parquet", f"visitor_id = '{vid}'") > 0
    computed, resume = threading.Event(), threading.Event()
    write = Storage.write_parquet

    def held_write(self, key, table, **kw):
        if threading.current_thread().name == "late-build" and key.startswith("gold/") and not computed.is_set():
            computed.set()
            resume.wait(120)
        return write(self, key, table, **kw)

    monkeypatch.setattr(Storage, "write_parquet", held_write)
    failed: list[BaseException] = []

    def late_build() -> None:
        try:
            build(settings, Window(DAY, DAY))
        except BaseException as err:  # noqa: BLE001 - handed to the test's thread
            failed.append(err)

    builder = threading.Thread(target=late_build, name="late-build")
    builder.start()
    assert computed.wait(120), failed
    assert erase(settings, KEY, visitor_id=vid).remaining == 0
    resume.set()
    builder.join(300)
    assert not failed and not builder.is_alive()
    for mart in ("page_views", "sessions"):
        assert count(root, f"gold/{mart}/*/*.parquet", f"visitor_id = '{vid}'") == 0
    assert_visitors_counted_from_silver(root)
    assert "an erase ended while the build of 2026-11-02 ran: building it again" in caplog.text


def test_erase_needs_exactly_one_id(built, capsys, monkeypatch):
    root, _ = built
    monkeypatch.setenv("FOOTFALL_HASH_KEY", KEY.decode())
    assert main(["erase", "--lake", str(root)]) == 2
    assert "give --visitor RAW_ID" in capsys.readouterr().err


HOUR13 = "silver/requests/dt=2026-11-02/hour=13/data.parquet"


def _damage(root, key: str = HOUR13) -> tuple[set[str], bytes]:
    """Cut an hour partition to its first half outside Footfall; returns the objects whose
    rows it held (read before the damage) and the damaged bytes."""
    import polars as pl

    wrote = set(pl.read_parquet(root / key)["source_object"])
    damaged = (root / key).read_bytes()[: (root / key).stat().st_size // 2]
    (root / key).write_bytes(damaged)
    return wrote, damaged


def test_retention_keeps_a_damaged_hours_landing_objects_for_ingest_to_rebuild_it(built, capsys, monkeypatch):
    """Landing is the only source silver can be rebuilt from. A silver hour damaged outside
    Footfall used to be found only by an ingest merging into it, often after retention had
    deleted the objects it came from. Retention now reads back the hours whose objects it
    is about to delete: a damaged one keeps them, the next ingest rebuilds the hour
    byte for byte, and the retention after that deletes them."""
    from pipelines import ledger
    from pipelines.storage import Storage
    from tests.test_ingest import digests

    root, settings = built
    healthy = digests(root)
    wrote, damaged = _damage(root)
    assert len(wrote) >= 10
    landing, before = files(root, "landing"), (root / ledger.LEDGER_KEY).read_bytes()

    dry = apply_retention(settings, today=date(2026, 11, 10), dry_run=True)
    [plan] = dry.damaged
    assert plan.key == HOUR13 and plan.lost == [] and "parquet" in plan.cause.lower()
    assert wrote <= set(dry.kept) == set(plan.taken_again)  # every object is past its age
    assert not set(dry.kept) & set(dry.deleted) and files(root, "landing") == landing
    assert (root / ledger.LEDGER_KEY).read_bytes() == before and (root / HOUR13).read_bytes() == damaged

    # For real, through the CLI (today is past 2026-11-02's seven landing days).
    assert main(["retention", "--lake", str(root)]) == 0
    said = " ".join(capsys.readouterr().err.split())
    assert f"{HOUR13} cannot be read" in said and f"{len(dry.kept)} landing object(s) past their age were kept" in said
    assert "the next footfall ingest rebuilds it" in said
    assert files(root, "landing") == set(dry.kept)  # the rest of the day's landing is gone
    assert not (root / HOUR13).exists()
    [moved] = [p for p in (root / "quarantine/damaged").rglob("*") if p.is_file()]
    assert moved.read_bytes() == damaged  # kept for quarantine's days, not deleted
    assert not set(dry.kept) & set(ledger.load(Storage(str(root))))  # taken off the ledger

    monkeypatch.setenv("FOOTFALL_HASH_KEY", KEY.decode())
    assert main(["ingest", "--lake", str(root)]) == 0
    assert digests(root) == healthy  # every hour as before the damage, hour 13 included
    assert set(ledger.load(Storage(str(root)))) >= set(dry.kept)
    assert main(["retention", "--lake", str(root)]) == 0
    assert files(root, "landing") == set()


def test_retention_of_a_damaged_hour_whose_objects_left_landing_fails_and_names_the_way_out(built):
    """When some objects of the damaged hour have left landing already, a rebuild would lose
    their rows: retention keeps the rest, changes nothing else about the hour, and its
    Dagster run fails (what the UI shows), saying how to restore or accept the loss."""
    import dagster as dg

    from dagster_project.definitions import build_defs
    from dagster_project.resources import FootfallResource, HashKeyResource
    from pipelines import ledger

    root, settings = built
    wrote, damaged = _damage(root)
    gone = sorted(wrote)[0]
    (root / gone).unlink()
    before = (root / ledger.LEDGER_KEY).read_bytes()

    defs = build_defs({"footfall": FootfallResource(lake_root=str(root)), "hash_key": HashKeyResource(key=KEY.decode())})
    run = defs.resolve_job_def("retention_job").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), raise_on_error=False)
    assert not run.success
    [failure] = [e for e in run.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    said = failure.step_failure_data.user_failure_data.description
    assert f"{HOUR13} cannot be read" in said and gone in said
    assert f"footfall ingest --rebuild {HOUR13}" in said
    assert files(root, "landing") == wrote - {gone}  # only the hour's objects stay
    assert (root / HOUR13).read_bytes() == damaged and (root / ledger.LEDGER_KEY).read_bytes() == before
