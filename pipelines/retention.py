"""Retention: delete what is older than its zone's configured age (`[retention]` in days).

Landing and quarantine hold raw identifiers and are kept for days; silver for about a
year; gold forever unless `retention.gold` is set. Ages are by the data's own UTC day: the
landing key's date, or the `dt=` partition. Every deletion is recorded in
`state/retention/<run>.json` (keys and counts, no data), naming the landing objects it
deleted before ingest took them; `dry_run` only reports.

Landing is the one source silver hours can be rebuilt from, so before its objects go, the
hours they wrote are read back whole. A damaged one keeps its objects in landing: taken
off the ledger, so that the next ingest rebuilds the hour from them, or, when objects
that wrote to it have left landing already, kept until the user accepts the loss
(`footfall ingest --rebuild`). Found only when an ingest merged into it, such damage
used to outlive its last source.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pipelines import ledger
from pipelines.config import Settings
from pipelines.landing import landing_hour
from pipelines.partitions import hour_key, partition_day
from pipelines.rebuild import Rebuild, apply_rebuild
from pipelines.storage import Storage
from pipelines.verify import unreadable
from pipelines.writer_lock import WriterLock, writer_lock

ZONES = ("landing", "quarantine", "silver", "gold", "reports")


@dataclass
class RetentionResult:
    cutoffs: dict[str, str]  # zone → oldest day kept ("" = kept forever)
    deleted: list[str] = field(default_factory=list)
    dry_run: bool = False
    # Landing objects deleted before ingest took them (never ingested, changed since, or
    # failing): their lines are lost, so they are named, not passed over in a count.
    uningested: list[str] = field(default_factory=list)
    # Silver hours found damaged before the last of their landing objects went, and the
    # objects past their age kept in landing for a rebuild.
    damaged: list[Rebuild] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(k.split("/", 1)[0] for k in self.deleted))

    def damage_messages(self) -> list[tuple[bool, str]]:
        """One line per damaged hour: (whether the user must act, what was done)."""
        lines = []
        were = "would be" if self.dry_run else "were"
        for plan in self.damaged:
            kept = sum(o in self.kept for o in plan.taken_again)
            said = f"{plan.key} cannot be read ({plan.cause}): {kept:,} landing object(s) past their age {were} kept"
            if plan.lost:
                lines.append((True, f"{said}, but {len(plan.lost):,} it came from have left landing "
                              f"already (e.g. {plan.lost[0]}), so a rebuild loses their rows of that "
                              f"hour: restore the file from bucket versioning or a backup, or accept "
                              f"the loss: footfall ingest --rebuild {plan.key}"))
            else:
                lines.append((False, f"{said}, and the {len(plan.taken_again):,} it came from {were} "
                              "taken off the ledger, so the next footfall ingest rebuilds it"))
        return lines


def _ages(settings: Settings) -> dict[str, int]:
    r = settings.retention
    return {"landing": r.landing, "quarantine": r.quarantine, "silver": r.silver,
            "gold": r.gold, "reports": r.gold}  # reports are gold's read-outs: same age


def _day(zone: str, obj) -> date | None:
    if zone == "landing":
        return landing_hour(obj).date()
    day = partition_day(obj.key)
    return date.fromisoformat(day) if day else None


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
    result.damaged = damaged_hours(storage, entries, [k for k in result.deleted if k.startswith("landing/")])
    keep = {o for plan in result.damaged for o in plan.taken_again}
    result.kept = [k for k in result.deleted if k in keep]
    result.deleted = [k for k in result.deleted if k not in keep]
    result.uningested = [k for k in result.uningested if k not in keep]
    if lock is not None:
        lock.check()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        for plan in result.damaged:
            if not plan.lost:  # the next ingest takes its objects again and rebuilds it
                apply_rebuild(storage, entries, plan, run_id=f"retention-{stamp}")
        storage.delete_many(result.deleted)
        if result.deleted or result.damaged:
            storage.write_bytes(f"state/retention/{stamp}.json", json.dumps(
                {"run_at": stamp, "today": today.isoformat(), "cutoffs": result.cutoffs,
                 "counts": result.counts(), "deleted": result.deleted,
                 "uningested": result.uningested, "kept": result.kept,
                 "damaged": [{"key": p.key, "cause": p.cause, "kept_as": p.kept_as,
                              "taken_again": len(p.taken_again), "lost": p.lost} for p in result.damaged]},
                indent=1).encode())
    return result


def damaged_hours(storage: Storage, entries: dict[str, ledger.Entry], objects: list[str]) -> list[Rebuild]:
    """The silver hours that `objects` wrote (by the ledger) whose file exists and does not
    read whole, each with its rebuild plan. One hour at a time, so memory stays at one
    hour's rows; a missing file is not damage (every row of it may have been erased)."""
    from pipelines.ingest import TABLE_OF, plan_hour_rebuild  # the ingest machinery: only here

    hours = sorted({(TABLE_OF[e.source], h[:10], int(h[11:13]))
                    for o in objects if (e := entries.get(o)) for h in e.hours})
    plans = []
    for table, dt, hour in hours:
        key = hour_key(table, dt, hour)
        try:
            cause = unreadable(storage, key)
        except FileNotFoundError:  # asked by reading, not first (on S3 a request an hour)
            continue
        if cause:
            plans.append(plan_hour_rebuild(storage, entries, table, dt, hour, cause))
    return plans
