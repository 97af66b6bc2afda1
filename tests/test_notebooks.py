"""The notebooks run top to bottom against a built lake, and show the gold figures."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import nbformat
import pytest
from nbclient import NotebookClient

from pipelines.config import Lake, Settings
from pipelines.generate import GenerateOptions, generate
from pipelines.ingest import ingest
from pipelines.models import Window, build
from pipelines.storage import Storage
from tests.conftest import KEY, REPO

DAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("notebooks") / "lake"
    generate(Storage(str(root)), GenerateOptions(start=DAY, days=2, visitors=300, bots=3, seed=8))
    settings = Settings(lake=Lake(root=str(root)))
    ingest(settings, KEY)
    build(settings, Window(DAY, DAY + timedelta(days=1)))
    return root


def run(name: str, lake, monkeypatch) -> tuple[list[str], int]:
    """Execute the notebook; its text outputs and how many images it drew."""
    monkeypatch.setenv("FOOTFALL_LAKE_ROOT", str(lake))
    monkeypatch.delenv("FOOTFALL_ATHENA_WORKGROUP", raising=False)
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(REPO / "notebooks")}}).execute()
    texts, images = [], 0
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            assert output.get("output_type") != "error", output
            texts.append(output.get("text") or output.get("data", {}).get("text/plain", ""))
            images += "image/png" in output.get("data", {})
    return texts, images


@pytest.mark.parametrize("name", ["explore_duckdb.ipynb", "athena_awswrangler.ipynb"])
def test_notebook_runs_and_shows_the_gold_sessions(name, lake, monkeypatch):
    texts, images = run(name, lake, monkeypatch)
    sessions = duckdb.sql(f"select count(*) from read_parquet('{lake}/gold/sessions/*/*.parquet')").fetchall()[0][0]
    assert sessions > 0
    assert any(f"total sessions: {sessions}" in t for t in texts)
    assert any("channel" in t and "bounce_rate" in t for t in texts)  # the sessions table
    assert any("peak_online" in t for t in texts)
    assert any("avg_time_on_page_s" in t and "exit_rate" in t and "avg_scroll_depth_pct" in t for t in texts)  # page engagement
    assert any("to_path" in t and "(exit)" in t for t in texts)  # page transitions
    # The DuckDB notebook plots the presence curve and p95 by hour.
    assert images == (2 if name == "explore_duckdb.ipynb" else 0)
