"""Ingest with the lake on S3, over HTTP against a real S3-API server process."""

from __future__ import annotations

import dataclasses
import gzip
import io
import os
import subprocess
import sys
import urllib.parse
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import boto3
import polars as pl
import pytest

from pipelines import ledger
from pipelines.cli import main
from pipelines.config import Ingest, Lake, Settings
from pipelines.ingest import ingest
from pipelines.landing import discover
from pipelines.models import Window, build
from pipelines.quality import duplicate_keys, partition_rows
from pipelines.report import gather
from pipelines.storage import OPEN_AHEAD, KeptChanging, Storage, read_while_replaced
from pipelines.verify import verify
from pipelines.writer_lock import EXIT_BUSY
from tests.conftest import KEY
from tests.s3server import apply_env, aws_env, moto_server, replacing_proxy

DAY = date(2026, 11, 2)


@pytest.fixture(scope="module")
def s3_log(tmp_path_factory) -> Path:
    """The module server's access log: one line per request it served."""
    return tmp_path_factory.mktemp("moto") / "access.log"


@pytest.fixture(scope="module")
def s3_url(s3_log):
    with moto_server(s3_log) as url:
        yield url


def upload_zones(s3_url: str, local_root: Path, bucket: str, zones: tuple[str, ...] = ("landing",)):
    """A new bucket holding the local lake's landing zone (or `zones`) under `lake/`; its client."""
    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket=bucket)
    for zone in zones:
        for path in sorted((local_root / zone).rglob("*")):
            if path.is_file():
                s3.upload_file(str(path), bucket, f"lake/{path.relative_to(local_root)}")
    return s3


def test_ingest_from_and_to_s3_matches_local(s3_url, s3_log, monkeypatch, small_lake, tmp_path):
    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    # One object overwritten mid-stream: read from S3 (a stream, not a file), it keeps the
    # lines before the damage as it does locally.
    victim = sorted((local_root / "landing/rtl").rglob("*.gz"))[-1]
    body = victim.read_bytes()
    at = len(body) * 7 // 10
    victim.write_bytes(body[:at] + b"\xff" * 64 + body[at + 64:])
    s3 = upload_zones(s3_url, local_root, "footfall-test")

    # In waves of at most a third of the landing on S3 (each saving the ledger there), in
    # one wave locally: the same rows.
    landing = sum(p.stat().st_size for s in ("rtl", "standard")
                  for p in (Path(local_root) / "landing" / s).rglob("*") if p.is_file())
    remote = Settings(lake=Lake(root="s3://footfall-test/lake"),
                      ingest=Ingest(workers=1, wave_bytes=landing // 3 + 1))
    start = s3_log.read_text().count("\n")
    summary = ingest(remote, KEY)
    served = s3_log.read_text().splitlines()[start:]
    entries = ledger.load(Storage(remote.lake.root))
    assert summary.objects == len(entries) > 0 and all(e.reconciles for e in entries.values())
    # Each landing object is read with one GET, its size never asked (Arrow's stream sent
    # a HEAD and two GETs an object: 1,776 requests for 592 objects, 592 now).
    read = [line.split()[5:7] for line in served if " /footfall-test/lake/landing/" in line]
    assert sorted(path for _, path in read) == sorted(f"/footfall-test/lake/{k}" for k in entries)
    assert {method for method, _ in read} == {'"GET'}
    damaged = entries[str(victim.relative_to(local_root))]
    assert damaged.error.startswith("corrupt or truncated gzip") and damaged.rows > 0

    keys = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket="footfall-test", Prefix="lake/silver/")
            for o in page.get("Contents", [])]
    assert keys and all(k.endswith("/data.parquet") for k in keys)
    assert not [k for k in keys if ".tmp" in k]  # no temporaries left behind on S3
    remote_rows = pl.concat([
        pl.read_parquet(io.BytesIO(s3.get_object(Bucket="footfall-test", Key=k)["Body"].read()))
        for k in keys
    ]).sort("request_id")

    local = Settings(lake=Lake(root=str(local_root)), ingest=Ingest(workers=1))
    ingest(local, KEY)
    local_rows = pl.read_parquet(str(Path(local_root) / "silver/requests/*/*/*.parquet"),
                                 hive_partitioning=False).sort("request_id")
    # The same rows whichever storage the lake is on (source_object keys are lake-relative).
    assert remote_rows.equals(local_rows)
    # Running again finds nothing new on S3 either.
    assert ingest(remote, KEY).objects == 0


def test_a_landing_object_whose_connection_breaks_off_is_read_on_from_there(
        s3_url, monkeypatch, small_lake, tmp_path, caplog):
    """A landing object is read from S3 as one GET's body. When the connection drops
    halfway through it, the read goes on from the byte it reached, of the same version,
    and the object is taken whole. If the object was replaced meanwhile, the run stops
    with an error that says so and records nothing for it; the next run takes the new
    version whole."""
    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    upload_zones(s3_url, local_root, "footfall-cut")
    objects = sorted((local_root / "landing/rtl").rglob("*.gz"))
    first, second = (str(p.relative_to(local_root)) for p in objects[3:5])

    def lines_of(path: Path) -> int:
        with gzip.open(path) as f:
            return sum(1 for line in f if line.strip())

    def quoted(key: str) -> str:
        return urllib.parse.quote(f"footfall-cut/lake/{key}", safe="")

    remote = Settings(lake=Lake(root="s3://footfall-cut/lake"), ingest=Ingest(workers=1))
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / (quoted(first) + ".cut")).touch()
    # The second is cut, then replaced (by the same records and one more) before the read
    # goes on: the proxy replaces an object at its first ranged GET.
    (versions / (quoted(second) + ".cut")).touch()
    longer = gzip.decompress(objects[4].read_bytes()) + gzip.decompress(objects[5].read_bytes()).split(b"\n")[0] + b"\n"
    (versions / quoted(second)).write_bytes(gzip.compress(longer))
    with replacing_proxy(s3_url, versions) as proxy:
        apply_env(monkeypatch, proxy)
        with pytest.raises(OSError, match=f"s3://footfall-cut/lake/{second} was replaced while it was read"):
            ingest(remote, KEY)
        assert not list(versions.iterdir())  # both were cut, the second replaced
        assert f"reading s3://footfall-cut/lake/{first} broke off at byte" in caplog.text
        storage = Storage(remote.lake.root)
        assert first not in ledger.load(storage)  # the run stopped before recording its wave
        ingest(remote, KEY)
        entries = ledger.load(storage)
    for key, lines in ((first, lines_of(objects[3])), (second, lines_of(objects[4]) + 1)):
        assert entries[key].error is None and entries[key].reconciles and entries[key].lines == lines > 1


