"""Landing → silver end to end on a generated lake: reconciliation, idempotency, late
objects, crash recovery, quarantine, and no personal data in silver."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines import ledger
from pipelines.config import Ingest, Lake, Rtl, Settings
from pipelines.generate import RTL_SITE, STD_SITE, _user_agents
from pipelines.ingest import ingest, plan_waves
from pipelines.storage import ObjectInfo, Storage
from rtl_parser.fields import REALTIME_FIELDS_2020
from tests.conftest import KEY


def settings(root: Path, workers: int = 1) -> Settings:
    return Settings(lake=Lake(root=str(root)), ingest=Ingest(workers=workers))


def silver(root: Path) -> pl.DataFrame:
    return pl.read_parquet(str(root / "silver/requests/*/*/*.parquet"), hive_partitioning=False)


OUTPUTS = ("silver", "quarantine")  # the files a rebuild must reproduce byte for byte


def digests(root: Path, folders: tuple[str, ...] = ("silver",)) -> dict[str, str]:
    """Digest of every Parquet file under `folders` (what a rebuild must reproduce)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for sub in folders for p in sorted((root / sub).rglob("*.parquet"))}


def wipe_outputs(root: Path) -> None:
    """Remove everything ingest wrote, keeping landing."""
    for sub in ("silver", "state", "quarantine"):
        for p in sorted((root / sub).rglob("*"), reverse=True):
            p.unlink() if p.is_file() else p.rmdir()


def landing_lines(root: Path, sources=("rtl", "standard")) -> int:
    n = 0
    for p in (p for s in sources for p in (root / "landing" / s).rglob("*.gz")):
        n += sum(1 for ln in gzip.decompress(p.read_bytes()).split(b"\n") if ln and not ln.startswith(b"#"))
    return n


def test_every_line_is_accounted_for_per_object(small_lake):
    root, stats = small_lake
    summary = ingest(settings(root, workers=2), KEY)
    entries = ledger.load(Storage(str(root)))
    assert len(entries) == summary.objects == stats["rtl"]["objects"] + stats["standard"]["objects"]
    assert all(e.reconciles for e in entries.values())
    # Lines counted independently of the parser: every non-directive line in landing.
    assert summary.lines == landing_lines(root)
    rows = silver(root)
    assert rows.height == summary.rows == sum(e.rows for e in entries.values())
    assert rows["request_id"].n_unique() == rows.height
    # The generator delivered exactly this many records twice.
    assert summary.duplicates == stats["rtl"]["duplicates"]
    quarantine = pl.read_parquet(str(root / "quarantine/*/*/*.parquet"))
    assert quarantine.height == summary.quarantined > 0
    assert quarantine["reason"].null_count() == 0
    assert set(rows["site"].unique()) == {RTL_SITE, STD_SITE}


def test_partitions_follow_the_records_own_hour(small_lake):
    root, _ = small_lake
    ingest(settings(root), KEY)
    con = duckdb.connect()
    wrong = con.execute(
        f"select count(*) from read_parquet('{root}/silver/requests/*/*/*.parquet', "
        "filename=true, hive_partitioning=false) "
        "where filename not like '%dt=' || strftime(ts, '%Y-%m-%d') || '/hour=' || strftime(ts, '%H') || '/%'"
    ).fetchone()[0]
    assert wrong == 0


def test_ingesting_twice_changes_nothing_and_a_rebuild_is_identical(small_lake):
    root, _ = small_lake
    ingest(settings(root), KEY)
    first = digests(root)
    again = ingest(settings(root), KEY)
    assert again.objects == 0 and digests(root) == first
    # From scratch, with other parallelism: the same bytes.
    wipe_outputs(root)
    ingest(settings(root, workers=2), KEY)
    assert digests(root) == first


def test_a_late_object_rebuilds_only_the_hours_it_touches(small_lake):
    root, _ = small_lake
    ingest(settings(root), KEY)
    before = digests(root)
    rows_before = silver(root)
    # A late Firehose object (arrives at 23:00) carrying a request from 05:12 and a
    # redelivery of a record already ingested.
    old = rows_before.filter(pl.col("hour") == 7).row(0, named=True)
    src = next((root / "landing/rtl").rglob("*.gz"))
    template = gzip.decompress(src.read_bytes()).split(b"\n")[0].split(b"\t")
    late = list(template)
    late[0] = f"{datetime(2026, 11, 2, 5, 12, 7, tzinfo=UTC).timestamp():.3f}".encode()
    late[12] = b"LATE-REQUEST-0001"
    dup = next(ln for p in (root / "landing/rtl").rglob("*.gz")
               for ln in gzip.decompress(p.read_bytes()).split(b"\n") if old["request_id"].encode() in ln)
    key = root / "landing/rtl/2026/11/02/23/footfall-rtl-1-2026-11-02-23-59-00-late.gz"
    key.write_bytes(gzip.compress(b"\t".join(late) + b"\n" + dup + b"\n"))
    summary = ingest(settings(root), KEY)
    assert summary.objects == 1 and summary.rows == 1 and summary.duplicates == 1
    assert summary.partitions == 2  # hours 05 and 07 were merged, nothing else
    after = digests(root)
    changed = {k for k in after if after[k] != before.get(k)}
    # Hour 07 got only the redelivered record: rewritten, identical to the byte.
    assert changed == {"silver/requests/dt=2026-11-02/hour=05/data.parquet"}
    rows = silver(root)
    assert rows.height == rows_before.height + 1
    assert rows.filter(pl.col("request_id") == "LATE-REQUEST-0001")["hour"].to_list() == [5]


def test_a_run_interrupted_after_writing_partitions_finishes_exactly(small_lake, monkeypatch):
    root, _ = small_lake
    ingest(settings(root), KEY)
    clean = silver(root).sort("request_id")
    # Simulate a crash after the partitions were replaced but before the ledger was saved.
    monkeypatch.setattr(ledger, "save", lambda *a, **k: (_ for _ in ()).throw(SystemExit("crash")))
    Storage(str(root)).delete(ledger.LEDGER_KEY)
    with pytest.raises(SystemExit):
        ingest(settings(root), KEY)
    monkeypatch.undo()
    summary = ingest(settings(root), KEY)
    assert silver(root).sort("request_id").equals(clean)
    assert summary.rows == clean.height  # re-processed objects count their own rows again



