"""One writer at a time: ingest, erase and retention hold the lake's writer lock, locally
(flock) and on S3 (a conditional PUT with a renewed lease, over HTTP against moto)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import dagster as dg
import duckdb
import pytest

from dagster_project.definitions import build_defs
from pipelines import ledger, models, writer_lock
from pipelines.config import Lake, Settings
from pipelines.erased import LOG_KEY
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.storage import Storage
from pipelines.writer_lock import LakeBusy, LeaseLost
from tests.conftest import KEY
from tests.s3server import apply_env, aws_env, moto_server
from tests.test_dagster import DAY, resources
from tests.test_retention_erasure import count


def lake_digest(root: Path) -> dict[str, str]:
    """Every file of the lake but the lock itself: what a refused command must not change."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "writer.lock"}


def footfall(*args: str, env: dict[str, str] | None = None, **popen) -> subprocess.Popen:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**clean, **(env or {}), "FOOTFALL_HASH_KEY": KEY.decode(),
                                 "COLUMNS": "1000", "AWS_EC2_METADATA_DISABLED": "true"}, **popen)


def busiest_visitor(root: Path) -> tuple[str, int]:
    return duckdb.sql(f"select visitor_id, count(*) n from read_parquet('{root}/silver/requests/*/*/*.parquet', "
                      "hive_partitioning = false) group by 1 order by 2 desc, 1 limit 1").fetchall()[0]


def test_while_one_writer_holds_the_lake_the_others_refuse_or_wait_and_nothing_is_lost(small_lake):
    """An erase or retention started during an ingest (here, the lock held as an ingest holds
    it) changes nothing and says who is writing; with --wait it runs once the lake is free."""
    root, _ = small_lake
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY, sources=ALL_SOURCES)
    vid, theirs = busiest_visitor(root)
    before = lake_digest(root)
    rows = count(root, "silver/requests/*/*/*.parquet")

    with writer_lock.writer_lock(Storage(str(root)), "ingest"):
        for args in (["erase", "--visitor-id", vid], ["retention"]):  # landing is a month old: due
            refused = footfall(*args, "--lake", str(root))
            out, err = refused.communicate(timeout=120)
            assert refused.returncode == writer_lock.EXIT_BUSY, err
            assert err.count("\n") == 1 and "Traceback" not in err
            assert f"footfall ingest (pid {os.getpid()} on {socket.gethostname()}, since " in err
            assert f"is writing {root}: " in err and f"this {args[0]} did nothing" in err
            assert "--wait SECONDS" in err and not out
        assert lake_digest(root) == before
        with pytest.raises(LakeBusy, match="footfall ingest"):  # a second ingest, in-process
            ingest(settings, KEY, sources=ALL_SOURCES)

        waiting = footfall("erase", "--lake", str(root), "--visitor-id", vid, "--wait", "120")
        time.sleep(4)
        assert waiting.poll() is None and lake_digest(root) == before
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert f"removed {theirs:,} requests" in out
    assert count(root, "silver/requests/*/*/*.parquet") == rows - theirs
    assert count(root, "silver/requests/*/*/*.parquet", f"visitor_id = '{vid}'") == 0


def test_a_writer_killed_outright_leaves_the_lake_free(small_lake):
    """A local holder that dies (SIGKILL, out of memory) releases the lake with its process:
    the next ingest runs at once, without waiting for a lease or a person."""
    root, _ = small_lake
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pipelines.storage import Storage; from pipelines.writer_lock import writer_lock\n"
        f"with writer_lock(Storage({str(root)!r}), 'ingest'):\n"
        "    print('held', flush=True); time.sleep(600)")], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline() == "held\n"
    settings = Settings(lake=Lake(root=str(root)))
    with pytest.raises(LakeBusy, match=f"pid {holder.pid} on"):
        ingest(settings, KEY)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=30)
    summary = ingest(settings, KEY)
    assert summary.objects > 0 and all(e.reconciles for e in ledger.load(Storage(str(root))).values())


