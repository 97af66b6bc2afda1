"""The collector as an AWS Lambda behind a Function URL (payload format 2.0), writing to
Firehose. Configure with the same FOOTFALL_COLLECTOR_* environment variables.

    handler = "pipelines.collector.lambda_handler.handler"
"""

from __future__ import annotations

import base64
import json
import time
from functools import cache

from pipelines.collector.core import Core, Refused, Request, cors_headers
from pipelines.collector.sinks import FirehoseSink
from pipelines.config import load_settings


@cache
def _runtime():
    settings = load_settings()
    if not settings.collector.firehose_stream:
        raise RuntimeError("set FOOTFALL_COLLECTOR_FIREHOSE_STREAM for the Lambda collector")
    return settings, Core(settings.collector), FirehoseSink(settings.collector.firehose_stream)


def _answer(status: int, payload: dict, origin: str | None, cfg) -> dict:
    headers = {"content-type": "application/json", "cache-control": "no-store",
               **cors_headers(origin, cfg)}
    return {"statusCode": status, "headers": headers, "body": json.dumps(payload)}


def handler(event: dict, context=None, runtime=None) -> dict:
    settings, core, sink = runtime or _runtime()
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    origin = headers.get("origin")
    http = event.get("requestContext", {}).get("http", {})
    cfg = settings.collector
    if http.get("method") == "OPTIONS":
        answer = _answer(204, {}, origin, cfg)
        answer["headers"].update({"access-control-allow-methods": "POST, OPTIONS",
                                  "access-control-allow-headers": "content-type"})
        return answer
    if http.get("method") != "POST":
        return _answer(405, {"error": "use POST"}, origin, cfg)
    raw = event.get("body") or ""
    body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
    request = Request(body=body, client_ip=http.get("sourceIp", ""), user_agent=http.get("userAgent", ""),
                      origin=origin, country=headers.get("cloudfront-viewer-country"),
                      received_ms=int(time.time() * 1000))
    try:
        records = core.records(request)
        sink.put(records)
    except Refused as err:
        return _answer(err.status, {"error": err.reason}, origin, cfg)
    except RuntimeError as err:
        return _answer(503, {"error": str(err)}, origin, cfg)
    return _answer(202, {"accepted": len(records)}, origin, cfg)