def _trip_on(monkeypatch, error: Exception, marker: str | None = None) -> None:
    """Stand-in for a bug in the parser: parsing a batch raises `error` when one of its lines
    holds `marker` (every batch when None)."""
    import pyarrow.compute as pc

    from rtl_parser.realtime import RealtimeParser
    from rtl_parser.standard import StandardParser

    for parser in (RealtimeParser, StandardParser):
        def tripped(self, lines, *args, _parse=parser.parse_lines):
            if marker is None or pc.any(pc.match_substring(lines.text, marker)).as_py():
                raise error
            return _parse(self, lines, *args)
        monkeypatch.setattr(parser, "parse_lines", tripped)


def _copy_landing(root: Path, to: Path, objects: list[Path] | None = None) -> Path:
    for p in objects if objects is not None else (root / "landing").rglob("*.gz"):
        (to / p.relative_to(root)).parent.mkdir(parents=True, exist_ok=True)
        (to / p.relative_to(root)).write_bytes(p.read_bytes())
    return to


@pytest.mark.parametrize("in_flight", [False, True])
def test_an_object_that_trips_a_bug_costs_only_itself_and_is_taken_once_fixed(
        small_lake, monkeypatch, tmp_path, in_flight):
    """One object whose parsing raises an unexpected error (not bad input: a bug) must not
    stop the run nor take other objects' rows with it, though it shares their batches (or,
    `in_flight`, batches of its task are being parsed beside it): the rest of silver is
    exactly what a landing zone without it gives, the object is on record as failed with
    none of its lines taken, and the next run, with the bug gone, takes it and leaves the
    lake a clean run makes."""
    generated, _ = small_lake
    objects = sorted((generated / "landing").rglob("*.gz"))
    rtl = [p for p in objects if "/rtl/" in str(p)]
    picked = rtl[100:124] if in_flight else objects
    poison = rtl[112]
    root = _copy_landing(generated, tmp_path / "picked", picked)

    def run(lake: Path):
        # In flight: one task of small batches, two of them parsed at a time.
        chunk = 16 << 10 if in_flight else Ingest().chunk_bytes
        return ingest(Settings(lake=Lake(root=str(lake)), ingest=Ingest(workers=2, chunk_bytes=chunk)), KEY)

    marker = gzip.decompress(poison.read_bytes()).split(b"\n")[5].split(b"\t")[12].decode()
    _trip_on(monkeypatch, RuntimeError("simulated bug\nsecond line"), marker)
    summary = run(root)
    entries = ledger.load(Storage(str(root)))
    key = str(poison.relative_to(generated))
    failed = entries.pop(key)
    assert failed.error == "internal error: RuntimeError: simulated bug"
    assert (failed.lines, failed.rows, failed.quarantined, failed.hours) == (1, 0, 1, [])
    assert not any(e.error and e.error.startswith("internal") for e in entries.values())
    assert all(e.reconciles for e in entries.values()) and summary.objects == len(entries) + 1
    without = _copy_landing(generated, tmp_path / "without", [p for p in picked if p != poison])
    run(without)
    assert digests(root) == digests(without)  # every other row, and none of the failed object's
    reasons = pl.read_parquet(str(root / "quarantine/rtl/*/*.parquet")).filter(pl.col("source_object") == key)
    assert reasons["reason"].to_list() == ["internal error: RuntimeError: simulated bug"]

    monkeypatch.undo()  # the bug is fixed
    again = run(root)
    assert again.objects == 1 and again.rows > 0
    clean = _copy_landing(generated, tmp_path / "clean", picked)
    run(clean)
    assert digests(root, OUTPUTS) == digests(clean, OUTPUTS)
    assert not ledger.load(Storage(str(root)))[key].error
    assert run(root).objects == 0


@pytest.mark.parametrize("error, everywhere", [(RuntimeError("simulated bug"), True),
                                               (OSError(28, "No space left on device"), False)])
def test_a_failure_that_is_not_one_objects_stops_the_run_and_records_nothing(
        small_lake, monkeypatch, error, everywhere):
    """A bug every object trips, or the machine failing (a full disk) while one object is
    parsed, is not pinned on objects: the run stops with that error and no object is
    recorded as ingested or quarantined, so the next run takes them all."""
    root, _ = small_lake
    poison = sorted((root / "landing/rtl").rglob("*.gz"))[1]
    marker = gzip.decompress(poison.read_bytes()).split(b"\n")[0].split(b"\t")[12].decode()
    _trip_on(monkeypatch, error, None if everywhere else marker)
    with pytest.raises(type(error), match=str(error.args[-1])):
        ingest(settings(root, workers=2), KEY)
    assert ledger.load(Storage(str(root))) == {}
    assert not list(root.glob("silver/**/*.parquet")) and not list(root.glob("quarantine/**/*.parquet"))
    monkeypatch.undo()
    summary = ingest(settings(root, workers=2), KEY)
    assert summary.objects == len([*(root / "landing/rtl").rglob("*.gz"), *(root / "landing/standard").rglob("*.gz")])


HOUR = "silver/requests/dt=2026-11-02/hour=13/data.parquet"


