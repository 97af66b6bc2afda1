"""`footfall verify` reads the lake back and names each damaged file with the repair that
works for it; following the repair gives back the lake as it was."""

from __future__ import annotations

import hashlib

import pytest

from pipelines.cli import main
from pipelines.config import Lake, Settings
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.models import Window, build
from tests.conftest import KEY
from tests.test_retention_erasure import DAY, HOUR13, _damage

GOLD = "gold/sessions/dt=2026-11-02/data.parquet"


def digests(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for zone in ("silver", "gold") for p in sorted((root / zone).rglob("*.parquet"))}


@pytest.fixture
def lake(small_lake, monkeypatch):
    root, _ = small_lake
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY, sources=ALL_SOURCES)
    build(settings, Window(DAY, DAY))
    monkeypatch.setenv("FOOTFALL_HASH_KEY", KEY.decode())
    monkeypatch.setenv("COLUMNS", "1000")  # rich: one line per message
    return root, settings


def verify(root, capsys, *args: str) -> tuple[int, str]:
    code = main(["verify", "--lake", str(root), *args])
    said = capsys.readouterr()
    return code, " ".join((said.out + said.err).split())


def test_verify_names_each_damaged_file_and_its_repair_gives_the_lake_back(lake, capsys):
    root, settings = lake
    healthy = digests(root)
    files = {z: len([p for p in (root / z).rglob("*.parquet")]) for z in ("silver", "gold")}
    code, said = verify(root, capsys)
    assert code == 0 and "every file reads whole" in said
    assert f"silver │ {files['silver']} │ 0" in said and f"gold │ {files['gold']} │ 0" in said

    wrote, _ = _damage(root)
    (root / GOLD).write_bytes(b"replaced outside Footfall")
    code, said = verify(root, capsys)
    assert code == 1 and f"silver │ {files['silver']} │ 1" in said and f"gold │ {files['gold']} │ 1" in said
    assert (f"{HOUR13} cannot be read" in said and f"footfall ingest --rebuild {HOUR13} rebuilds it "
            f"from the {len(wrote)} landing object(s) it came from") in said
    assert f"{GOLD} cannot be read" in said and f"delete it and run footfall build --date {DAY}" in said

    # The repairs it names.
    assert main(["ingest", "--lake", str(root), "--rebuild", HOUR13]) == 0
    (root / GOLD).unlink()
    assert main(["build", "--lake", str(root), "--date", str(DAY)]) == 0
    capsys.readouterr()
    assert digests(root) == healthy
    assert verify(root, capsys)[0] == 0


def test_verify_says_which_rows_a_rebuild_would_lose_and_reads_only_the_days_asked(lake, capsys):
    root, _ = lake
    wrote, _ = _damage(root)
    gone = sorted(wrote)[0]
    (root / gone).unlink()
    code, said = verify(root, capsys)
    assert code == 1 and f"1 landing object(s) it came from have left landing (e.g. {gone})" in said
    assert f"accept losing their rows of that hour: footfall ingest --rebuild {HOUR13}" in said
    # The lake's day is weeks old: the last seven days hold no file to read.
    code, said = verify(root, capsys, "--days", "7")
    assert code == 0 and "no silver or gold files from" in said
    with pytest.raises(SystemExit) as exited:
        main(["verify", "--lake", str(root), "--days", "0"])
    assert exited.value.code == 2
    assert "'0' is not a number of days like 7" in capsys.readouterr().err


def test_verify_reads_the_ledger_first_and_says_how_to_recover_it(lake, capsys):
    from pipelines import ledger

    root, _ = lake
    (root / ledger.LEDGER_KEY).write_bytes(b"PAR1 overwritten")
    code, said = verify(root, capsys)
    assert code == 1 and "state (ledger) │ 1 │ 1" in said
    assert f"the ingest ledger {root / ledger.LEDGER_KEY} cannot be read" in said
    assert "move it aside and run footfall ingest, which takes every object still in landing again" in said
    assert "silver │" in said and "every file reads whole" not in said


def test_verify_names_each_damaged_ledger_file_itself(lake, capsys):
    """A damaged archive file is named as itself, with the archive's own way out, beside a
    damaged live ledger (before, only the first failure was reported, under the live
    ledger's key); a silver hour's repair then waits for the ledger."""
    from pipelines import ledger

    root, _ = lake
    archive = root / ledger.ARCHIVE_PREFIX / "2026-10.parquet"
    archive.parent.mkdir(parents=True)
    archive.write_bytes(b"PAR1 cut short")
    code, said = verify(root, capsys)
    assert code == 1 and "state (ledger) │ 2 │ 1" in said
    assert f"error: the ledger archive {archive} cannot be read" in said
    assert "only the counts of objects long gone from landing are in it" in said
    (root / ledger.LEDGER_KEY).write_bytes(b"PAR1 overwritten")
    _damage(root)
    code, said = verify(root, capsys)
    assert code == 1 and "state (ledger) │ 2 │ 2" in said and "silver │" in said
    assert f"error: the ingest ledger {root / ledger.LEDGER_KEY} cannot be read" in said
    assert f"error: the ledger archive {archive} cannot be read" in said
    assert f"{HOUR13} cannot be read" in said and "or repair the ledger first" in said


def test_the_dagster_verify_job_fails_naming_each_damaged_file(lake):
    """The same read-back from the Launchpad: a damaged file fails the run (what the UI
    shows) with the file and its repair; a whole lake's run succeeds."""
    import dagster as dg

    from dagster_project.definitions import build_defs
    from dagster_project.resources import FootfallResource, HashKeyResource

    root, _ = lake
    defs = build_defs({"footfall": FootfallResource(lake_root=str(root)), "hash_key": HashKeyResource(key=KEY.decode())})
    job = defs.resolve_job_def("verify_job")
    assert job.execute_in_process(instance=dg.DagsterInstance.ephemeral()).success
    (root / GOLD).write_bytes(b"replaced outside Footfall")
    run = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), raise_on_error=False,
                                 run_config={"ops": {"verify_lake_op": {"config": {"days": 36500}}}})
    assert not run.success
    [failure] = [e for e in run.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    said = failure.step_failure_data.user_failure_data.description
    assert said.startswith(f"{GOLD} cannot be read") and f"footfall build --date {DAY}" in said
