"""Crash safety: SIGKILL the ingest and the model runner at random moments, many times. After
every kill the lake is readable (no half-written partition is visible), and the next run
finishes with exactly the rows of a clean run."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import date

import polars as pl
import pyarrow.parquet as pq
import pytest

from pipelines.config import Lake, Settings
from pipelines.generate import GenerateOptions, generate
from pipelines.ingest import ALL_SOURCES, ingest
from pipelines.models import MARTS, Window, build
from pipelines.storage import Storage
from tests.conftest import KEY

DAY = date(2026, 11, 2)
ENV = {**os.environ, "FOOTFALL_HASH_KEY": KEY.decode()}


def readable(root) -> int:
    """Every visible Parquet object of the lake reads completely; returns how many."""
    n = 0
    for path in root.rglob("*.parquet"):
        pq.read_table(path)
        n += 1
    return n


def table(root, name: str) -> pl.DataFrame:
    files = sorted(root.glob(f"{name}/**/*.parquet"))
    frame = pl.concat([pl.read_parquet(f) for f in files], how="vertical_relaxed")
    return frame.sort(frame.columns)


def command(args: list[str], root) -> list[str]:
    return [sys.executable, "-m", "pipelines.cli", *args, "--lake", str(root)]


def cli(args: list[str], root) -> subprocess.CompletedProcess:
    return subprocess.run(command(args, root), env=ENV, capture_output=True, text=True)


def seconds_to_finish(args: list[str], root, scratch) -> float:
    """How long the command takes on a copy of the lake, so kills land inside the run however
    fast this machine (or the code) is."""
    shutil.copytree(root, scratch)
    started = time.monotonic()
    assert cli(args, scratch).returncode == 0
    return time.monotonic() - started


def killed_runs(args: list[str], root, kills: int, rng: random.Random, seconds: float) -> int:
    """Start the command and SIGKILL it at a random moment of a run that takes `seconds`,
    `kills` times; returns how many runs were killed before they finished."""
    interrupted = 0
    for _ in range(kills):
        proc = subprocess.Popen(command(args, root), env=ENV,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 0.95) * seconds)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            interrupted += 1
        proc.wait()
        assert readable(root) >= 0  # raises on a torn partition
    return interrupted


def killed_while_staging(args: list[str], root, scratch, seconds: float):
    """Start the command and SIGKILL it as soon as its staging folder (named with its pid)
    exists under `scratch`; returns that folder."""
    proc = subprocess.Popen(command(args, root), env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 3 * seconds
    while not (folders := list(scratch.glob(f"footfall-ingest-{proc.pid}@*"))):
        assert proc.poll() is None and time.monotonic() < deadline, "the run never staged a row"
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return folders[0]


@pytest.mark.slow
def test_sigkill_anywhere_then_rerun_gives_the_clean_result(tmp_path, monkeypatch):
    clean, crashed = tmp_path / "clean", tmp_path / "crashed"
    scratch = tmp_path / "tmp"  # the runs' TMPDIR, where ingest stages rows
    scratch.mkdir()
    monkeypatch.setitem(ENV, "TMPDIR", str(scratch))
    generate(Storage(str(clean)), GenerateOptions(start=DAY, days=1, visitors=1500, bots=6, seed=21))
    shutil.copytree(clean, crashed)
    settings = Settings(lake=Lake(root=str(clean)))
    ingest(settings, KEY, sources=ALL_SOURCES)
    build(settings, Window(DAY, DAY))

    rng = random.Random(7)
    seconds = seconds_to_finish(["ingest"], crashed, tmp_path / "timed-ingest")
    # A run killed while it stages rows cannot remove its staging. Killed once its folder
    # exists, not at a random moment: the random kills below may all land before a run
    # stages or after the last one finished, which leaves nothing either way.
    staged = killed_while_staging(["ingest"], crashed, scratch, seconds)
    assert staged.exists()
    interrupted = killed_runs(["ingest"], crashed, kills=6, rng=rng, seconds=seconds)
    assert interrupted >= 3  # most runs really died mid-way
    finished = cli(["ingest"], crashed)
    assert finished.returncode == 0, finished.stderr
    assert not list(scratch.glob("footfall-ingest-*"))  # the next run removed what they left
    for name in ("silver/requests", "silver/events"):
        assert table(crashed, name).equals(table(clean, name))

    build_args = ["build", "--date", DAY.isoformat()]
    seconds = seconds_to_finish(build_args, crashed, tmp_path / "timed-build")
    interrupted = killed_runs(build_args, crashed, kills=5, rng=rng, seconds=seconds)
    assert interrupted >= 2
    done = cli(build_args, crashed)
    assert done.returncode == 0, done.stderr
    for mart in MARTS:
        assert table(crashed, f"gold/{mart}").equals(table(clean, f"gold/{mart}")), mart
    assert readable(crashed) > 0