def test_retention_on_s3_deletes_a_thousand_objects_a_request_and_leaves_no_folder_markers(
        s3_url, s3_log, monkeypatch, small_lake):
    """Retention deletes landing and quarantine objects past their age with S3's batch
    delete. Arrow's `delete_file` asked each key what it was, deleted it, and PUT an empty
    `folder/` marker where the folder's last object went: the demo lake's 1,301 expired
    objects took 3,904 requests (now 2) and left 1,303 markers in the bucket. Before deleting, it
    reads back the silver hours those objects wrote without asking first whether they
    exist."""
    from pipelines.retention import apply_retention

    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    s3 = upload_zones(s3_url, local_root, "footfall-retained")
    remote = Settings(lake=Lake(root="s3://footfall-retained/lake"), ingest=Ingest(workers=1))
    ingest(remote, KEY)

    def keys(prefix: str) -> list[str]:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket="footfall-retained", Prefix=prefix)
        return [o["Key"] for page in pages for o in page.get("Contents", [])]

    landing, silver = keys("lake/landing/"), keys("lake/silver/")
    start = s3_log.read_text().count("\n")
    done = apply_retention(remote, today=DAY + timedelta(days=30))
    served = s3_log.read_text().splitlines()[start:]
    assert sorted(f"lake/{k}" for k in done.deleted if k.startswith("landing/")) == sorted(landing)
    assert keys("lake/landing/") == keys("lake/quarantine/") == [] and keys("lake/silver/") == silver
    assert not [k for k in keys("lake/") if k.endswith("/")]  # no folder markers
    lake = [line.split()[5:7] for line in served if " /footfall-retained" in line]
    batches = [path for method, path in lake if method == '"POST' and "?delete" in path]
    assert len(batches) == -(-len(done.deleted) // 1000) and len(landing) > 300
    assert not [path for method, path in lake if method in ('"DELETE', '"PUT') and "/landing/" in path]
    assert not [path for method, path in lake if method == '"HEAD' and "/silver/" in path]


def test_models_and_report_on_an_s3_lake_match_the_local_lake(s3_url, monkeypatch, small_lake):
    """Ingest → DuckDB models → report with the lake on the S3 server: the same gold and the
    same report as on local disk. DuckDB reads S3 through Arrow datasets over HTTP."""
    from datetime import date

    from pipelines.ingest import ALL_SOURCES
    from pipelines.models import MARTS, Window, build
    from pipelines.report import write_report

    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    upload_zones(s3_url, local_root, "footfall-models")
    day = date(2026, 11, 2)
    remote = Settings(lake=Lake(root="s3://footfall-models/lake"))
    local = Settings(lake=Lake(root=str(local_root)))
    for settings in (remote, local):
        ingest(settings, KEY, sources=ALL_SOURCES)
        build(settings, Window(day, day))
        write_report(settings, day)

    def gold(settings, name):
        return Storage(settings.lake.root).read_frame(f"gold/{name}/dt=2026-11-02/data.parquet")

    for name in MARTS:
        assert gold(remote, name).equals(gold(local, name)), name
    assert gold(remote, "sessions").height > 0
    md = "reports/dt=2026-11-02/daily_report.md"
    assert Storage(remote.lake.root).read_bytes(md) == Storage(local.lake.root).read_bytes(md)


def test_spilled_quarantine_is_published_to_s3_whole_and_in_line_order(s3_url, monkeypatch, tmp_path):
    """Past the memory cap, rejects spill to a local file that is then uploaded as the
    object's quarantine file: every rejected line arrives, in line order."""
    from pipelines import ingest as ingest_module

    apply_env(monkeypatch, s3_url)
    monkeypatch.setattr(ingest_module, "REJECTS_HELD_BYTES", 1)
    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket="footfall-spill")
    junk = {n: f"not a log line {n}\tshort".encode() for n in range(1, 20001, 3)}
    body = b"\n".join(junk.get(n, b"") for n in range(1, 20001)) + b"\n"  # blank lines between
    s3.put_object(Bucket="footfall-spill", Key="lake/landing/rtl/2026/11/02/10/junk.gz",
                  Body=gzip.compress(body))
    remote = Settings(lake=Lake(root="s3://footfall-spill/lake"), ingest=Ingest(workers=1, chunk_bytes=64 * 1024))
    assert ingest(remote, KEY).quarantined == len(junk)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="footfall-spill", Prefix="lake/quarantine/")["Contents"]]
    assert len(keys) == 1 and ".tmp" not in keys[0]
    rows = pl.read_parquet(io.BytesIO(s3.get_object(Bucket="footfall-spill", Key=keys[0])["Body"].read()))
    assert rows["line_no"].to_list() == sorted(junk)
    assert rows["raw"].to_list() == [junk[n] for n in sorted(junk)]


def _cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True, text=True,
                          env={**clean, **env, "FOOTFALL_HASH_KEY": "k" * 32,
                               "AWS_EC2_METADATA_DISABLED": "true"}, timeout=300)


