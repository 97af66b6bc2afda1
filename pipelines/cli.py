"""The `footfall` command line.

Every command takes `--config` and `--lake`. A user mistake is reported as one line (what,
where, what to do) with exit status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import shutil
import sys
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from pipelines.config import ConfigError, Settings, load_settings
from pipelines.hashing import MissingKeyError, demo_key, load_key
from pipelines.storage import KeptChanging
from pipelines.writer_lock import EXIT_BUSY, LakeBusy, LeaseLost

if TYPE_CHECKING:
    import polars as pl

    from pipelines.storage import Storage

console = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)

DEMO_KEY_FILE = Path(".local/demo-hash-key")  # outside the lake, ignored by git


class UserError(Exception):
    """A mistake the user can fix; printed as one line."""


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(args.config, lake=args.lake)
    if getattr(args, "wait", None) is not None:  # the commands that take the lake's writer lock
        settings = settings.with_writer_wait(args.wait)
    return settings


def _lake(settings: Settings) -> Storage:
    """The lake a command reads. A missing directory or bucket is a typo in --lake or
    lake.root, not an empty lake: said so, before anything is written there."""
    from pipelines.storage import Storage

    storage = Storage(settings.lake.root)
    if not storage.root_exists():
        what = "bucket" if storage.is_s3 else "directory"
        raise UserError(f"no lake at {settings.lake.root}: the {what} does not exist; "
                        "check --lake or lake.root in footfall.toml")
    return storage


# What to check when S3 fails, by the AWS error code in the message.
_AWS_HINTS = {
    "NO_SUCH_BUCKET": "check the bucket in --lake or lake.root",
    "ACCESS_DENIED": "check the AWS credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID or the instance "
                     "role) and that they may read and write the lake's bucket",
    "NETWORK_CONNECTION": "check the network, AWS_REGION and AWS_ENDPOINT_URL",
}


def environment_error(err: BaseException) -> str | None:
    """One line for a failure of what surrounds Footfall (the lake's storage, the network,
    AWS credentials), with what to check; None for anything else, which is a bug."""
    text = " ".join(str(err).split("(Request ID:")[0].split())
    if type(err).__module__.split(".")[0] in ("botocore", "boto3", "awswrangler"):
        return f"AWS: {text}; check the AWS credentials, AWS_REGION and the names in footfall.toml"
    if not isinstance(err, OSError):
        return None
    hint = next((h for code, h in _AWS_HINTS.items() if code in text), None)
    if hint:
        return f"{text}; {hint}"
    if err.filename:
        return f"{err.strerror or text}: {err.filename}; check that path, its free space and its owner"
    return f"{text}; check lake.root, the AWS credentials and the network"


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds like 600")
    return value


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-21") from None


def _hours(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of hours like 2")
    return int(text)


def cmd_generate(args: argparse.Namespace) -> int:
    from pipelines.generate import GenerateOptions, default_start, generate
    from pipelines.storage import Storage

    settings = _settings(args)
    start = args.start or default_start(args.days)
    opts = GenerateOptions(start=start, days=args.days, visitors=args.visitors, bots=args.bots,
                           seed=args.seed, rtl="rtl" in args.sources,
                           standard="standard" in args.sources, beacon="beacon" in args.sources)
    with console.status(f"generating {args.days} day(s) from {start} into {settings.lake.root}"):
        stats = generate(Storage(settings.lake.root), opts)
    table = Table(title="generated landing data")
    for col in ("source", "objects", "lines", "duplicates", "late"):
        table.add_column(col, justify="right" if col != "source" else "left")
    for source, st in stats.items():
        table.add_row(source, *(str(st.get(c, "")) for c in ("objects", "lines", "duplicates", "late")))
    out.print(table)
    return 0


_PHASES = {"parse": "parsing landing objects", "merge": "writing hour partitions",
           "wave": "waves recorded in the ledger"}


def _progress_callback(progress: Progress) -> Callable[[str, int, int], None]:
    tasks: dict[str, int] = {}

    def update(phase: str, done: int, total: int) -> None:
        if phase == "wave" and total == 1:  # a run of one wave: nothing to tell apart
            return
        if phase not in tasks:
            tasks[phase] = progress.add_task(_PHASES[phase], total=total)
        progress.update(tasks[phase], completed=done, total=total)

    return update


def _print_rebuilds(summary) -> None:
    for r in summary.rebuilt:
        kept = f"; the old file is kept at {r.kept_as}" if r.kept_as else ""
        lost = (f"; {len(r.lost):,} object(s) that wrote to it are no longer in landing and their "
                f"rows of that hour are lost (listed in state/rebuilds/)" if r.lost else "")
        console.print(f"[yellow]warning[/]: rebuilt {escape(r.key)} ({escape(r.cause)}) from "
                      f"{len(r.taken_again):,} landing object(s){escape(kept)}{escape(lost)}")


def run_ingest(settings: Settings, key: bytes, sources: tuple[str, ...], rebuild: tuple[str, ...] = (),
               recent: int | None = None) -> int:
    from pipelines.ingest import ingest
    from pipelines.landing import hours_back
    from pipelines.storage import Storage

    since = None if recent is None else hours_back(datetime.now(UTC), recent)
    columns = (TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    # Not on a pipe or in CI logs, where a transient bar would leave a blank line behind.
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        summary = ingest(settings, key, sources=sources, on_progress=_progress_callback(progress),
                         rebuild=rebuild, since=since)
    _print_rebuilds(summary)
    if since is not None:
        out.print(f"listed landing from {since:%Y-%m-%d %H}:00 UTC on (--recent {recent}); an ingest "
                  "without --recent also takes objects delivered into older hours and new distributions")
    if not summary.objects:
        if summary.landed:
            listed = "the 1 object is" if summary.landed == 1 else f"all {summary.landed:,} objects are"
            out.print(f"nothing new in landing: {listed} already in the ledger")
        elif since is not None:
            out.print("nothing in landing from those hours")
        else:
            kinds = ", ".join(sources[:-1]) + " or " * (len(sources) > 1) + sources[-1]
            out.print(f"landing is empty: no {kinds} objects under "
                      f"{Storage(settings.lake.root).uri('landing/')} (footfall generate writes demo data)")
        return 0
    table = Table(title=f"ingest {summary.run_id}")
    for col in ("source", "objects", "lines", "rows", "duplicates", "quarantined"):
        table.add_column(col, justify="right" if col != "source" else "left")
    for source, agg in sorted(summary.by_source.items()):
        table.add_row(source, *(f"{agg[c]:,}" for c in ("objects", "lines", "rows", "duplicates", "quarantined")))
    out.print(table)
    unreconciled = [e for e in summary.entries if not e.reconciles]
    out.print(
        f"{summary.lines:,} lines in {summary.seconds:.1f}s "
        f"({summary.lines_per_second:,.0f} lines/s), {summary.partitions} hour partition(s) "
        f"rewritten; {'every object reconciles' if not unreconciled else f'{len(unreconciled)} object(s) do NOT reconcile'}"
    )
    if summary.erased:
        out.print(f"{summary.erased:,} row(s) of erased visitors left out of silver (footfall erase)")
    errors = [e for e in summary.entries if e.error and not e.failed]
    for e in errors[:5]:
        console.print(f"[yellow]warning[/]: {escape(e.object)}: {escape(e.error or '')} (remainder quarantined)")
    failed = [e for e in summary.entries if e.failed]
    for e in failed:
        console.print(f"[red]error[/]: {escape(e.object)}: {escape(e.error or '')}; none of its lines "
                      "were taken: it stays in landing and every run tries it again (a Footfall bug: "
                      "please report it with the traceback above)")
    return 1 if unreconciled or failed else 0


def cmd_ingest(args: argparse.Namespace) -> int:
    settings = _settings(args)
    key = load_key(settings.identity)
    _lake(settings)
    if args.rebuild:
        from pipelines.ingest import TABLE_OF
        from pipelines.partitions import named_partition

        for text in args.rebuild:
            try:
                named_partition(text, {TABLE_OF[s] for s in args.sources})
            except ValueError as err:
                raise UserError(f"--rebuild {err}") from None
    return run_ingest(settings, key, tuple(args.sources), tuple(args.rebuild), args.recent)


def cmd_demo(args: argparse.Namespace) -> int:
    import dagster as dg

    from dagster_project.demo import dagster_home, materialize_demo
    from pipelines.generate import GenerateOptions, default_start, generate
    from pipelines.storage import Storage

    settings = _settings(args)
    storage = Storage(settings.lake.root)
    if args.fresh and not storage.is_s3 and Path(settings.lake.root).exists():
        shutil.rmtree(settings.lake.root)
    env_key = os.environ.get(settings.identity.hash_key_env)
    key = env_key.encode() if env_key and len(env_key) >= 16 else demo_key(DEMO_KEY_FILE)
    if storage.list("landing/"):
        out.print(f"landing data already in {settings.lake.root}: reusing it (--fresh starts over)")
    else:
        start = default_start(args.days)
        with console.status(f"generating a {args.days}-day demo lake from {start}"):
            generate(storage, GenerateOptions(start=start, days=args.days, visitors=args.visitors,
                                              seed=args.seed))
    home = dagster_home()
    with console.status("materialising silver, gold and reports through Dagster"):
        outcomes = materialize_demo(args.config, settings.lake.root, key, dg.DagsterInstance.get())
    table = Table(title=f"Dagster runs (instance in {home})")
    for col in ("job", "asset", "rows written"):
        table.add_column(col, justify="right" if col == "rows written" else "left")
    for o in outcomes:
        for asset, rows in o.materialized.items():
            table.add_row(o.job, asset, f"{rows:,}")
    out.print(table)
    failed = [c for o in outcomes for c in o.checks_failed]
    passed = sum(o.checks_passed for o in outcomes)
    out.print(f"asset checks: {passed} passed" + (f", FAILED: {', '.join(failed)}" if failed else ""))
    if not all(o.success for o in outcomes):
        bad = next(o for o in outcomes if not o.success)
        raise UserError(f"Dagster run {bad.run_id} ({bad.job}) failed; open the UI (make ui) to see why")
    from pipelines.catalog import rebuild

    rebuild(storage)
    root = storage.uri()
    out.print(f"\nThe demo lake is in [bold]{root}[/]:")
    out.print(f"  silver requests   {root}/silver/requests/dt=*/hour=*/data.parquet")
    out.print(f"  silver events     {root}/silver/events/dt=*/hour=*/data.parquet  (beacon)")
    out.print(f"  gold tables       {root}/gold/<table>/dt=*/data.parquet")
    reports = sorted(o.key for o in storage.list("reports/") if o.key.endswith("daily_report.html"))
    if reports:
        out.print(f"  daily reports     {root}/reports/dt=*/  (latest: {storage.uri(reports[-1])})")
    out.print(f"  SQL catalog       {storage.full('catalog.duckdb')}  (footfall query \"select ...\")")
    out.print(f"  quarantine        {root}/quarantine/<source>/dt=*/")
    out.print(f"  ingest ledger     {root}/state/ingest_ledger.parquet")
    out.print("Open the Dagster UI on this lake: [bold]make ui[/], then http://127.0.0.1:3000")
    if not env_key:
        out.print(f"(the demo's hash key is in {DEMO_KEY_FILE}, outside the lake)")
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from pipelines.models import MARTS, Window, build

    settings = _settings(args)
    through = args.through or args.date
    if through < args.date:
        raise UserError(f"--through {through} is before --date {args.date}")
    models = args.models or MARTS
    unknown = sorted(set(models) - set(MARTS))
    if unknown:
        raise UserError(f"unknown model(s) {', '.join(unknown)}; models: {', '.join(MARTS)}")
    from pipelines.catalog import rebuild

    storage = _lake(settings)
    if settings.engine == "athena":
        from pipelines.athena import build_on_athena

        if not settings.lake.root.startswith("s3://"):
            raise UserError("engine = athena needs lake.root = s3://bucket/prefix")
        with console.status(f"running {', '.join(models)} on Athena for {args.date} .. {through}"):
            runs = build_on_athena(settings, Window(args.date, through), models)
        for name, run in runs.items():
            out.print(f"{name}: {run.state}, {run.bytes_scanned:,} bytes scanned (query {run.query_id})")
        return 0
    import duckdb

    with console.status(f"building {', '.join(models)} for {args.date} .. {through}"):
        try:
            report = build(settings, Window(args.date, through), models)
        except duckdb.OutOfMemoryException as err:
            limit = settings.build.memory_limit or "80 % of RAM"
            raise UserError(f"the build ran out of memory (DuckDB's limit: {limit}): raise "
                            "build.memory_limit, or lower build.batch_bytes to build fewer days at a "
                            f"time ({str(err).splitlines()[0]})") from None
        # The catalog file is for a local lake; on S3 `footfall query` reads the bucket directly.
        views = [] if storage.is_s3 else rebuild(storage)
    table = Table(title="gold partitions written")
    table.add_column("model")
    table.add_column("day")
    table.add_column("rows", justify="right")
    for name, days in report.items():
        for day, rows in days.items():
            table.add_row(name, day, f"{rows:,}")
    out.print(table)
    if views:
        out.print(f"catalog: {storage.full('catalog.duckdb')} "
                  f"({len(views)} views: {', '.join(views)})")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    import duckdb

    from pipelines.catalog import query_tables, reading
    from pipelines.partitions import damaged_file_message

    def run(con: duckdb.DuckDBPyConnection) -> pl.DataFrame | None:
        result = con.sql(args.sql)  # a SELECT runs (and fails) at .pl()
        return None if result is None else result.pl()

    try:
        frame = reading(_lake(_settings(args)), run, "the query's tables", query_tables(args.sql))
    except duckdb.Error as err:
        if damaged_file_message(err):  # main names the file and its repair
            raise
        raise UserError(f"query failed: {str(err).splitlines()[0]}{_not_there_yet(err)}") from None
    if frame is None:
        return 0
    if args.csv:
        sys.stdout.write(frame.write_csv())
        return 0
    table = Table(show_lines=False)
    for name in frame.columns:
        table.add_column(name)
    for row in frame.head(args.limit).iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
    if frame.height > args.limit:
        out.print(f"({frame.height:,} rows, first {args.limit} shown; --limit or --csv for more)")
    return 0


def _not_there_yet(err: Exception) -> str:
    """What to run when a query names a lake table that has no data yet."""
    from pipelines.models import MARTS
    from pipelines.schemas import SILVER

    missing = re.search(r"Table with name (\S+) does not exist", str(err))
    name = missing.group(1).lower() if missing else ""
    if name in SILVER:
        return f" (the lake has no {name} yet: footfall ingest writes them from landing)"
    if name in MARTS:
        return f" (the lake has no {name} yet: footfall build --date DAY writes them from silver)"
    return ""


def cmd_online(args: argparse.Namespace) -> int:
    from pipelines.catalog import reading
    from pipelines.journey import PRESENCE_TABLES, latest_presence

    try:
        snapshots, routes = reading(_lake(_settings(args)), lambda con: latest_presence(con, args.top),
                                    "the presence tables", PRESENCE_TABLES)
    except LookupError as err:
        raise UserError(str(err)) from None
    now = datetime.now(UTC)
    for snap in snapshots.iter_rows(named=True):
        out.print(f"{snap['site']}: {snap['online_visitors']} online at "
                  f"{snap['snapshot_ts']:%Y-%m-%d %H:%M} UTC (peak that day: {snap['peak_today']}), "
                  f"{age(now - snap['snapshot_ts'])}")
        for r in routes.filter(routes["site"] == snap["site"]).iter_rows(named=True) if routes.height else []:
            out.print(f"  {r['online_visitors']:>5}  {r['path']}", markup=False)
    return 0


def age(delta: timedelta) -> str:
    """How old a snapshot is, as a person says it: the latest one may be from a build that
    ran hours ago, and "online" then means online back then."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 2:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min ago"
    return f"{minutes // (24 * 60)} days ago"


