"""Hour partitions of silver tables: merge new rows in, de-duplicate, replace atomically.

A partition is one Parquet object, `<table>/dt=YYYY-MM-DD/hour=HH/data.parquet`, so
replacing it is a single atomic write (see storage.py). Rows are sorted by (ts, key) so
the same input always yields the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import polars as pl
import pyarrow as pa

from pipelines.storage import Storage
from rtl_parser.arrow import polars_schema

PART_FILE = "data.parquet"


def hour_key(table: str, dt: date | str, hour: int) -> str:
    return f"silver/{table}/dt={dt}/hour={int(hour):02d}/{PART_FILE}"


@dataclass
class MergeResult:
    dt: str
    hour: int
    rows: int  # rows in the partition after the merge
    bytes: int
    kept: dict[str, int] = field(default_factory=dict)  # new rows kept, per source object
    duplicates: dict[str, int] = field(default_factory=dict)  # new rows dropped, per object


def merge_partition(
    storage: Storage,
    table: str,
    dt: str,
    hour: int,
    new: pl.DataFrame,  # the caller should hold no other reference: it is freed early
    *,
    key_column: str,
    schema: pa.Schema,
    reprocessed: set[str],
) -> MergeResult:
    """Merge `new` rows (with an `_order` column) into one hour partition.

    Existing rows of objects being re-processed are dropped first, so re-running an
    interrupted ingest gives exactly the rows of a clean run. Among the rest, the first
    occurrence of a key wins: existing rows before new ones, new ones in landing order.
    """
    key = hour_key(table, dt, hour)
    frames = []
    if storage.exists(key):
        old = storage.read_frame(key)
        if reprocessed:
            old = old.filter(~pl.col("source_object").is_in(list(reprocessed)))
        frames.append(old.with_columns(_new=pl.lit(False), _order=pl.lit(0, pl.Int64)))
    fresh = new.select("source_object")
    frames.append(new.with_columns(_new=pl.lit(True), _order=pl.col("_order").cast(pl.Int64)))
    del new
    columns = [*schema.names, "_new", "_order"]
    both = pl.concat([f.select(columns) for f in frames], how="vertical_relaxed")
    # De-duplicate and order on a narrow frame, then gather the wide rows once: sorting or
    # filtering every column would copy the hour two or three times over (the merge phase
    # is ingest's memory peak).
    narrow = both.select("ts", key_column, "_new", "_order", "source_object").with_row_index("_row")
    if narrow[key_column].n_unique() < narrow.height:  # the usual case has no duplicates
        narrow = narrow.sort(["_new", "_order"]).unique(subset=[key_column], keep="first")

    incoming = fresh.group_by("source_object").len()
    kept_new = narrow.filter(pl.col("_new")).group_by("source_object").len()
    counts = incoming.join(kept_new, on="source_object", how="left", suffix="_kept").fill_null(0)
    kept = dict(zip(counts["source_object"], counts["len_kept"], strict=True))
    dups = {o: int(n - kept[o]) for o, n in zip(counts["source_object"], counts["len"], strict=True)}

    rows = narrow.sort(["ts", key_column])["_row"]
    del narrow, frames, fresh
    out = both.select([pl.col(n).cast(t) for n, t in polars_schema(schema).items()]).rechunk()[rows]
    del both
    size = storage.write_parquet(key, out)
    return MergeResult(dt=dt, hour=hour, rows=out.height, bytes=size,
                       kept={k: int(v) for k, v in kept.items()}, duplicates=dups)