def test_a_missing_bucket_or_an_unreachable_s3_is_one_line_saying_what_to_check(s3_url, monkeypatch):
    apply_env(monkeypatch, s3_url)
    missing = _cli("ingest", "--lake", "s3://no-such-footfall-bucket/lake", env=aws_env(s3_url))
    assert missing.returncode == 2 and missing.stderr == (
        "error: no lake at s3://no-such-footfall-bucket/lake: the bucket does not exist; "
        "check --lake or lake.root in footfall.toml\n")
    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket="footfall-empty")
    empty = _cli("ingest", "--lake", "s3://footfall-empty/lake", env=aws_env(s3_url))
    assert empty.returncode == 0
    assert "landing is empty: no rtl, standard or beacon objects under s3://footfall-empty/lake/landing/" in empty.stdout
    # Nothing listens on the port the server had before it: a network failure, not a bug.
    with moto_server() as gone:
        pass
    offline = _cli("build", "--lake", "s3://footfall-empty/lake", "--date", "2026-11-01", env=aws_env(gone))
    message = offline.stderr.strip()
    assert offline.returncode == 1 and "\n" not in message and "Traceback" not in message
    assert "bucket 'footfall-empty'" in message and "NETWORK_CONNECTION" in message
    assert "check the network, AWS_REGION and AWS_ENDPOINT_URL" in message


