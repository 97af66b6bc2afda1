"""What a lake holds and what Athena would scan to build it (`make bench`, or any local lake).

Prints, for a local lake: bytes per million requests in each layer (landing, quarantine,
silver, gold per table), and for one day the bytes each mart's Athena query would scan.
Athena bills the Parquet column chunks a query reads, rounded up to a megabyte with a
10 MB minimum per query. Each query is planned as Trino plans it: every CTE inlined where
it is referenced (so one referenced twice is scanned twice), projections pushed down
(sqlglot's optimizer), and each table read over the days its `dt` filter selects.
Usage: python bench/lake_volume.py LAKE [DAY] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import traverse_scope

MB = 1024**2
ATHENA_MINIMUM = 10 * MB
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _bytes(root: Path) -> int:
    return sum((Path(d) / f).stat().st_size for d, _, names in os.walk(root, followlinks=True) for f in names)


def _day_of(path: Path) -> date:
    return date.fromisoformat(next(p for p in path.parts if p.startswith("dt="))[3:])


def column_bytes(files: list[Path]) -> Counter:
    """Compressed bytes of each column over `files` (what a columnar scan of it reads)."""
    sizes: Counter = Counter()
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for c in range(group.num_columns):
                sizes[group.column(c).path_in_schema] += group.column(c).total_compressed_size
    return sizes


def layers(lake: Path) -> dict:
    """Bytes of each layer and table, and the requests they hold."""
    requests = sum(pq.ParquetFile(f).metadata.num_rows for f in (lake / "silver/requests").rglob("*.parquet"))
    out = {"requests": requests, "landing": _bytes(lake / "landing"),
           "quarantine": _bytes(lake / "quarantine")}
    for layer in ("silver", "gold"):
        for table in sorted(p for p in (lake / layer).iterdir() if p.is_dir()) if (lake / layer).exists() else []:
            out[f"{layer}/{table.name}"] = _bytes(table)
    return out


def athena_schema(settings) -> dict:
    """Every lake table's columns, as sqlglot's optimizer wants them."""
    from pipelines.athena_ddl import mart_schema
    from pipelines.models import MARTS
    from pipelines.schemas import SILVER

    tables = {**{t: list(s.names) for t, s in SILVER.items()},
              **{m: list(mart_schema(settings, m).names) for m in MARTS}}
    return {settings.athena.database: {t: dict.fromkeys(names, "varchar") for t, names in tables.items()}}


def _inline_ctes(node: exp.Expression, ctes: dict[str, exp.Expression]) -> exp.Expression:
    """`node` with each reference to a CTE replaced by its own copy of the CTE's query, as
    Trino plans them: a CTE read twice is computed, and its tables scanned, twice."""
    if isinstance(node, exp.Query) and node.args.get("with_"):
        ctes = dict(ctes)  # inner definitions shadow outer ones of the same name
        for cte in node.args["with_"].expressions:
            ctes[cte.alias] = _inline_ctes(cte.this.copy(), ctes)
        node.set("with_", None)
    for child in list(node.iter_expressions()):
        if isinstance(child, exp.Table) and not child.db and child.name in ctes:
            child.replace(exp.Subquery(this=ctes[child.name].copy(),
                                       alias=exp.TableAlias(this=exp.to_identifier(child.alias_or_name))))
        else:
            _inline_ctes(child, ctes)
    return node


def athena_reads(sql: str, schema: dict) -> list[tuple[str, set[str], date, date]]:
    """Each read of a lake table in an Athena query: (table, the columns it reads once the
    query's projections are pushed down, as Trino prunes them, first day, last day)."""
    body = sqlglot.parse_one(sql, read="athena")
    body = _inline_ctes(body.expression if isinstance(body, exp.Insert) else body, {})
    tree = pushdown_projections(qualify(body, schema=schema, dialect="athena", validate_qualify_columns=False))
    reads = []
    for scope in traverse_scope(tree):
        for alias, (_, source) in scope.selected_sources.items():
            if isinstance(source, exp.Table) and source.db in schema:
                where = scope.expression.args.get("where")
                days = _DAY.findall(where.sql(dialect="athena")) if where else []
                if len(days) != 2:
                    raise ValueError(f"a read of {source.name} without a dt range: {scope.expression.sql()[:200]}")
                columns = {c.name for c in scope.columns if c.table == alias}
                reads.append((source.name, columns, date.fromisoformat(days[0]), date.fromisoformat(days[1])))
    return reads


def athena_scans(lake: Path, day: date) -> dict[str, int]:
    """Per mart, the bytes its Athena query for `day` would scan (before the 10 MB minimum).
    A day a read covers that the lake does not hold counts as the lake's average day of
    that table, so the figure is that of a lake with history (MAU reads 30 days)."""
    from pipelines.athena import insert_statement
    from pipelines.config import load_settings
    from pipelines.models import MARTS, Window

    settings = load_settings(None, lake=str(lake))
    schema = athena_schema(settings)
    by_day: dict[str, dict[date, Counter]] = {}
    for layer in ("silver", "gold"):
        for table in (lake / layer).iterdir() if (lake / layer).exists() else []:
            for f in sorted(table.rglob("*.parquet")):
                by_day.setdefault(table.name, {}).setdefault(_day_of(f), Counter()).update(column_bytes([f]))

    def read(table: str, columns: set[str], first: date, last: date) -> float:
        days = by_day.get(table, {})
        if not days:
            return 0
        average = sum(sum(v for k, v in c.items() if k in columns) for c in days.values()) / len(days)
        return sum(sum(v for k, v in days[first + timedelta(n)].items() if k in columns)
                   if first + timedelta(n) in days else average for n in range((last - first).days + 1))

    scans = {}
    for name in MARTS:
        if name == "funnel_daily" and not settings.funnels:
            continue
        sql = insert_statement(settings, name, Window(day, day))
        scans[name] = round(sum(read(*r) for r in athena_reads(sql, schema)))
    return scans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lake", type=Path)
    parser.add_argument("day", nargs="?", type=date.fromisoformat,
                        help="the day to estimate Athena's scans for (default: the middle day of silver)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    sizes = layers(args.lake)
    days = sorted({_day_of(p) for p in (args.lake / "silver/requests").rglob("*.parquet")})
    if not days:
        print(f"{args.lake} holds no silver requests: run footfall ingest (and build) on it first",
              file=sys.stderr)
        return 1
    day = args.day or days[(len(days) - 1) // 2]
    scans = athena_scans(args.lake, day)
    if args.json:
        print(json.dumps({"sizes": sizes, "day": day.isoformat(), "athena_scans": scans}))
        return 0
    per_million = 1e6 / max(1, sizes["requests"])
    print(f"{sizes['requests']:,} requests over {len(days)} day(s); bytes per million requests:")
    for key, value in sizes.items():
        if key != "requests":
            print(f"  {key:32s}{value * per_million / MB:>10.2f} MiB")
    billed = {k: max(ATHENA_MINIMUM, -(-v // MB) * MB) for k, v in scans.items()}
    print(f"Athena, one day's build ({day}; days a query reads that the lake lacks count as its "
          f"average day): MiB scanned, and billed (10 MB minimum)")
    for name, value in scans.items():
        print(f"  {name:32s}{value / MB:>10.1f}{billed[name] / MB:>10.0f}")
    print(f"  {'all marts':32s}{sum(scans.values()) / MB:>10.1f}{sum(billed.values()) / MB:>10.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