def cmd_journey(args: argparse.Namespace) -> int:
    from pipelines.catalog import reading
    from pipelines.journey import JOURNEY_TABLES, journey

    if not (args.session or args.visitor):
        raise UserError("give --session ID or --visitor ID")
    try:
        steps = reading(_lake(_settings(args)),
                        lambda con: journey(con, session_id=args.session, visitor_id=args.visitor),
                        "the journey's tables", JOURNEY_TABLES)
    except LookupError as err:
        raise UserError(str(err)) from None
    table = Table(title="journey")
    for name in ("session_id", "ts", "kind", "path", "source"):
        table.add_column(name)
    for row in steps.iter_rows():
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from pipelines.delivery import deliver
    from pipelines.report import readiness, write_report

    settings = _settings(args)
    if args.site:
        settings = dataclasses.replace(settings, report=dataclasses.replace(settings.report, site=args.site))
    through = args.through or args.date
    if through < args.date:
        raise UserError(f"--through {through} is before --date {args.date}")
    from pipelines.models import Window

    storage = _lake(settings)
    days = Window(args.date, through).days()
    problem = readiness(storage, days, settings.report.site)
    if problem:  # said before any day's report is written
        raise UserError(problem)
    for day in days:
        written = write_report(settings, day)
        html = next(k for k in written.keys if k.endswith(".html"))
        state = "no data" if written.report.empty else f"{len(written.report.sites)} site(s)"
        out.print(f"{day}: {state} → {storage.uri(html)} (+ .md and {len(written.keys) - 2} CSV files)")
        if not args.no_deliver:
            sent = deliver(settings, written)
            for key in sent.s3_keys[:1]:
                out.print(f"  copied to {key.rsplit('/', 1)[0]}/")
            if sent.email_message_id:
                out.print(f"  e-mailed to {', '.join(settings.report.email_to)} (SES {sent.email_message_id})")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from pipelines.export import export
    from pipelines.models import MARTS, Window, not_built_message, unbuilt_days

    if args.table not in MARTS:
        raise UserError(f"unknown table {args.table!r}; tables: {', '.join(MARTS)}")
    through = args.through or args.date
    if through < args.date:
        raise UserError(f"--through {through} is before --date {args.date}")
    storage = _lake(_settings(args))
    window = Window(args.date, through)
    unbuilt = unbuilt_days(storage, args.table, window.days())
    if unbuilt:
        raise UserError(not_built_message(args.table, unbuilt))
    if args.out in (None, "-"):
        rows = export(storage, args.table, window, sys.stdout.buffer)
    else:
        with open(args.out, "wb") as f:
            rows = export(storage, args.table, window, f)
    console.print(f"{rows:,} rows of {args.table} for {args.date} .. {through}"
                  + (f" → {args.out}" if args.out not in (None, "-") else ""))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    import uvicorn

    from pipelines.collector.asgi import create_app

    settings = _settings(args)
    app = create_app(settings)
    where = (f"Firehose stream {settings.collector.firehose_stream}" if settings.collector.firehose_stream
             else f"{settings.lake.root}/landing/beacon/")
    console.print(f"collector on http://{args.host}:{args.port}{settings.collector.path_prefix}events → {where}")
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning", access_log=False)
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from pipelines.erasure import erase

    if bool(args.visitor) == bool(args.visitor_id):
        raise UserError("give --visitor RAW_ID (the first-party id) or --visitor-id HASH, not both")
    settings = _settings(args)
    key = load_key(settings.identity)
    _lake(settings)
    with console.status("erasing"):
        result = erase(settings, key, raw_id=args.visitor, visitor_id=args.visitor_id, dry_run=args.dry_run)
    removed = ", ".join(f"{n:,} {t}" for t, n in result.rows_removed.items())
    if args.dry_run:
        out.print(f"dry run: would remove {removed} row(s) and rebuild {len(result.gold_days)} gold day(s)")
        return 0
    out.print(f"removed {removed} row(s) in {result.files_rewritten} partition(s); rebuilt "
              f"{len(result.gold_days)} gold day(s); rows left with this visitor: {result.remaining}")
    out.print("recorded in state/erasure_log.json (without the id); landing and quarantine keep raw "
              f"records until retention deletes them ({settings.retention.landing} / "
              f"{settings.retention.quarantine} days)")
    if result.remaining:
        console.print(f"[red]error[/]: {result.remaining:,} row(s) of this visitor are still in the lake, "
                      "most likely gold written meanwhile by a build that read silver before the erase: "
                      "run this erase again once no build is running")
    return 0 if result.remaining == 0 else 1


