"""Where the hash key comes from: the environment, or AWS Secrets Manager / SSM Parameter
Store (here a real AWS-API server process), for the CLI and for Dagster alike."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import boto3
import dagster as dg
import polars as pl
import pytest

from dagster_project.definitions import build_defs
from dagster_project.resources import FootfallResource, HashKeyResource
from pipelines.config import Identity
from pipelines.hashing import MissingKeyError, load_key, read_secret
from tests.s3server import apply_env, aws_env, moto_server

SECRET = "0123456789abcdef" * 4  # what the secret store holds


@pytest.fixture(scope="module")
def aws_url():
    with moto_server() as url:
        yield url


@pytest.fixture
def aws(aws_url, monkeypatch):
    """The AWS API server, a JSON secret, a plain one and a SecureString parameter."""
    apply_env(monkeypatch, aws_url)
    monkeypatch.delenv("FOOTFALL_HASH_KEY", raising=False)
    read_secret.cache_clear()
    sm, ssm = boto3.client("secretsmanager"), boto3.client("ssm")
    refs = {}
    for name, text in (("json", json.dumps({"hash_key": SECRET, "other": "x"})), ("plain", SECRET),
                       ("short", "too-short")):
        try:
            refs[name] = sm.create_secret(Name=f"footfall/{name}", SecretString=text)["ARN"]
        except sm.exceptions.ResourceExistsException:
            refs[name] = sm.describe_secret(SecretId=f"footfall/{name}")["ARN"]
    ssm.put_parameter(Name="/footfall/hash-key", Value=SECRET, Type="SecureString", Overwrite=True)
    yield refs
    read_secret.cache_clear()


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k != "FOOTFALL_HASH_KEY"} | env
    return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], capture_output=True,
                          text=True, env=full, timeout=600)


def silver(root: Path) -> pl.DataFrame:
    return pl.read_parquet(f"{root}/silver/requests/*/*/*.parquet", hive_partitioning=False).sort("request_id")


def test_each_kind_of_secret_gives_the_stored_key(aws):
    for ref in (f"{aws['json']}#hash_key", aws["plain"], "footfall/plain", "ssm:/footfall/hash-key"):
        assert load_key(Identity(hash_key_secret=ref)) == SECRET.encode(), ref


def test_an_arn_needs_no_region_in_the_environment(aws, monkeypatch, tmp_path):
    monkeypatch.delenv("AWS_REGION")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))  # no region from there either
    assert load_key(Identity(hash_key_secret=f"{aws['json']}#hash_key")) == SECRET.encode()
    read_secret.cache_clear()
    with pytest.raises(MissingKeyError, match="^cannot read the hash key from Secrets Manager secret "
                                              "footfall/plain: You must specify a region"):
        load_key(Identity(hash_key_secret="footfall/plain"))


def test_the_environment_variable_wins_over_the_secret(aws, monkeypatch):
    monkeypatch.setenv("MY_KEY", "from-the-environment-123")
    identity = Identity(hash_key_env="MY_KEY", hash_key_secret=aws["plain"])
    assert load_key(identity) == b"from-the-environment-123"


@pytest.mark.parametrize("ref, message", [
    ("footfall/absent", "cannot read the hash key from Secrets Manager secret footfall/absent: "
                        "ResourceNotFoundException"),
    ("ssm:/footfall/absent", "cannot read the hash key from SSM parameter /footfall/absent: ParameterNotFound"),
    ("footfall/json#missing", "Secrets Manager secret footfall/json is not a JSON object with a field 'missing'"),
    ("footfall/short", "the hash key in footfall/short is shorter than 16 characters"),
])
def test_an_unusable_secret_is_a_clear_error(aws, ref, message):
    with pytest.raises(MissingKeyError, match="^" + message.replace("(", r"\(").replace(")", r"\)")):
        load_key(Identity(hash_key_secret=ref))


def test_cli_ingest_with_the_key_in_secrets_manager_equals_ingest_with_it_in_the_environment(
        aws, aws_url, small_lake, tmp_path):
    root, _ = small_lake
    config = tmp_path / "footfall.toml"
    config.write_text(f'[lake]\nroot = "{root}"\n\n[identity]\nhash_key_secret = "{aws["json"]}#hash_key"\n')
    env = aws_env(aws_url) | {"AWS_EC2_METADATA_DISABLED": "true"}
    run = cli("ingest", "--config", str(config), env=env)
    assert run.returncode == 0, run.stderr
    from_secret = silver(root)

    twin = tmp_path / "twin"
    shutil.copytree(root / "landing", twin / "landing")
    run = cli("ingest", "--lake", str(twin), env={"FOOTFALL_HASH_KEY": SECRET})
    assert run.returncode == 0, run.stderr
    assert from_secret.height > 1000 and from_secret.equals(silver(twin))
    # A secret that cannot be read stops the run before anything is written, in one line.
    fresh = tmp_path / "fresh"
    (fresh / "landing").mkdir(parents=True)
    config.write_text(f'[lake]\nroot = "{fresh}"\n\n[identity]\nhash_key_secret = "footfall/absent"\n')
    run = cli("ingest", "--config", str(config), env=env)
    assert run.returncode != 0
    assert run.stderr.strip().splitlines() == [
        "error: cannot read the hash key from Secrets Manager secret footfall/absent: "
        "ResourceNotFoundException: Secrets Manager can't find the specified secret."]
    assert not (fresh / "silver").exists()


def test_dagster_reads_the_key_from_the_secret_store(aws, small_lake, tmp_path):
    root, _ = small_lake
    config = tmp_path / "footfall.toml"
    config.write_text('[identity]\nhash_key_secret = "ssm:/footfall/hash-key"\n')
    defs = build_defs({"footfall": FootfallResource(config_path=str(config), lake_root=str(root)),
                       "hash_key": HashKeyResource()})
    job = defs.resolve_job_def("ingest_landing")
    run = job.execute_in_process(instance=dg.DagsterInstance.ephemeral(), partition_key="2026-11-02")
    assert run.success

    twin = tmp_path / "twin"
    shutil.copytree(root / "landing", twin / "landing")
    env_defs = build_defs({"footfall": FootfallResource(lake_root=str(twin)),
                           "hash_key": HashKeyResource(key=SECRET)})
    assert env_defs.resolve_job_def("ingest_landing").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key="2026-11-02").success
    assert silver(root).equals(silver(twin))

    # Neither the variable nor a secret: the run fails saying what to set.
    config.write_text("")
    bare = build_defs({"footfall": FootfallResource(config_path=str(config), lake_root=str(tmp_path / "other")),
                       "hash_key": HashKeyResource()})
    (tmp_path / "other" / "landing").mkdir(parents=True)
    failed = bare.resolve_job_def("ingest_landing").execute_in_process(
        instance=dg.DagsterInstance.ephemeral(), partition_key="2026-11-02", raise_on_error=False)
    assert not failed.success
    failure = next(e for e in failed.all_events if e.event_type_value == "STEP_FAILURE")
    assert "the hash key is missing: FOOTFALL_HASH_KEY is not set" in failure.event_specific_data.error.message

