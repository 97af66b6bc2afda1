"""Data-quality measurements behind the asset checks: reconciliation, quarantine rate, key
uniqueness, PII-looking values and day-over-day volume. Each returns figures, not verdicts;
the checks in `dagster_project/` decide what passes and how loudly it fails.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

import duckdb

from pipelines import ledger
from pipelines.datasets import arrow_dataset
from pipelines.models import S3_READ_ERRORS, parquet_relation
from pipelines.storage import ObjectInfo, Storage, read_while_replaced

T = TypeVar("T")

# Column names that would mean raw identifiers reached the lake (contract §6).
FORBIDDEN_COLUMNS = frozenset({
    "client_ip", "c_ip", "ip", "forwarded_ip", "x_forwarded_for", "user_agent", "ua",
    "cookie", "cookies", "cs_cookie", "headers", "cs_headers", "visitor_token",
})
# Hosts are servers, not visitors: an IP there (a site reached by address) is not personal.
HOST_COLUMNS = frozenset({"site", "distribution_host", "referrer_domain"})
# A whole value that is an IPv4 or IPv6 address, a browser user agent, or a cookie/header line.
PII_PATTERNS = {
    "ipv4": r"(\d{1,3}\.){3}\d{1,3}",
    "ipv6": r"([0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}|[0-9A-Fa-f:]*[0-9A-Fa-f]::[0-9A-Fa-f:]*",
    "user_agent": r"(Mozilla|Opera)/\d.*",
    "cookie_or_header": r"[A-Za-z0-9_-]+=[^;]*;\s*[A-Za-z0-9_-]+=.*|[A-Za-z-]+:\s.*(%0A|\n).*",
}


@dataclass(frozen=True)
class Reconciliation:
    objects: int
    lines: int
    rows: int
    duplicates: int
    quarantined: int
    unreconciled: list[str]

    @property
    def quarantine_rate(self) -> float:
        return self.quarantined / self.lines if self.lines else 0.0


def reconcile(storage: Storage, days: Iterable[date] | None = None,
              sources: Iterable[str] | None = None) -> Reconciliation:
    """Ledger totals over the objects (of `sources`) whose records fall on `days` (all if None)."""
    entries = ledger.history(storage, days, sources)
    return Reconciliation(
        objects=len(entries),
        lines=sum(e.lines for e in entries),
        rows=sum(e.rows for e in entries),
        duplicates=sum(e.duplicates for e in entries),
        quarantined=sum(e.quarantined for e in entries),
        unreconciled=sorted(e.object for e in entries if not e.reconciles),
    )


def _relisted(storage: Storage, objects: list[ObjectInfo]) -> list[ObjectInfo]:
    """The same objects as listed now (a deleted one left out): what tells a replaced one.
    One listing of the folder they share, rather than a HEAD each."""
    keys = {o.key for o in objects}
    folder = os.path.commonprefix(sorted(keys)).rpartition("/")[0]
    return [o for o in storage.list(folder + "/" if folder else "") if o.key in keys]


def _checked(storage: Storage, objects: list[ObjectInfo], what: str,
             read: Callable[[list[ObjectInfo]], T]) -> T:
    """`read(objects)`, again with their new listing when one it read on S3 was replaced
    meanwhile (as ingest replaces the current hour): one read then mixes two versions and
    fails."""
    return read_while_replaced(storage, lambda: _relisted(storage, objects), read, what, S3_READ_ERRORS,
                               listed=objects)


def duplicate_keys(storage: Storage, objects: list[ObjectInfo], key: str) -> int:
    """Rows whose `key` value occurs more than once across the listed objects (0 for none)."""
    if not objects:
        return 0

    def count(listed: list[ObjectInfo]) -> int:
        con = duckdb.connect()
        relation = parquet_relation(con, storage, listed, "checked")
        rows = con.sql(f'select count(*) - count(distinct "{key}") + count(*) filter (where "{key}" is null) '
                       f"from {relation}").fetchall()
        return int(rows[0][0])

    return _checked(storage, objects, f"{len(objects)} object(s) for duplicate {key}s", count)


def pii_findings(storage: Storage, objects: list[ObjectInfo]) -> dict[str, int]:
    """`column:pattern` → number of values that look like raw personal data, plus
    `column:forbidden` for a column whose very name says it holds raw identifiers."""
    if not objects:
        return {}
    return _checked(storage, objects, f"{len(objects)} object(s) for raw personal data",
                    lambda listed: _pii(storage, listed))


def _pii(storage: Storage, objects: list[ObjectInfo]) -> dict[str, int]:
    con = duckdb.connect()
    relation = parquet_relation(con, storage, objects, "checked")
    schema = con.sql(f"select * from {relation} limit 0")
    findings: dict[str, int] = {}
    text_columns = []
    for name, dtype in zip(schema.columns, schema.types, strict=True):
        if name.lower() in FORBIDDEN_COLUMNS:
            findings[f"{name}:forbidden"] = 1
        if str(dtype) == "VARCHAR":
            text_columns.append(name)
    if not text_columns:
        return findings
    measures = []
    for column in text_columns:
        for label, pattern in PII_PATTERNS.items():
            if label.startswith("ip") and column in HOST_COLUMNS:
                continue
            measures.append((f"{column}:{label}", f"count(*) filter (where regexp_full_match(\"{column}\", "
                                                  f"'{pattern}'))"))
    row = con.sql(f"select {', '.join(m for _, m in measures)} from {relation}").fetchall()[0]
    findings.update({label: int(n) for (label, _), n in zip(measures, row, strict=True) if n})
    return findings


def partition_rows(storage: Storage, table: str, day: date) -> int:
    """Rows in one day of a silver or gold table, from the Parquet footers (no data read),
    read side by side: on S3 a day of silver is 24 objects, each a round trip."""
    prefix = f"{table}/dt={day.isoformat()}/"

    def count(objects: list[ObjectInfo]) -> int:
        parquet = [o for o in objects if o.key.endswith(".parquet")]
        return arrow_dataset(storage, parquet, every_schema=True).count_rows() if parquet else 0

    return read_while_replaced(storage, lambda: storage.list(prefix), count, f"the footers of {prefix}",
                               S3_READ_ERRORS)