def test_a_damaged_hour_on_s3_is_named_by_a_query_and_rebuilt_by_ingest(s3_url, monkeypatch, small_lake, tmp_path):
    """The same repair as on a local lake (see test_ingest), through S3: a query names the
    damaged object and the way out; the next ingest that touches its hour rebuilds it."""
    from tests.test_ingest import HOUR, _copy_landing

    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    late = sorted((local_root / "landing/rtl/2026/11/02/13").glob("*.gz"))[-1]
    body = late.read_bytes()
    late.unlink()
    s3 = upload_zones(s3_url, local_root, "footfall-damaged")
    remote = Settings(lake=Lake(root="s3://footfall-damaged/lake"))
    ingest(remote, KEY)
    whole = s3.get_object(Bucket="footfall-damaged", Key=f"lake/{HOUR}")["Body"].read()
    s3.put_object(Bucket="footfall-damaged", Key=f"lake/{HOUR}", Body=whole[: len(whole) // 2])

    query = _cli("query", "--lake", "s3://footfall-damaged/lake", "select count(*) from requests",
                 env={**aws_env(s3_url), "COLUMNS": "1000"})
    said = query.stdout + query.stderr
    assert query.returncode == 1 and "Traceback" not in said, said
    assert f"footfall-damaged/lake/{HOUR} cannot be read" in said
    assert "footfall ingest --rebuild silver/requests/dt=2026-11-02/hour=13" in said
    # `footfall verify` finds it before anything meets it, reading the bucket back.
    check = _cli("verify", "--lake", "s3://footfall-damaged/lake", env={**aws_env(s3_url), "COLUMNS": "1000"})
    said = check.stdout + check.stderr
    assert check.returncode == 1 and f"{HOUR} cannot be read" in said, said
    assert f"footfall ingest --rebuild {HOUR} rebuilds it from the" in said

    late.write_bytes(body)
    s3.upload_file(str(late), "footfall-damaged", f"lake/{late.relative_to(local_root)}")
    summary = ingest(remote, KEY)
    assert [(r.key, r.lost) for r in summary.rebuilt] == [(HOUR, [])]
    kept = s3.get_object(Bucket="footfall-damaged", Key=f"lake/{summary.rebuilt[0].kept_as}")["Body"].read()
    assert kept == whole[: len(whole) // 2]
    clean = _copy_landing(local_root, tmp_path / "clean")
    ingest(Settings(lake=Lake(root=str(clean))), KEY)
    rebuilt = s3.get_object(Bucket="footfall-damaged", Key=f"lake/{HOUR}")["Body"].read()
    assert pl.read_parquet(io.BytesIO(rebuilt)).equals(pl.read_parquet(clean / HOUR))
    check = _cli("verify", "--lake", "s3://footfall-damaged/lake", env={**aws_env(s3_url), "COLUMNS": "1000"})
    assert check.returncode == 0 and "every file reads whole" in check.stdout, check.stdout + check.stderr


def test_v2_parquet_landing_objects_are_read_from_s3_by_range(s3_url, monkeypatch, tmp_path):
    """Parquet is read from its end: on S3 through ranged reads of the object, with the
    rows a local lake gets from the same file."""
    import pyarrow.parquet as pq

    from tests.test_fixtures_standard import as_v2_parquet

    apply_env(monkeypatch, s3_url)
    local = tmp_path / "lake"
    key = "landing/standard/E1/year=2019/month=12/day=04/hour=21/E1.parquet"
    (local / key).parent.mkdir(parents=True)
    pq.write_table(as_v2_parquet("aws-docs-example.log"), local / key, row_group_size=2)
    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket="footfall-parquet")
    s3.upload_file(str(local / key), "footfall-parquet", f"lake/{key}")

    remote = Settings(lake=Lake(root="s3://footfall-parquet/lake"), ingest=Ingest(workers=1))
    summary = ingest(remote, KEY)
    assert (summary.lines, summary.rows, summary.quarantined) == (6, 6, 0)
    remote_rows = pl.read_parquet(io.BytesIO(s3.get_object(
        Bucket="footfall-parquet", Key="lake/silver/requests/dt=2019-12-04/hour=21/data.parquet")["Body"].read()))
    ingest(Settings(lake=Lake(root=str(local)), ingest=Ingest(workers=1)), KEY)
    assert remote_rows.equals(pl.read_parquet(local / "silver/requests/dt=2019-12-04/hour=21/data.parquet"))


def test_dagster_runs_every_check_on_an_s3_lake(s3_url, monkeypatch, small_lake):
    """The ingest and gold jobs through Dagster with the lake on the S3 server: both succeed,
    and every asset check runs against S3 and passes, with the rows an ingest of the same
    landing on local disk writes."""
    import dagster as dg

    from dagster_project.definitions import build_defs
    from dagster_project.resources import FootfallResource, HashKeyResource
    from pipelines.ingest import ALL_SOURCES

    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    upload_zones(s3_url, local_root, "footfall-dagster")
    d = build_defs({"footfall": FootfallResource(lake_root="s3://footfall-dagster/lake"),
                    "hash_key": HashKeyResource(key=KEY.decode())})
    instance = dg.DagsterInstance.ephemeral()
    ingest_run = d.resolve_job_def("ingest_landing").execute_in_process(instance=instance, partition_key="2026-11-02")
    assert ingest_run.success
    checks = {(e.asset_key.to_user_string(), e.check_name): e for e in ingest_run.get_asset_check_evaluations()}
    assert len(checks) == 10 and all(e.passed for e in checks.values())
    # The volume check read the day's row counts from the Parquet footers on S3.
    assert checks[("silver/requests", "volume_drop")].metadata["days_checked"].value > 0
    local = ingest(Settings(lake=Lake(root=str(local_root))), KEY, sources=ALL_SOURCES)
    meta = ingest_run.asset_materializations_for_node("silver__requests")[0].metadata
    events = ingest_run.asset_materializations_for_node("silver__events")[0].metadata
    assert meta["rows_written"].value + events["rows_written"].value == local.rows > 0

    gold_run = d.resolve_job_def("build_gold").execute_in_process(instance=instance, partition_key="2026-11-02")
    assert gold_run.success
    evaluations = gold_run.get_asset_check_evaluations()
    assert len(evaluations) == 14 and all(e.passed for e in evaluations)


def test_a_lake_footfall_writes_on_s3_reads_back_and_erases_a_visitor(s3_url, s3_log, monkeypatch, tmp_path, capsys):
    """Landing that Footfall itself writes to S3 (the generator; the collector's sink writes
    the same way) is stored as given: its .gz objects are one gzip, as Firehose writes them
    and as any tool reads them. Ingest reads them as it does locally, and an erasure on S3
    removes the visitor's rows (as many as local silver holds), rebuilds gold, and finds
    none left; `footfall query` on the S3 lake counts what is left. The erasure asks no
    object its size: it sent a HEAD for each object of silver and gold, twice."""
    from datetime import date

    import duckdb

    from pipelines.cli import main
    from pipelines.erasure import erase
    from pipelines.generate import GenerateOptions, generate
    from pipelines.ingest import ALL_SOURCES
    from pipelines.models import Window, build

    apply_env(monkeypatch, s3_url)
    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket="footfall-written")
    remote = Settings(lake=Lake(root="s3://footfall-written/lake"))
    local = Settings(lake=Lake(root=str(tmp_path / "lake")))
    options = GenerateOptions(start=date(2026, 11, 2), days=1, visitors=120, seed=3)
    for settings in (remote, local):
        generate(Storage(settings.lake.root), options)
    landed = next(o["Key"] for o in s3.list_objects_v2(Bucket="footfall-written", Prefix="lake/landing/rtl/")["Contents"])
    text = gzip.decompress(s3.get_object(Bucket="footfall-written", Key=landed)["Body"].read())
    assert text.count(b"\t") > 40 and b"\n" in text  # log lines, not a second gzip

    summaries = [ingest(settings, KEY, sources=ALL_SOURCES) for settings in (remote, local)]
    assert summaries[0].rows == summaries[1].rows > 1000 and summaries[0].quarantined == summaries[1].quarantined
    day = date(2026, 11, 2)
    build(remote, Window(day, day))

    requests = f"read_parquet('{tmp_path}/lake/silver/requests/*/*/*.parquet', hive_partitioning = false)"
    visitor, rows = duckdb.sql(f"select visitor_id, count(*) from {requests} group by 1 order by 2 desc, 1 limit 1").fetchall()[0]
    start = s3_log.read_text().count("\n")
    result = erase(remote, KEY, visitor_id=visitor)
    assert not [line for line in s3_log.read_text().splitlines()[start:] if '"HEAD' in line]
    assert result.rows_removed["requests"] == rows and result.remaining == 0
    assert result.gold_days == ["2026-11-02"]
    left = sum(len(Storage(remote.lake.root).read_frame(o.key))
               for o in Storage(remote.lake.root).list("silver/requests/") if o.key.endswith(".parquet"))
    assert left == summaries[1].rows - rows - summaries[1].by_source["beacon"]["rows"]
    capsys.readouterr()
    sql = f"select count(*) as n, count(*) filter (where visitor_id = '{visitor}') as erased from requests"
    assert main(["query", sql, "--csv", "--lake", remote.lake.root]) == 0
    assert capsys.readouterr().out.splitlines() == ["n,erased", f"{left},0"]


def _bucket_holding(url: str, bucket: str, keys: list[str]) -> Storage:
    """A new bucket with an object at lake/<key> for each of `keys`: its key as content, or
    nothing for a key ending in "/" (a "folder" as the S3 console creates them)."""
    s3 = boto3.client("s3", endpoint_url=url)
    s3.create_bucket(Bucket=bucket)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=bucket, Key=f"lake/{k}",
                                              Body=b"" if k.endswith("/") else k.encode()), keys))
    return Storage(f"s3://{bucket}/lake")


def _list_requests(log: Path) -> int:
    """S3 LIST requests so far, in the server's access log."""
    return log.read_text().count("list-type=2")


def test_a_listing_from_a_recent_hour_costs_one_list_request_not_one_per_thousand_keys(monkeypatch, tmp_path):
    """A week of Firehose objects, twelve an hour (2,016 keys): listing them all takes three
    S3 LIST requests, as on every sensor tick before; listing from a recent hour on takes
    one and finds the same objects (size and time) for those hours as the full listing."""
    log = tmp_path / "moto.log"
    first = datetime(2026, 11, 1, tzinfo=UTC)
    hours = [first + timedelta(hours=n) for n in range(7 * 24)]
    keys = {f"landing/rtl/{h:%Y/%m/%d/%H}/footfall-rtl-1-{h:%Y-%m-%d-%H}-{i:02d}-{n % 997}.gz": h
            for n, (h, i) in enumerate((h, i) for h in hours for i in range(12))}
    since = datetime(2026, 11, 7, 21, tzinfo=UTC)  # the week's last three hours
    with moto_server(log) as url:
        apply_env(monkeypatch, url)
        folder = "landing/rtl/2026/11/07/22/"  # a console "folder"
        storage = _bucket_holding(url, "week", [*keys, folder])
        before = _list_requests(log)
        everything = discover(storage, "rtl")
        full = _list_requests(log) - before
        recent = discover(storage, "rtl", since)
        windowed = _list_requests(log) - before - full
    assert [o.key for o in everything] == sorted(keys)
    expected = sorted(k for k, h in keys.items() if h >= since)
    assert len(expected) == 36 and recent == [o for o in everything if o.key in set(expected)]
    assert (full, windowed) == (3, 1)


