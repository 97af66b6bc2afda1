"""Reading the lake back: which silver hours and gold days no longer read whole, and how to
repair each.

Ingest finds a damaged silver hour only when it merges into that hour, and a query only
when it reads that file. `footfall verify` reads every Parquet file of silver and gold (or
of the last days) in full, a few at a time, and names each that does not read, with its
repair: a silver hour is rebuilt from landing (`footfall ingest --rebuild`), losing the
rows of objects that have left landing (said so), a gold day is built again. The ingest
ledger and its archive are read first: every ingest needs them, and a silver hour's
repair is planned from them.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from pipelines import ledger
from pipelines.config import Settings
from pipelines.partitions import parse_hour_key, partition_day
from pipelines.schemas import SILVER
from pipelines.storage import DamagedFile, Storage

ZONES = ("silver", "gold")  # and the ingest ledger in state/
READERS = 4  # files read at once: hides S3's latency, memory stays at a few hours' rows


@dataclass
class Finding:
    key: str
    message: str  # what cannot be read, why, and the repair

    def __str__(self) -> str:
        return self.message


@dataclass
class VerifyResult:
    since: date | None = None  # the first day whose partitions were read (None: all)
    read: dict[str, int] = field(default_factory=dict)  # zone → files read back whole or not
    damaged: list[Finding] = field(default_factory=list)


def unreadable(storage: Storage, key: str) -> str | None:
    """Why a lake file does not read as the one Footfall wrote (None: it does)."""
    hour = parse_hour_key(key)
    needed = SILVER[hour[0]].names if hour and hour[0] in SILVER else ()
    try:
        storage.read_intact(key, needed)
    except DamagedFile as err:
        return str(err)
    return None


def _repair(storage: Storage, entries: dict[str, ledger.Entry], key: str) -> str:
    from pipelines.ingest import plan_hour_rebuild  # the ingest machinery: only for a damaged file

    hour = parse_hour_key(key)
    if hour is None:  # gold: built again from silver
        day = partition_day(key)
        return (f"delete it and run footfall build --date {day}" if day
                else "restore it from bucket versioning or a backup")
    plan = plan_hour_rebuild(storage, entries, *hour, cause="")
    if not plan.lost:
        return (f"footfall ingest --rebuild {key} rebuilds it from the {len(plan.taken_again):,} "
                "landing object(s) it came from")
    return (f"{len(plan.lost):,} landing object(s) it came from have left landing (e.g. "
            f"{plan.lost[0]}): restore it from bucket versioning or a backup, or accept losing "
            f"their rows of that hour: footfall ingest --rebuild {key}")


def verify(settings: Settings, *, days: int | None = None,
           on_progress: Callable[[int, int], None] | None = None) -> VerifyResult:
    """Read back every Parquet file of silver and gold (with `days`, of the partitions of
    the last that many UTC days, today included)."""
    storage = Storage(settings.lake.root)
    since = None if days is None else datetime.now(UTC).date() - timedelta(days=days - 1)
    keys = []
    for zone in ZONES:
        for obj in storage.list(f"{zone}/"):
            day = partition_day(obj.key)
            if obj.key.endswith(".parquet") and not (since and day and day < since.isoformat()):
                keys.append(obj.key)
    result = VerifyResult(since=since, read={z: sum(k.startswith(f"{z}/") for k in keys) for z in ZONES})
    # The ledger first: a silver hour's repair is planned from it, and every ingest reads it.
    archives = [o.key for o in storage.list(ledger.ARCHIVE_PREFIX) if o.key.endswith(".parquet")]
    live = storage.exists(ledger.LEDGER_KEY)
    result.read["state"] = live + len(archives)
    entries: dict[str, ledger.Entry] | None = None
    try:
        entries = ledger.load(storage)
    except DamagedFile as err:  # its message names the file and the way out
        result.damaged.append(Finding(ledger.LEDGER_KEY, str(err)))
    for key in archives:  # each read once, and each damaged one named
        try:
            ledger.read_file(storage, key)
        except DamagedFile as err:
            result.damaged.append(Finding(key, str(err)))
            entries = None  # a silver hour's repair is planned from the archive too
    with ThreadPoolExecutor(READERS) as pool:
        for done, (key, cause) in enumerate(zip(keys, pool.map(lambda k: unreadable(storage, k), keys),
                                                 strict=True), start=1):
            if cause is not None:
                repair = ("restore it from bucket versioning or a backup, or repair the ledger first"
                          if entries is None and parse_hour_key(key) else _repair(storage, entries or {}, key))
                result.damaged.append(Finding(key, f"{key} cannot be read ({cause}): {repair}"))
            if on_progress:
                on_progress(done, len(keys))
    return result
