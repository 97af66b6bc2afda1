"""Arrow data built without pyarrow's Python-object conversion.

`pa.array`, `pa.table` and `Schema.empty_table` import pandas on first use (pyarrow checks
whether its input is a pandas object), which costs about a second at every start of the
CLI or a Dagster run. Nothing on Footfall's paths needs pandas, so Arrow data is built from
buffers, or through Polars, whose conversions do not import it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import numpy as np
import polars as pl
import pyarrow as pa


def empty(schema: pa.Schema) -> pa.Table:
    """A table of `schema` with no rows."""
    return pa.Table.from_batches([], schema=schema)


def mask(values: np.ndarray) -> pa.BooleanArray:
    """A boolean array of a numpy mask (for `filter`), packed straight into Arrow's bitmap."""
    bits = np.packbits(np.asarray(values, dtype=bool), bitorder="little")
    return pa.BooleanArray.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])


def table(columns: dict[str, Sequence | np.ndarray | pa.Array], schema: pa.Schema) -> pa.Table:
    """A table of `schema` from Python or numpy columns (converted by Polars)."""
    frame = pl.DataFrame({name: columns[name] for name in schema.names},
                         schema=polars_schema(schema), strict=False)
    return frame.to_arrow().cast(schema)


@cache
def polars_schema(schema: pa.Schema) -> pl.Schema:
    """The Polars types of an Arrow schema (computed once per schema)."""
    return pl.Schema(pl.from_arrow(empty(schema)).schema)
