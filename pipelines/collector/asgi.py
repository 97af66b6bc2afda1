"""The collector as an ASGI app (uvicorn, or any ASGI server behind CloudFront).

    POST    /_footfall/events     a beacon batch → 202 {"accepted": n}
    POST    /_footfall/presence   the same, for heartbeat-only batches (a separate path so
                                  that logs and rate limits can tell them apart)
    OPTIONS /_footfall/*          CORS preflight, for the sites allowed
    GET     /_footfall/footfall.js  the beacon script (web/footfall.js)

Answers are JSON; a refused batch gets 4xx with {"error": reason}.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from pipelines.collector.core import Core, RateLimiter, Refused, Request, cors_headers
from pipelines.config import Settings

SCRIPT = Path(__file__).resolve().parents[2] / "web" / "footfall.js"


def _header(scope: dict, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class CollectorApp:
    def __init__(self, settings: Settings, sink):
        self.settings, self.sink = settings, sink
        self.core = Core(settings.collector)
        self.limiter = RateLimiter(settings.collector.rate_per_minute)
        self.prefix = settings.collector.path_prefix.rstrip("/")

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    self.sink.flush()
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        origin = _header(scope, b"origin")
        cors = self._cors(origin)
        if path == f"{self.prefix}/footfall.js" and method == "GET":
            body = SCRIPT.read_bytes() if SCRIPT.exists() else b""
            return await self._send(send, 200 if body else 404, body,
                                    "application/javascript; charset=utf-8", cors)
        if path not in (f"{self.prefix}/events", f"{self.prefix}/presence"):
            return await self._json(send, 404, {"error": "not found"}, cors)
        if method == "OPTIONS":
            return await self._send(send, 204, b"", None, cors + [
                (b"access-control-allow-methods", b"POST, OPTIONS"),
                (b"access-control-allow-headers", b"content-type"),
                (b"access-control-max-age", b"86400")])
        if method != "POST":
            return await self._json(send, 405, {"error": "use POST"}, cors)
        body, limit = b"", self.settings.collector.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared and declared.isdigit() and int(declared) > limit:
            return await self._json(send, 413, {"error": f"body larger than {limit} bytes"}, cors)
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > limit:
                return await self._json(send, 413, {"error": f"body larger than {limit} bytes"}, cors)
            if not message.get("more_body"):
                break
        client = scope.get("client") or ("", 0)
        forwarded = _header(scope, b"x-forwarded-for")
        client_ip = forwarded.split(",")[0].strip() if forwarded else client[0]
        wait = self.limiter.allow(client_ip, time.monotonic())
        if wait:
            return await self._json(send, 429, {"error": "too many batches from this client"},
                                    cors + [(b"retry-after", str(max(1, round(wait))).encode())])
        request = Request(body=body, client_ip=client_ip,
                          user_agent=_header(scope, b"user-agent") or "", origin=origin,
                          country=_header(scope, b"cloudfront-viewer-country"),
                          received_ms=int(time.time() * 1000))
        try:
            records = self.core.records(request)
            self.sink.put(records)
        except Refused as err:
            return await self._json(send, err.status, {"error": err.reason}, cors)
        except RuntimeError as err:
            return await self._json(send, 503, {"error": str(err)}, cors)
        return await self._json(send, 202, {"accepted": len(records)}, cors)

    def _cors(self, origin: str | None) -> list[tuple[bytes, bytes]]:
        return [(k.encode(), v.encode("latin-1"))
                for k, v in cors_headers(origin, self.settings.collector).items()]

    async def _json(self, send, status: int, payload: dict, cors) -> None:
        await self._send(send, status, json.dumps(payload).encode(), "application/json", cors)

    async def _send(self, send, status: int, body: bytes, ctype: str | None, extra) -> None:
        headers = [(b"content-length", str(len(body)).encode()), (b"cache-control", b"no-store"),
                   *extra]
        if ctype:
            headers.append((b"content-type", ctype.encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_app(settings: Settings):
    """The app with the sink `collector.firehose_stream` selects."""
    from pipelines.collector.sinks import FirehoseSink, LandingSink
    from pipelines.storage import Storage

    cfg = settings.collector
    sink = FirehoseSink(cfg.firehose_stream) if cfg.firehose_stream else LandingSink(
        Storage(settings.lake.root), cfg.rotate_bytes, cfg.rotate_seconds)
    return CollectorApp(settings, sink)
