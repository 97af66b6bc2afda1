"""Listed Parquet objects of the lake as one Arrow dataset: how DuckDB reads an S3 lake
(its own S3 reader is an extension to download, which a run may not be able to).

Each object is a fragment made with the size its listing gave, so no object is asked its
size: a dataset made from paths sends one HEAD per object, some 8,760 for a year of
silver. Used by the builds, the checks, the report and `footfall query`.
"""

from __future__ import annotations

import functools
import operator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import TYPE_CHECKING

import pyarrow as pa

from pipelines.partitions import parse_hour_key, partition_day
from pipelines.storage import ObjectInfo, Storage

if TYPE_CHECKING:
    import pyarrow.dataset

FOOTER_READERS = 16  # footers read at once for a dataset of every object's columns


def parquet_fragments(storage: Storage, objects: list[ObjectInfo],
                      guarantees: list[pyarrow.dataset.Expression | None] | None = None
                      ) -> list[pyarrow.dataset.ParquetFileFragment]:
    """The objects as Parquet fragments, each with the size its listing gave (nothing read yet)."""
    import pyarrow.dataset as ds  # importing it imports pandas (~1 s): only where needed

    parquet = ds.ParquetFileFormat()
    return [parquet.make_fragment(storage.full(o.key), storage.fs, g, file_size=o.size)
            for o, g in zip(objects, guarantees or [None] * len(objects), strict=True)]


def arrow_dataset(storage: Storage, objects: list[ObjectInfo], *, every_schema: bool = False,
                  partitioned: bool = False) -> pyarrow.dataset.Dataset:
    """The objects (in key order) as one dataset, scanned lazily with filters pushed down.

    Its columns are those of the newest object (the last), or with `every_schema` those of
    all of them united by name (a footer read each, 16 at a time). With `partitioned`
    (and the newest object's columns) each fragment carries the `dt` (and `hour`) of its
    key as a guarantee, so a filter on them skips the other objects unread, footers
    included."""
    import pyarrow.dataset as ds

    if every_schema:
        fragments = parquet_fragments(storage, objects)
        # A footer read each, side by side: one after another, a year of hours on S3 waits
        # out some 8,760 round trips.
        with ThreadPoolExecutor(FOOTER_READERS) as pool:
            schema = pa.unify_schemas(list(pool.map(lambda f: f.physical_schema, fragments)))
    else:
        schema = parquet_fragments(storage, objects[-1:])[0].physical_schema
        fragments = parquet_fragments(storage, objects, [_guarantee(o.key, schema) if partitioned else None
                                                         for o in objects])
    return ds.FileSystemDataset(fragments, schema, ds.ParquetFileFormat(), storage.fs)


def _guarantee(key: str, schema: pa.Schema) -> pyarrow.dataset.Expression | None:
    """`dt == D and hour == H` from a key's `dt=D/hour=H/`, for the columns the table has."""
    import pyarrow.dataset as ds

    day, hour = partition_day(key), parse_hour_key(key)
    values = {"dt": date.fromisoformat(day) if day else None, "hour": hour[2] if hour else None}
    terms = [ds.field(name) == pa.scalar(value, schema.field(name).type) for name, value in values.items()
             if value is not None and schema.get_field_index(name) >= 0]
    return functools.reduce(operator.and_, terms) if terms else None