def test_a_dagster_ingest_started_behind_another_writer_waits_for_it(small_lake):
    """A run the sensor starts while a CLI ingest is writing queues behind it and then
    ingests, instead of failing or writing beside it."""
    root, _ = small_lake
    job = build_defs(resources(root)).resolve_job_def("ingest_landing")
    held = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with writer_lock.writer_lock(Storage(str(root)), "ingest"):
            held.set()
            release.wait(60)

    holder = threading.Thread(target=hold)
    holder.start()
    held.wait(30)
    written_while_held: list[int] = []

    def release_after() -> None:  # by then an ingest not waiting would have written its hours
        written_while_held.append(len(list((root / "silver").rglob("*.parquet"))))
        release.set()

    threading.Timer(8, release_after).start()
    run = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), partition_key=DAY)
    holder.join()
    assert run.success and written_while_held == [0]
    meta = run.asset_materializations_for_node("silver__requests")[0].metadata
    entries = ledger.load(Storage(str(root))).values()
    assert meta["rows_written"].value == sum(e.rows for e in entries if e.source != "beacon") > 0
    assert count(root, "silver/requests/*/*/*.parquet") == meta["rows_written"].value


@pytest.fixture(scope="module")
def s3_url():
    with moto_server() as url:
        yield url


def _lock_object(s3, bucket: str) -> dict | None:
    try:
        return json.loads(s3.get_object(Bucket=bucket, Key="lake/state/writer.lock")["Body"].read())
    except s3.exceptions.NoSuchKey:
        return None


