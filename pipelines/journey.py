"""Support views over gold: who is online now, and what one session or visitor did.

User-supplied ids reach DuckDB only as bound parameters, never inside the SQL text.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

TABLES_MISSING = "the lake has no {what} yet: run `footfall build` for the days you need"
# The tables each reads: a connection for it needs no other.
PRESENCE_TABLES = ("presence_snapshots", "presence_routes")
JOURNEY_TABLES = ("sessions", "page_views", "events")
RECENT_DAYS = 7  # `online` shows the sites with presence in this many days up to today


def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("select count(*) from duckdb_views() where view_name = ?", [table]).fetchall()[0][0])


def _frame(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> pl.DataFrame:
    """Run SQL with bound parameters (DuckDB 2.0: fetch the whole result as Arrow)."""
    frame = pl.from_arrow(con.sql(sql, params=params or None).to_arrow_table())
    assert isinstance(frame, pl.DataFrame)
    return frame


def latest_presence(con: duckdb.DuckDBPyConnection, top: int = 5,
                    today: date | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Per site, the latest snapshot (with that day's peak beside it) and its top routes:
    of the sites with presence in the last RECENT_DAYS days, or, when none has, of every
    site. The recent days are read first because on S3 each day is an object, and a
    year of them would be read to find today's."""
    if not _has(con, "presence_snapshots"):
        raise LookupError(TABLES_MISSING.format(what="presence snapshots"))
    today = today or datetime.now(UTC).date()
    latest = """
        select site, snapshot_ts, online_visitors,
               max(online_visitors) over (partition by site, dt) as peak_today
        from presence_snapshots
        where dt >= ?
        qualify snapshot_ts = max(snapshot_ts) over (partition by site)
        order by site
    """
    snapshots = _frame(con, latest, [today - timedelta(days=RECENT_DAYS - 1)])
    if snapshots.is_empty():
        snapshots = _frame(con, latest, [date.min])
    if not _has(con, "presence_routes") or snapshots.is_empty():
        return snapshots, pl.DataFrame()
    # The days of the chosen snapshots, as a range the scan can prune by: on S3 each day is
    # an object, and a year of routes would otherwise be read to find one instant's.
    days = snapshots["snapshot_ts"].dt.convert_time_zone("UTC").dt.date()
    routes = _frame(con, """
        select r.site, r.path, r.online_visitors
        from presence_routes r
        join (select unnest(?::varchar[]) as site, unnest(?::timestamptz[]) as snapshot_ts) s
          on r.site = s.site and r.snapshot_ts = s.snapshot_ts
        where r.dt between ? and ?
        qualify row_number() over (partition by r.site order by r.online_visitors desc, r.path) <= ?
        order by r.site, r.online_visitors desc, r.path
    """, [snapshots["site"].to_list(), snapshots["snapshot_ts"].to_list(), days.min(), days.max(), top])
    return snapshots, routes


def journey(con: duckdb.DuckDBPyConnection, *, session_id: str | None = None,
            visitor_id: str | None = None) -> pl.DataFrame:
    """Every page view and event of one session (or of all sessions of one visitor), in order."""
    if not _has(con, "sessions") or not _has(con, "page_views"):
        raise LookupError(TABLES_MISSING.format(what="sessions or page views"))
    column, value = ("session_id", session_id) if session_id else ("visitor_id", visitor_id)
    sessions = _frame(
        con, f"select session_id, site, visitor_id, start_ts, end_ts from sessions where {column} = ?",
        [value])
    if sessions.is_empty():
        raise LookupError(f"no session with {column} {value!r} in the built days")
    con.register("chosen", sessions)
    events = ("union all select c.session_id, e.ts, e.event_type as kind, e.path, null as source "
              "from chosen c join events e on e.site = c.site and e.visitor_id = c.visitor_id "
              "and e.ts between c.start_ts and c.end_ts and e.event_type <> 'page_view'"
              if _has(con, "events") else "")
    return _frame(con, f"""
        select c.session_id, p.ts, 'page_view' as kind, p.path, p.source
        from chosen c join page_views p
          on p.site = c.site and p.visitor_id = c.visitor_id and p.ts between c.start_ts and c.end_ts
        {events}
        order by session_id, ts, kind
    """)
