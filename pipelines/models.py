"""The SQL model runner: jinja2 models in `sql/`, rendered for DuckDB or Athena.

Staging models (`stg_*`) are ephemeral: `ref()` inlines them as subqueries. Marts are
materialised one gold partition per day, `gold/<table>/dt=YYYY-MM-DD/data.parquet`,
replaced atomically; a day without data gets an empty partition, so a rebuild always
replaces exactly the days it owns. Engine differences live in `sql/macros/engine.sql`.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path

import duckdb
import jinja2
import polars as pl
import pyarrow as pa

from pipelines.config import FUNNEL_MAX_WINDOW_MINUTES, Settings
from pipelines.datasets import arrow_dataset
from pipelines.erased import build_past_erasures
from pipelines.schemas import SILVER, sql_type
from pipelines.storage import ObjectInfo, Storage, read_while_replaced

# How a read of a replaced S3 object fails: Arrow's error, which DuckDB reports as invalid input.
S3_READ_ERRORS = (duckdb.InvalidInputException, duckdb.IOException, OSError, pa.ArrowException)
SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
_DT = re.compile(r"/dt=(\d{4}-\d{2}-\d{2})/")


@dataclass(frozen=True)
class Model:
    name: str
    path: str  # relative to sql/
    ephemeral: bool = False
    lookback_hours: int = 0  # input needed before the window starts
    lookahead_hours: int = 0  # input needed after the window ends
    # Ephemeral, but costly and read by several marts over the same inputs: a DuckDB build
    # computes it once per distinct SQL into a temporary table the marts share.
    shared: bool = False


MODELS = {m.name: m for m in (
    Model("stg_requests", "staging/stg_requests.sql", ephemeral=True),
    Model("stg_events", "staging/stg_events.sql", ephemeral=True),
    Model("int_page_views", "intermediate/int_page_views.sql", ephemeral=True),
    Model("int_activity", "intermediate/int_activity.sql", ephemeral=True),
    Model("page_views", "marts/page_views.sql"),
    Model("int_presence_buckets", "intermediate/int_presence_buckets.sql", ephemeral=True, shared=True),
    Model("int_sessionized", "intermediate/int_sessionized.sql", ephemeral=True, shared=True),
    Model("int_page_sequence", "intermediate/int_page_sequence.sql", ephemeral=True, shared=True),
    Model("sessions", "marts/sessions.sql", lookback_hours=24, lookahead_hours=48),
    Model("presence_snapshots", "marts/presence_snapshots.sql", lookback_hours=24),
    Model("presence_routes", "marts/presence_routes.sql", lookback_hours=24),
    Model("daily_site_metrics", "marts/daily_site_metrics.sql", lookback_hours=30 * 24,
          lookahead_hours=48),
    Model("daily_dimension_stats", "marts/daily_dimension_stats.sql", lookback_hours=24,
          lookahead_hours=48),
    Model("funnel_daily", "marts/funnel_daily.sql", lookahead_hours=FUNNEL_MAX_WINDOW_MINUTES // 60),
    Model("cdn_health_hourly", "marts/cdn_health_hourly.sql"),
    Model("path_latency_daily", "marts/path_latency_daily.sql"),
    Model("web_vitals_daily", "marts/web_vitals_daily.sql"),
    Model("page_engagement_daily", "marts/page_engagement_daily.sql", lookback_hours=24,
          lookahead_hours=48),
    Model("page_transitions_daily", "marts/page_transitions_daily.sql", lookback_hours=24,
          lookahead_hours=48),
)}
MARTS = [m.name for m in MODELS.values() if not m.ephemeral]


@dataclass(frozen=True)
class Window:
    start: date
    end: date

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]

    def __str__(self) -> str:
        return str(self.start) if self.start == self.end else f"{self.start} to {self.end}"

    def widened(self, before_hours: int = 0, after_hours: int = 0) -> Window:
        """The days an input must cover to serve this window (whole days, rounded out)."""
        return Window(self.start - timedelta(days=-(-before_hours // 24)),
                      self.end + timedelta(days=-(-after_hours // 24)))


def _sql_string(value: object) -> str:
    """A SQL string literal of a configuration value (quotes doubled)."""
    return "'" + str(value).replace("'", "''") + "'"


def _glob_like(pattern: str) -> str:
    """A LIKE pattern (escape character `!`) for a path glob where * is any text."""
    escaped = pattern.replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return _sql_string(escaped.replace("*", "%"))


def _sql_list(values: list[str]) -> str:
    """A SQL list literal of file paths (quotes doubled: paths are never user strings)."""
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


@cache
def _environment() -> jinja2.Environment:
    """One Jinja environment per process: it caches the compiled templates."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(SQL_DIR), undefined=jinja2.StrictUndefined,
                             autoescape=False, trim_blocks=True, lstrip_blocks=True)
    env.filters["sql_list"] = _sql_list
    env.filters["sql_string"] = _sql_string
    env.filters["glob_like"] = _glob_like
    return env