def test_standard_logs_are_listed_from_a_recent_hour_per_distribution(monkeypatch, tmp_path):
    """Standard log keys sort by distribution, then by the hour of their requests: between
    full listings each known distribution is listed from a recent hour on, one LIST request
    each instead of one per thousand keys, and finds what the full listing has of those
    hours. A new distribution and a file delivered late into an older hour are left for the
    next full listing."""
    log = tmp_path / "moto.log"
    first = datetime(2026, 11, 1, tzinfo=UTC)
    hours = [first + timedelta(hours=n) for n in range(7 * 24)]
    # Legacy layout below a prefix, and v2 with Hive-style partitions, six files an hour.
    layouts = {"E1LEGACYEXAMPLE": lambda h: f"logs/E1LEGACYEXAMPLE.{h:%Y-%m-%d-%H}",
               "E2HIVEEXAMPLE": lambda h: f"E2HIVEEXAMPLE/year={h:%Y}/month={h:%m}/day={h:%d}/"
                                          f"hour={h:%H}/E2HIVEEXAMPLE.{h:%Y-%m-%d-%H}"}
    keys = {f"landing/standard/{name(h)}.{i:08x}.gz": (dist, h)
            for dist, name in layouts.items() for h in hours for i in range(6)}
    since = datetime(2026, 11, 7, 21, tzinfo=UTC)  # the week's last three hours
    known = list(keys)  # the ledger, after an ingest of the week
    late = f"landing/standard/logs/E1LEGACYEXAMPLE.{since - timedelta(hours=30):%Y-%m-%d-%H}.late.gz"
    new_dist = f"landing/standard/logs/E3NEWEXAMPLE.{since:%Y-%m-%d-%H}.00000000.gz"
    with moto_server(log) as url:
        apply_env(monkeypatch, url)
        storage = _bucket_holding(url, "std", [*keys, late, new_dist])
        before = _list_requests(log)
        everything = discover(storage, "standard")
        full = _list_requests(log) - before
        recent = discover(storage, "standard", since, known)
        windowed = _list_requests(log) - before - full
        # A ledger of 100 keys in two distributions: one full listing (3 requests here)
        # is expected to cost less than one request a distribution; the same objects.
        few_known = discover(storage, "standard", since, known[:50] + known[-50:])
        in_full = _list_requests(log) - before - full - windowed
    assert [o.key for o in everything] == sorted([*keys, late, new_dist])
    expected = sorted(k for k, (_, h) in keys.items() if h >= since)
    assert len(expected) == 2 * 3 * 6
    assert recent == [o for o in everything if o.key in set(expected)]
    assert (full, windowed) == (3, 2)
    assert few_known == recent and in_full == 3


def test_builds_and_checks_on_s3_read_past_silver_hours_that_ingest_replaces_meanwhile(
        s3_url, monkeypatch, small_lake, caplog, tmp_path):
    """On S3 DuckDB reads silver through Arrow, by byte ranges after asking for the size:
    an hour partition replaced in between (as ingest does to the current hour every few
    minutes) reads as bytes of two versions, and the build failed ("Parquet magic bytes
    not found", HTTP 416, thrift errors: six builds in six while every hour was being
    replaced), as did the duplicate-key check (ten in ten) and the row count from the
    footers (six in ten). Here a proxy replaces two hours at the first read of a range of
    them: each reads again when the objects changed under it, and gives the local lake's
    figures; `verify`, which takes each object with one GET, finds nothing damaged. Builds
    now copy each silver object with one GET too."""
    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    local = Settings(lake=Lake(root=str(local_root)), ingest=Ingest(workers=1))
    ingest(local, KEY)
    upload_zones(s3_url, local_root, "footfall-churn", ("silver",))
    hours = sorted((local_root / "silver").rglob("*.parquet"))
    marts = ["page_views", "daily_site_metrics"]
    build(local, Window(DAY, DAY), marts)
    expected = {m: pl.read_parquet(local_root / f"gold/{m}/dt={DAY}/data.parquet") for m in marts}
    # Two hours' other versions (ingest replaces the hour in progress, sometimes the one
    # before): the same rows laid out otherwise (snappy, row groups of 100).
    same, other = {}, {}
    for path in hours[-2:]:
        laid_out = io.BytesIO()
        pl.read_parquet(path).write_parquet(laid_out, compression="snappy", row_group_size=100)
        name = f"footfall-churn/lake/{path.relative_to(local_root)}"
        same[name], other[name] = path.read_bytes(), laid_out.getvalue()
    versions = tmp_path / "versions"
    versions.mkdir()

    def replaced_at_first_range(bodies: dict[str, bytes]) -> None:
        for name, body in bodies.items():
            (versions / urllib.parse.quote(name, safe="")).write_bytes(body)

    remote = Settings(lake=Lake(root="s3://footfall-churn/lake"))
    with replacing_proxy(s3_url, versions) as proxy:
        apply_env(monkeypatch, proxy)
        replaced_at_first_range(other)
        built = build(remote, Window(DAY, DAY), marts)
        # The build copies each silver object with one GET, never by range: no read of one
        # can mix two versions (the proxy replaced neither hour).
        assert len(list(versions.iterdir())) == 2 and "were replaced" not in caplog.text
        storage = Storage(remote.lake.root)
        for mart, frame in expected.items():
            assert built[mart][str(DAY)] == frame.height > 0
            assert storage.read_frame(f"gold/{mart}/dt={DAY}/data.parquet").equals(frame)

        request_ids = pl.read_parquet(local_root / "silver/requests/*/*/*.parquet",
                                      hive_partitioning=False)["request_id"]
        caplog.clear()  # the other versions still wait for a range read: the check's
        objects = [o for o in storage.list("silver/") if o.key.endswith(".parquet")]
        assert [o.key for o in objects] == [str(path.relative_to(local_root)) for path in hours]
        assert duplicate_keys(storage, objects, "request_id") == request_ids.is_duplicated().sum() == 0
        assert not list(versions.iterdir()) and "objects were replaced while" in caplog.text
        caplog.clear()
        replaced_at_first_range(same)
        rows = partition_rows(storage, "silver/requests", DAY)
        assert "objects were replaced while reading the footers of silver/requests/dt=2026-11-02/" in caplog.text
        assert rows == partition_rows(Storage(str(local_root)), "silver/requests", DAY) == len(request_ids) > 0
        # verify reads each object whole, with one GET: one version, never damage.
        replaced_at_first_range(other)
        checked = verify(remote)
        assert checked.read["silver"] == len(hours) and not checked.damaged


