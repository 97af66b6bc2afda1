"""Rebuilding a silver hour partition from landing, when its file is damaged.

Silver is derived: an hour partition holds the rows of the landing objects the ledger says
wrote to it. When the file cannot be read (cut short, overwritten or replaced outside
Footfall), those objects are taken off the ledger so that ingest parses them again, and the
damaged file is moved to quarantine (kept, not deleted, until quarantine retention). Rows of
objects that retention already deleted from landing cannot come back, so ingest rebuilds on
its own only when none are gone; `footfall ingest --rebuild KEY` accepts the loss.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

from pipelines import ledger
from pipelines.partitions import hour_key
from pipelines.storage import Storage


@dataclass
class Rebuild:
    key: str  # the partition's key, silver/<table>/dt=/hour=/data.parquet
    cause: str
    taken_again: list[str]  # objects that wrote to the hour and are still in landing
    lost: list[str]  # objects that wrote to the hour and are gone from landing
    kept_as: str | None = None  # where the damaged file went (None: there was no file)


def plan_rebuild(table: str, dt: str, hour: int, cause: str, sources: tuple[str, ...],
                 entries: dict[str, ledger.Entry], landing: set[str]) -> Rebuild:
    """The objects of `sources` whose rows the ledger puts in that hour, split by whether
    they are still in landing."""
    hour_text = f"{dt}/{hour:02d}"
    wrote = sorted(e.object for e in entries.values() if e.source in sources and hour_text in e.hours)
    return Rebuild(key=hour_key(table, dt, hour), cause=cause,
                   taken_again=[o for o in wrote if o in landing],
                   lost=[o for o in wrote if o not in landing])


def apply_rebuild(storage: Storage, entries: dict[str, ledger.Entry], rebuild: Rebuild,
                  run_id: str) -> None:
    """Take the objects still in landing off the ledger, then move the file to quarantine.

    In that order, so an interruption between the two leaves objects the next run takes
    again, never an hour whose objects count as done while their rows are gone. The lost
    objects keep their entries: they were ingested, and their other hours still hold them.
    """
    for obj in rebuild.taken_again:
        entries.pop(obj, None)
    ledger.save(storage, entries)
    damaged = storage.read_bytes_if_any(rebuild.key)
    if damaged is not None:
        # Dated by today, not by the hour: quarantine retention keeps it for its days from now.
        today = datetime.now(UTC).date().isoformat()
        name = rebuild.key.removeprefix("silver/").replace("/", ".")
        rebuild.kept_as = f"quarantine/damaged/dt={today}/{run_id}.{name}"
        storage.write_bytes(rebuild.kept_as, damaged)
        storage.delete(rebuild.key)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    storage.write_bytes(f"state/rebuilds/{stamp}.json",
                        json.dumps({"run_id": run_id, **asdict(rebuild)}, indent=1).encode())