class Renderer:
    """Renders models for one engine. `sources` maps silver tables to their Parquet files
    (DuckDB); `database` names the Glue database (Athena)."""

    def __init__(self, engine: str, settings: Settings, *, sources: dict[str, list[str]] | None = None,
                 database: str = "footfall", gold: Callable[[str, Window], list[str] | None] | None = None,
                 shared: Callable[[str], str] | None = None, now: datetime | None = None):
        self.engine = engine
        self.settings = settings
        self.now = now or datetime.now(UTC)  # when the build runs: the day in progress ends there
        self.shared = shared  # SQL of a shared model → the relation that holds its rows
        # DuckDB: the Parquet files of a mart's days, or None when a day is not built yet
        # (then the mart is computed inline). Athena reads the mart's Glue table.
        self.gold = gold or (lambda _name, _window: None)
        self.env = _environment()
        self.globals = {
            "engine": engine,
            "database": database,
            "sources": sources or {},
            "schemas": {t: [(f.name, sql_type(f.type, engine)) for f in s] for t, s in SILVER.items()},
            "funnels": settings.funnels,
            "settings": {"page_views_source": settings.page_views.source,
                         "session_timeout_minutes": settings.sessions.timeout_minutes,
                         "session_max_hours": settings.sessions.max_hours,
                         "presence_window_minutes": settings.presence.window_minutes,
                         "presence_step_minutes": settings.presence.step_minutes,
                         "slow_path_min_requests": settings.report.slow_path_min_requests},
        }

    def render(self, name: str, window: Window) -> str:
        model = MODELS[name]
        macros = self.env.get_template("macros/engine.sql").make_module(self.globals)
        columns = self.env.get_template("macros/columns.sql").make_module(self.globals)
        context = {**self.globals, "window": {"start": window.start.isoformat(),
                                              "end": window.end.isoformat()},
                   "window_days": [d.isoformat() for d in window.days()],
                   "presence_grid": self.presence_grid(window)}
        context.update({k: getattr(macros, k) for k in
                        ("source", "date_literal", "empty_relation", "epoch_ms", "md5_hex", "utc_date",
                         "from_epoch_ms", "seconds", "series", "percentile", "median", "json_text")})
        context["attribution_columns"] = columns.attribution_columns
        context["cdn_measures"] = columns.cdn_measures
        context["visitor_order"] = columns.visitor_order
        context["ref"] = lambda dep, before_hours=0, after_hours=0: self.ref(
            dep, window.widened(before_hours, after_hours))
        return self.env.get_template(model.path).render(context).strip()

    def presence_grid(self, window: Window) -> tuple[int, int]:
        """First and last presence instant (epoch ms) of the window: every step of its days,
        except that a day in progress ends at the build's time, rounded up to the grid (that
        instant counts everything seen so far). Later instants have no snapshot: a zero there
        would claim that nobody was online."""
        step = self.settings.presence.step_minutes * 60_000
        first = int(datetime.combine(window.start, datetime.min.time(), UTC).timestamp() * 1000)
        last = int(datetime.combine(window.end + timedelta(days=1), datetime.min.time(), UTC).timestamp() * 1000) - step
        now = -(-int(self.now.timestamp() * 1000) // step) * step
        return first, now if first <= now < last else last

    def ref(self, name: str, window: Window) -> str:
        """A model as a relation: a built mart is read from gold (as dbt reads a table model),
        anything else is inlined as a subquery."""
        if not MODELS[name].ephemeral:
            between = f"dt between date '{window.start.isoformat()}' and date '{window.end.isoformat()}'"
            if self.engine == "athena":
                return f"(select * from {self.globals['database']}.{name} where {between})"
            files = self.gold(name, window)
            if files:
                return (f"(select * from read_parquet({_sql_list(files)}, hive_partitioning = false) "
                        f"where {between})")
        sql = self.render(name, window)
        if MODELS[name].shared and self.shared is not None:
            return self.shared(sql)
        return "(\n" + sql + "\n)"


def silver_objects(storage: Storage, table: str, start: date, end: date) -> list[ObjectInfo]:
    """Parquet objects of a silver table whose `dt` partition lies in [start, end]."""
    return SilverObjects(storage, (table,)).listed(table, Window(start, end))


class SilverObjects:
    """The silver tables' objects, listed once for a build (on S3 a listing of a year's
    hour partitions takes seconds); ingest may replace some while the build reads them."""

    def __init__(self, storage: Storage, tables: tuple[str, ...] = tuple(SILVER)):
        self.storage = storage
        self.objects = {t: [o for o in storage.list(f"silver/{t}/") if o.key.endswith(".parquet")]
                        for t in tables}

    def __eq__(self, other: object) -> bool:  # the same objects, each of the same size and age
        return isinstance(other, SilverObjects) and self.objects == other.objects

    __hash__ = None  # type: ignore[assignment]

    def listed(self, table: str, window: Window) -> list[ObjectInfo]:
        return [o for o in self.objects[table] if _in_window(o.key, window)]

    def newest(self, window: Window) -> int:
        """Modification time (ns) of the newest object in the window, 0 when none."""
        return max((o.mtime_ns for objs in self.objects.values() for o in objs if _in_window(o.key, window)),
                   default=0)

    def bytes_by_day(self) -> dict[str, int]:
        sizes: dict[str, int] = defaultdict(int)
        for objs in self.objects.values():
            for o in objs:
                if m := _DT.search("/" + o.key):
                    sizes[m.group(1)] += o.size
        return sizes


def gold_objects(storage: Storage, table: str, day: date) -> list[ObjectInfo]:
    """A gold day's Parquet objects, by key: `data.parquet` from DuckDB, Athena's own names
    from an INSERT (hidden temporaries excluded)."""
    return sorted((o for o in storage.list(f"gold/{table}/dt={day.isoformat()}/")
                   if o.key.endswith(".parquet") and not o.key.rsplit("/", 1)[-1].startswith(".")),
                  key=lambda o: o.key)


def gold_partition(storage: Storage, table: str, day: date) -> list[str]:
    """Keys of a gold day's Parquet objects (`gold_objects`)."""
    return [o.key for o in gold_objects(storage, table, day)]


def unbuilt_days(storage: Storage, table: str, days: list[date]) -> list[date]:
    """Days with silver data but no gold partition of `table`: read as gold, they would
    look like days without traffic."""
    return [d for d in days if not gold_partition(storage, table, d)
            and any(storage.list(f"silver/{t}/dt={d.isoformat()}/") for t in SILVER)]


def not_built_message(table: str, days: list[date]) -> str:
    span = f"--date {days[0]}" + (f" --through {days[-1]}" if len(days) > 1 else "")
    one = len(days) == 1
    return (f"gold {table} for {', '.join(map(str, days))} {'is' if one else 'are'} not built yet, though "
            f"silver has data for {'that day' if one else 'those days'}: run `footfall build {span}` first")


def parquet_relation(con: duckdb.DuckDBPyConnection, storage: Storage, objects: list[ObjectInfo],
                     name: str) -> str:
    """SQL for the listed Parquet objects of the lake as one relation in `con`, columns
    united by name: `read_parquet` locally; on S3 an Arrow dataset registered as `name`."""
    if storage.is_s3:
        con.register(name, arrow_dataset(storage, objects, every_schema=True))
        return f'"{name}"'
    return f"read_parquet({_sql_list([storage.uri(o.key) for o in objects])}, hive_partitioning = false, " \
        "union_by_name = true)"


def fresh_gold(storage: Storage, name: str, window: Window, silver: SilverObjects | None = None) -> list[str] | None:
    """The gold partitions of mart `name` for every day of `window` if each is newer than
    all the silver it was built from; None otherwise (missing or stale: compute inline).
    Reading a fresh mart instead of recomputing it is what makes a full build fast
    (sessions are sessionized once, not once per mart that counts them)."""
    model = MODELS[name]
    wide = window.widened(model.lookback_hours, model.lookahead_hours)
    newest_input = (silver or SilverObjects(storage)).newest(wide)
    built = {o.key: o.mtime_ns for o in storage.list(f"gold/{name}/")}
    keys = [f"gold/{name}/dt={d.isoformat()}/data.parquet" for d in window.days()]
    if all(built.get(k, -1) >= newest_input for k in keys):
        return [storage.uri(k) for k in keys]
    return None


def _in_window(key: str, window: Window) -> bool:
    m = _DT.search("/" + key)
    return bool(m) and window.start.isoformat() <= m.group(1) <= window.end.isoformat()


def plan_batches(window: Window, bytes_by_day: dict[str, int], batch_bytes: int) -> list[Window]:
    """Consecutive days of `window` built together while their silver bytes stay within
    `batch_bytes` (a larger day is a batch of its own): a build's memory follows its input,
    so a month's backfill must not hold the month at once, while small days share the
    fixed cost of each model."""
    batches: list[Window] = []
    start, size = window.start, 0
    for day in window.days():
        day_bytes = bytes_by_day.get(day.isoformat(), 0)
        if day > start and size + day_bytes > batch_bytes:
            batches.append(Window(start, day - timedelta(days=1)))
            start, size = day, 0
        size += day_bytes
    return [*batches, Window(start, window.end)]


def build_batches(settings: Settings, window: Window, silver: SilverObjects | None = None) -> list[Window]:
    """The batches of days a build of `window` runs, by the lake's silver bytes per day."""
    silver = silver or SilverObjects(Storage(settings.lake.root))
    return plan_batches(window, silver.bytes_by_day(), settings.build.batch_bytes)


def build(settings: Settings, window: Window, models: list[str] | None = None,
          now: datetime | None = None, *, under_writer_lock: bool = False) -> dict[str, dict[str, int]]:
    """Build marts on DuckDB for every day of `window`, in batches of days of at most
    `build.batch_bytes` silver; returns rows per model and day. `now` (default: the clock)
    is where a day in progress ends.

    It runs again when an erase ended meanwhile (`erased.build_past_erasures`), unless
    the caller holds the lake's writer lock (`under_writer_lock`: an erase), so none can."""
    now = now or datetime.now(UTC)  # one instant for every model of the build
    storage = Storage(settings.lake.root)
    names = [n for n in models or MARTS if n != "funnel_daily" or settings.funnels]  # no funnels: nothing to build

    def run() -> dict[str, dict[str, int]]:
        silver = SilverObjects(storage)
        report: dict[str, dict[str, int]] = {n: {} for n in names}
        for batch in build_batches(settings, window, silver):
            built = read_while_replaced(
                storage, lambda: SilverObjects(storage),
                lambda listed, batch=batch: _build_batch(settings, storage, listed, batch, names, now),
                f"silver for the build of {batch}", S3_READ_ERRORS, listed=silver)
            for name, days in built.items():
                report[name].update(days)
        return report

    report = run() if under_writer_lock else build_past_erasures(storage, str(window), run)
    storage.write_bytes(f"state/build/{window.start}_{window.end}.json",
                        json.dumps(report, indent=1).encode())
    return report


def _build_batch(settings: Settings, storage: Storage, silver: SilverObjects, window: Window,
                 names: list[str], now: datetime) -> dict[str, dict[str, int]]:
    with tempfile.TemporaryDirectory(prefix="footfall-build-") as spill:
        con = duckdb.connect()
        con.execute("set timezone = 'UTC'")
        # Beyond its memory limit DuckDB spills here (by default it would use ./.tmp).
        con.execute(f"set temp_directory = {_sql_string(spill)}")
        if settings.build.memory_limit:
            con.execute(f"set memory_limit = {_sql_string(settings.build.memory_limit)}")
        try:
            return _build_marts(con, settings, storage, silver, window, names, now, Path(spill))
        finally:
            con.close()


def _build_marts(con: duckdb.DuckDBPyConnection, settings: Settings, storage: Storage,
                 silver: SilverObjects, window: Window, names: list[str],
                 now: datetime, spill: Path) -> dict[str, dict[str, int]]:
    report: dict[str, dict[str, int]] = {}

    def listed(name: str) -> dict[str, list[ObjectInfo]]:
        model = MODELS[name]
        wide = window.widened(model.lookback_hours, model.lookahead_hours)
        return {t: silver.listed(t, wide) for t in SILVER}

    # On S3 the batch's silver is copied here first, each object with one GET, and DuckDB
    # reads the copies: read through Arrow by byte ranges, each model's scan of each object
    # cost some fifteen requests, one after another (a one-day build of the demo lake: 2,181
    # requests and 31 s at S3's latency, where its files take 1.1 s). A batch's silver is at
    # most `build.batch_bytes` and its neighbours' hours, and one GET reads one version.
    local: dict[str, str] = {}
    if storage.is_s3:
        needed = {o.key: o for name in names for objects in listed(name).values() for o in objects}
        local = storage.copy_to_local(sorted(needed.values(), key=lambda o: o.key), spill / "lake")

    def render(name: str, shared: Callable[[str], str]) -> str:
        sources = {t: [local.get(o.key) or storage.uri(o.key) for o in objects] for t, objects in listed(name).items()}
        fresh = None if storage.is_s3 else (lambda m, w: fresh_gold(storage, m, w, silver))
        return Renderer("duckdb", settings, sources=sources, gold=fresh, shared=shared, now=now).render(name, window)

    # A shared model read more than once in this build is computed once into a temporary
    # table; read once, it stays inline, where DuckDB computes only the columns used. Each
    # SQL text gets its table's name while counting, so that a shared model built on
    # another (page sequences on sessions) has the same text in both passes.
    uses: Counter[str] = Counter()
    tables: dict[str, str] = {}

    def count(sql: str) -> str:
        uses[sql] += 1
        return tables.setdefault(sql, f"shared_{len(tables)}")

    for name in names:
        render(name, count)
    created: set[str] = set()

    def shared(sql: str) -> str:
        if uses[sql] < 2:
            return "(\n" + sql + "\n)"
        if sql not in created:
            created.add(sql)
            con.execute(f"create temp table {tables[sql]} as\n{sql}")
        return tables[sql]

    for name in names:
        sql = render(name, shared)
        frame = pl.from_arrow(con.sql(sql).to_arrow_table())
        assert isinstance(frame, pl.DataFrame)
        report[name] = {}
        for day in window.days():
            part = frame.filter(pl.col("dt") == day).sort(frame.columns)  # a total order: same bytes each build
            storage.write_parquet(f"gold/{name}/dt={day.isoformat()}/data.parquet", part)
            report[name][day.isoformat()] = part.height
    return report