def test_queries_and_the_report_on_s3_read_past_objects_replaced_meanwhile(
        s3_url, monkeypatch, small_lake, caplog, capsys, tmp_path):
    """`footfall query` (and `online`, `journey`) and the daily report read an S3 lake
    through Arrow's ranged reads too, so they failed with Arrow's error when ingest replaced
    an hour of silver, or a build a day of gold, while they read it. Through the proxy that
    replaces objects at their first range read, each reads again and gives the local lake's
    answer."""
    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    local = Settings(lake=Lake(root=str(local_root)), ingest=Ingest(workers=1))
    ingest(local, KEY)
    build(local, Window(DAY, DAY))
    upload_zones(s3_url, local_root, "footfall-asking", ("silver", "gold", "state"))
    versions = tmp_path / "versions"
    versions.mkdir()

    def replaced_at_first_range(parts: list[str]) -> None:
        """Other versions (the same rows laid out otherwise) of these parts of the lake."""
        for part in parts:
            laid_out = io.BytesIO()
            pl.read_parquet(local_root / part).write_parquet(laid_out, compression="snappy", row_group_size=50)
            name = urllib.parse.quote(f"footfall-asking/lake/{part}", safe="")
            (versions / name).write_bytes(laid_out.getvalue())

    requests = pl.read_parquet(local_root / "silver/requests/*/*/*.parquet", hive_partitioning=False)
    sql = ("select count(*) as requests, count(distinct visitor_id) as visitors, "
           "count(*) filter (where is_page_view) as page_views from requests")
    expected = f"requests,visitors,page_views\n{requests.height},{requests['visitor_id'].n_unique()}," \
               f"{requests['is_page_view'].sum()}\n"
    hours = sorted(str(p.relative_to(local_root)) for p in (local_root / "silver/requests").rglob("*.parquet"))
    remote = Settings(lake=Lake(root="s3://footfall-asking/lake"))
    gold_parts = [f"gold/{t}/dt={DAY}/data.parquet" for t in ("daily_site_metrics", "page_views")]
    with replacing_proxy(s3_url, versions) as proxy:
        apply_env(monkeypatch, proxy)
        replaced_at_first_range(hours[-2:])
        capsys.readouterr()
        assert main(["query", "--lake", remote.lake.root, "--csv", sql]) == 0
        assert capsys.readouterr().out == expected
        assert not list(versions.iterdir())  # both hours were replaced while read
        assert "objects were replaced while reading the query's tables" in caplog.text

        caplog.clear()
        replaced_at_first_range(gold_parts)
        report = gather(remote, DAY)
        assert not list(versions.iterdir())
        assert "objects were replaced while reading gold/daily_site_metrics for the report" in caplog.text
        assert "objects were replaced while reading gold/page_views for the report" in caplog.text
    # The same report as the local lake's, hourly page views included.
    mine = gather(local, DAY)
    assert dataclasses.replace(report, generated_at=mine.generated_at) == mine
    assert sum(h["page_views"] for s in report.sites for h in s.hourly) == \
        pl.read_parquet(local_root / gold_parts[1]).height > 0