def _damaged_lake(generated: Path, to: Path, *, gone: int | None = None) -> tuple[Path, Path, bytes]:
    """A lake ingested without the last real-time object of 13:00, whose hour-13 partition
    was then cut to its first half outside Footfall; that object has landed since, and
    `gone` (an index into the hour's other objects) was deleted from landing meanwhile.
    Returns the lake, the object deleted (if any) and the damaged bytes."""
    hour_objects = sorted((generated / "landing/rtl/2026/11/02/13").glob("*.gz"))
    late = hour_objects[-1]
    root = _copy_landing(generated, to, [p for p in (generated / "landing").rglob("*.gz") if p != late])
    ingest(Settings(lake=Lake(root=str(root))), KEY)
    part = root / HOUR
    damaged = part.read_bytes()[: part.stat().st_size // 2]
    part.write_bytes(damaged)
    _copy_landing(generated, root, [late])
    deleted = root / hour_objects[gone].relative_to(generated) if gone is not None else None
    if deleted:
        deleted.unlink()
    return root, deleted, damaged


def test_a_damaged_hour_is_rebuilt_from_landing_when_every_object_of_it_is_still_there(small_lake, tmp_path):
    """An hour partition cut short outside Footfall used to stop every ingest run that
    touched its hour, with Polars' traceback. When every object that wrote to it is still
    in landing, the run rebuilds it from them: the lake ends as if nothing had happened."""
    from pipelines.rebuild import Rebuild

    generated, _ = small_lake
    root, _, damaged = _damaged_lake(generated, tmp_path / "damaged")
    summary = ingest(Settings(lake=Lake(root=str(root))), KEY)

    clean = _copy_landing(generated, tmp_path / "clean")
    ingest(Settings(lake=Lake(root=str(clean))), KEY)
    assert digests(root) == digests(clean)  # every partition, the rebuilt hour included
    counts = {o: (e.lines, e.rows, e.duplicates, e.quarantined)
              for o, e in ledger.load(Storage(str(root))).items()}
    assert counts == {o: (e.lines, e.rows, e.duplicates, e.quarantined)
                      for o, e in ledger.load(Storage(str(clean))).items()}
    [rebuilt] = summary.rebuilt
    assert isinstance(rebuilt, Rebuild) and rebuilt.key == HOUR and rebuilt.lost == []
    assert "parquet" in rebuilt.cause.lower()
    # Every object with rows in the clean hour was taken again (the late one was new anyway).
    late = str(sorted((generated / "landing/rtl/2026/11/02/13").glob("*.gz"))[-1].relative_to(generated))
    in_hour = set(pl.read_parquet(clean / HOUR)["source_object"]) - {late}
    assert in_hour <= set(rebuilt.taken_again) and len(in_hour) >= 10
    assert (root / rebuilt.kept_as).read_bytes() == damaged  # kept, not deleted
    assert rebuilt.kept_as.startswith("quarantine/damaged/dt=")
    assert ingest(Settings(lake=Lake(root=str(root))), KEY).objects == 0


def test_a_damaged_hour_whose_objects_left_landing_stops_until_the_user_accepts_the_loss(small_lake, tmp_path):
    """If an object that wrote to the damaged hour is gone from landing, rebuilding would
    lose its rows: the run stops, names the file, the object and the two ways out, and
    records nothing. `footfall ingest --rebuild` then rebuilds it from what landing has."""
    from pipelines.partitions import DamagedPartition

    generated, _ = small_lake
    root, gone, damaged = _damaged_lake(generated, tmp_path / "damaged", gone=0)
    settings = Settings(lake=Lake(root=str(root)))
    ledger_bytes = (root / ledger.LEDGER_KEY).read_bytes()
    with pytest.raises(DamagedPartition) as caught:
        ingest(settings, KEY)
    gone_key = str(gone.relative_to(root))
    assert caught.value.lost == [gone_key]
    assert (root / ledger.LEDGER_KEY).read_bytes() == ledger_bytes and (root / HOUR).read_bytes() == damaged

    env = {**os.environ, "FOOTFALL_HASH_KEY": KEY.decode(), "COLUMNS": "1000"}  # no line wraps
    cli = subprocess.run([sys.executable, "-m", "pipelines.cli", "ingest", "--lake", str(root)],
                         capture_output=True, text=True, env=env, timeout=600)
    said = cli.stdout + cli.stderr
    assert cli.returncode == 1 and "Traceback" not in said, said
    assert f"silver partition {root / HOUR} cannot be read" in said and gone_key in said
    assert f"footfall ingest --rebuild {HOUR}" in said
    query = subprocess.run([sys.executable, "-m", "pipelines.cli", "query", "--lake", str(root),
                            "select count(*) from requests"],
                           capture_output=True, text=True, env=env, timeout=600)
    said = query.stdout + query.stderr
    assert query.returncode == 1 and "Traceback" not in said, said
    assert f"{root / HOUR} cannot be read" in said
    assert "footfall ingest --rebuild silver/requests/dt=2026-11-02/hour=13" in said

    # The user accepts the loss, naming the partition as a path (after one typo).
    def cli_ingest(*args: str) -> tuple[int, str]:
        done = subprocess.run([sys.executable, "-m", "pipelines.cli", "ingest", "--lake", str(root), *args],
                              capture_output=True, text=True, env=env, timeout=600)
        return done.returncode, done.stdout + done.stderr

    code, said = cli_ingest("--rebuild", "silver/requests/dt=2026-11-02/hour=1")
    assert code == 2 and "not an hour partition of silver/events or silver/requests, like" in said
    code, said = cli_ingest("--rebuild", str(root / HOUR))
    assert code == 0, said
    assert f"rebuilt {HOUR}" in said and "1 object(s) that wrote to it are no longer in landing" in said
    [record] = [json.loads(p.read_text()) for p in (root / "state/rebuilds").glob("*.json")]
    assert record["key"] == HOUR and record["lost"] == [gone_key] and (root / record["kept_as"]).exists()
    without = _copy_landing(generated, tmp_path / "without",
                            [p for p in (generated / "landing").rglob("*.gz") if p.name != gone.name])
    ingest(Settings(lake=Lake(root=str(without))), KEY)
    assert digests(root)[HOUR] == digests(without)[HOUR]  # the hour holds all but the lost rows
    assert ingest(settings, KEY).objects == 0


def test_a_damaged_ledger_is_one_clear_error_and_moving_it_aside_takes_landing_again(small_lake, tmp_path):
    """The ledger cut short outside Footfall: every command that reads it says so in one
    line with the way out, instead of a traceback; moved aside, the next run takes every
    object again and silver ends byte for byte as before."""
    from pipelines.storage import DamagedFile

    generated, _ = small_lake
    root = _copy_landing(generated, tmp_path / "damaged")
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY)
    before, counts = digests(root), ledger.load(Storage(str(root)))
    path = root / ledger.LEDGER_KEY
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(DamagedFile, match="cannot be read"):
        ingest(settings, KEY)
    env = {**os.environ, "FOOTFALL_HASH_KEY": KEY.decode(), "COLUMNS": "1000"}
    for command in (["ingest"], ["retention", "--dry-run"]):
        cli = subprocess.run([sys.executable, "-m", "pipelines.cli", *command, "--lake", str(root)],
                             capture_output=True, text=True, env=env, timeout=600)
        said = cli.stdout + cli.stderr
        assert cli.returncode == 1 and "Traceback" not in said, said
        assert f"error: the ingest ledger {path} cannot be read" in said and "move it aside" in said

    path.rename(tmp_path / "aside.parquet")
    summary = ingest(settings, KEY)
    assert summary.objects == len(counts) and digests(root) == before
    assert ledger.load(Storage(str(root))).keys() == counts.keys()


