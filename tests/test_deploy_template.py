"""The CloudFormation template: valid for cfn-lint, and consistent with what the code reads
(real-time log fields, landing prefixes, retention defaults, the collector's settings)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from cfnlint.decode import cfn_yaml

from pipelines.config import Retention
from pipelines.landing import landing_hour
from pipelines.storage import ObjectInfo
from rtl_parser.fields import DEFAULT_REALTIME_FIELDS
from tests.conftest import REPO

TEMPLATE = REPO / "deploy" / "footfall.yaml"


def resources() -> dict:
    return cfn_yaml.loads(TEMPLATE.read_text())["Resources"]


def test_cfn_lint_finds_nothing():
    lint = Path(sys.executable).parent / "cfn-lint"
    done = subprocess.run([str(lint), str(TEMPLATE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_real_time_log_sends_the_fields_the_parser_expects():
    fields = resources()["RealtimeLogConfig"]["Properties"]["Fields"]
    assert fields == list(DEFAULT_REALTIME_FIELDS)


def test_firehose_writes_where_ingest_reads_and_lifecycle_matches_retention():
    r = resources()
    when = datetime(2026, 11, 2, 13, 5, tzinfo=UTC)
    for stream, source in (("RealtimeLogDelivery", "rtl"), ("BeaconDelivery", "beacon")):
        prefix = r[stream]["Properties"]["ExtendedS3DestinationConfiguration"]["Prefix"]["Fn::Sub"]
        key = prefix.replace("${LakePrefix}/", "").replace("!{timestamp:yyyy/MM/dd/HH}", f"{when:%Y/%m/%d/%H}")
        assert key == f"landing/{source}/2026/11/02/13/"
        assert landing_hour(ObjectInfo(key + "obj.gz", 1, 0)) == when.replace(minute=0)
        config = r[stream]["Properties"]["ExtendedS3DestinationConfiguration"]
        assert config["CompressionFormat"] == "GZIP"
    params = cfn_yaml.loads(TEMPLATE.read_text())["Parameters"]
    assert (params["LandingDays"]["Default"], params["QuarantineDays"]["Default"],
            params["SilverDays"]["Default"]) == (Retention().landing, Retention().quarantine, Retention().silver)
    rules = {rule["Id"]: rule for rule in r["LakeBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]}
    assert "gold-retention" not in rules  # gold is kept unless configured
    env = r["Collector"]["Properties"]["Environment"]["Variables"]
    assert set(env) == {"FOOTFALL_COLLECTOR_FIREHOSE_STREAM", "FOOTFALL_COLLECTOR_SITES"}
    assert r["Collector"]["Properties"]["Handler"] == "pipelines.collector.lambda_handler.handler"
