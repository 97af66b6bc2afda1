"""`lake/catalog.duckdb`: a view for every silver and gold table, so that
`duckdb lake/catalog.duckdb` (or `footfall query`) answers `select * from sessions` at once.

The views read the lake's Parquet where it is; the catalog holds no data, so rebuilding it
is cheap and it is never stale about rows, only about which tables exist.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import duckdb

from pipelines.models import arrow_dataset
from pipelines.storage import Storage

CATALOG_KEY = "catalog.duckdb"


def _tables(storage: Storage) -> Iterator[tuple[str, str, list[str]]]:
    """(name, Parquet glob, Parquet keys) of every silver and gold table that has data."""
    for layer, depth in (("silver", "*/*/*.parquet"), ("gold", "*/*.parquet")):
        for prefix in storage.iter_prefixes(layer):
            keys = [o.key for o in storage.list(prefix + "/") if o.key.endswith(".parquet")]
            if keys:
                yield prefix.rsplit("/", 1)[-1], storage.uri(f"{prefix}/{depth}"), keys


def tables(storage: Storage) -> dict[str, str]:
    """Table name → Parquet glob, for every silver and gold table that has data."""
    return {name: glob for name, glob, _ in _tables(storage)}


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
            con.execute(f'create or replace view "{name}" as select * from read_parquet('
                        f"'{glob}', hive_partitioning = false, union_by_name = true)")
    finally:
        con.close()
    os.replace(temp, path)
    return sorted(views)


def connect(storage: Storage) -> duckdb.DuckDBPyConnection:
    """A connection with a view per table (in memory, so it works for any lake root). On S3
    a table is an Arrow dataset, as the models read it (DuckDB's own S3 reader is an
    extension to download), with the columns of its newest object."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    for name, glob, keys in sorted(_tables(storage)):
        if storage.is_s3:
            con.register(name, arrow_dataset(storage, [storage.uri(k) for k in reversed(keys)]))
            continue
        con.execute(f'create view "{name}" as select * from read_parquet('
                    f"'{glob}', hive_partitioning = false, union_by_name = true)")
    return con
