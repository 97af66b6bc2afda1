"""Hour partitions of silver tables: merge new rows in, de-duplicate, replace atomically.

A partition is one Parquet object, `<table>/dt=YYYY-MM-DD/hour=HH/data.parquet`, so
replacing it is a single atomic write (see storage.py). Rows are sorted by (ts, key) so
the same input always yields the same bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date

import polars as pl
import pyarrow as pa

from pipelines.erased import ErasedVisitors
from pipelines.storage import DamagedFile, Storage
from rtl_parser.arrow import polars_schema

PART_FILE = "data.parquet"


def hour_key(table: str, dt: date | str, hour: int) -> str:
    return f"silver/{table}/dt={dt}/hour={int(hour):02d}/{PART_FILE}"


_HOUR_KEY = re.compile(r"(?:^|/)silver/(\w+)/dt=(\d{4}-\d{2}-\d{2})/hour=(\d{2})(?:/|$)")


def parse_hour_key(text: str) -> tuple[str, str, int] | None:
    """(table, dt, hour) of a silver hour partition named by its key, its URI or its folder."""
    m = _HOUR_KEY.search(text)
    return (m.group(1), m.group(2), int(m.group(3))) if m else None


_DAY = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")


def partition_day(key: str) -> str | None:
    """The `dt=` day (YYYY-MM-DD) of a lake key, or None for a key outside day partitions."""
    m = _DAY.search(key)
    return m.group(1) if m else None


def named_partition(text: str, tables: set[str]) -> tuple[str, str, int]:
    """(table, dt, hour) of a partition of one of `tables` that a user named (key, URI or
    folder); ValueError, saying how to name one, for anything else."""
    found = parse_hour_key(text)
    if not found or found[0] not in tables:
        example = hour_key(min(tables), "2026-12-01", 23).removesuffix(f"/{PART_FILE}")
        raise ValueError(f"{text!r} is not an hour partition of silver/{' or silver/'.join(sorted(tables))}, "
                         f"like {example}")
    return found


class DamagedPartition(DamagedFile):
    """An existing hour partition that cannot be read as one, so no merge can keep its rows:
    it was cut short, overwritten or replaced outside Footfall."""

    def __init__(self, table: str, dt: str, hour: int, uri: str, cause: str) -> None:
        self.table, self.dt, self.hour, self.uri, self.cause = table, dt, hour, uri, cause
        self.key = hour_key(table, dt, hour)
        self.lost: list[str] = []  # set by ingest: objects that wrote here, gone from landing
        super().__init__(f"{uri} cannot be read ({cause})")

    def __str__(self) -> str:
        text = (f"silver partition {self.uri} cannot be read: {self.cause}. It was damaged or "
                "replaced outside Footfall")
        if not self.lost:
            return text
        return (f"{text}, and {len(self.lost):,} landing object(s) that wrote to it are no longer "
                f"in landing (e.g. {self.lost[0]}), so rebuilding it would lose their rows of that "
                f"hour. Restore the file (bucket versioning or a backup) and run again, or accept "
                f"the loss: footfall ingest --rebuild {self.key}")


def read_partition(storage: Storage, key: str, schema: pa.Schema) -> pl.DataFrame:
    """An existing hour partition, or `DamagedPartition` if it is not one Footfall wrote."""
    try:
        return storage.read_intact(key, schema.names)
    except DamagedFile as err:
        table, dt, hour = parse_hour_key(key)  # type: ignore[misc]
        raise DamagedPartition(table, dt, hour, storage.uri(key), str(err)) from err


# How DuckDB and Arrow say that a file is not (all of) a Parquet file.
_NOT_PARQUET = ("magic bytes", "out of specification", "corrupt", "not a parquet", "footer")
_QUOTED_PARQUET = re.compile(r"'([^']+\.parquet)'")


def damaged_file_message(err: BaseException) -> str | None:
    """One line for a lake Parquet file that DuckDB or Arrow could not read (a query, a
    build, a report), with how to repair it; None if `err` is not that."""
    text = " ".join(str(err).split())
    path = _QUOTED_PARQUET.search(text)
    if isinstance(err, OSError) or not path or not any(w in text.lower() for w in _NOT_PARQUET):
        return None
    first = str(err).strip().splitlines()[0][:300]
    hour = parse_hour_key(path.group(1))
    gold = re.search(r"(?:^|/)gold/\w+/dt=(\d{4}-\d{2}-\d{2})/", path.group(1))
    repair = "restore it from bucket versioning or a backup"
    if hour:
        repair = (f"rebuild it from landing with footfall ingest --rebuild "
                  f"silver/{hour[0]}/dt={hour[1]}/hour={hour[2]:02d}, or {repair}")
    elif gold:
        repair = f"delete it and run footfall build --date {gold.group(1)}, or {repair}"
    return f"{path.group(1)} cannot be read ({first}): it was damaged or replaced outside Footfall; {repair}"


@dataclass
class MergeResult:
    dt: str
    hour: int
    rows: int  # rows in the partition after the merge
    bytes: int
    kept: dict[str, int] = field(default_factory=dict)  # new rows kept, per source object
    duplicates: dict[str, int] = field(default_factory=dict)  # new rows dropped, per object
    erased: dict[str, int] = field(default_factory=dict)  # new rows of erased visitors, per object


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
    erased: ErasedVisitors | None = None,
) -> MergeResult:
    """Merge `new` rows (with an `_order` column) into one hour partition.

    Existing rows of objects being re-processed are dropped first, so re-running an
    interrupted ingest gives exactly the rows of a clean run. Among the rest, the first
    occurrence of a key wins: existing rows before new ones, new ones in landing order.
    New rows of `erased` visitors are left out (and counted).
    """
    key = hour_key(table, dt, hour)
    left_out: dict[str, int] = {}
    if erased is not None:
        gone = erased.mask(new["visitor_id"])
        if gone.any():
            left_out = dict(new.filter(gone).group_by("source_object").len().iter_rows())
            new = new.filter(~gone)
    frames = []
    try:  # read without asking first whether the hour exists: on S3 a request an hour more
        old = read_partition(storage, key, schema)
    except FileNotFoundError:
        pass
    else:
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
                       kept={k: int(v) for k, v in kept.items()}, duplicates=dups, erased=left_out)
