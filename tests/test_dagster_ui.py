"""The Dagster UI in a real browser: the webserver on a generated lake, the asset graph in
headless Chromium, and a materialisation launched through the GraphQL API that succeeds.
Screenshots are kept in test-output/dagster-ui/."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import date

import duckdb
import pytest

from pipelines.generate import GenerateOptions, generate
from pipelines.storage import Storage
from tests.browser import chromium
from tests.conftest import KEY, REPO

OUT = REPO / "test-output" / "dagster-ui"
DAY = "2026-11-02"
LOCATION = "dagster_project.definitions"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def graphql(url: str, query: str, variables: dict | None = None) -> dict:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    req = urllib.request.Request(f"{url}/graphql", body, {"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        answer = json.loads(resp.read())
    assert "errors" not in answer, answer
    return answer["data"]


@pytest.fixture(scope="module")
def webserver(tmp_path_factory):
    work = tmp_path_factory.mktemp("dagster-ui")
    lake = work / "lake"
    generate(Storage(str(lake)), GenerateOptions(start=date.fromisoformat(DAY), days=1, visitors=300,
                                                  bots=3, seed=5))
    home = work / "dagster_home"
    home.mkdir()
    # Runs start at once (no daemon queue), so the test needs only the webserver.
    (home / "dagster.yaml").write_text(
        "telemetry:\n  enabled: false\nrun_coordinator:\n"
        "  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n")
    port = _free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "FOOTFALL_LAKE_ROOT": str(lake),
           "FOOTFALL_HASH_KEY": KEY.decode()}
    log = (work / "webserver.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "dagster_webserver", "-m", LOCATION,
                             "-h", "127.0.0.1", "-p", str(port)],
                            cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"{url}/server_info", timeout=2)
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError((work / "webserver.log").read_text()[-3000:]) from None
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("the Dagster webserver did not answer within 120 s")
    yield url, lake
    proc.terminate()
    proc.wait(timeout=30)


LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
  }
}"""
STATUS = """query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }"""


def test_the_ui_shows_footfalls_assets_and_runs_a_materialisation(webserver):
    url, lake = webserver
    OUT.mkdir(parents=True, exist_ok=True)
    with chromium() as browser:
        page = browser.new_page()
        page.goto(f"{url}/locations/{LOCATION}/asset-groups/gold/lineage", wait_until="networkidle")
        skip = page.get_by_role("button", name="Skip")  # Dagster's first-visit newsletter dialog
        if skip.count():
            skip.click()
        page.get_by_text("page_views", exact=True).first.wait_for(timeout=30_000)
        page.get_by_text("requests", exact=True).first.wait_for()  # silver, upstream of gold
        page.screenshot(path=str(OUT / "asset-graph.png"))
        page.goto(f"{url}/assets", wait_until="networkidle")  # the catalog lists every asset
        for name in ("gold / sessions", "gold / page_views", "gold / presence_snapshots",
                     "gold / presence_routes", "gold / daily_site_metrics",
                     "gold / daily_dimension_stats", "gold / funnel_daily", "silver / requests"):
            page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
        page.screenshot(path=str(OUT / "catalog.png"))

        launched = graphql(url, LAUNCH, {"params": {
            "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                         "jobName": "ingest_landing"},
            "executionMetadata": {"tags": [{"key": "dagster/partition", "value": DAY}]},
        }})["launchRun"]
        assert launched["__typename"] == "LaunchRunSuccess", launched
        run_id = launched["run"]["runId"]
        status, deadline = None, time.time() + 300
        while time.time() < deadline:
            status = graphql(url, STATUS, {"id": run_id})["runOrError"]["status"]
            if status in ("SUCCESS", "FAILURE", "CANCELED"):
                break
            time.sleep(1)
        assert status == "SUCCESS"

        page.goto(f"{url}/runs/{run_id}", wait_until="networkidle")
        page.get_by_text("Success", exact=False).first.wait_for(timeout=30_000)
        page.screenshot(path=str(OUT / "run.png"))
        page.goto(f"{url}/assets/silver/requests", wait_until="networkidle")
        page.get_by_text("rows_written", exact=False).first.wait_for(timeout=30_000)
        page.screenshot(path=str(OUT / "silver-requests.png"))

    # The run really wrote silver for the day, with every landing line accounted for.
    rows = duckdb.sql(f"select count(*) from read_parquet('{lake}/silver/requests/*/*/*.parquet', "
                      "hive_partitioning = false)").fetchall()[0][0]
    assert rows > 1000
    for name in ("asset-graph.png", "catalog.png", "run.png", "silver-requests.png"):
        assert (OUT / name).stat().st_size > 10_000
