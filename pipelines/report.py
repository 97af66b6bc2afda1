"""The daily report: one self-contained HTML page (charts inline, autoescaped), a Markdown
summary and CSV files per day, read only from gold (and the ingest ledger for data quality),
so every figure in it is one a user can find again with SQL.

    reports/dt=YYYY-MM-DD/daily_report.html, daily_report.md, <section>.csv
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import jinja2
import polars as pl

from pipelines import ledger
from pipelines.charts import PLOT_LEFT, bars, hour_x, polyline, ticks
from pipelines.config import Settings
from pipelines.export import safe_csv
from pipelines.landing import landing_hour
from pipelines.models import (
    S3_READ_ERRORS,
    Window,
    gold_objects,
    not_built_message,
    parquet_relation,
    unbuilt_days,
)
from pipelines.storage import ObjectInfo, Storage, read_while_replaced

TEMPLATES = Path(__file__).resolve().parent / "templates"
HEADLINE = [  # (column of daily_site_metrics, label, kind)
    ("visitors", "Visitors", "int"),
    ("page_views", "Page views", "int"),
    ("sessions", "Sessions", "int"),
    ("bounce_rate", "Bounce rate", "pct"),
    ("avg_session_duration_s", "Avg. session", "seconds"),
    ("dau", "DAU", "int"),
    ("wau", "WAU", "int"),
    ("mau", "MAU", "int"),
]
TOP_DIMENSIONS = [  # (dimension of daily_dimension_stats, title, measure)
    ("page", "Top pages", "page_views"),
    ("entry_page", "Entry pages", "sessions"),
    ("exit_page", "Exit pages", "sessions"),
    ("referrer_domain", "Referrers", "sessions"),
    ("channel", "Channels", "sessions"),
    ("utm_campaign", "Campaigns", "sessions"),
    ("country", "Countries", "visitors"),
    ("device_type", "Devices", "visitors"),
    ("browser", "Browsers", "visitors"),
]
# Why a dimension has no value but "(none)", said under its table.
WHY_NONE = {"country": "The logs carry no country: legacy standard logs have none "
                       "(real-time logs and standard logging v2 do)."}
TRANSITION_PAGES, TRANSITION_NEXT = 5, 3  # "where visitors go next": pages, next pages of each
LATE_AFTER = timedelta(hours=1)  # an object landing over an hour after its records' day ended


@dataclass
class SiteReport:
    site: str
    headline: list[dict]  # label, value, kind, previous day, same weekday a week earlier
    metrics: dict  # the day's daily_site_metrics row
    hourly: list[dict]  # hour, page views, requests, peak online, 5xx, p95
    tops: list[dict]  # key, title, measure, rows, note (why a dimension has no values)
    slow_paths: list[dict]
    web_vitals: list[dict] = field(default_factory=list)  # metric, samples, p75 (whole site)
    # The most viewed pages' time on page and exit rate (page_engagement_daily).
    engagement: list[dict] = field(default_factory=list)
    # Where visitors went from the most viewed pages: path, next (to_path, transitions,
    # share; the most frequent first) from page_transitions_daily.
    transitions: list[dict] = field(default_factory=list)


@dataclass
class DailyReport:
    day: date
    sites: list[SiteReport]
    quality: dict
    funnels: list[dict] = field(default_factory=list)  # name, steps (funnels span every site)
    generated_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def empty(self) -> bool:
        return not self.sites


class Gold:
    """Read-only DuckDB over the gold partitions of given days."""

    def __init__(self, storage: Storage):
        self.storage = storage
        self.con = duckdb.connect()
        self.con.execute("set timezone = 'UTC'")

    def frame(self, table: str, days: list[date], where: str = "true", params: list | None = None,
              order: str = "1") -> pl.DataFrame:
        values = {f"p{i}": p for i, p in enumerate(params or [])}

        def read(objects: list[ObjectInfo]) -> pl.DataFrame:
            if not objects:
                return pl.DataFrame()
            relation = parquet_relation(self.con, self.storage, objects, "gold_input")
            query = f"select * from {relation} where {where} order by {order}"
            frame = pl.from_arrow(self.con.sql(query, params=values).to_arrow_table())
            assert isinstance(frame, pl.DataFrame)
            return frame

        # On S3 a build may replace the day's partition while the report reads it.
        return read_while_replaced(self.storage, lambda: [o for d in days for o in gold_objects(self.storage, table, d)],
                                   read, f"gold/{table} for the report", S3_READ_ERRORS)


def _change(now: float | None, before: float | None) -> float | None:
    if now is None or before in (None, 0):
        return None
    return (now - before) / before


def _hourly(gold: Gold, day: date, site: str) -> list[dict]:
    views = gold.frame("page_views", [day], "site = $p0", [site])
    presence = gold.frame("presence_snapshots", [day], "site = $p0", [site])
    cdn = gold.frame("cdn_health_hourly", [day], "site = $p0", [site])
    by_hour = {h: {"hour": h, "page_views": 0, "requests": 0, "peak_online": 0, "status_5xx": 0,
                   "time_taken_ms_p95": None} for h in range(24)}
    if views.height:
        for h, n in views.group_by(pl.col("ts").dt.hour().alias("h")).len().iter_rows():
            by_hour[h]["page_views"] = n
    if presence.height:
        for h, n in presence.group_by(pl.col("snapshot_ts").dt.hour().alias("h")).agg(
                pl.col("online_visitors").max()).iter_rows():
            by_hour[h]["peak_online"] = n
    for row in cdn.iter_rows(named=True):
        by_hour[row["hour"]].update(requests=row["requests"], status_5xx=row["status_5xx"],
                                    time_taken_ms_p95=row["time_taken_ms_p95"])
    return [by_hour[h] for h in range(24)]


def _site(gold: Gold, settings: Settings, day: date, site: str, metrics: pl.DataFrame) -> SiteReport:
    rows = {r["dt"]: r for r in metrics.filter(pl.col("site") == site).iter_rows(named=True)}
    today = rows[day]
    headline = [{"label": label, "kind": kind, "value": today[col],
                 "vs_day": _change(today[col], (rows.get(day - timedelta(days=1)) or {}).get(col)),
                 "vs_week": _change(today[col], (rows.get(day - timedelta(days=7)) or {}).get(col))}
                for col, label, kind in HEADLINE]
    dims = gold.frame("daily_dimension_stats", [day], "site = $p0 and rank <= $p1",
                      [site, settings.report.top_n], order="dimension, rank")
    tops = []
    for dimension, title, measure in TOP_DIMENSIONS:
        part = dims.filter(pl.col("dimension") == dimension) if dims.height else dims
        rows = [{"value": r["value"], "page_views": int(r["page_views"] or 0),
                 "visitors": r["visitors"], "sessions": r["sessions"]} for r in part.iter_rows(named=True)]
        only_none = bool(rows) and all(r["value"] == "(none)" for r in rows)
        tops.append({"key": dimension, "title": title, "measure": measure, "rows": rows,
                     "note": WHY_NONE.get(dimension) if only_none else None})
    slow = gold.frame("path_latency_daily", [day], "site = $p0 and slowness_rank <= $p1",
                      [site, settings.report.top_n], order="slowness_rank")
    vitals = gold.frame("web_vitals_daily", [day], "site = $p0 and path = '(all)'", [site], order="metric")
    engagement = gold.frame("page_engagement_daily", [day], "site = $p0", [site],
                            order="page_views desc, path").head(settings.report.top_n)
    return SiteReport(site=site, headline=headline, metrics=today, hourly=_hourly(gold, day, site),
                      tops=tops, slow_paths=slow.to_dicts() if slow.height else [],
                      web_vitals=vitals.to_dicts() if vitals.height else [],
                      engagement=engagement.to_dicts() if engagement.height else [],
                      transitions=_transitions(gold, day, site, engagement))


def _transitions(gold: Gold, day: date, site: str, engagement: pl.DataFrame) -> list[dict]:
    """The three most frequent next pages (or exit) of the five most viewed pages."""
    paths = engagement["path"].head(TRANSITION_PAGES).to_list() if engagement.height else []
    if not paths:
        return []
    nexts = gold.frame("page_transitions_daily", [day], "site = $p0 and rank <= $p1", [site, TRANSITION_NEXT],
                       order="from_path, rank")
    if not nexts.height:
        return []
    return [{"path": p, "next": nexts.filter(pl.col("from_path") == p).select("to_path", "transitions", "share").to_dicts()}
            for p in paths]


def _funnels(gold: Gold, day: date) -> list[dict]:
    funnels = gold.frame("funnel_daily", [day], order="funnel, step")
    if not funnels.height:
        return []
    return [{"name": name, "steps": funnels.filter(pl.col("funnel") == name).to_dicts()}
            for name in funnels["funnel"].unique(maintain_order=True).to_list()]


def _late(obj: ObjectInfo, day: date) -> bool:
    end = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return landing_hour(obj) >= end + LATE_AFTER


def _quality(storage: Storage, day: date) -> dict:
    entries = ledger.history(storage, [day])
    return {
        "objects": len(entries),
        "lines": sum(e.lines for e in entries),
        "quarantined": sum(e.quarantined for e in entries),
        "duplicates": sum(e.duplicates for e in entries),
        "late_objects": sum(_late(ObjectInfo(e.object, e.size, e.mtime_ns), day) for e in entries),
        "objects_with_errors": sum(1 for e in entries if e.error),
    }


def readiness(storage: Storage, days: list[date], site: str = "") -> str | None:
    """Why the days' reports would mislead, or None when they can be written: gold not built
    although silver has data (the page would say "no data"), or a site that a day's gold
    does not know."""
    unbuilt = unbuilt_days(storage, "daily_site_metrics", days)
    if unbuilt:
        return not_built_message("daily_site_metrics", unbuilt)
    if site:
        # A site quiet on a day still gets its (empty) report: only a site missing from the
        # whole month before is a typo.
        sites = Gold(storage).frame("daily_site_metrics", Window(days[0] - timedelta(days=30), days[-1]).days())
        known = sorted(set(sites["site"].to_list())) if sites.height else []
        if known and site not in known:
            return f"no site {site!r} in the 30 days to {days[-1]}; sites: {', '.join(known)}"
    return None


def gather(settings: Settings, day: date) -> DailyReport:
    storage = Storage(settings.lake.root)
    gold = Gold(storage)
    metrics = gold.frame("daily_site_metrics", [day - timedelta(days=7), day - timedelta(days=1), day],
                         order="site, dt")
    sites = sorted(metrics.filter(pl.col("dt") == day)["site"].to_list()) if metrics.height else []
    if settings.report.site:
        sites = [s for s in sites if s == settings.report.site]
    return DailyReport(day=day, sites=[_site(gold, settings, day, s, metrics) for s in sites],
                       quality=_quality(storage, day), funnels=_funnels(gold, day) if sites else [])


def _metric(value: object, kind: str) -> str:
    if value is None:
        return "–"
    v = float(value)  # type: ignore[arg-type]
    if kind == "pct":
        return f"{v:.1%}"
    if kind == "percent":  # already in per cent (scroll depth)
        return f"{v:.0f}%"
    if kind == "seconds":
        return f"{int(v // 60)}m {int(v % 60):02d}s" if v >= 60 else f"{v:.0f}s"
    return f"{int(v):,}"


def _change_text(change: float | None) -> str:
    return "–" if change is None else f"{change:+.1%}"


def _share(part: object, whole: object) -> str:
    return f"{float(part) / float(whole):.1%}" if whole else "–"  # type: ignore[arg-type]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined,
                             autoescape=True, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(metric=_metric, change=_change_text, share=_share)
    env.globals.update(bars=bars, polyline=polyline, ticks=ticks, hour_x=hour_x, plot_left=PLOT_LEFT,
                       hour_labels=[f"{h:02d}" for h in range(24)])
    return env


def render_html(report: DailyReport) -> str:
    return _environment().get_template("daily_report.html.j2").render(report=report)


def _md(value: object) -> str:
    """A Markdown table cell: no markup, no pipes, no line breaks."""
    text = "" if value is None else str(value)
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("|", "\\|").replace("\n", " ").replace("\r", " ").replace("`", "\\`"))


def render_markdown(report: DailyReport) -> str:
    lines = [f"# Footfall daily report — {report.day}", ""]
    if report.empty:
        lines += [f"No data for {report.day}.", ""]
    for s in report.sites:
        lines += [f"## {_md(s.site)}", "", "| metric | value | vs day before | vs last week |", "|---|---:|---:|---:|"]
        lines += [f"| {h['label']} | {_metric(h['value'], h['kind'])} | {_change_text(h['vs_day'])} | "
                  f"{_change_text(h['vs_week'])} |" for h in s.headline]
        m = s.metrics
        lines += ["", f"Requests {m['requests']:,} · 5xx {_metric(m['error_rate_5xx'], 'pct')} · cache hits "
                      f"{_metric(m['cache_hit_ratio'], 'pct')} · p95 {m['time_taken_ms_p95']} ms · bots "
                      f"{_share(m['bot_requests'], m['requests'])} · peak online "
                      f"{max(h['peak_online'] for h in s.hourly)}", ""]
        top_pages = next(t for t in s.tops if t["key"] == "page")
        lines += ["| top page | page views |", "|---|---:|"]
        lines += [f"| {_md(r['value'])} | {r['page_views']:,} |" for r in top_pages["rows"][:5]]
        lines.append("")
    q = report.quality
    lines += ["## Data quality", "", f"{q['lines']:,} landing lines, {q['quarantined']:,} quarantined, "
              f"{q['late_objects']} late object(s).", ""]
    return "\n".join(lines)


def csv_files(report: DailyReport) -> dict[str, bytes]:
    """One CSV per section, every site in each (formula-safe)."""
    headline, hourly, tops, slow, engagement, transitions = [], [], [], [], [], []
    funnels = [st for f in report.funnels for st in f["steps"]]
    for s in report.sites:
        headline += [{"site": s.site, "metric": h["label"], "value": h["value"], "change_vs_day_before":
                      h["vs_day"], "change_vs_week_before": h["vs_week"]} for h in s.headline]
        hourly += [{"site": s.site, **h} for h in s.hourly]
        tops += [{"site": s.site, "dimension": t["key"], "rank": i + 1, **r}
                 for t in s.tops for i, r in enumerate(t["rows"])]
        slow += [{"site": s.site, **p} for p in s.slow_paths]
        engagement += [{"site": s.site, **p} for p in s.engagement]
        transitions += [{"site": s.site, "from_path": t["path"], "rank": i + 1, **n}
                        for t in s.transitions for i, n in enumerate(t["next"])]
    sections = {"headline": headline, "hourly": hourly, "top_values": tops, "slow_paths": slow,
                "page_engagement": engagement, "page_transitions": transitions, "funnels": funnels,
                "data_quality": [report.quality]}
    return {f"{name}.csv": safe_csv(pl.DataFrame(rows, infer_schema_length=None)) if rows else b""
            for name, rows in sections.items()}


@dataclass
class WrittenReport:
    report: DailyReport
    keys: list[str]


def report_prefix(day: date) -> str:
    return f"reports/dt={day.isoformat()}/"


def write_report(settings: Settings, day: date) -> WrittenReport:
    """Gather, render and write the day's report into the lake (each file replaced atomically)."""
    storage = Storage(settings.lake.root)
    report = gather(settings, day)
    prefix = report_prefix(day)
    files = {"daily_report.html": render_html(report).encode(),
             "daily_report.md": render_markdown(report).encode(), **csv_files(report)}
    for name, data in files.items():
        storage.write_bytes(prefix + name, data)
    return WrittenReport(report=report, keys=[prefix + n for n in files])
