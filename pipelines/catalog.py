"""`lake/catalog.duckdb`: a view for every silver and gold table, so that
`duckdb lake/catalog.duckdb` (or `footfall query`) answers `select * from sessions` at once.

The views read the lake's Parquet where it is; the catalog holds no data, so rebuilding it
is cheap and it is never stale about rows, only about which tables exist.
"""

from __future__ import annotations

import os

import duckdb

from pipelines.storage import Storage

CATALOG_KEY = "catalog.duckdb"


def tables(storage: Storage) -> dict[str, str]:
    """Table name → Parquet glob, for every silver and gold table that has data."""
    out = {}
    for layer, depth in (("silver", "*/*/*.parquet"), ("gold", "*/*.parquet")):
        for prefix in storage.iter_prefixes(layer):
            name = prefix.rsplit("/", 1)[-1]
            if storage.list(prefix + "/"):
                out[name] = storage.uri(f"{prefix}/{depth}")
    return out


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
    """A connection with a view per table (in memory, so it works for any lake root)."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    for name, glob in sorted(tables(storage).items()):
        con.execute(f'create view "{name}" as select * from read_parquet('
                    f"'{glob}', hive_partitioning = false, union_by_name = true)")
    return con