def test_a_backlog_ingested_in_waves_gives_the_same_lake_as_one_run(small_lake):
    root, _ = small_lake
    one = ingest(settings(root, workers=2), KEY)
    whole = digests(root, OUTPUTS)
    counts = {k: (e.lines, e.rows, e.duplicates, e.quarantined) for k, e in ledger.load(Storage(str(root))).items()}
    wipe_outputs(root)
    # Waves of a fifth of the landing bytes: hours and redelivered records straddle waves.
    wave = one.bytes_in // 5
    reported: list[tuple[str, int, int]] = []
    waved = ingest(Settings(lake=Lake(root=str(root)), ingest=Ingest(workers=2, wave_bytes=wave)), KEY,
                   on_progress=lambda *event: reported.append(event))
    sizes = [p.stat().st_size for s in ("rtl", "standard") for p in (root / "landing" / s).rglob("*.gz")]
    assert sum(sizes) == one.bytes_in and max(sizes) < wave  # so at least five waves ran
    assert (waved.lines, waved.rows, waved.duplicates, waved.quarantined, waved.partitions) == \
        (one.lines, one.rows, one.duplicates, one.quarantined, one.partitions)
    assert waved.duplicates > 0
    assert digests(root, OUTPUTS) == whole
    waves = [(done, total) for phase, done, total in reported if phase == "wave"]
    assert waves == [(k, len(waves)) for k in range(1, len(waves) + 1)] and len(waves) >= 5
    assert [e for e in reported if e[0] == "parse"][-1] == ("parse", one.bytes_in, one.bytes_in)
    assert {k: (e.lines, e.rows, e.duplicates, e.quarantined)
            for k, e in ledger.load(Storage(str(root))).items()} == counts




