"""Erased visitors stay erased: ingest keeps their rows out of silver when it takes landing again.

`footfall erase` removes a visitor from silver and gold, but landing keeps raw records for
its retention days, and ingest takes landing objects again: late ones, changed or failed
ones, those of a rebuilt hour, all of them after a lost ledger. The erasure log names each
subject only as `keyed_hash(key, "erasure:" + visitor_id)`, so ingest hashes each distinct
visitor_id it merges the same way and leaves out the rows of those on the log.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import polars as pl

from pipelines.hashing import keyed_hash
from pipelines.storage import Storage

LOG_KEY = "state/erasure_log.json"


def erasure_subject(key: bytes, visitor_id: str) -> str:
    """How the erasure log names a visitor: never the id itself."""
    return keyed_hash(key, f"erasure:{visitor_id}")


@dataclass(frozen=True)
class ErasedVisitors:
    subjects: frozenset[str]
    key: bytes = field(repr=False)

    def mask(self, visitor_ids: pl.Series) -> pl.Series:
        """True on the rows of erased visitors; each distinct id is hashed once."""
        distinct = visitor_ids.drop_nulls().unique().to_list()
        gone = [v for v in distinct if erasure_subject(self.key, v) in self.subjects]
        return visitor_ids.is_in(gone).fill_null(False)


def load_erased(storage: Storage, key: bytes) -> ErasedVisitors | None:
    """The visitors on the erasure log, or None when no one was ever erased."""
    if not storage.exists(LOG_KEY):
        return None
    subjects = frozenset(e["subject"] for e in json.loads(storage.read_bytes(LOG_KEY)))
    return ErasedVisitors(subjects, key) if subjects else None
