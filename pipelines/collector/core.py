"""Validate a beacon batch and turn it into landing records (contract §5a).

A batch is `{"site": ..., "visitor": ..., "session_hint": ..., "events": [...]}`; each event
has `event_id`, `type`, `client_ts`, `seq`, `path`, and optionally `query`, `title`,
`referrer`, `props`. The server adds what only it knows: `received_ts`, the client IP, the
user agent and CloudFront's viewer country. A batch is accepted whole or refused whole with
a status and a reason: nothing partial lands. The records are checked with the very rules
ingest applies (`rtl_parser.beacon.record_reason`, tested to agree with the ingest query),
so what the collector accepts, ingest keeps.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipelines.config import Collector
from rtl_parser.beacon import record_reason

EVENT_KEYS = ("event_id", "type", "client_ts", "seq", "path", "query", "title", "referrer", "props")
MAX_PROPS_DEPTH = 3


class Refused(Exception):
    """A batch the collector will not take: HTTP status and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status, self.reason = status, reason


@dataclass(frozen=True)
class Request:
    body: bytes
    client_ip: str
    user_agent: str
    origin: str | None
    country: str | None  # CloudFront-Viewer-Country, when CloudFront fronts the collector
    received_ms: int


def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(v) for v in value), default=0)
    return 0


def origin_host(origin: str | None) -> str | None:
    if not origin:
        return None
    try:
        return (urlsplit(origin).hostname or "").lower() or None
    except ValueError:
        return None


def allowed_origin(origin: str | None, site: str, cfg: Collector) -> bool:
    """CORS: a browser may post only for the site it is on (and only for listed sites)."""
    if cfg.sites and site not in cfg.sites:
        return False
    host = origin_host(origin)
    return host is None or host == site  # no Origin: not a browser's cross-site call


class RateLimiter:
    """Token bucket per client: `per_minute` batches a minute, bursts of a tenth of that.
    Bounded memory: the least recently seen clients are forgotten past `max_clients`."""

    def __init__(self, per_minute: int, max_clients: int = 100_000):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, per_minute / 10.0)
        self.max_clients = max_clients
        self.buckets: dict[str, tuple[float, float]] = {}  # client → (tokens, last seen)

    def allow(self, client: str, now: float) -> float:
        """0 when the batch may pass, else the seconds until it would."""
        if self.rate <= 0:
            return 0.0
        tokens, last = self.buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - last) * self.rate)
        wait = 0.0 if tokens >= 1 else (1 - tokens) / self.rate
        self.buckets[client] = (tokens - 1 if tokens >= 1 else tokens, now)  # newest last
        if len(self.buckets) > self.max_clients:
            self.buckets.pop(next(iter(self.buckets)))
        return wait


def cors_headers(origin: str | None, cfg: Collector) -> dict[str, str]:
    """Access-Control-Allow-Origin for a page on an accepted site (none for others)."""
    host = origin_host(origin)
    if not origin or not host or (cfg.sites and host not in cfg.sites):
        return {}
    return {"access-control-allow-origin": origin, "vary": "Origin"}


class Core:
    def __init__(self, cfg: Collector):
        self.cfg = cfg

    def records(self, req: Request) -> list[bytes]:
        """The batch's landing records (NDJSON lines), or `Refused`."""
        if len(req.body) > self.cfg.max_body_bytes:
            raise Refused(413, f"body larger than {self.cfg.max_body_bytes} bytes")
        try:
            batch = json.loads(req.body)
        except (ValueError, UnicodeDecodeError):
            raise Refused(400, "body is not JSON") from None
        if not isinstance(batch, dict):
            raise Refused(400, "body must be a JSON object with an events list")
        site, events = batch.get("site"), batch.get("events")
        if not isinstance(site, str) or not site:
            raise Refused(400, "site must be a non-empty string")
        site = site.lower()
        if self.cfg.sites and site not in self.cfg.sites:
            raise Refused(403, f"unknown site {site[:100]!r}")
        if not allowed_origin(req.origin, site, self.cfg):
            raise Refused(403, "Origin does not match the site")
        if not isinstance(events, list) or not events:
            raise Refused(400, "events must be a non-empty list")
        if len(events) > self.cfg.max_events:
            raise Refused(413, f"more than {self.cfg.max_events} events in one batch")
        visitor, hint = batch.get("visitor"), batch.get("session_hint")
        for name, value in (("visitor", visitor), ("session_hint", hint)):
            if value is not None and not isinstance(value, str):
                raise Refused(400, f"{name} must be a string")
        lines: list[bytes] = []
        for i, event in enumerate(events):
            if not isinstance(event, dict):
                raise Refused(400, f"event {i} is not an object")
            if _depth(event.get("props")) > MAX_PROPS_DEPTH:
                raise Refused(400, f"event {i}: props nested deeper than {MAX_PROPS_DEPTH}")
            record = {"v": 1, **{k: event[k] for k in EVENT_KEYS if k in event},
                      "received_ts": req.received_ms, "site": site, "visitor": visitor,
                      "session_hint": hint, "ip": req.client_ip, "ua": req.user_agent[:2048],
                      "country": req.country}
            record = {k: v for k, v in record.items() if v is not None}
            lines.append(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode())
            reason = record_reason(record)
            if reason:
                raise Refused(400, f"event {i}: {reason}")
        return lines
