"""Erased visitors stay erased: ingest keeps their rows out of silver when it takes landing
again, and a build that ran alongside an erase runs again.

`footfall erase` removes a visitor from silver and gold, but landing keeps raw records for
its retention days, and ingest takes landing objects again: late ones, changed or failed
ones, those of a rebuilt hour, all of them after a lost ledger. The erasure log names each
subject only as `keyed_hash(key, "erasure:" + visitor_id)`, so ingest hashes each distinct
visitor_id it merges the same way and leaves out the rows of those on the log.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import polars as pl

from pipelines.hashing import keyed_hash
from pipelines.storage import Storage
from pipelines.writer_lock import running_erase

LOG_KEY = "state/erasure_log.json"
T = TypeVar("T")
log = logging.getLogger(__name__)


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


def log_version(storage: Storage) -> bytes:
    """The erasure log as it stands (empty before the first erasure), to tell whether an
    erase ended between two readings."""
    return storage.read_bytes_if_any(LOG_KEY) or b""


def build_past_erasures(storage: Storage, what: str, run: Callable[[], T]) -> T:
    """Run a gold build (`run`) until no erase ended while it ran, waiting out a running one.

    A build takes no lock (it would turn ingests away for its whole run), so an erase can
    run alongside it, rebuild gold without the visitor and end, while the build still
    writes days computed from silver it read before: the visitor would be back in gold.
    An erase logs itself last, so a log unchanged since before the build read silver, read
    when no erase is running, means none ended in between."""
    while True:
        before = log_version(storage)
        result = run()
        waited = False
        while (holder := running_erase(storage)) is not None:
            if not waited:
                log.warning("footfall erase (pid %s on %s, since %s) is running: the build of %s "
                            "waits for it to end", holder.get("pid", "?"), holder.get("host", "?"),
                            holder.get("since", "?"), what)
                waited = True
            time.sleep(1)
        if log_version(storage) == before:
            return result
        log.warning("an erase ended while the build of %s ran: building it again, so that gold "
                    "does not count the erased visitor from silver read before", what)


def load_erased(storage: Storage, key: bytes) -> ErasedVisitors | None:
    """The visitors on the erasure log, or None when no one was ever erased."""
    body = storage.read_bytes_if_any(LOG_KEY)
    if body is None:
        return None
    subjects = frozenset(e["subject"] for e in json.loads(body))
    return ErasedVisitors(subjects, key) if subjects else None
