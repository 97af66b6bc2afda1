"""Retention: delete what is older than its zone's configured age (`[retention]` in days).

Landing and quarantine hold raw identifiers and are kept for days; silver for about a
year; gold forever unless `retention.gold` is set. Ages are by the data's own UTC day: the
landing key's date, or the `dt=` partition. Every deletion is recorded in
`state/retention/<run>.json` (keys and counts, no data), naming the landing objects it
deleted before ingest took them; `dry_run` only reports.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pipelines import ledger
from pipelines.config import Settings
from pipelines.landing import landing_hour
from pipelines.storage import Storage
from pipelines.writer_lock import WriterLock, writer_lock

_DT = re.compile(r"(?:^|/)dt=(\d{4}-\d{2}-\d{2})/")
ZONES = ("landing", "quarantine", "silver", "gold", "reports")


@dataclass
class RetentionResult:
    cutoffs: dict[str, str]  # zone → oldest day kept ("" = kept forever)
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False
    # Landing objects deleted before ingest took them (never ingested, changed since, or
    # failing): their lines are lost, so they are named, not passed over in a count.
    uningested: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(k.split("/", 1)[0] for k in self.deleted))


def _ages(settings: Settings) -> dict[str, int]:
    r = settings.retention
    return {"landing": r.landing, "quarantine": r.quarantine, "silver": r.silver,
            "gold": r.gold, "reports": r.gold}  # reports are gold's read-outs: same age


def _day(zone: str, obj) -> date | None:
    if zone == "landing":
        return landing_hour(obj).date()
    m = _DT.search(obj.key)
    return date.fromisoformat(m.group(1)) if m else None


def apply_retention(settings: Settings, *, today: date | None = None, dry_run: bool = False) -> RetentionResult:
    """Delete what is past its age, holding the lake's writer lock (an ingest taking a landing
    object this deletes, or merging an hour this deletes, would lose lines); a dry run only reads."""
    storage = Storage(settings.lake.root)
    if dry_run:
        return _retention(settings, storage, today, None)
    with writer_lock(storage, "retention", wait_seconds=settings.lake.writer_wait_seconds) as lock:
        return _retention(settings, storage, today, lock)


def _retention(settings: Settings, storage: Storage, today: date | None, lock: WriterLock | None) -> RetentionResult:
    dry_run = lock is None
    today = today or datetime.now(UTC).date()
    ages = _ages(settings)
    result = RetentionResult(cutoffs={z: (today - timedelta(days=a)).isoformat() if a > 0 else ""
                                      for z, a in ages.items()}, dry_run=dry_run)
    entries = ledger.load(storage)
    for zone in ZONES:
        if ages[zone] <= 0:  # 0 = keep forever
            continue
        oldest_kept = today - timedelta(days=ages[zone])
        for obj in storage.list(f"{zone}/"):
            day = _day(zone, obj)
            if day is not None and day < oldest_kept:
                result.deleted.append(obj.key)
                if zone == "landing" and ledger.is_new_or_changed(obj, entries):
                    result.uningested.append(obj.key)
    if lock is not None:
        lock.check()
        for key in result.deleted:
            storage.delete(key)
        if result.deleted:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
            storage.write_bytes(f"state/retention/{stamp}.json", json.dumps(
                {"run_at": stamp, "today": today.isoformat(), "cutoffs": result.cutoffs,
                 "counts": result.counts(), "deleted": result.deleted,
                 "uningested": result.uningested}, indent=1).encode())
    return result
