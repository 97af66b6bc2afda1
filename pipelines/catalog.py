"""`lake/catalog.duckdb`: a view for every silver and gold table, so that
`duckdb lake/catalog.duckdb` (or `footfall query`) answers `select * from sessions` at once.

The views read the lake's Parquet where it is; the catalog holds no data, so rebuilding it
is cheap and it is never stale about rows, only about which tables exist.
"""

from __future__ import annotations

import functools
import operator
import os
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING, TypeVar

import duckdb
import pyarrow as pa

from pipelines.models import S3_READ_ERRORS
from pipelines.partitions import parse_hour_key, partition_day
from pipelines.storage import ObjectInfo, Storage, read_while_replaced

if TYPE_CHECKING:
    import pyarrow.dataset

T = TypeVar("T")

CATALOG_KEY = "catalog.duckdb"


class LakeTables:
    """Every silver and gold table that has data, with its Parquet objects: listed once for
    a connection, and compared with a later listing to tell whether ingest or a build
    replaced objects while they were read."""

    def __init__(self, storage: Storage):
        self.objects: dict[str, tuple[str, list[ObjectInfo]]] = {}  # name → (glob, objects)
        for layer, depth in (("silver", "*/*/*.parquet"), ("gold", "*/*.parquet")):
            for prefix in storage.iter_prefixes(layer):
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
    a table is an Arrow dataset, as the models read it (DuckDB's own S3 reader is an
    extension to download), with the columns of its newest object."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    for name, (glob, objects) in sorted((listed or LakeTables(storage)).objects.items()):
        if storage.is_s3:
            con.register(name, partitioned_dataset(storage, objects))
            continue
        con.execute(_view(name, glob))
    return con


def partitioned_dataset(storage: Storage, objects: list[ObjectInfo]) -> pyarrow.dataset.Dataset:
    """The objects of one table as an Arrow dataset, each object a fragment that carries the
    `dt` (and `hour`) of its key as a guarantee and its listed size: a query's filter on
    them skips the other objects unread, and no object is asked its size. (A dataset made
    from paths asks each object's size, and opens each footer to test such a filter: a
    query of one day of a year of silver made some 17,000 requests.) Its columns are those
    of the newest object."""
    import pyarrow.dataset as ds  # only for an S3 lake: importing it imports pandas (~1 s)

    parquet = ds.ParquetFileFormat()
    newest = parquet.make_fragment(storage.full(objects[-1].key), storage.fs, file_size=objects[-1].size)
    schema = newest.physical_schema
    fragments = [parquet.make_fragment(storage.full(o.key), storage.fs, _guarantee(o.key, schema), file_size=o.size)
                 for o in objects]
    return ds.FileSystemDataset(fragments, schema, parquet, storage.fs)


def _guarantee(key: str, schema: pa.Schema) -> pyarrow.dataset.Expression | None:
    """`dt == D and hour == H` from a key's `dt=D/hour=H/`, for the columns the table has."""
    import pyarrow.dataset as ds

    day, hour = partition_day(key), parse_hour_key(key)
    values = {"dt": date.fromisoformat(day) if day else None, "hour": hour[2] if hour else None}
    terms = [ds.field(name) == pa.scalar(value, schema.field(name).type) for name, value in values.items()
             if value is not None and schema.get_field_index(name) >= 0]
    return functools.reduce(operator.and_, terms) if terms else None


def reading(storage: Storage, read: Callable[[duckdb.DuckDBPyConnection], T], what: str) -> T:
    """`read` over a fresh connection to the lake's tables; on S3 tried again, over a fresh
    listing, when it failed because ingest or a build replaced objects while it read them
    (an hour of silver is replaced every few minutes, so a query of today's traffic would
    otherwise fail now and then with Arrow's "Parquet magic bytes not found")."""

    def attempt(listed: LakeTables) -> T:
        con = connect(storage, listed)
        try:
            return read(con)
        finally:
            con.close()

    return read_while_replaced(storage, lambda: LakeTables(storage), attempt, what, S3_READ_ERRORS)