def test_on_s3_one_writer_wins_a_dead_ones_lease_runs_out_and_a_live_one_renews(s3_url, monkeypatch, small_lake):
    apply_env(monkeypatch, s3_url)
    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket="footfall-lock")
    local_root, _ = small_lake
    for path in sorted((local_root / "landing/rtl").rglob("*.gz")):
        s3.upload_file(str(path), "footfall-lock", f"lake/{path.relative_to(local_root)}")
    storage = Storage("s3://footfall-lock/lake")

    # Eight writers at once over HTTP: the conditional PUT lets exactly one in. (It holds
    # for 5 s: each writer makes its own boto3 client after the barrier, and on a busy
    # 2-core machine one took over a second to reach S3, after a 1 s holder had let go.)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def contend() -> None:
        barrier.wait()
        try:
            with writer_lock.writer_lock(storage, "ingest"):
                outcomes.append("held")
                time.sleep(5)
        except LakeBusy:
            outcomes.append("busy")

    threads = [threading.Thread(target=contend) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["busy"] * 7 + ["held"]
    assert _lock_object(s3, "footfall-lock") is None  # released: nothing left in the bucket

    # A holder: the CLI names it and its lease, and writes nothing.
    with writer_lock.writer_lock(storage, "erase"):
        lock = _lock_object(s3, "footfall-lock")
        assert lock["command"] == "erase" and lock["pid"] == os.getpid()
        refused = footfall("ingest", "--lake", "s3://footfall-lock/lake", env=aws_env(s3_url))
        _, err = refused.communicate(timeout=120)
        assert refused.returncode == writer_lock.EXIT_BUSY, err
        assert f"footfall erase (pid {os.getpid()} on " in err and "is writing s3://footfall-lock/lake" in err
        assert f"its lease runs out at {lock['expires']}" in err
        assert writer_lock.running_erase(storage) == lock  # a build would wait for it to end
    assert not s3.list_objects_v2(Bucket="footfall-lock", Prefix="lake/silver/").get("KeyCount")
    assert writer_lock.running_erase(storage) is None

    # A holder that died without releasing: once its lease has run out, ingest takes over
    # (and an erase's ran-out lease keeps no build waiting).
    past = (datetime.now(UTC) - timedelta(seconds=5)).isoformat(timespec="seconds")
    s3.put_object(Bucket="footfall-lock", Key="lake/state/writer.lock", Body=json.dumps(
        {"command": "erase", "host": "gone", "pid": 1, "since": past, "expires": past}).encode())
    assert writer_lock.running_erase(storage) is None
    s3.put_object(Bucket="footfall-lock", Key="lake/state/writer.lock", Body=json.dumps(
        {"command": "ingest", "host": "gone", "pid": 1, "since": past, "expires": past}).encode())
    taken = footfall("ingest", "--lake", "s3://footfall-lock/lake", env=aws_env(s3_url))
    out, err = taken.communicate(timeout=300)
    assert taken.returncode == 0, err
    entries = ledger.load(storage).values()
    assert entries and all(e.reconciles for e in entries)
    assert _lock_object(s3, "footfall-lock") is None

    # A live holder renews its lease (here shortened to 6 s, renewed each second), so it
    # outlasts it. (At 1.2 s, a renewal delayed by a busy 2-core machine let the lease
    # lapse once in a full test run: the margin is the lease less one renewal interval,
    # less up to a second as expiry times are kept to the second.)
    monkeypatch.setattr(writer_lock, "LEASE_SECONDS", 6.0)
    with writer_lock.writer_lock(storage, "ingest") as held:
        assert writer_lock.running_erase(storage) is None  # an ingest: a build does not wait
        time.sleep(8)
        with pytest.raises(LakeBusy), writer_lock.writer_lock(storage, "retention"):
            pass
        held.check()
        # Another writer took the lock over (as after a pause longer than the lease): the
        # holder finds out at its next renewal, stops before writing, and leaves their lock.
        s3.put_object(Bucket="footfall-lock", Key="lake/state/writer.lock", Body=json.dumps(
            {"command": "ingest", "host": "other", "pid": 2, "since": past, "expires": "9999"}).encode())
        held.lost.wait(timeout=30)  # the next renewal, a second or so away
        with pytest.raises(LeaseLost, match="run it again"):
            held.check()
    assert _lock_object(s3, "footfall-lock")["host"] == "other"


def test_a_build_waits_out_a_running_erase_and_builds_again_after_it(small_lake, caplog, monkeypatch):
    """A build takes no lock, but does not end while an erase holds the lake: that erase may
    already have rebuilt gold that the build is about to overwrite from silver read
    earlier. Once the erase has logged itself, the build runs again."""
    root, _ = small_lake
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY, sources=ALL_SOURCES)
    storage = Storage(str(root))
    runs = []
    batch = models._build_batch
    monkeypatch.setattr(models, "_build_batch", lambda *a: runs.append(a[3]) or batch(*a))
    with writer_lock.writer_lock(storage, "ingest"):
        assert writer_lock.running_erase(storage) is None

    failed: list[BaseException] = []

    def build() -> None:
        try:
            day = date.fromisoformat(DAY)
            models.build(settings, models.Window(day, day), ["daily_site_metrics"])
        except BaseException as err:  # noqa: BLE001 - handed to the test's thread
            failed.append(err)

    with writer_lock.writer_lock(storage, "erase"):
        assert writer_lock.running_erase(storage)["pid"] == os.getpid()
        builder = threading.Thread(target=build)
        builder.start()
        deadline = time.monotonic() + 120
        while "is running: the build of 2026-11-02 waits for it to end" not in caplog.text:
            assert time.monotonic() < deadline and builder.is_alive(), (failed, caplog.text)
            time.sleep(0.1)
        assert len(runs) == 1 and builder.is_alive()
        storage.write_bytes(LOG_KEY, b'[{"subject": "someone"}]')  # the erase logs itself last
    builder.join(120)
    assert not failed and not builder.is_alive()
    assert len(runs) == 2 and "an erase ended while the build of 2026-11-02 ran" in caplog.text
    # An erase killed outright leaves its name in the local lock file, but not the flock:
    # no build waits for it.
    (root / "state/writer.lock").write_text(json.dumps({"command": "erase", "pid": 1}))
    assert writer_lock.running_erase(storage) is None


def test_wait_takes_seconds(small_lake, capsys, monkeypatch):
    from pipelines.cli import main

    root, _ = small_lake
    monkeypatch.setenv("FOOTFALL_HASH_KEY", KEY.decode())
    assert main(["ingest", "--lake", str(root), "--wait", "600"]) == 0
    with pytest.raises(SystemExit) as exit_:
        main(["ingest", "--lake", str(root), "--wait", "soon"])
    assert exit_.value.code == 2 and "'soon' is not a number of seconds like 600" in capsys.readouterr().err