def test_a_run_removes_only_the_staging_that_dead_runs_of_this_host_left(small_lake, monkeypatch, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    here = socket.gethostname()
    folders = [f"{gone}@{here}@dead-run-x1", f"{os.getpid()}@{here}@alive-run-x2",
               f"{gone}@another-host@dead-elsewhere-x3", "older-version-x4"]
    for name in folders:
        (scratch / f"footfall-ingest-{name}" / "requests").mkdir(parents=True)
    root, _ = small_lake
    assert ingest(settings(root), KEY).rows > 0
    assert sorted(p.name for p in scratch.iterdir()) == sorted(f"footfall-ingest-{n}" for n in folders[1:])


def test_waves_are_as_few_as_the_limit_allows_and_of_even_size():
    def objects(*sizes):
        return [("rtl", ObjectInfo(key=f"k{i}", size=n, mtime_ns=0)) for i, n in enumerate(sizes)]

    # 130 bytes under a 100-byte limit: two waves of 70 and 60, not 100 and 30.
    assert plan_waves(objects(*[10] * 13), 100) == [0, 7]
    assert plan_waves(objects(*[10] * 13), 130) == [0]
    # An object over the limit is a wave of its own.
    assert plan_waves(objects(10, 300, 10), 100) == [0, 1, 2]

def test_an_interrupted_backlog_resumes_after_the_last_wave_it_finished(small_lake, monkeypatch):
    root, _ = small_lake
    ingest(settings(root), KEY)
    clean = digests(root, OUTPUTS)
    total = sum(e.size for e in ledger.load(Storage(str(root))).values())
    wipe_outputs(root)
    waves = Settings(lake=Lake(root=str(root)), ingest=Ingest(wave_bytes=total // 4))
    saves = []
    real_save = ledger.save

    def crash_on_third(storage, entries):  # the third wave's partitions are written by now
        saves.append(len(entries))
        if len(saves) == 3:
            raise SystemExit("crash")
        real_save(storage, entries)

    monkeypatch.setattr(ledger, "save", crash_on_third)
    with pytest.raises(SystemExit):
        ingest(waves, KEY)
    monkeypatch.undo()
    done = ledger.load(Storage(str(root)))
    assert len(done) == saves[1] > saves[0] > 0  # two waves' objects are on record
    summary = ingest(waves, KEY)
    assert summary.objects == len(ledger.load(Storage(str(root)))) - len(done)
    assert digests(root, OUTPUTS) == clean


IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
IPV6 = re.compile(r"\b(?:[0-9a-f]{1,4}:){2,7}[0-9a-f]{0,4}\b", re.I)


def landed_user_agents(root: Path) -> set[str]:
    """Every user agent in the landing zone's real-time logs, decoded (read here by hand)."""
    from urllib.parse import unquote

    from rtl_parser.fields import DEFAULT_REALTIME_FIELDS

    at = list(DEFAULT_REALTIME_FIELDS).index("cs-user-agent")
    agents = set()
    for path in (root / "landing/rtl").rglob("*.gz"):
        for line in gzip.decompress(path.read_bytes()).decode(errors="replace").splitlines():
            fields = line.split("\t")
            if len(fields) > at and fields[at] != "-":
                agents.add(unquote(fields[at]))
    return agents


def test_no_silver_column_holds_an_ip_user_agent_cookie_or_header(small_lake):
    root, _ = small_lake
    ingest(settings(root), KEY)
    rows = silver(root)
    agents = landed_user_agents(root) | {a for _, _, a in _user_agents()}
    assert len(agents) > 100  # each visitor's own browser version, as in real traffic
    text_columns = [c for c, t in rows.schema.items() if t == pl.String]
    for column in text_columns:
        values = [v for v in rows[column].unique().to_list() if v]
        assert not [v for v in values if IPV4.search(v) or IPV6.search(v)], column
        assert not agents & set(values), column
        assert not [v for v in values if "%0A" in v or "user-agent:" in v.lower()], column
    forbidden = {"client_ip", "forwarded_ip", "user_agent", "visitor_token", "cookie", "headers"}
    assert not forbidden & set(rows.columns)
    # First-party ids from the edge were hashed: none of the raw UUIDs appears.
    raw_ids = set()
    for p in (root / "landing/rtl").rglob("*.gz"):
        raw_ids |= set(re.findall(rb"x-visitor-id:([0-9a-f-]{36})", gzip.decompress(p.read_bytes())))
    assert raw_ids and not {r.decode() for r in raw_ids} & set(rows["visitor_id"].to_list())


def test_corrupt_and_truncated_objects_are_quarantined_not_fatal(tmp_path):
    root = tmp_path / "lake"
    rtl = root / "landing/rtl/2026/11/02/10"
    rtl.mkdir(parents=True)
    src = (Path(__file__).parents[2] / "shared/fixtures/cloudfront/realtime/datadog-dashcon-304-refreshhit.tsv").read_bytes()
    good = gzip.compress(src * 1)
    (rtl / "a-truncated.gz").write_bytes(good[: len(good) // 2])
    (rtl / "b-garbage.gz").write_bytes(b"\x1f\x8b" + os.urandom(300))
    (rtl / "c-plain.txt").write_bytes(b"not a log line\n\xff\xff\n")
    (rtl / "d-empty").write_bytes(b"")
    # Two gzip members (as Firehose concatenates them); the second's first deflate block
    # header says block type 3, which deflate reserves: the first member's lines stand.
    second = bytearray(gzip.compress(src))
    second[10] = 0b111  # BFINAL=1, BTYPE=11 (the 10 bytes before are the gzip header)
    (rtl / "e-bad-block.gz").write_bytes(good + bytes(second))
    summary = ingest(settings(root), KEY)
    entries = ledger.load(Storage(str(root)))
    assert all(e.reconciles for e in entries.values())
    assert entries["landing/rtl/2026/11/02/10/a-truncated.gz"].error.startswith("corrupt or truncated gzip")
    assert entries["landing/rtl/2026/11/02/10/c-plain.txt"].quarantined == 2
    assert entries["landing/rtl/2026/11/02/10/d-empty"].lines == 0
    bad_block = entries["landing/rtl/2026/11/02/10/e-bad-block.gz"]
    assert bad_block.error.startswith("corrupt or truncated gzip")
    assert bad_block.lines == len(src.splitlines()) + 1  # the unreadable rest: one line
    assert summary.rows == 0


def _decodes_before_damage(body: bytes) -> tuple[bytes, bool]:
    """What Python's zlib decodes from a gzip member before it fails (exactly: the step
    that fails is fed again a byte at a time), and whether it failed."""
    import zlib

    inflate, out = zlib.decompressobj(wbits=31), []
    for at in range(0, len(body), 65536):
        saved = inflate.copy()
        try:
            out.append(inflate.decompress(body[at: at + 65536]))
        except zlib.error:
            for i in range(at, at + 65536):
                try:
                    out.append(saved.decompress(body[i: i + 1]))
                except zlib.error:
                    return b"".join(out), True
    return b"".join(out), False


@pytest.mark.parametrize("damage, error", [
    ("cut", "corrupt or truncated gzip: the stream ends inside a member"),
    ("overwritten", "corrupt or truncated gzip: Error -1 Invalid deflate block found"),
])
def test_a_damaged_gzip_object_keeps_every_line_before_the_damage(small_lake, tmp_path, damage, error):
    """An object cut off (an interrupted upload) or overwritten mid-stream: every whole line
    that decodes before the damage (by Python's zlib, on its own) reaches silver, as it does
    from the same lines delivered plain; the object's unreadable rest is quarantined."""
    generated, _ = small_lake
    lines = b"".join(gzip.decompress(p.read_bytes()) for p in sorted((generated / "landing/rtl").rglob("*.gz")))
    assert len(lines) > 3 * 1024 * 1024  # several decoding steps
    whole = gzip.compress(lines)
    at = len(whole) * 7 // 10
    body = whole[:at] if damage == "cut" else whole[:at] + b"\xff" * 64 + whole[at + 64:]
    decodable, failed = _decodes_before_damage(body)
    assert failed == (damage == "overwritten")
    before = decodable[: decodable.rfind(b"\n") + 1]
    assert 0.6 * len(lines) < len(before) < 0.8 * len(lines)

    damaged_root, plain_root = tmp_path / "damaged", tmp_path / "plain"
    for root, data in ((damaged_root, body), (plain_root, before)):
        (root / "landing/rtl/2026/11/02/10").mkdir(parents=True)
        (root / "landing/rtl/2026/11/02/10/obj.gz").write_bytes(data)
        ingest(settings(root), KEY)
    [entry] = ledger.load(Storage(str(damaged_root))).values()
    [plain] = ledger.load(Storage(str(plain_root))).values()
    assert entry.error == error and entry.reconciles
    assert entry.rows == plain.rows > 4_000
    assert silver(damaged_root)["request_id"].sort().equals(silver(plain_root)["request_id"].sort())
    # The rest: the damaged line's head (if the damage is inside a line) and the unreadable tail.
    assert entry.quarantined - plain.quarantined in (1, 2)


def test_objects_in_a_format_ingest_does_not_read_are_named_not_read_as_lines(tmp_path):
    """A Firehose set to ZIP or Snappy, or a Parquet file among real-time logs: one
    quarantined line that names the format, not thousands of lines of binary."""
    import zipfile

    root = tmp_path / "lake"
    rtl = root / "landing/rtl/2026/11/02/10"
    rtl.mkdir(parents=True)
    with zipfile.ZipFile(rtl / "a.zip", "w") as z:
        z.writestr("records", "\n".join(["x\ty"] * 5000))
    (rtl / "b.snappy").write_bytes(b"\xff\x06\x00\x00sNaPpY" + os.urandom(5000))
    (rtl / "c.parquet").write_bytes(b"PAR1" + os.urandom(5000) + b"PAR1")
    ingest(settings(root), KEY)
    entries = ledger.load(Storage(str(root)))
    assert {k.rsplit("/", 1)[1]: (e.lines, e.quarantined, e.error) for k, e in entries.items()} == {
        "a.zip": (1, 1, "ZIP data, which ingest does not read: deliver it gzip-compressed or "
                        "uncompressed (Firehose: GZIP)"),
        "b.snappy": (1, 1, "Snappy data, which ingest does not read: deliver it gzip-compressed or "
                           "uncompressed (Firehose: GZIP)"),
        "c.parquet": (1, 1, "Parquet data, which ingest does not read: only standard logs are read as Parquet"),
    }


@pytest.mark.parametrize("spill", [False, True])
def test_quarantine_keeps_every_rejected_line_in_order_in_memory_or_spilled(tmp_path, monkeypatch, spill):
    """Rejects are held in memory, or spilled to staging files past a cap: either way each
    object's quarantine file holds every rejected line, its reason and raw bytes, in line
    order. Three objects share one parse task, whose batches run on two threads."""
    from pipelines import ingest as ingest_module

    if spill:  # every batch of rejects spills all of the task's quarantines
        monkeypatch.setattr(ingest_module, "REJECTS_HELD_BYTES", 1)
    root = tmp_path / "lake"
    rtl = root / "landing/rtl/2026/11/02/10"
    rtl.mkdir(parents=True)
    good = (Path(__file__).parents[2] / "shared/fixtures/cloudfront/realtime/datadog-dashcon-304-refreshhit.tsv"
            ).read_bytes().splitlines()[0]
    expected: dict[str, dict[int, bytes]] = {}
    for name in ("a", "b", "c"):
        lines, bad = [], {}
        for n in range(1, 3001):
            if n % 7 == 0:
                bad[n] = f"junk {name}{n}\tonly two fields".encode()
            elif n % 101 == 0:
                bad[n] = b"\xff\xfe not utf-8 " + f"{name}{n}".encode()
            lines.append(bad.get(n, good))
        (rtl / f"{name}.gz").write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
        expected[f"landing/rtl/2026/11/02/10/{name}.gz"] = bad
    config = Settings(lake=Lake(root=str(root)), rtl=Rtl(fields=REALTIME_FIELDS_2020),
                      ingest=Ingest(workers=2, chunk_bytes=64 * 1024))  # several batches per object
    summary = ingest(config, KEY)
    assert summary.quarantined == sum(len(b) for b in expected.values())
    assert summary.rows == 1  # the good lines are one request, delivered again and again
    quarantine = pl.read_parquet(str(root / "quarantine/rtl/*/*.parquet"))
    for key, bad in expected.items():
        got = quarantine.filter(pl.col("source_object") == key)
        assert got["line_no"].to_list() == sorted(bad)
        assert got["raw"].to_list() == [bad[n] for n in sorted(bad)]
        reasons = dict(zip(got["line_no"], got["reason"], strict=True))
        assert reasons[7].startswith("expected ") and reasons[101] == "invalid UTF-8"


def test_quarantine_sorts_rejects_that_arrive_out_of_line_order(tmp_path):
    """Batches of one object can finish in any order; the published file is in line order."""
    from pipelines.ingest import _Held, _Quarantine
    from pipelines.storage import ObjectInfo

    storage = Storage(str(tmp_path / "lake"))
    obj = ObjectInfo(key="landing/rtl/2026/11/02/10/x.gz", size=1, mtime_ns=1)
    for cap in (1 << 20, 1):  # held in memory; spilled on every addition
        quarantine = _Quarantine(storage, "rtl", obj, str(tmp_path / "staging"), 0, _Held(cap))
        for first in (40, 1, 20):  # three batches, the first lines' batch finishing second
            quarantine.add([(n, "bad", str(n).encode()) for n in range(first, first + 10)])
        key = quarantine.close()
        rows = pl.read_parquet(str(tmp_path / "lake" / key))
        assert rows["line_no"].to_list() == [*range(1, 11), *range(20, 30), *range(40, 50)]
        assert rows["raw"].to_list() == [str(n).encode() for n in rows["line_no"]]


def test_standard_logging_v2_json_objects_ingest_with_their_own_reasons(tmp_path):
    import json

    root = tmp_path / "lake"
    folder = root / "landing/standard"
    folder.mkdir(parents=True)
    record = {"timestamp(ms)": "1762045323456", "c-ip": "198.51.100.9", "cs-method": "GET",
              "cs(Host)": "d9example.cloudfront.net", "x-host-header": "shop.example.com",
              "cs-uri-stem": "/cart", "sc-status": "200", "sc-content-type": "text/html",
              "x-edge-request-id": "JSON-REQ-1", "x-edge-location": "CDG52-P1",
              "cs(User-Agent)": "Mozilla/5.0%2520(Windows%2520NT%252010.0;%2520Win64;%2520x64)%2520AppleWebKit/537.36%2520(KHTML,%2520like%2520Gecko)%2520Chrome/131.0.0.0%2520Safari/537.36",
              "time-taken": "0.042", "c-country": "FR", "asn": "3215"}
    body = (json.dumps(record) + "\n" + "{not json\n" + json.dumps({**record, "x-edge-request-id": "JSON-REQ-1"}) + "\n")
    (folder / "E9EXAMPLE.2025-11-02-01.abcd1234.gz").write_bytes(gzip.compress(body.encode()))
    summary = ingest(settings(root), KEY)
    (entry,) = ledger.load(Storage(str(root))).values()
    assert (entry.lines, entry.rows, entry.duplicates, entry.quarantined) == (3, 1, 1, 1)
    (row,) = silver(root).to_dicts()
    assert (row["site"], row["distribution_host"], row["path"]) == ("shop.example.com", "d9example.cloudfront.net", "/cart")
    assert row["ts"] == datetime(2025, 11, 2, 1, 2, 3, 456000, tzinfo=UTC)
    assert (row["time_taken_ms"], row["country"], row["asn"], row["browser"]) == (42, "FR", 3215, "Chrome")
    assert row["is_page_view"] is True and summary.quarantined == 1
    reasons = pl.read_parquet(str(root / "quarantine/standard/*/*.parquet"))["reason"].to_list()
    assert reasons == ["not a JSON object"]


def test_the_time_by_stage_adds_up_to_no_more_than_the_run(small_lake):
    """`stage_seconds` says where a run's time went. With one worker the stages run one
    after another in one thread, so a stage counted twice (or nested in another) would
    add up to more than the run took."""
    root, _ = small_lake
    summary = ingest(settings(root, workers=1), KEY)
    stages = summary.stage_seconds
    assert list(stages) == ["read + gunzip", "split lines", "parse fields", "enrich", "spill to staging",
                            "quarantine", "merge: read staged", "merge: de-duplicate + write"]
    assert all(seconds > 0 for seconds in stages.values())
    assert sum(stages.values()) <= summary.seconds


def test_v2_text_with_a_configured_delimiter_ingests_like_its_tab_separated_twin(tmp_path, monkeypatch):
    """`standard.field_delimiter` (here from the environment, as `FOOTFALL_STANDARD_FIELD_DELIMITER`)
    reaches ingest: a pipe-separated W3C object gives the silver rows of the tab-separated
    original, and every object reconciles."""
    from pipelines.config import load_settings
    from tests.test_fixtures_standard import STD, with_delimiter

    name = "aws-samples-2018-26-fields.log"
    piped, tabs = tmp_path / "piped", tmp_path / "tabs"
    for root, body in ((piped, with_delimiter(name, "|")[0]), (tabs, (STD / name).read_bytes())):
        (root / "landing/standard").mkdir(parents=True)
        (root / "landing/standard/E1.2018-11-07-00.a.gz").write_bytes(gzip.compress(body))
    monkeypatch.setenv("FOOTFALL_STANDARD_FIELD_DELIMITER", "|")
    summary = ingest(load_settings(lake=str(piped)), KEY)
    monkeypatch.delenv("FOOTFALL_STANDARD_FIELD_DELIMITER")
    ingest(settings(tabs), KEY)
    assert summary.rows == 66 and summary.quarantined == 0
    assert all(e.reconciles for e in ledger.load(Storage(str(piped))).values())
    same = [c for c in silver(tabs).columns if c != "source_object"]
    assert silver(piped).select(same).sort("request_id").equals(silver(tabs).select(same).sort("request_id"))


def test_v2_parquet_objects_ingest_like_their_w3c_twins(tmp_path):
    """Standard logging v2 delivered as Parquet, under Hive-compatible keys, in small row
    groups: the rows of the same records delivered as W3C text; a truncated Parquet object
    is quarantined as unreadable; every object reconciles; a second run finds nothing."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tests.test_fixtures_standard import STD, as_v2_parquet

    name = "aws-docs-example.log"
    parquet_root, w3c_root = tmp_path / "parquet", tmp_path / "w3c"
    hive = parquet_root / "landing/standard/AWSLogs/aws-account-id=1/CloudFront/DistributionId=E1/year=2019/month=12/day=04/hour=21"
    hive.mkdir(parents=True)
    pq.write_table(as_v2_parquet(name), hive / "E1.parquet", row_group_size=2)
    whole = (hive / "E1.parquet").read_bytes()
    (hive / "E1-cut.parquet").write_bytes(whole[: len(whole) // 2])
    (w3c_root / "landing/standard").mkdir(parents=True)
    (w3c_root / "landing/standard/E1.2019-12-04-21.a.gz").write_bytes(gzip.compress((STD / name).read_bytes()))

    summary = ingest(settings(parquet_root), KEY)
    ingest(settings(w3c_root), KEY)
    entries = ledger.load(Storage(str(parquet_root)))
    assert all(e.reconciles for e in entries.values())
    cut = entries[str((hive / "E1-cut.parquet").relative_to(parquet_root))]
    assert cut.error.startswith("unreadable Parquet") and (cut.lines, cut.rows, cut.quarantined) == (1, 0, 1)
    # The quarantine's day is the one in the Hive-style key, not the file's age.
    assert [p.parent.name for p in (parquet_root / "quarantine").rglob("*.parquet")] == ["dt=2019-12-04"]
    same = [c for c in silver(w3c_root).columns if c not in ("source_object", "line_no")]
    assert summary.rows == 6 and silver(parquet_root).select(same).sort("request_id").equals(
        silver(w3c_root).select(same).sort("request_id"))
    assert ingest(settings(parquet_root), KEY).objects == 0

    # Text stored as bare bytes (no UTF-8 annotation) reads as text; bytes that are not
    # UTF-8 make the file unreadable from that batch on, named as such.
    as_bytes = tmp_path / "bytes"
    (as_bytes / "landing/standard").mkdir(parents=True)
    table = as_v2_parquet(name)
    pq.write_table(table.cast(pa.schema([(f, pa.binary()) for f in table.column_names])),
                   as_bytes / "landing/standard/E1.parquet")
    broken = table.set_column(0, "date", pa.array([b"\xff"] * table.num_rows, pa.binary()))
    pq.write_table(broken, as_bytes / "landing/standard/E2.parquet")
    ingest(settings(as_bytes), KEY)
    assert silver(as_bytes).select(same).sort("request_id").equals(silver(w3c_root).select(same).sort("request_id"))
    errors = {k: e.error for k, e in ledger.load(Storage(str(as_bytes))).items()}
    assert errors["landing/standard/E1.parquet"] is None
    assert errors["landing/standard/E2.parquet"].startswith("unreadable Parquet: ")

    # The cap on an object's decoded size holds for Parquet too.
    capped = tmp_path / "capped"
    (capped / "landing/standard").mkdir(parents=True)
    (capped / "landing/standard/E1.parquet").write_bytes(whole)
    ingest(Settings(lake=Lake(root=str(capped)), ingest=Ingest(workers=1, max_object_bytes=2500)), KEY)
    [entry] = ledger.load(Storage(str(capped))).values()
    assert entry.error == "decompressed size exceeds 2500 bytes" and entry.reconciles


@pytest.mark.parametrize("name, damaged, reason", [
    # A column name that is no longer UTF-8 (the case CI's fuzzing found on 2026-11-30).
    (b"x_edge_location", b"\x80_edge_location", "unreadable Parquet: 'utf-8' codec can't decode"),
    # A NUL in a name: Polars reads `time\0taken` as a second `time`.
    (b"time_taken", b"time\x00taken", "unreadable Parquet: column names not printable: ['time\\x00taken']"),
    # Two columns of one name: which one is the field's?
    (b"cs_method", b"sc_status", "unreadable Parquet: column names repeated: ['sc_status']"),
    # A metadata key that is not UTF-8 (nothing reads it; Polars panicked on it).
    (b"ARROW:schema", b"\x80RROW:schema", None),
])
def test_a_parquet_footer_with_damaged_names_is_one_clear_error(tmp_path, name, damaged, reason):
    """Damage to the names in a v2 Parquet file's footer: the object is quarantined as
    unreadable with the reason named (or, where nothing reads the name, ingested whole),
    never a crash of the run."""
    import pyarrow.parquet as pq

    from tests.test_fixtures_standard import as_v2_parquet

    sink = io.BytesIO()
    pq.write_table(as_v2_parquet("aws-docs-example.log"), sink)
    body = sink.getvalue()
    assert body.count(name) >= 1 and len(damaged) == len(name)
    root = tmp_path / "lake"
    (root / "landing/standard").mkdir(parents=True)
    (root / "landing/standard/E1.parquet").write_bytes(body.replace(name, damaged))
    summary = ingest(settings(root), KEY)
    [entry] = ledger.load(Storage(str(root))).values()
    assert entry.reconciles
    if reason is None:
        assert entry.error is None and summary.rows == 6
    else:
        assert entry.error.startswith(reason) and (entry.lines, entry.rows, entry.quarantined) == (1, 0, 1)
        [quarantined] = pl.read_parquet(str(root / "quarantine/standard/*/*.parquet"))["reason"]
        assert quarantined == entry.error


def test_an_object_fixed_at_the_source_loses_its_old_quarantine_and_clean_objects_cost_no_delete(
        tmp_path, monkeypatch):
    """An object re-delivered without its bad line has its old quarantine file removed (also
    one named as before 2026-11-30); a new object without rejects sends no delete for a
    quarantine file it never had (on S3 that is one request per clean object); objects of
    the same name in different folders keep a quarantine file each."""
    root = tmp_path / "lake"
    hour = root / "landing/rtl/2026/11/02/10"
    for folder in ("site-a", "site-b"):
        (hour / folder).mkdir(parents=True)
    good = (Path(__file__).parents[2] / "shared/fixtures/cloudfront/realtime/datadog-dashcon-304-refreshhit.tsv").read_bytes()
    (hour / "site-a/x.gz").write_bytes(gzip.compress(good + b"not a log line\n"))
    (hour / "site-b/x.gz").write_bytes(gzip.compress(good + b"nor this one\n"))
    (hour / "clean.gz").write_bytes(gzip.compress(good))
    deletes: list[str] = []
    delete = Storage.delete
    monkeypatch.setattr(Storage, "delete", lambda self, key: (deletes.append(key), delete(self, key))[1])
    config = Settings(lake=Lake(root=str(root)), rtl=Rtl(fields=REALTIME_FIELDS_2020), ingest=Ingest(workers=1))

    assert ingest(config, KEY).quarantined == 2

    def quarantined() -> dict[str, list[str]]:
        files = sorted((root / "quarantine/rtl/dt=2026-11-02").glob("*.parquet"))
        return {p.name: pl.read_parquet(p)["raw"].cast(pl.String).to_list() for p in files}
    held = quarantined()
    assert sorted(v for values in held.values() for v in values) == ["nor this one", "not a log line"]
    assert [k for k in deletes if k.startswith("quarantine/")] == []

    # Site A's object is delivered again without its bad line; beside its file lies one as
    # an earlier release named it.
    (root / "quarantine/rtl/dt=2026-11-02/x.gz.parquet").write_bytes(b"PAR1")
    (hour / "site-a/x.gz").write_bytes(gzip.compress(good))
    summary = ingest(config, KEY)
    assert (summary.objects, summary.quarantined) == (1, 0)
    assert list(quarantined().values()) == [["nor this one"]]
    assert len([k for k in deletes if k.startswith("quarantine/")]) == 2  # its file, and the legacy one


def test_a_failed_merge_waits_for_the_merges_beside_it(monkeypatch):
    """A merge that raises (a damaged hour, say) must not leave another still writing its
    partition when ingest goes on to rebuild and merge again."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    import pipelines.ingest as ingest_module

    finished = []

    def merge_hour(m):
        if m == "bad":
            raise RuntimeError("damaged")
        time.sleep(0.5)
        finished.append(m)
        return m

    monkeypatch.setattr(ingest_module, "merge_hour", merge_hour)
    with ThreadPoolExecutor(2) as pool, pytest.raises(RuntimeError, match="damaged"):
        try:
            list(ingest_module.merge_in_budget(["slow", "bad"], [2, 1], pool, 2, budget=10))
        finally:
            assert finished == ["slow"]


def test_entries_of_objects_gone_from_landing_move_to_the_archive_and_still_count(small_lake, monkeypatch):
    """Landing keeps days; the ledger kept every object ever ingested, and every run and
    sensor tick read and rewrote all of it. Once enough objects have left landing (retention
    or the bucket's lifecycle rule), ingest moves their entries to the archive. The day's
    counts still include them, and so does a rebuild's check for rows it would lose."""
    from datetime import date

    from pipelines.partitions import DamagedPartition
    from pipelines.quality import reconcile

    root, _ = small_lake
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY)
    storage = Storage(str(root))
    before = ledger.load(storage)
    totals = reconcile(storage, [date(2026, 11, 2)])
    morning = sorted((root / "landing/rtl/2026/11/02").glob("0[0-9]/*.gz"))
    gone = {str(p.relative_to(root)): p.read_bytes() for p in morning}
    monkeypatch.setattr(ledger, "ARCHIVE_AFTER", len(morning))
    for p in morning[1:]:
        p.unlink()
    ingest(settings, KEY)  # one short of the batch: nothing moves yet
    assert set(ledger.load(storage)) == set(before) and not (root / ledger.ARCHIVE_PREFIX).exists()

    morning[0].unlink()
    assert ingest(settings, KEY).objects == 0
    assert set(ledger.load(storage)) == set(before) - set(gone)
    month = datetime.now(UTC).strftime("%Y-%m")
    assert [o.key for o in storage.list(ledger.ARCHIVE_PREFIX)] == [f"{ledger.ARCHIVE_PREFIX}{month}.parquet"]
    assert {e.object: e for e in ledger.history(storage)} == before
    assert reconcile(storage, [date(2026, 11, 2)]) == totals

    # Hour 05 damaged, and one of its objects landed again: the others are long gone, so a
    # rebuild would lose their rows. Their entries are archived, and still name them.
    hour = "silver/requests/dt=2026-11-02/hour=05/data.parquet"
    wrote = set(pl.read_parquet(root / hour)["source_object"])
    back = sorted(wrote & set(gone))[0]
    (root / back).write_bytes(gone[back])
    (root / hour).write_bytes((root / hour).read_bytes()[:2000])
    with pytest.raises(DamagedPartition) as caught:
        ingest(settings, KEY)
    assert caught.value.lost == sorted(wrote & set(gone) - {back}) != []


def test_a_recent_listing_takes_each_known_stem_from_its_hour_in_every_key_layout(tmp_path):
    """`discover` with `since` keeps, in every key layout CloudFront and Firehose write, the
    objects of that hour on whose key starts like a key already ingested; a new
    distribution and keys naming no hour wait for a full listing. A layout with the date
    before the distribution (a new key start every day) is listed in full."""
    from pipelines.landing import discover

    since = datetime(2026, 11, 7, 21, tzinfo=UTC)
    known = ["landing/standard/logs/EA.2026-11-01-00.k.gz",
             "landing/standard/EB/year=2026/month=11/day=01/hour=00/EB.2026-11-01-00.k.parquet",
             "landing/standard/EC/2026/11/01/00/EC.2026-11-01-00.k.gz",
             "landing/standard/misc/notime.gz"]
    taken = ["landing/standard/logs/EA.2026-11-07-21.b.gz",
             "landing/standard/EB/year=2026/month=11/day=07/hour=22/EB.2026-11-07-22.c.parquet",
             "landing/standard/EC/2026/11/08/00/EC.2026-11-08-00.d.gz"]
    waiting = ["landing/standard/logs/EA.2026-11-07-20.a.gz",  # an hour before
               "landing/standard/EB/year=2026/month=11/day=06/hour=23/EB.2026-11-06-23.late.parquet",
               "landing/standard/EC/2026/11/07/20/EC.2026-11-07-20.e.gz",
               "landing/standard/logs/ENEW.2026-11-07-22.f.gz",  # a new distribution
               "landing/standard/misc/other.gz"]
    for key in [*known, *taken, *waiting]:
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(b"x")
    storage = Storage(str(tmp_path))
    assert [o.key for o in discover(storage, "standard", since, known)] == sorted(taken)
    everything = sorted([*known, *taken, *waiting])
    assert [o.key for o in discover(storage, "standard")] == everything
    dated = "landing/standard/2026/11/07/ED.2026-11-07-01.g.gz"
    (tmp_path / dated).parent.mkdir(parents=True)
    (tmp_path / dated).write_bytes(b"x")
    assert [o.key for o in discover(storage, "standard", since, [*known, dated])] == sorted([*everything, dated])