def test_builds_checks_and_the_report_on_s3_ask_no_object_its_size(monkeypatch, small_lake, tmp_path):
    """The builds, the checks and the report read the objects they listed, each with the
    size its listing gave. Before, each Arrow dataset made from paths sent a HEAD per
    object, every time one was made: a one-day build of the 3-day demo lake sent 1,090
    HEADs to silver among its 3,047 requests (now 0 of 1,957). The volume check's row
    count sent a HEAD and a GET per hour (now the GET alone)."""
    from pipelines.quality import pii_findings

    local_root, _ = small_lake
    local = Settings(lake=Lake(root=str(local_root)), ingest=Ingest(workers=1))
    ingest(local, KEY)
    marts = ["page_views", "sessions", "daily_site_metrics"]
    build(local, Window(DAY, DAY), marts)
    log = tmp_path / "moto.log"
    with moto_server(log) as url:
        apply_env(monkeypatch, url)
        upload_zones(url, local_root, "footfall-sized", ("silver", "state"))
        remote = Settings(lake=Lake(root="s3://footfall-sized/lake"))
        storage = Storage(remote.lake.root)
        start = log.read_text().count("\n")
        built = build(remote, Window(DAY, DAY), marts)
        after_build = log.read_text().count("\n")
        objects = [o for o in storage.list("silver/requests/") if o.key.endswith(".parquet")]
        dupes, findings = duplicate_keys(storage, objects, "request_id"), pii_findings(storage, objects)
        rows = partition_rows(storage, "silver/requests", DAY)  # the volume check's footers
        written = log.read_text().count("\n")
        report = gather(remote, DAY)
        served = log.read_text().splitlines()
        # The sizes the writer counted are those S3 lists.
        keys = [f"gold/{mart}/dt={DAY}/data.parquet" for mart in marts]
        counted = [storage.write_parquet(key, storage.read_frame(key)) for key in keys]
        listed = [o.size for key in keys for o in storage.list(key.rsplit("/", 1)[0] + "/")]
    # The build copies each silver object it reads with one GET (through Arrow by ranges
    # it sent some fifteen each): the lake's every hour, as the day's sessions look at the
    # hours around it.
    fetched = Counter(line.split()[6] for line in served[start:after_build] if "/footfall-sized/lake/silver/" in line)
    silver = {f"/footfall-sized/lake/{p.relative_to(local_root)}" for p in (local_root / "silver").rglob("*.parquet")}
    assert set(fetched) == silver and set(fetched.values()) == {1}
    reads = [line for line in served[start:written] if "/footfall-sized/lake/silver/" in line]
    assert any('"GET' in line for line in reads) and not [line for line in reads if '"HEAD' in line]
    # Nor is a gold partition asked its size once written: the writer counted it.
    writes = [line for line in served[start:written] if "/footfall-sized/lake/gold/" in line]
    assert any('"PUT' in line for line in writes) and not [line for line in writes if '"HEAD' in line]
    gold_reads = [line for line in served[written:] if "/footfall-sized/lake/gold/" in line]
    assert any('"GET' in line for line in gold_reads) and not [line for line in gold_reads if '"HEAD' in line]
    # And each answer is the local lake's.
    for mart in marts:
        assert built[mart][str(DAY)] == pl.read_parquet(local_root / f"gold/{mart}/dt={DAY}/data.parquet").height > 0
    assert dupes == 0 and findings == {} and len(objects) == 24
    assert rows == pl.read_parquet(local_root / f"silver/requests/dt={DAY}/*/*.parquet").height > 0
    mine = gather(local, DAY)
    assert dataclasses.replace(report, generated_at=mine.generated_at) == mine
    assert counted == listed and all(n > 0 for n in listed)


def test_online_on_s3_reads_the_recent_snapshots_and_the_latest_ones_routes_only(
        monkeypatch, small_lake, tmp_path):
    """`footfall online` shows the latest snapshot of each site seen in the last seven days
    and its top routes. Before, every day's snapshots and routes were read to find them (a
    year of gold: some 730 objects for one instant). With the day's presence copied two
    days back, and ten days back under another site's name, the answer on S3 is the local
    one, from the recent days' snapshots and the latest day's routes alone, and no other
    table of the lake is listed or read (each cost a listing and its newest object's
    footer). A lake with no recent presence shows every site's latest, old ones too."""
    from pipelines.catalog import connect, reading
    from pipelines.journey import PRESENCE_TABLES, latest_presence

    local_root, _ = small_lake
    local = Settings(lake=Lake(root=str(local_root)), ingest=Ingest(workers=1))
    ingest(local, KEY)
    build(local, Window(DAY, DAY), ["presence_snapshots", "presence_routes", "sessions"])
    for table in ("presence_snapshots", "presence_routes"):
        day = pl.read_parquet(local_root / f"gold/{table}/dt={DAY}/data.parquet")
        one_site = day.filter(pl.col("site") == day["site"].min()).with_columns(site=pl.lit("old.example.com"))
        for back, rows in ((2, day), (10, one_site)):
            earlier = DAY - timedelta(days=back)
            (local_root / f"gold/{table}/dt={earlier}").mkdir()
            rows.with_columns(pl.col("dt") - timedelta(days=back), pl.col("snapshot_ts") - timedelta(days=back)
                              ).write_parquet(local_root / f"gold/{table}/dt={earlier}/data.parquet")
    con = connect(Storage(str(local_root)))
    expected, stale = latest_presence(con, 3, today=DAY), latest_presence(con, 3, today=DAY + timedelta(days=30))
    con.close()
    assert expected[1].height > 0 and set(expected[0]["snapshot_ts"].dt.date()) == {DAY}
    assert "old.example.com" not in expected[0]["site"]
    assert stale[0].filter(pl.col("site") == "old.example.com")["snapshot_ts"].dt.date().to_list() == \
        [DAY - timedelta(days=10)]
    assert stale[0].filter(pl.col("site") != "old.example.com").equals(expected[0])
    log = tmp_path / "moto.log"
    with moto_server(log) as url:
        apply_env(monkeypatch, url)
        upload_zones(url, local_root, "footfall-online", ("silver", "gold"))
        remote = Storage("s3://footfall-online/lake")
        start = log.read_text().count("\n")
        snapshots, routes = reading(remote, lambda con: latest_presence(con, 3, today=DAY),
                                    "the presence tables", PRESENCE_TABLES)
        served = log.read_text().splitlines()[start:]
        old = reading(remote, lambda con: latest_presence(con, 3, today=DAY + timedelta(days=30)),
                      "the presence tables", PRESENCE_TABLES)
    assert snapshots.equals(expected[0]) and routes.equals(expected[1])
    assert old[0].equals(stale[0]) and old[1].equals(stale[1])
    objects = {tuple(line.split()[6].split("/")[4:6]) for line in served if '"GET /footfall-online/lake/gold/' in line}
    assert objects == {("presence_snapshots", f"dt={DAY}"), ("presence_snapshots", f"dt={DAY - timedelta(days=2)}"),
                       ("presence_routes", f"dt={DAY}")}
    touched = {urllib.parse.unquote(line.split()[6]) for line in served if "footfall-online" in line}
    others = [t for t in touched if ("silver/" in t or "gold/sessions" in t)
              and "delimiter=/" not in t]  # the layers' folders are listed, to find the tables
    assert others == [] and any("prefix=lake/gold/presence_snapshots/" in t for t in touched)