def cmd_athena_ddl(args: argparse.Namespace) -> int:
    from pipelines.athena_ddl import render_all

    settings = _settings(args)
    if not settings.lake.root.startswith("s3://"):
        raise UserError(f"Athena reads S3: give --lake s3://bucket/prefix (lake.root is {settings.lake.root})")
    statements = render_all(settings, database=args.database)
    if args.out:
        folder = Path(args.out)
        folder.mkdir(parents=True, exist_ok=True)
        for name, sql in statements.items():
            (folder / f"{name}.sql").write_text(sql)
        console.print(f"{len(statements)} statements written to {folder}/")
    else:
        out.print(";\n\n".join(s.strip() for s in statements.values()) + ";", markup=False, highlight=False)
    return 0


def cmd_retention(args: argparse.Namespace) -> int:
    from pipelines.retention import ZONES, apply_retention

    settings = _settings(args)
    _lake(settings)
    result = apply_retention(settings, dry_run=args.dry_run)
    counts = result.counts()
    table = Table(title="retention" + (" (dry run: nothing deleted)" if args.dry_run else ""))
    for col in ("zone", "keeps from", "objects deleted"):
        table.add_column(col, justify="right" if col == "objects deleted" else "left")
    for zone in ZONES:
        table.add_row(zone, result.cutoffs[zone] or "forever", f"{counts.get(zone, 0):,}")
    out.print(table)
    if result.deleted and not args.dry_run:
        out.print("recorded in state/retention/")
    if result.uningested:
        console.print(f"[yellow]warning[/]: {len(result.uningested):,} landing object(s) "
                      f"{'would be' if args.dry_run else 'were'} deleted before ingest took them, "
                      f"their lines with them (run footfall ingest first), e.g. {escape(result.uningested[0])}")
    damage = result.damage_messages()
    for act, line in damage:
        console.print(f"[{'red]error' if act else 'yellow]warning'}[/]: {escape(line)}")
    return 1 if any(act for act, _ in damage) else 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pipelines.verify import ZONES, verify

    settings = _settings(args)
    _lake(settings)
    columns = (TextColumn("reading back"), BarColumn(), TaskProgressColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task("verify", total=None)
        result = verify(settings, days=args.days,
                        on_progress=lambda done, total: progress.update(task, completed=done, total=total))
    since = result.since
    table = Table(title="verify" + (f" (from {since} on)" if since else ""))
    for col in ("zone", "files read back", "damaged"):
        table.add_column(col, justify="left" if col == "zone" else "right")
    for zone in (*ZONES, "state"):
        table.add_row(zone + " (ledger)" * (zone == "state"), f"{result.read[zone]:,}",
                      f"{sum(f.key.startswith(zone + '/') for f in result.damaged):,}")
    out.print(table)
    for finding in result.damaged:
        console.print(f"[red]error[/]: {escape(str(finding))}")
    if result.damaged:
        return 1
    if sum(result.read[z] for z in ZONES):
        out.print("every file reads whole")
    else:
        out.print("no silver or gold files" + (f" from {since} on" if since else ""))
    return 0


def _count(of: str, least: int = 1) -> Callable[[str], int]:
    """An argument type for a whole number of `of` ("days like 7"), at least `least`."""
    def parse(text: str) -> int:
        if not text.isdigit() or int(text) < least:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number of {of}")
        return int(text)

    return parse


_days = _count("days like 7")
_visitors = _count("visitors like 3000")
_bots = _count("bots like 12 (0 for none)", least=0)


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="path of footfall.toml (default: $FOOTFALL_CONFIG or ./footfall.toml)")
    common.add_argument("--lake", help="lake root, a path or s3://bucket/prefix (overrides lake.root)")
    writer = argparse.ArgumentParser(add_help=False)
    writer.add_argument("--wait", type=_seconds, metavar="SECONDS",
                        help="wait this long while another ingest, erase or retention is writing "
                             "the lake (default lake.writer_wait_seconds, 0: exit 75 at once)")
    p = argparse.ArgumentParser(prog="footfall", description="Visitor analytics lakehouse for CloudFront logs.")
    sub = p.add_subparsers(dest="command", required=True)

    g = sub.add_parser("generate", parents=[common], help="write synthetic landing data")
    g.add_argument("--start", type=_date, help="first day (default: DAYS days ending yesterday)")
    g.add_argument("--days", type=_days, default=3, help="days of traffic (default 3)")
    g.add_argument("--visitors", type=_visitors, default=3000, help="human visitors per site (default 3000)")
    g.add_argument("--bots", type=_bots, default=12, help="crawlers per site (default 12)")
    g.add_argument("--seed", type=int, default=7, help="the same seed writes the same data (default 7)")
    g.add_argument("--sources", nargs="+", default=["rtl", "standard", "beacon"],
                   choices=["rtl", "standard", "beacon"])
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser("ingest", parents=[common, writer], help="parse new landing objects into silver")
    i.add_argument("--sources", nargs="+", default=["rtl", "standard", "beacon"],
                   choices=["rtl", "standard", "beacon"])
    i.add_argument("--rebuild", action="append", default=[], metavar="PARTITION",
                   help="rebuild this silver hour partition (silver/<table>/dt=YYYY-MM-DD/hour=HH) "
                        "from the landing objects still there, even if some are gone; repeatable")
    i.add_argument("--recent", type=_hours, metavar="HOURS",
                   help="list landing only from HOURS hours before the current one, in the key "
                        "prefixes (Firehose hours, distributions) already ingested: a run every few "
                        "minutes costs an S3 LIST request or two a prefix; run without it hourly")
    i.set_defaults(func=cmd_ingest)

    b = sub.add_parser("build", parents=[common], help="build gold models for a day or range of days")
    b.add_argument("--date", type=_date, required=True, help="first day (UTC)")
    b.add_argument("--through", type=_date, help="last day (default: --date)")
    b.add_argument("--models", nargs="+", help="models to build (default: all)")
    b.set_defaults(func=cmd_build)

    q = sub.add_parser("query", parents=[common], help="run SQL over the lake's tables (DuckDB)")
    q.add_argument("sql", help="e.g. \"select dt, count(*) from sessions group by 1\"")
    q.add_argument("--limit", type=int, default=50, help="rows to print (default 50)")
    q.add_argument("--csv", action="store_true", help="print every row as CSV")
    q.set_defaults(func=cmd_query)

    o = sub.add_parser("online", parents=[common],
                       help="each site's latest presence snapshot and its top routes (the sites seen in "
                            "the last 7 days; every site if none was)")
    o.add_argument("--top", type=int, default=5)
    o.set_defaults(func=cmd_online)

    j = sub.add_parser("journey", parents=[common], help="every page view and event of a session, in order")
    j.add_argument("--session", help="a session_id from the sessions table")
    j.add_argument("--visitor", help="a visitor_id: all of that visitor's sessions")
    j.set_defaults(func=cmd_journey)

    r = sub.add_parser("report", parents=[common], help="write the daily report (HTML, Markdown, CSV) for a day")
    r.add_argument("--date", type=_date, required=True, help="UTC day, e.g. 2026-11-21")
    r.add_argument("--through", type=_date, help="last day of a range (one report per day)")
    r.add_argument("--site", help="only this site (default: report.site, or every site)")
    r.add_argument("--no-deliver", action="store_true", help="skip the S3 copy / e-mail in [report]")
    r.set_defaults(func=cmd_report)
    x = sub.add_parser("export", parents=[common], help="a gold table for a date range as spreadsheet-safe CSV")
    x.add_argument("table", help="gold table, e.g. sessions")
    x.add_argument("--date", type=_date, required=True, help="first UTC day")
    x.add_argument("--through", type=_date, help="last UTC day (default: --date)")
    x.add_argument("--out", help="CSV file to write (default: standard output)")
    x.set_defaults(func=cmd_export)
    c = sub.add_parser("collect", parents=[common], help="run the beacon collector (ASGI) on this machine")
    c.add_argument("--host", default="127.0.0.1")
    c.add_argument("--port", type=int, default=8787)
    c.set_defaults(func=cmd_collect)
    e = sub.add_parser("erase", parents=[common, writer], help="remove one visitor from silver and gold")
    e.add_argument("--visitor", help="the raw first-party visitor id (as in the cookie / x-visitor-id)")
    e.add_argument("--visitor-id", help="the visitor_id hash as it appears in the lake")
    e.add_argument("--dry-run", action="store_true", help="count what would be removed")
    e.set_defaults(func=cmd_erase)
    a = sub.add_parser("athena-ddl", parents=[common], help="Glue/Athena DDL (partition projection) for every lake table")
    a.add_argument("--database", default="footfall", help="Glue database name (default footfall)")
    a.add_argument("--out", help="write one .sql file per table here (default: print them)")
    a.set_defaults(func=cmd_athena_ddl)
    t = sub.add_parser("retention", parents=[common, writer], help="delete landing/quarantine/silver (and gold if set) past their age")
    t.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    t.set_defaults(func=cmd_retention)
    v = sub.add_parser("verify", parents=[common], help="read back silver and gold; name each damaged file and its repair")
    v.add_argument("--days", type=_days, help="only the partitions of the last DAYS UTC days, today included "
                   "(default: all; retention.landing days is what landing can still rebuild)")
    v.set_defaults(func=cmd_verify)
    d = sub.add_parser("demo", parents=[common], help="generate a demo lake and run the pipeline")
    d.add_argument("--days", type=_days, default=3, help="days of traffic, ending yesterday (default 3)")
    d.add_argument("--visitors", type=_visitors, default=3000, help="human visitors per site (default 3000)")
    d.add_argument("--seed", type=int, default=7, help="the same seed writes the same data (default 7)")
    d.add_argument("--fresh", action="store_true", help="delete a local demo lake first")
    d.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ConfigError, MissingKeyError, UserError) as err:
        console.print(f"[red]error[/]: {escape(str(err))}")
        return 2
    except PermissionError as err:
        console.print(f"[red]error[/]: no permission for {escape(str(err.filename))}: check the lake path and its owner")
        return 2
    except (LakeBusy, LeaseLost, KeptChanging) as err:  # nothing was written; a scheduler may try again
        console.print(f"[yellow]busy[/]: {escape(str(err))}")
        return EXIT_BUSY
    except KeyboardInterrupt:
        console.print("interrupted: the lake is unchanged where the run did not finish; run again to complete")
        return 130
    except Exception as err:
        from pipelines.storage import DamagedFile

        if isinstance(err, DamagedFile):  # its message says what to do; nothing was recorded
            console.print(f"[red]error[/]: {escape(str(err))}")
            return 1
        from pipelines.partitions import damaged_file_message

        message = damaged_file_message(err) or environment_error(err)
        if message is None or os.environ.get("FOOTFALL_DEBUG"):
            raise
        console.print(f"[red]error[/]: {escape(message)} (FOOTFALL_DEBUG=1 shows the traceback)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
