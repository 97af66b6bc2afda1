"""The ingest ledger: what each landing object contributed, so counts reconcile (§9).

One row per landing object: `lines = rows + duplicates + quarantined`. Stored as one
Parquet object in `state/`, replaced atomically at the end of each run, so an interrupted
run leaves the previous ledger and its objects are simply processed again.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import polars as pl
import pyarrow as pa

from pipelines.storage import DamagedFile, ObjectInfo, Storage
from rtl_parser import arrow

LEDGER_KEY = "state/ingest_ledger.parquet"

SCHEMA = pa.schema([
    ("source", pa.string()),
    ("object", pa.string()),
    ("size", pa.int64()),
    ("mtime_ns", pa.int64()),
    ("lines", pa.int64()),
    ("rows", pa.int64()),
    ("duplicates", pa.int64()),
    ("quarantined", pa.int64()),
    ("erased", pa.int64()),  # rows of visitors erased before (see pipelines.erased)
    ("extra_columns", pa.int64()),
    ("error", pa.string()),
    ("hours", pa.list_(pa.string())),
    ("run_id", pa.string()),
    ("ingested_at", pa.timestamp("ms", tz="UTC")),
])


# Columns added since the first ledger, with their value for older entries (0).
ADDED = ("erased",)

# The error of an object whose parsing raised something Footfall did not expect (a bug
# that object trips, not bad input, which is quarantined line by line): the object is
# recorded with that error and no rows, and every later run tries it again.
FAILED = "internal error"


@dataclass
class Entry:
    source: str
    object: str
    size: int
    mtime_ns: int
    lines: int = 0
    rows: int = 0
    duplicates: int = 0
    quarantined: int = 0
    erased: int = 0
    extra_columns: int = 0
    error: str | None = None
    hours: list[str] = field(default_factory=list)
    run_id: str = ""
    ingested_at: object = None

    @property
    def reconciles(self) -> bool:
        return self.lines == self.rows + self.duplicates + self.quarantined + self.erased

    @property
    def failed(self) -> bool:
        """Parsing the object raised an unexpected error: none of its lines were taken."""
        return bool(self.error and self.error.startswith(FAILED))


def load(storage: Storage) -> dict[str, Entry]:
    if not storage.exists(LEDGER_KEY):
        return {}
    try:
        frame = storage.read_intact(LEDGER_KEY, [n for n in SCHEMA.names if n not in ADDED])
    except DamagedFile as err:
        raise DamagedFile(
            f"the ingest ledger {storage.uri(LEDGER_KEY)} cannot be read ({err}): "
            "it was damaged or replaced outside Footfall. Restore it from bucket versioning or a "
            "backup; or move it aside and run footfall ingest, which takes every object still in "
            "landing again (replacing its rows in silver); objects no longer in landing keep their "
            "rows but lose their counts") from err
    frame = frame.with_columns(pl.lit(0, pl.Int64).alias(n) for n in ADDED if n not in frame.columns)
    rows = frame.select(SCHEMA.names).to_dicts()  # Arrow's to_pylist imports pandas
    return {r["object"]: Entry(**r) for r in rows}


def is_new_or_changed(obj: ObjectInfo, ledger: dict[str, Entry]) -> bool:
    """Not ingested yet, changed since, or failed last time (so a fixed Footfall takes it)."""
    seen = ledger.get(obj.key)
    return seen is None or seen.size != obj.size or seen.mtime_ns != obj.mtime_ns or seen.failed


def save(storage: Storage, entries: dict[str, Entry]) -> None:
    rows = [asdict(e) for e in sorted(entries.values(), key=lambda e: e.object)]
    storage.write_parquet(LEDGER_KEY, arrow.table({c: [r[c] for r in rows] for c in SCHEMA.names}, SCHEMA))
