"""`lake/catalog.duckdb`: a view for every silver and gold table, so that
`duckdb lake/catalog.duckdb` (or `footfall query`) answers `select * from sessions` at once.

The views read the lake's Parquet where it is; the catalog holds no data, so rebuilding it
is cheap and it is never stale about rows, only about which tables exist.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection
from typing import TypeVar

import duckdb

from pipelines.datasets import arrow_dataset
from pipelines.models import S3_READ_ERRORS
from pipelines.storage import ObjectInfo, Storage, read_while_replaced

T = TypeVar("T")

CATALOG_KEY = "catalog.duckdb"


class LakeTables:
    """Every silver and gold table that has data (or those of `names`), with its Parquet
    objects: listed once for a connection, and compared with a later listing to tell
    whether ingest or a build replaced objects while they were read."""

    def __init__(self, storage: Storage, names: Collection[str] | None = None):
        self.objects: dict[str, tuple[str, list[ObjectInfo]]] = {}  # name → (glob, objects)
        wanted = None if names is None else {n.lower() for n in names}
        for layer, depth in (("silver", "*/*/*.parquet"), ("gold", "*/*.parquet")):
            for prefix in storage.iter_prefixes(layer):
                if wanted is not None and prefix.rsplit("/", 1)[-1].lower() not in wanted:
                    continue
                objects = [o for o in storage.list(prefix + "/") if o.key.endswith(".parquet")]
                if objects:
                    self.objects[prefix.rsplit("/", 1)[-1]] = (storage.uri(f"{prefix}/{depth}"), objects)

    def __eq__(self, other: object) -> bool:  # the same objects, each of the same size and age
        return isinstance(other, LakeTables) and self.objects == other.objects

    __hash__ = None  # type: ignore[assignment]


def tables(storage: Storage) -> dict[str, str]:
    """Table name → Parquet glob, for every silver and gold table that has data."""
    return {name: glob for name, (glob, _) in LakeTables(storage).objects.items()}


def _view(name: str, glob: str) -> str:
    return (f'create or replace view "{name}" as select * from read_parquet('
            f"'{glob}', hive_partitioning = false, union_by_name = true)")


def rebuild(storage: Storage) -> list[str]:
    """Write the catalog next to the lake (local lakes only); returns the view names."""
    if storage.is_s3:
        return []
    path = storage.full(CATALOG_KEY)
    temp = path + ".tmp"
    con = duckdb.connect(temp)
    try:
        views = tables(storage)
        for name, glob in sorted(views.items()):
            con.execute(_view(name, glob))
    finally:
        con.close()
    os.replace(temp, path)
    return sorted(views)


def connect(storage: Storage, listed: LakeTables | None = None) -> duckdb.DuckDBPyConnection:
    """A connection with a view per table (in memory, so it works for any lake root). On S3
    a table is an Arrow dataset, as the models read it, with the columns of its newest
    object; a query's filter on `dt` or `hour` reads only the matching objects (before, a
    query of one day of a year of silver made some 17,000 requests)."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    for name, (glob, objects) in sorted((listed or LakeTables(storage)).objects.items()):
        if storage.is_s3:
            con.register(name, arrow_dataset(storage, objects, partitioned=True))
            continue
        con.execute(_view(name, glob))
    return con


def query_tables(sql: str) -> set[str] | None:
    """The tables `sql` names, as DuckDB's parser finds them; None when it cannot tell
    (say, a column of a table it does not know is used in a join): then every table."""
    try:
        with duckdb.connect() as con:
            return con.get_table_names(sql)
    except duckdb.Error:
        return None


def reading(storage: Storage, read: Callable[[duckdb.DuckDBPyConnection], T], what: str,
            names: Collection[str] | None = None) -> T:
    """`read` over a fresh connection to the lake's tables (only those of `names`, if
    given: on S3 each table costs a listing and its newest object's footer); on S3 tried
    again, over a fresh listing, when it failed because ingest or a build replaced objects
    while it read them (an hour of silver is replaced every few minutes, so a query of
    today's traffic would otherwise fail now and then with Arrow's "Parquet magic bytes
    not found")."""

    def attempt(listed: LakeTables) -> T:
        con = connect(storage, listed)
        try:
            return read(con)
        finally:
            con.close()

    return read_while_replaced(storage, lambda: LakeTables(storage, names), attempt, what, S3_READ_ERRORS)
