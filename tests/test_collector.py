"""The collector: accepted batches land as §5a records that ingest keeps; hostile, oversized
and mistyped batches are refused whole with the right status; CORS per site; the Lambda
front door writes to Firehose on an AWS API server process."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import time
import uuid
from dataclasses import replace

import boto3
import polars as pl
import pytest

from pipelines.collector.asgi import CollectorApp
from pipelines.collector.core import Core
from pipelines.collector.lambda_handler import handler
from pipelines.collector.sinks import FirehoseSink, LandingSink
from pipelines.config import Collector, Lake, Settings
from pipelines.ingest import ingest
from pipelines.storage import Storage
from tests.conftest import KEY
from tests.s3server import apply_env, moto_server

SITE = "www.example.com"
ORIGIN = f"https://{SITE}"
UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"


def event(kind="page_view", **extra) -> dict:
    return {"event_id": str(uuid.uuid4()), "type": kind, "client_ts": int(time.time() * 1000) - 50,
            "seq": 1, "path": "/pricing", **extra}


def batch(*events, site=SITE, visitor="raw-visitor-7") -> bytes:
    return json.dumps({"site": site, "visitor": visitor, "events": list(events)}).encode()


def call(app, method: str, path: str, body: bytes = b"", headers: dict | None = None,
         chunks: int = 1) -> tuple[int, dict, bytes]:
    """One HTTP exchange with an ASGI app, in-process."""
    head = {"origin": ORIGIN, "user-agent": UA, "content-type": "application/json", **(headers or {})}
    scope = {"type": "http", "method": method, "path": path, "client": ("198.51.100.4", 5555),
             "headers": [(k.encode(), v.encode()) for k, v in head.items()]}
    size = max(1, -(-len(body) // chunks))
    parts = [body[i:i + size] for i in range(0, len(body), size)] or [b""]
    incoming = [{"type": "http.request", "body": p, "more_body": i < len(parts) - 1} for i, p in enumerate(parts)]
    sent: list[dict] = []

    async def receive():
        return incoming.pop(0)

    async def send(message):
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start, payload = sent[0], b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, payload


@pytest.fixture
def lake(tmp_path):
    settings = Settings(lake=Lake(root=str(tmp_path)), collector=Collector(sites=(SITE,)))
    sink = LandingSink(Storage(str(tmp_path)), rotate_bytes=1 << 20, rotate_seconds=3600)
    return settings, sink, CollectorApp(settings, sink)


def test_an_accepted_batch_lands_and_ingest_keeps_every_event(lake, tmp_path):
    settings, sink, app = lake
    events = [event(), event("click", props={"target": "buy"}), event("heartbeat", seq=2)]
    status, headers, body = call(app, "POST", "/_footfall/events", batch(*events))
    assert status == 202 and json.loads(body) == {"accepted": 3}
    assert headers["access-control-allow-origin"] == ORIGIN
    sink.flush()
    [obj] = list((tmp_path / "landing/beacon").rglob("*.gz"))
    records = [json.loads(line) for line in gzip.decompress(obj.read_bytes()).splitlines()]
    assert [r["event_id"] for r in records] == [e["event_id"] for e in events]
    assert records[0]["ip"] == "198.51.100.4" and records[0]["ua"] == UA and records[0]["site"] == SITE
    summary = ingest(settings, KEY, sources=("beacon",))
    assert (summary.rows, summary.quarantined) == (3, 0)
    silver = pl.read_parquet(str(tmp_path / "silver/events/*/*/*.parquet"), hive_partitioning=False)
    assert sorted(silver["event_type"]) == ["click", "heartbeat", "page_view"]
    assert silver["browser"].unique().to_list() == ["Chrome"]
    assert not any("198.51.100.4" in str(v) or v == UA for row in silver.rows() for v in row)


@pytest.mark.parametrize("body, status, reason", [
    (b"<html>", 400, "body is not JSON"),
    (b"[1, 2]", 400, "body must be a JSON object with an events list"),
    (batch(), 400, "events must be a non-empty list"),
    (batch(*[event() for _ in range(21)]), 413, "more than 20 events in one batch"),
    (batch(event(), site="evil.example"), 403, "unknown site 'evil.example'"),
    (batch(event(client_ts="yesterday")), 400, "event 0: client_ts must be epoch milliseconds"),
    (batch(event(), event(kind="<script>alert(1)</script>")), 400, "event 1: unknown event type"),
    (batch(event(props={"a": {"b": {"c": {"d": 1}}}})), 400, "event 0: props nested deeper than 3"),
    (batch(event(props={"x": "y" * 5000})), 400, "event 0: props larger than 4096 bytes"),
    (batch(event(path=["/"])), 400, "event 0: path must be a string"),
    (json.dumps({"site": SITE, "visitor": 7, "events": [event()]}).encode(), 400, "visitor must be a string"),
    (b"{" + b" " * 70_000 + b"}", 413, "body larger than 65536 bytes"),
])
def test_bad_batches_are_refused_whole_and_nothing_lands(lake, tmp_path, body, status, reason):
    _, sink, app = lake
    got, _, answer = call(app, "POST", "/_footfall/events", body, chunks=3)
    assert (got, json.loads(answer)) == (status, {"error": reason})
    sink.flush()
    assert not (tmp_path / "landing").exists()


def test_declared_oversized_body_is_refused_before_reading(lake):
    _, _, app = lake
    status, _, answer = call(app, "POST", "/_footfall/events", b"{}", headers={"content-length": "999999"})
    assert status == 413


def test_cors_only_for_the_sites_own_pages(lake):
    _, _, app = lake
    status, headers, _ = call(app, "OPTIONS", "/_footfall/events")
    assert status == 204 and headers["access-control-allow-origin"] == ORIGIN
    assert "POST" in headers["access-control-allow-methods"]
    status, headers, _ = call(app, "OPTIONS", "/_footfall/events", headers={"origin": "https://evil.example"})
    assert "access-control-allow-origin" not in headers
    # A page on another site cannot post events for this one.
    status, _, answer = call(app, "POST", "/_footfall/events", batch(event()),
                             headers={"origin": "https://evil.example"})
    assert status == 403 and json.loads(answer) == {"error": "Origin does not match the site"}
    assert call(app, "GET", "/_footfall/events")[0] == 405
    assert call(app, "POST", "/elsewhere", batch(event()))[0] == 404


class FlakyFirehose:
    """Firehose's partial failure (which no local server reproduces): the first call fails
    two of the records, the next accepts what is sent again."""

    def __init__(self):
        self.calls: list[list[bytes]] = []

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803 - boto3's names
        data = [r["Data"] for r in Records]
        self.calls.append(data)
        if len(self.calls) == 1:
            errors = [{"ErrorCode": "ServiceUnavailableException"} if i in (1, 3) else {"RecordId": "x"}
                      for i in range(len(data))]
            return {"FailedPutCount": 2, "RequestResponses": errors}
        return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "y"}] * len(data)}


def test_firehose_failed_records_are_sent_again_and_only_they():
    fake = FlakyFirehose()
    FirehoseSink("s", client=fake, backoff_s=0).put([b"a", b"b", b"c", b"d"])
    assert fake.calls == [[b"a\n", b"b\n", b"c\n", b"d\n"], [b"b\n", b"d\n"]]


def test_the_lambda_front_door_writes_to_firehose(monkeypatch):
    with moto_server() as url:
        apply_env(monkeypatch, url)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="lake")
        iam_role = "arn:aws:iam::123456789012:role/firehose"
        boto3.client("firehose").create_delivery_stream(
            DeliveryStreamName="footfall-beacon", DeliveryStreamType="DirectPut",
            ExtendedS3DestinationConfiguration={"RoleARN": iam_role, "BucketARN": "arn:aws:s3:::lake",
                                                "Prefix": "landing/beacon/"})
        settings = Settings(collector=Collector(sites=(SITE,), firehose_stream="footfall-beacon"))
        runtime = (settings, Core(settings.collector), FirehoseSink("footfall-beacon"))
        events = [event(), event("click")]
        answer = handler({
            "requestContext": {"http": {"method": "POST", "sourceIp": "203.0.113.9", "userAgent": UA}},
            "headers": {"Origin": ORIGIN, "CloudFront-Viewer-Country": "NL"},
            "body": base64.b64encode(batch(*events)).decode(), "isBase64Encoded": True,
        }, runtime=runtime)
        assert answer["statusCode"] == 202 and json.loads(answer["body"]) == {"accepted": 2}
        assert answer["headers"]["access-control-allow-origin"] == ORIGIN
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake", Prefix="landing/beacon/")["Contents"]]
        data = b"".join(s3.get_object(Bucket="lake", Key=k)["Body"].read() for k in keys)
        records = [json.loads(line) for line in data.splitlines() if line]
        assert [r["event_id"] for r in records] == [e["event_id"] for e in events]
        assert records[0]["country"] == "NL" and records[0]["ip"] == "203.0.113.9"
        refused = handler({"requestContext": {"http": {"method": "POST"}}, "headers": {"origin": ORIGIN},
                           "body": batch(event(type="nope")).decode()}, runtime=runtime)
        assert refused["statusCode"] == 400


def test_settings_defaults_are_the_documented_limits():
    cfg = replace(Collector())
    assert (cfg.max_body_bytes, cfg.max_events) == (65536, 20)


def test_a_client_over_its_rate_gets_429_and_others_do_not(tmp_path):
    settings = Settings(lake=Lake(root=str(tmp_path)), collector=Collector(sites=(SITE,), rate_per_minute=60))
    app = CollectorApp(settings, LandingSink(Storage(str(tmp_path))))
    # 60 a minute: a burst of 6, then one a second.
    answers = [call(app, "POST", "/_footfall/events", batch(event()))[0] for _ in range(8)]
    assert answers == [202] * 6 + [429] * 2
    status, headers, body = call(app, "POST", "/_footfall/events", batch(event()))
    assert status == 429 and int(headers["retry-after"]) >= 1
    assert json.loads(body) == {"error": "too many batches from this client"}
    other = call(app, "POST", "/_footfall/events", batch(event()), headers={"x-forwarded-for": "192.0.2.50"})
    assert other[0] == 202  # another client is not held back


def test_the_rate_limiter_refills_and_forgets_old_clients():
    from pipelines.collector.core import RateLimiter

    limiter = RateLimiter(per_minute=60, max_clients=2)
    assert [limiter.allow("a", 0.0) for _ in range(7)][-1] == pytest.approx(1.0)
    assert limiter.allow("a", 2.0) == 0  # two seconds refill two tokens
    limiter.allow("b", 2.0)
    limiter.allow("c", 2.0)
    assert set(limiter.buckets) == {"b", "c"}