def test_a_read_that_the_lake_keeps_changing_under_gives_up_with_a_busy_exit(monkeypatch, tmp_path, capsys):
    """Reading again is bounded: objects replaced under each of four tries end the read with
    "run it again later" (the CLI's busy exit, as for a held lake, so a scheduler retries),
    and a failure with the objects unchanged is a real one and propagates at once."""
    s3_like = type("S3Like", (), {"is_s3": True})()
    listings, reads = iter(range(100)), []

    def failing(listed: int) -> None:
        reads.append(listed)
        raise OSError("Parquet magic bytes not found")

    with pytest.raises(KeptChanging, match=r"under each of 4 tries to read gold/x \(.*\): run it again later"):
        read_while_replaced(s3_like, lambda: next(listings), failing, "gold/x", (OSError,))
    assert reads == [0, 1, 2, 3]
    reads.clear()
    with pytest.raises(OSError, match="magic bytes"):
        read_while_replaced(s3_like, lambda: "the same", failing, "gold/x", (OSError,))
    assert reads == ["the same"]

    def kept_changing(*args, **kwargs):
        raise KeptChanging("the lake changed under each of 4 tries to read the query's tables")

    monkeypatch.setattr("pipelines.catalog.reading", kept_changing)
    assert main(["query", "--lake", str(tmp_path), "select 1"]) == EXIT_BUSY
    assert "busy: the lake changed under each of 4 tries" in capsys.readouterr().err


def test_a_query_of_one_hour_on_s3_reads_that_hours_objects_only(monkeypatch, small_lake, tmp_path):
    """The catalog's S3 tables know each object's `dt`, `hour` and size from the listing: a
    query filtered on them reads only the matching objects (and the newest one, for the
    columns), and asks no object its size. Before, every object was asked its size and had
    its footer read to test the filter: a query of one day of a year of silver made some
    17,000 requests."""
    from pipelines.catalog import reading

    local_root, _ = small_lake
    ingest(Settings(lake=Lake(root=str(local_root)), ingest=Ingest(workers=1)), KEY)
    hours = sorted((local_root / "silver/requests").rglob("*.parquet"))
    assert len(hours) == 24
    log = tmp_path / "moto.log"
    with moto_server(log) as url:
        apply_env(monkeypatch, url)
        upload_zones(url, local_root, "footfall-pruned", ("silver",))
        start = log.read_text().count("\n")
        ((count,),) = reading(Storage("s3://footfall-pruned/lake"), lambda con: con.sql(
            f"select count(*) from requests where dt = '{DAY}' and hour = 13").fetchall(), "a test query")
        served = log.read_text().splitlines()[start:]
    assert count == pl.read_parquet(local_root / f"silver/requests/dt={DAY}/hour=13/data.parquet").height > 0
    objects = {line.split()[6].split("?")[0] for line in served if '"GET /footfall-pruned/lake/silver/' in line}
    assert objects == {f"/footfall-pruned/lake/silver/requests/dt={DAY}/hour={h}/data.parquet" for h in ("13", "23")}
    assert not [line for line in served if '"HEAD /footfall-pruned/lake/' in line]


def test_an_s3_ingest_reuses_its_connections(s3_url, s3_log, monkeypatch, small_lake, tmp_path):
    """Every task of an ingest reads and writes the lake through one boto3 client and one
    Arrow S3 filesystem, each with its pool of open connections. Before, each task made its
    own of both (a boto3 client alone costs ~0.1 s of CPU), and each opened new connections:
    on S3 a TCP and TLS handshake each. Counted at a proxy in front of the server. Reading
a partition that may not exist yet asks no HEAD first (which Arrow followed, on a miss,
with a LIST to see whether it was a folder)."""
    import urllib.request

    apply_env(monkeypatch, s3_url)
    local_root, _ = small_lake
    upload_zones(s3_url, local_root, "footfall-pooled")
    objects = sum(1 for s in ("rtl", "standard") for p in (local_root / "landing" / s).rglob("*") if p.is_file())
    remote = Settings(lake=Lake(root="s3://footfall-pooled/lake"), ingest=Ingest(workers=2))
    with replacing_proxy(s3_url, tmp_path) as proxy:
        apply_env(monkeypatch, proxy)

        def opened() -> int:
            with urllib.request.urlopen(proxy + "/_proxy/connections") as answer:
                return int(answer.read())

        before = opened()
        start = s3_log.read_text().count("\n")
        summary = ingest(remote, KEY)
        connections = opened() - before - 1
        served = s3_log.read_text().splitlines()[start:]
    assert not [line for line in served if '"HEAD' in line]
    assert sum('"GET /footfall-pooled?' in line for line in served) <= 3  # listings: landing, the ledger archive
    assert summary.objects == objects > 40
    # One for each request that can be under way at once: each worker reads one landing
    # object with the GETs of the next OPEN_AHEAD sent, plus the run's own reads and writes.
    # A client each task made 30 for these 330 objects (before the GETs were sent ahead).
    assert 0 < connections <= remote.ingest.workers * (OPEN_AHEAD + 1) + 4


def test_objects_opened_ahead_are_read_in_order_and_a_missing_one_fails_at_its_turn(s3_url, monkeypatch):
    """Ingest reads landing objects with the next ones' GETs already sent (`open_inputs`):
    each stream is its own object's bytes, in the order asked, and an object deleted since
    the listing fails when its turn comes, after the ones before it were read whole."""
    apply_env(monkeypatch, s3_url)
    keys = [f"landing/rtl/2026/11/02/10/obj-{i}" for i in range(10)]
    storage = _bucket_holding(s3_url, "footfall-ahead", keys)
    missing = "landing/rtl/2026/11/02/10/obj-gone"
    asked = [*keys[:7], missing, *keys[7:]]
    read = []
    with pytest.raises(FileNotFoundError, match="obj-gone does not exist"):
        for stream in storage.open_inputs(asked, ahead=3):
            with stream:
                read.append(stream.read().decode())
    assert read == keys[:7]
    assert [s.read().decode() for s in storage.open_inputs(keys, ahead=20)] == keys
