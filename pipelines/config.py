"""Typed settings from `footfall.toml`, with documented defaults and environment overrides.

Lookup order for every key: built-in default < `footfall.toml` < environment variable
`FOOTFALL_<SECTION>_<KEY>` (e.g. `FOOTFALL_LAKE_ROOT`, `FOOTFALL_SESSIONS_TIMEOUT_MINUTES`;
top-level keys drop the section: `FOOTFALL_ENGINE`) < command-line flags such as `--lake`.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rtl_parser.fields import DEFAULT_REALTIME_FIELDS, realtime_positions


class ConfigError(ValueError):
    """A user-facing configuration mistake (reported as one line, no traceback)."""


@dataclass(frozen=True)
class Lake:
    root: str = "./lake"  # local path or s3://bucket/prefix
    # How long ingest, erase or retention waits while another of them holds the lake's
    # writer lock (state/writer.lock) before it gives up (exit 75); Dagster's runs wait at
    # least 600 s. `--wait` overrides it for one command.
    writer_wait_seconds: int = 0


@dataclass(frozen=True)
class Rtl:
    fields: tuple[str, ...] = DEFAULT_REALTIME_FIELDS  # the set selected in the RTL config
    site: str = ""  # site to record when `cs-host` is not among the selected fields


@dataclass(frozen=True)
class Standard:
    # Standard logging v2 lets its W3C and plain output separate fields with another
    # delimiter (up to five characters; "\t" may be written for a tab); legacy logs use a tab.
    field_delimiter: str = "\t"
    # The fields of input without a `#Fields:` line (v2 plain output), in their order;
    # empty = the legacy 33-field layout. An object's own `#Fields:` line always wins.
    fields: tuple[str, ...] = ()


@dataclass(frozen=True)
class Identity:
    visitor_header: str = "x-visitor-id"  # request header with the first-party visitor id
    hash_key_env: str = "FOOTFALL_HASH_KEY"  # environment variable holding the secret key
    # Where to fetch the key when that variable is unset: an AWS Secrets Manager secret
    # (name or ARN, `#field` to pick one field of a JSON secret) or `ssm:/parameter/name`.
    hash_key_secret: str = ""
    derived_salt_rotation: str = "daily"  # "daily" or "none" for ids derived from IP+UA
    client_ip: str = "c-ip"  # "c-ip" or "x-forwarded-for" (when behind another proxy)


@dataclass(frozen=True)
class Sessions:
    timeout_minutes: int = 30  # inactivity that ends a session
    max_hours: int = 24  # a session longer than this is cut


@dataclass(frozen=True)
class Presence:
    window_minutes: int = 5  # "online" = active within this window
    step_minutes: int = 1  # snapshot grid


@dataclass(frozen=True)
class PageViews:
    source: str = "auto"  # rtl, beacon, or auto


@dataclass(frozen=True)
class Late:
    # How far back late landing files still rebuild partitions: the landing sensor rebuilds
    # the gold of days that ended within this many hours; older days keep their gold (the
    # late rows are in silver) until a deliberate build or backfill.
    lookback_hours: int = 48


@dataclass(frozen=True)
class Retention:
    landing: int = 7
    quarantine: int = 7
    silver: int = 400
    gold: int = 0  # 0 = keep forever


@dataclass(frozen=True)
class Collector:
    path_prefix: str = "/_footfall/"  # requests under this path are collector calls
    hosts: tuple[str, ...] = ()  # hosts that serve only the collector
    sites: tuple[str, ...] = ()  # sites accepted (empty: any site, if the Origin is that site)
    max_body_bytes: int = 65536  # a larger POST body is refused (413)
    max_events: int = 20  # events per batch (the beacon sends at most 20)
    firehose_stream: str = ""  # Firehose delivery stream; "" = write the local landing zone
    rotate_bytes: int = 1048576  # local landing: start a new object after this many bytes
    rotate_seconds: int = 60  # local landing: or after this long (Firehose's buffer interval)
    rate_per_minute: int = 600  # batches per minute from one client IP (0 = no limit): then 429


@dataclass(frozen=True)
class Ingest:
    chunk_bytes: int = 32 * 1024 * 1024  # decompressed bytes parsed at a time (bounds memory)
    max_line_bytes: int = 65536  # longer lines are quarantined
    max_object_bytes: int = 8 * 1024**3  # decompressed size cap per object (gzip bombs stop here)
    workers: int = 2  # parallel ingest threads
    wave_bytes: int = 384 * 1024**2  # landing bytes per wave of a long backlog (bounds local staging and the peak)


_SIZE = re.compile(r"\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)", re.IGNORECASE)


@dataclass(frozen=True)
class Build:
    batch_bytes: int = 256 * 1024**2  # silver bytes of the days a build computes together (bounds memory; on S3 copied to TMPDIR)
    memory_limit: str = ""  # DuckDB's, e.g. "1GB": it spills to TMPDIR beyond it ("" = 80 % of RAM)


@dataclass(frozen=True)
class Checks:
    quarantine_rate_warn: float = 0.01  # share of a day's landing lines quarantined that warns
    volume_drop_warn: float = 0.5  # warn when a day has less than this share of the day before


@dataclass(frozen=True)
class Report:
    top_n: int = 10  # rows in each "top" table of the daily report
    slow_path_min_requests: int = 20  # a path needs this many requests to rank as slow
    site: str = ""  # report only this site ("" = every site, one section each)
    deliver_s3: str = ""  # also copy the report to s3://bucket/prefix/dt=D/ ("" = off)
    email_to: tuple[str, ...] = ()  # send the Markdown summary + HTML through Amazon SES
    email_from: str = ""  # a verified SES sender


@dataclass(frozen=True)
class Athena:
    database: str = "footfall"  # Glue database of the lake's tables (footfall athena-ddl)
    workgroup: str = "primary"  # its scan limit and result location apply to every model
    output_location: str = ""  # s3:// for query results ("" = the workgroup's)


@dataclass(frozen=True)
class Dagster:
    partitions_start: str = "2025-01-01"  # first daily partition (UTC) shown and backfillable
    sensor_interval_seconds: int = 30  # how often the landing sensor looks for new objects
    # How often the sensor lists all of landing; in between it lists each source from two
    # hours back only (Firehose objects by arrival hour, standard logs per distribution by
    # request hour): on S3, a LIST request or two a tick per source or distribution instead
    # of one per 1,000 objects kept. Objects delivered into older hours, and a new
    # distribution's, are found at the next full listing. 0: every tick lists all of landing.
    full_listing_minutes: int = 60


@dataclass(frozen=True)
class FunnelStep:
    name: str
    path: str = ""  # exact, or a glob with *
    event_type: str = ""
    props: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Funnel:
    name: str
    steps: tuple[FunnelStep, ...]
    window_minutes: int = 1440


DEFAULT_FUNNELS = (
    Funnel(
        name="signup",
        steps=(
            FunnelStep(name="Landing", path="/"),
            FunnelStep(name="Pricing", path="/pricing"),
            FunnelStep(name="Signup form", path="/signup"),
            FunnelStep(name="Signed up", event_type="form_submit"),
        ),
    ),
)


@dataclass(frozen=True)
class Settings:
    engine: str = "duckdb"  # duckdb or athena
    lake: Lake = Lake()
    rtl: Rtl = Rtl()
    standard: Standard = Standard()
    identity: Identity = Identity()
    sessions: Sessions = Sessions()
    presence: Presence = Presence()
    page_views: PageViews = PageViews()
    late: Late = Late()
    retention: Retention = Retention()
    collector: Collector = Collector()
    ingest: Ingest = Ingest()
    build: Build = Build()
    checks: Checks = Checks()
    report: Report = Report()
    athena: Athena = Athena()
    dagster: Dagster = Dagster()
    funnels: tuple[Funnel, ...] = DEFAULT_FUNNELS

    def with_lake(self, root: str | None) -> Settings:
        return self if not root else dataclasses.replace(self, lake=dataclasses.replace(self.lake, root=root))

    def with_writer_wait(self, seconds: float) -> Settings:
        return dataclasses.replace(self, lake=dataclasses.replace(self.lake, writer_wait_seconds=seconds))


def _coerce(value: Any, default: Any, where: str) -> Any:
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a number, got {value!r}") from None
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{where} must be a whole number, got {value!r}") from None
    if isinstance(default, tuple):
        if isinstance(value, str):
            value = [v for v in value.replace(",", " ").split() if v]
        return tuple(value)
    return str(value)


def _section(cls: type, data: dict[str, Any], prefix: str) -> Any:
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(data) - set(known)
    if unknown:
        raise ConfigError(f"unknown key(s) {', '.join(sorted(unknown))} in [{prefix}] of footfall.toml")
    values = {}
    for name, _f in known.items():
        default = getattr(cls(), name)
        value = data.get(name, default)
        env = os.environ.get(f"FOOTFALL_{prefix.upper()}_{name.upper()}")
        if env is not None:
            value = env
        values[name] = _coerce(value, default, f"{prefix}.{name}")
    return cls(**values)


# A build reads this much silver after the days it builds for the funnels' later steps.
FUNNEL_MAX_WINDOW_MINUTES = 4 * 24 * 60


def _funnels(items: list[dict[str, Any]]) -> tuple[Funnel, ...]:
    out = []
    for item in items:
        try:
            steps = tuple(
                FunnelStep(name=s.get("name") or s.get("path") or s.get("event_type", "step"),
                           path=s.get("path", ""), event_type=s.get("event_type", ""),
                           props={str(k): str(v) for k, v in s.get("props", {}).items()})
                for s in item["steps"]
            )
            window = int(item.get("window_minutes", 1440))
            if not 1 <= window <= FUNNEL_MAX_WINDOW_MINUTES:
                raise ValueError(f"window_minutes must be 1 to {FUNNEL_MAX_WINDOW_MINUTES} (four days), got {window}")
            out.append(Funnel(name=item["name"], steps=steps, window_minutes=window))
        except (KeyError, TypeError, ValueError) as err:
            raise ConfigError(f"funnel {item.get('name', '?')!r} is malformed: {err}") from None
    return tuple(out)


def config_path(explicit: str | None = None) -> Path | None:
    if explicit:
        return Path(explicit)
    env = os.environ.get("FOOTFALL_CONFIG")
    if env:
        return Path(env)
    here = Path("footfall.toml")
    return here if here.exists() else None


def load_settings(path: str | Path | None = None, *, lake: str | None = None) -> Settings:
    """Read settings; `path` None means FOOTFALL_CONFIG or ./footfall.toml if present."""
    p = config_path(str(path) if path else None)
    data: dict[str, Any] = {}
    if p is not None:
        if not p.exists():
            raise ConfigError(f"config file {p} does not exist (check --config / FOOTFALL_CONFIG)")
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{p} is not valid TOML: {err}") from None
    sections = {f.name: f for f in dataclasses.fields(Settings)}
    values: dict[str, Any] = {}
    for name in sections:
        if name == "engine":
            values[name] = os.environ.get("FOOTFALL_ENGINE", data.get("engine", "duckdb"))
        elif name == "funnels":
            values[name] = _funnels(data["funnels"]) if "funnels" in data else DEFAULT_FUNNELS
        else:
            cls = type(getattr(Settings(), name))
            values[name] = _section(cls, data.get(name, {}), name)
    unknown = set(data) - set(sections)
    if unknown:
        raise ConfigError(f"unknown section(s) {', '.join(sorted(unknown))} in {p}")
    settings = Settings(**values)
    if settings.engine not in ("duckdb", "athena"):
        raise ConfigError(f"engine must be 'duckdb' or 'athena', got {settings.engine!r}")
    if settings.page_views.source not in ("auto", "rtl", "beacon"):
        raise ConfigError("page_views.source must be auto, rtl or beacon")
    if settings.identity.derived_salt_rotation not in ("daily", "none"):
        raise ConfigError("identity.derived_salt_rotation must be daily or none")
    if settings.identity.client_ip not in ("c-ip", "x-forwarded-for"):
        raise ConfigError("identity.client_ip must be c-ip or x-forwarded-for")
    for name in ("chunk_bytes", "max_line_bytes", "max_object_bytes", "workers", "wave_bytes"):
        if getattr(settings.ingest, name) < 1:
            raise ConfigError(f"ingest.{name} must be at least 1, got {getattr(settings.ingest, name)}")
    if settings.build.memory_limit and not _SIZE.fullmatch(settings.build.memory_limit):
        raise ConfigError(f"build.memory_limit must be a size like 1GB or 512MB, got {settings.build.memory_limit!r}")
    if settings.late.lookback_hours < 0:
        raise ConfigError(f"late.lookback_hours must be 0 or more, got {settings.late.lookback_hours}")
    if settings.dagster.full_listing_minutes < 0:
        raise ConfigError(f"dagster.full_listing_minutes must be 0 or more, got {settings.dagster.full_listing_minutes}")
    if settings.build.batch_bytes < 1:
        raise ConfigError(f"build.batch_bytes must be at least 1, got {settings.build.batch_bytes}")
    try:
        date.fromisoformat(settings.dagster.partitions_start)
    except ValueError:
        raise ConfigError("dagster.partitions_start must be a date like 2025-01-01") from None
    try:
        realtime_positions(settings.rtl.fields)
    except ValueError as err:
        raise ConfigError(f"rtl.fields: {err}") from None
    delimiter = settings.standard.field_delimiter.replace("\\t", "\t")
    if not 1 <= len(delimiter) <= 5 or {"\n", "\r", "#", "'", "\\"} & set(delimiter):
        raise ConfigError("standard.field_delimiter must be one to five characters, none of them a line "
                          f"break, '#', a quote or a backslash, got {settings.standard.field_delimiter!r}")
    settings = dataclasses.replace(settings, standard=dataclasses.replace(settings.standard, field_delimiter=delimiter))
    return settings.with_lake(lake)
