"""Landing → silver: parse, pseudonymise and partition every new or changed landing object.

Two phases, both parallel across worker threads:
1. per object: stream bounded chunks through the parser and enrichment, spill the rows to
   local staging files by record hour, write rejects to quarantine;
2. per touched hour: merge the staged rows into the partition (de-duplicated on the key)
   and replace it atomically.
Then the ledger records what each object contributed. Memory is bounded by the chunk size
and the largest hour partition, not by the input; local staging by `ingest.wave_bytes`, as
a long backlog goes through both phases in waves of consecutive objects.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import shutil
import threading
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import (
    FIRST_COMPLETED,
    Executor,
    Future,
    ThreadPoolExecutor,
    as_completed,
    wait,
)
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import BinaryIO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
from polars.exceptions import PanicException

from pipelines import ledger
from pipelines.config import Settings
from pipelines.enrich import EnrichOptions, enrich_events, enrich_requests
from pipelines.erased import ErasedVisitors, load_erased
from pipelines.landing import (
    PARQUET_MAGIC,
    ChunkReader,
    ObjectError,
    discover,
    landing_hour,
    parquet_batches,
    peek,
)
from pipelines.memory import release_free_memory, tune_malloc
from pipelines.partitions import (
    DamagedPartition,
    MergeResult,
    merge_partition,
    named_partition,
)
from pipelines.rebuild import Rebuild, apply_rebuild, plan_rebuild
from pipelines.schemas import QUARANTINE, SILVER
from pipelines.stageclock import StageClock
from pipelines.staging import staging_folder
from pipelines.storage import ObjectInfo, Storage
from pipelines.writer_lock import WriterLock, writer_lock
from rtl_parser.beacon import BeaconParser
from rtl_parser.lines import Lines, concat, split_lines
from rtl_parser.realtime import RealtimeParser
from rtl_parser.standard import StandardJsonParser, StandardParquetParser, StandardParser

log = logging.getLogger(__name__)

REQUEST_SOURCES = ("rtl", "standard")
EVENT_SOURCES = ("beacon",)
ALL_SOURCES = REQUEST_SOURCES + EVENT_SOURCES
TABLE_OF = {"rtl": "requests", "standard": "requests", "beacon": "events"}  # silver table per source
KEY_OF = {"requests": "request_id", "events": "event_id"}  # de-duplication key per table


@dataclass(frozen=True)
class ParseTask:
    """Consecutive landing objects of one source, parsed by one worker."""

    source: str
    objects: tuple[tuple[int, ObjectInfo], ...]  # (index in this run, object)
    lake_root: str
    staging: str
    settings: Settings
    key: bytes
    inner_workers: int = 1  # threads parsing this task's batches (when tasks < workers)
    clock: StageClock = field(default_factory=StageClock, compare=False, repr=False)
    # Quarantine files in the lake when the run began: an object without rejects now removes
    # its old file only if it has one (no delete request per clean object on S3).
    quarantined: frozenset[str] = field(default=frozenset(), repr=False)


@dataclass
class ObjectResult:
    index: int
    source: str
    obj: ObjectInfo
    lines: int = 0
    parsed: int = 0
    quarantined: int = 0
    extra_columns: int = 0
    error: str | None = None
    hours: set[tuple[str, int]] = field(default_factory=set)
    quarantine_key: str | None = None
    staged: dict[tuple[str, int], int] = field(default_factory=dict)  # in-memory bytes per hour
    failure: BaseException | None = field(default=None, repr=False)  # what parsing it raised


@dataclass
class IngestSummary:
    run_id: str
    objects: int = 0  # new or changed landing objects, ingested by this run
    landed: int = 0  # landing objects of the run's sources, ingested before or now
    lines: int = 0
    rows: int = 0
    duplicates: int = 0
    quarantined: int = 0
    erased: int = 0  # rows of visitors erased before, left out of silver
    partitions: int = 0
    bytes_in: int = 0
    seconds: float = 0.0
    parse_seconds: float = 0.0
    merge_seconds: float = 0.0
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)
    entries: list[ledger.Entry] = field(default_factory=list)
    rebuilt: list[Rebuild] = field(default_factory=list)  # damaged hour partitions rebuilt
    clock: StageClock = field(default_factory=StageClock, repr=False)

    @property
    def stage_seconds(self) -> dict[str, float]:
        """Seconds per stage of the hot path, summed over the worker threads."""
        return self.clock.ordered()

    @property
    def lines_per_second(self) -> float:
        return self.lines / self.seconds if self.seconds else 0.0


def quarantine_key(source: str, obj: ObjectInfo, *, digest: bool = True) -> str:
    """Where an object's rejects go: the landing day, its name, and a digest of its whole
    key, so objects of the same name in different folders keep a file each (`digest=False`:
    the name before 2026-11-30, for removing such a file)."""
    day = landing_hour(obj).date().isoformat()
    name = obj.key.rsplit("/", 1)[-1]
    if digest:
        name += "." + hashlib.blake2b(obj.key.encode(), digest_size=4).hexdigest()
    return f"quarantine/{source}/dt={day}/{name}.parquet"


_REJECT_COLUMNS = {"line_no": pl.Int64, "reason": pl.String, "raw": pl.Binary}
REJECTS_HELD_BYTES = 8 << 20  # rejects a parse task keeps in memory before spilling them


class _Held:
    """Rejects that one parse task's quarantines hold in memory (they share one lock, as
    batches of one large object add rejects from several threads)."""

    def __init__(self, cap: int):
        self.cap, self.bytes, self.lock = cap, 0, threading.Lock()
        self.members: list[_Quarantine] = []


class _Quarantine:
    """Collects one object's rejects and publishes them as its quarantine Parquet file.

    Rejects are few in practice, so they stay in memory until the object's file is
    written. Once a task's quarantines hold more than `held.cap` bytes, all of them spill
    to local staging files, so a run of mostly-garbage objects cannot grow memory.
    (Streaming every object's rejects through a file cost about 5 % of ingest time on the
    benchmark, for 1,023 rejected lines among 2M.)
    """

    def __init__(self, storage: Storage, source: str, obj: ObjectInfo, staging: str, index: int,
                 held: _Held, existing: frozenset[str] = frozenset()):
        self.storage, self.source, self.obj, self.held = storage, source, obj, held
        self.key = quarantine_key(source, obj)
        # From an earlier run: replaced, or removed if the object is now clean.
        self.stale = [k for k in (self.key, quarantine_key(source, obj, digest=False)) if k in existing]
        self.path = Path(staging) / "quarantine" / f"{index:06d}.parquet"
        self.writer: pq.ParquetWriter | None = None
        self.pending: list[pl.DataFrame] = []
        self.count = 0
        self.last_line = 0
        self.in_order = True  # rejects arrived in line order (batches may finish out of order)
        held.members.append(self)

    def add(self, rejects: pl.DataFrame | list[tuple[int, str, bytes]]) -> None:
        """Rejects of a parsed batch (`line_no`, `reason`, `raw` columns), or of the line
        splitter as (line_no, reason, raw) tuples."""
        if len(rejects) == 0:
            return
        if isinstance(rejects, list):
            frame = pl.DataFrame(rejects, schema=_REJECT_COLUMNS, orient="row")
        else:
            frame = rejects.select(list(_REJECT_COLUMNS))
        with self.held.lock:
            self.pending.append(frame)
            self.count += frame.height
            lines = frame["line_no"]  # each addition is in line order within itself
            self.in_order = self.in_order and lines[0] >= self.last_line
            self.last_line = max(self.last_line, lines[-1])
            self.held.bytes += frame.estimated_size()
            if self.held.bytes > self.held.cap:
                for quarantine in self.held.members:
                    if quarantine.pending:
                        quarantine._spill()
                self.held.bytes = 0

    def _table(self) -> pa.Table:
        """The pending rejects as quarantine rows (and no longer pending)."""
        frame = pl.concat(self.pending).select(
            source=pl.lit(self.source), source_object=pl.lit(self.obj.key),
            line_no="line_no", reason="reason", raw="raw")
        self.pending = []
        return frame.to_arrow().cast(QUARANTINE)

    def _spill(self) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, QUARANTINE, compression="zstd")
        self.writer.write_table(self._table())

    def close(self) -> str | None:
        """Publish the rejects (once every batch is done); returns the key written (made
        durable before the ledger)."""
        key = self.key
        for old in self.stale:  # a re-processed object that had rejects before
            if old != key or self.count == 0:
                self.storage.delete(old)
        if self.count == 0:
            return None
        if self.writer is None:  # in line order: batches of one object may finish in any order
            self.storage.write_parquet(key, self._table().sort_by("line_no"), durable=False)
            return key
        if self.pending:
            self._spill()
        self.writer.close()
        if self.in_order:  # the spilled file is the quarantine file: not read back whole
            self.storage.put_file(key, self.path, durable=False)
        else:
            self.storage.write_parquet(key, pq.read_table(self.path).sort_by("line_no"), durable=False)
        self.path.unlink()
        return key


class _Batch:
    """Lines of consecutive objects that share a layout, parsed together once they fill
    `chunk_bytes` (or the layout changes): small objects share the fixed per-call costs."""

    def __init__(self, task: ParseTask, results: dict[int, ObjectResult],
                 quarantines: dict[int, _Quarantine], parse: Callable):
        self.task, self.results, self.quarantines, self.parse = task, results, quarantines, parse
        self.opts = EnrichOptions.from_settings(task.settings, task.key)
        self.limit = task.settings.ingest.chunk_bytes
        self.pieces: list[tuple[int, Lines]] = []
        self.members: list[int] = []  # object index of each part
        self.layout: tuple[str, ...] | None = None
        self.size = 0
        self.number = 0
        # Batches of one large object parse in parallel when this task has spare workers;
        # at most `inner_workers` in flight, so memory stays bounded by the chunk size.
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(task.inner_workers, thread_name_prefix="ingest-batch") \
            if task.inner_workers > 1 else None
        self.pending: deque[Future] = deque()

    def add(self, index: int, lines: Lines, size: int, layout: tuple[str, ...]) -> None:
        if self.pieces and layout != self.layout:
            self.flush()
        self.layout = layout
        if not self.members or self.members[-1] != index:
            self.members.append(index)
        self.pieces.append((len(self.members) - 1, lines))
        self.size += size
        if self.size >= self.limit:
            self.flush()

    def flush(self) -> None:
        if not self.pieces:
            return
        args = (concat(self.pieces), self.layout, self.number, self.members)
        if self.pool is None:
            self._process(*args)
        else:
            while len(self.pending) >= self.task.inner_workers:
                self.pending.popleft().result()
            self.pending.append(self.pool.submit(self._process, *args))
        self.pieces, self.members, self.size = [], [], 0
        self.number += 1

    def _process(self, lines: Lines, layout: tuple[str, ...] | None, number: int, members: list[int]) -> None:
        with self.task.clock("parse fields"):
            parsed = self.parse(lines, layout)
        _record(self.task, number, parsed, members, self.results, self.quarantines, self.opts, self.lock)

    def finish(self) -> None:
        self.flush()
        while self.pending:
            self.pending.popleft().result()

    def close(self) -> None:
        """Stop the pool once its batches in flight are done, after an error too: none may
        still be writing staging files when a failed task's output is discarded."""
        if self.pool is not None:
            self.pool.shutdown(wait=True)


def _record(task: ParseTask, number: int, parsed, members: list[int],
            results: dict[int, ObjectResult], quarantines: dict[int, _Quarantine],
            opts: EnrichOptions, lock: threading.Lock) -> None:
    """Attribute one parsed batch to its objects: rejects, counts, and staged rows."""
    with lock:
        for part, n in parsed.extra_by_part.items():
            results[members[part]].extra_columns += n
    if parsed.rejects.num_rows:  # quarantines take their own lock
        with task.clock("quarantine"):
            rejects = pl.from_arrow(parsed.rejects)
            assert isinstance(rejects, pl.DataFrame)
            for (part,), piece in rejects.partition_by("part", as_dict=True, maintain_order=True).items():
                quarantines[members[part]].add(piece)
    if parsed.frame.height:
        _stage(task, number, parsed.frame, members, results, opts, lock)


def _stage(task: ParseTask, number: int, rows: pl.DataFrame, members: list[int],
           results: dict[int, ObjectResult], opts: EnrichOptions, lock: threading.Lock) -> None:
    """Enrich a parsed batch and spill it to staging, one file per record hour."""
    keys = [results[i].obj.key for i in members]
    order = rows.select(
        pl.col("part").replace_strict(dict(enumerate(members)), return_dtype=pl.Int64)
        * (1 << 32) + pl.col("line_no")
    ).to_series()
    table = TABLE_OF[task.source]
    enrich = enrich_requests if table == "requests" else enrich_events
    with task.clock("enrich"):
        silver = enrich(rows, keys, opts).with_columns(part=rows["part"], _order=order)
    with task.clock("spill to staging"):
        _spill(task, number, silver, members, results, lock)


def _spill(task: ParseTask, number: int, silver: pl.DataFrame, members: list[int],
           results: dict[int, ObjectResult], lock: threading.Lock) -> None:
    """Write an enriched batch to staging, one file per record hour."""
    table = TABLE_OF[task.source]
    first = task.objects[0][0]
    touched = silver.group_by(["part", "dt", "hour"]).len()
    with lock:
        for part, dt, hour, n in touched.iter_rows():
            result = results[members[part]]
            result.hours.add((str(dt), int(hour)))
            result.parsed += n
    row_bytes = silver.estimated_size() / silver.height  # one pass over the string views
    for (dt, hour), piece in silver.drop("part").partition_by(["dt", "hour"], as_dict=True).items():
        folder = Path(task.staging) / table / f"{dt}_{hour:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        # lz4: about a seventh of the bytes to write, read back and delete, for little CPU.
        piece.write_ipc(folder / f"{first:06d}-{number:05d}.arrow", compression="lz4",
                        compat_level=pl.CompatLevel.newest())  # string views as they are
        with lock:  # the merge phase budgets its memory by these sizes
            staged, at = results[members[0]].staged, (str(dt), int(hour))
            staged[at] = staged.get(at, 0) + int(piece.height * row_bytes)


def _unreadable(quarantine: _Quarantine, result: ObjectResult, line: int, error: str) -> None:
    # The unreadable remainder of an object counts as one quarantined line, so the ledger
    # still reconciles and the reason is on record next to the object.
    quarantine.add([(line, error, b"")])
    result.lines += 1
    result.error = error


def _parquet_object(task: ParseTask, storage: Storage, index: int, results: dict[int, ObjectResult],
                    quarantines: dict[int, _Quarantine], batch: _Batch) -> None:
    """One standard logging v2 Parquet object, a record batch at a time."""
    result = results[index]
    parser = StandardParquetParser(visitor_header=task.settings.identity.visitor_header)
    try:
        with storage.open_random(result.obj.key) as file:
            batches = parquet_batches(file, max_total_bytes=task.settings.ingest.max_object_bytes)
            for n, rows in enumerate(task.clock.iterate("read + gunzip", batches)):
                with task.clock("parse fields"):
                    parsed = parser.feed(rows)
                result.lines += parsed.lines
                _record(task, 10**6 + index * 1000 + n, parsed, [index], results, quarantines,
                        batch.opts, batch.lock)
    except ObjectError as err:
        _unreadable(quarantines[index], result, parser.next_line, str(err))


def _parse_object(task: ParseTask, storage: Storage, index: int, stream: BinaryIO,
                  results: dict[int, ObjectResult], quarantines: dict[int, _Quarantine], batch: _Batch,
                  std: StandardParser | None, opts: dict) -> None:
    """Stream one landing object (`stream`, which this closes) into the task's batches (a
    Parquet one on its own)."""
    settings, result, quarantine = task.settings, results[index], quarantines[index]
    with stream:
        if task.source == "standard":
            head, stream = peek(stream, len(PARQUET_MAGIC))
            if head == PARQUET_MAGIC:  # standard logging v2 delivered as Parquet
                _parquet_object(task, storage, index, results, quarantines, batch)
                return
        reader = ChunkReader(stream, chunk_bytes=settings.ingest.chunk_bytes,
                             max_line_bytes=settings.ingest.max_line_bytes,
                             max_total_bytes=settings.ingest.max_object_bytes)
        next_line, per_object = 1, None
        for n, chunk in enumerate(task.clock.iterate("read + gunzip", reader)):
            if task.source in ("rtl", "beacon"):  # one layout per object: TSV or NDJSON
                with task.clock("split lines"):
                    lines = split_lines(chunk, next_line, settings.ingest.max_line_bytes)
                next_line += lines.span
                segments = [((task.source,), lines)] if len(lines.line_no) else []
            elif n == 0 and chunk.lstrip()[:1] == b"{" or per_object is not None:
                # Standard logging v2 as JSON lines: parsed object by object.
                per_object = per_object or StandardJsonParser(**opts)
                with task.clock("parse fields"):
                    parsed = per_object.feed(chunk)
                result.lines += parsed.lines
                next_line = per_object.next_line
                _record(task, 10**6 + index * 1000 + n, parsed, [index], results,
                        quarantines, batch.opts, batch.lock)
                continue
            else:
                if n == 0:
                    std.start_object()
                with task.clock("split lines"):
                    lines, segments = std.segments(chunk)
                next_line = std.next_line
            result.lines += lines.count
            with task.clock("quarantine"):
                quarantine.add(lines.rejects)
            for layout, piece in segments:
                batch.add(index, piece, len(chunk) * len(piece.line_no) // max(1, lines.count), layout)
        if reader.error:
            _unreadable(quarantine, result, next_line, reader.error)


def parse_task(task: ParseTask) -> list[ObjectResult]:
    """Phase 1 for a few landing objects (runs in a worker thread)."""
    tune_malloc()
    storage = Storage(task.lake_root)
    settings = task.settings
    results = {i: ObjectResult(i, task.source, o) for i, o in task.objects}
    held = _Held(cap=REJECTS_HELD_BYTES)
    quarantines = {i: _Quarantine(storage, task.source, o, task.staging, i, held, task.quarantined)
                   for i, o in task.objects}
    opts = dict(visitor_header=settings.identity.visitor_header,
                max_line_bytes=settings.ingest.max_line_bytes)
    std = StandardParser(**opts, delimiter=settings.standard.field_delimiter,
                         fields=settings.standard.fields) if task.source == "standard" else None
    if task.source == "rtl":
        rtl = RealtimeParser(settings.rtl.fields, **opts)
        batch = _Batch(task, results, quarantines, lambda lines, _layout: rtl.parse_lines(lines))
    elif task.source == "beacon":
        beacon = BeaconParser()
        batch = _Batch(task, results, quarantines, lambda lines, _layout: beacon.parse_lines(lines))
    else:
        assert std is not None
        batch = _Batch(task, results, quarantines, std.parse_lines)
    try:
        streams = storage.open_inputs([o.key for _, o in task.objects])
        for (index, _), stream in zip(task.objects, streams, strict=True):
            _parse_object(task, storage, index, stream, results, quarantines, batch, std, opts)
        batch.finish()
    finally:
        batch.close()
    with task.clock("quarantine"):
        for index, quarantine in quarantines.items():
            results[index].quarantine_key = quarantine.close()
            results[index].quarantined = quarantine.count
    return [results[i] for i, _ in task.objects]


def parse_task_or_isolate(task: ParseTask) -> list[ObjectResult]:
    """`parse_task`, except that a failure other than the environment's costs only the
    object that causes it.

    Such a failure is a bug that some object trips (bad input is quarantined line by line
    and never raises). The task's staged output is dropped and its halves are parsed again,
    down to the object that fails alone: it is recorded with the error, no rows, and its
    lines left in landing, where every later run tries it again. Without this, one such
    object would stop every run, and with it every other object's rows."""
    try:
        return parse_task(task)
    except ENVIRONMENT_ERRORS:
        raise
    except (Exception, PanicException) as err:
        _discard_staged(task)
        if len(task.objects) == 1:
            index, obj = task.objects[0]
            log.error("%s: parsing failed; no rows taken, tried again on the next run", obj.key, exc_info=err)
            return [_failed(task, index, obj, err)]
    half = len(task.objects) // 2
    return [*parse_task_or_isolate(dataclasses.replace(task, objects=task.objects[:half])),
            *parse_task_or_isolate(dataclasses.replace(task, objects=task.objects[half:]))]


# Failures of the machine, the network or the store rather than of a landing object: they
# stop the run (quarantining objects for a full disk or a lost connection would be wrong).
ENVIRONMENT_ERRORS = (OSError, MemoryError)


def _discard_staged(task: ParseTask) -> None:
    """Delete what a failed task staged: its rows (named by its first object) and its
    objects' spilled rejects."""
    staging = Path(task.staging)
    for path in staging.glob(f"*/*/{task.objects[0][0]:06d}-*.arrow"):
        path.unlink()
    for index, _ in task.objects:
        (staging / "quarantine" / f"{index:06d}.parquet").unlink(missing_ok=True)


def _failed(task: ParseTask, index: int, obj: ObjectInfo, err: BaseException) -> ObjectResult:
    """The result of an object that failed to parse: one quarantined line, the error."""
    result = ObjectResult(index, task.source, obj, failure=err)
    quarantine = _Quarantine(Storage(task.lake_root), task.source, obj, task.staging, index,
                             _Held(cap=REJECTS_HELD_BYTES), task.quarantined)
    first_line = (str(err).strip().splitlines() or [""])[0][:300]
    _unreadable(quarantine, result, 0, f"{ledger.FAILED}: {type(err).__name__}: {first_line}")
    result.quarantine_key = quarantine.close()
    result.quarantined = quarantine.count
    return result


@dataclass(frozen=True)
class MergeTask:
    lake_root: str
    table: str
    folder: str
    dt: str
    hour: int
    reprocessed: frozenset[str]
    clock: StageClock = field(default_factory=StageClock, compare=False, repr=False)
    erased: ErasedVisitors | None = None


def merge_hour(task: MergeTask) -> MergeResult:
    """Phase 2 for one hour (runs in a worker thread)."""
    tune_malloc()
    files = sorted(Path(task.folder).glob("*.arrow"))
    with task.clock("merge: read staged"):
        staged = [pl.scan_ipc(files).collect().rechunk()]  # decoded in parallel
    with task.clock("merge: de-duplicate + write"):
        # Handed over without a reference left here, so the merge can free it early.
        result = merge_partition(Storage(task.lake_root), task.table, task.dt, task.hour, staged.pop(),
                                 key_column=KEY_OF[task.table], schema=SILVER[task.table],
                                 reprocessed=set(task.reprocessed), erased=task.erased)
    shutil.rmtree(task.folder, ignore_errors=True)
    return result


class _Inline(Executor):
    """Runs tasks in the calling thread (`ingest.workers = 1`)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as err:  # noqa: BLE001 - handed to the caller via the future
            future.set_exception(err)
        return future


def merge_in_budget(merges: list[MergeTask], sizes: list[int], pool: Executor, workers: int,
                    budget: int) -> Iterator[MergeResult]:
    """Merge hours concurrently while the rows in flight stay within `budget` bytes.

    A merge holds its hour's rows about three times over (staged, sorted, encoded), so
    hours merge side by side only while their staged rows fit the budget together, and a
    larger hour merges alone. Polars spreads a single merge over the cores too, so this
    mostly recovers the fixed costs of small hours.
    """
    todo = sorted(zip(sizes, range(len(merges)), merges, strict=True), key=lambda t: (-t[0], t[1]))
    if workers <= 1 or len(todo) <= 1:
        for _, _, m in todo:
            yield merge_hour(m)
        return
    in_flight: dict[Future, int] = {}
    while todo or in_flight:
        while todo and len(in_flight) < workers and (
                not in_flight or sum(in_flight.values()) + todo[0][0] <= budget):
            size, _, m = todo.pop(0)
            in_flight[pool.submit(merge_hour, m)] = size
        done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
        for f in done:
            del in_flight[f]
            if f.exception() is not None:
                # No merge outlives a failed phase: the run may rebuild a damaged hour and
                # merge again, and must not race a merge still writing from before.
                wait(in_flight)
            yield f.result()


def _executor(workers: int) -> Executor:
    """Threads, not processes: the hot path runs in Polars, numpy and ISA-L with the GIL
    released, so threads use the cores as well as processes do (measured), while sharing
    one interpreter's memory, the user-agent cache and the compiled patterns.

    One pool serves every wave of a run, both phases: the same few threads keep the same
    allocator arenas, whose freed pages the next wave reuses. A pool per phase and wave
    left each new thread's arenas holding their own, and peak RSS rose with every wave
    (measured: about 60 MiB a wave)."""
    if workers <= 1:
        return _Inline()
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")  # threads start on demand


def plan_tasks(todo: list[tuple[str, ObjectInfo]], settings: Settings, staging: str,
               key: bytes, first: int = 0, clock: StageClock | None = None,
               quarantined: frozenset[str] = frozenset()) -> list[ParseTask]:
    """Group consecutive objects of a source into tasks of roughly equal size: enough tasks
    to keep every worker busy, each big enough that small objects share fixed costs."""
    total = sum(o.size for _, o in todo)
    target = max(1 << 20, total // max(1, settings.ingest.workers * 16))
    clock = clock or StageClock()
    tasks: list[ParseTask] = []
    group: list[tuple[int, ObjectInfo]] = []
    size, source = 0, None
    for i, (s, o) in enumerate(todo, start=first):
        if group and (s != source or size >= target):
            tasks.append(ParseTask(source, tuple(group), settings.lake.root, staging, settings, key,
                                   clock=clock, quarantined=quarantined))
            group, size = [], 0
        group.append((i, o))
        size += o.size
        source = s
    if group:
        tasks.append(ParseTask(source, tuple(group), settings.lake.root, staging, settings, key,
                               clock=clock, quarantined=quarantined))
    return sorted(tasks, key=lambda t: -sum(o.size for _, o in t.objects))


def landing_objects(storage: Storage, sources: tuple[str, ...], since: datetime | None = None,
                    known: Iterable[str] = ()) -> list[tuple[str, ObjectInfo]]:
    known = list(known)
    return [(s, o) for s in sources for o in discover(storage, s, since, known)]


def new_or_changed(landed: list[tuple[str, ObjectInfo]],
                   seen: dict[str, ledger.Entry]) -> list[tuple[str, ObjectInfo]]:
    return [(s, o) for s, o in landed if ledger.is_new_or_changed(o, seen)]


def pending_objects(storage: Storage, sources: tuple[str, ...],
                    seen: dict[str, ledger.Entry] | None = None,
                    since: datetime | None = None) -> list[tuple[str, ObjectInfo]]:
    """Landing objects ingest would take now (`seen`: the ledger, if already loaded; `since`:
    only those of that hour on, see `discover`)."""
    seen = ledger.load(storage) if seen is None else seen
    return new_or_changed(landing_objects(storage, sources, since, seen), seen)


def plan_waves(todo: list[tuple[str, ObjectInfo]], wave_bytes: int) -> list[int]:
    """Where each wave of a run starts: consecutive objects of at most `wave_bytes` landing
    bytes together (an object larger than that is a wave of its own), in waves of about
    even size (a small last wave would pay a wave's fixed costs for little input)."""
    total = sum(o.size for _, o in todo)
    even = total / max(1, -(-total // wave_bytes))
    starts, done, size = [0], 0, 0
    for i, (_, o) in enumerate(todo):
        if size and (done >= len(starts) * even or size + o.size > wave_bytes):
            starts.append(i)
            size = 0
        done += o.size
        size += o.size
    return starts


def ingest(
    settings: Settings,
    key: bytes,
    *,
    sources: tuple[str, ...] = REQUEST_SOURCES,
    on_progress: Callable[[str, int, int], None] | None = None,
    rebuild: tuple[str, ...] = (),
    since: datetime | None = None,
) -> IngestSummary:
    """Ingest every new or changed landing object of `sources` into silver (with `since`,
    only those of that hour on: see `discover`).

    A long backlog (a first run on a bucket with months of logs) goes in waves of
    `ingest.wave_bytes` landing bytes: each wave parses, merges its hours and records its
    objects in the ledger before the next starts. Local staging then holds one wave's rows,
    not the whole backlog's, and an interrupted run resumes after the last wave it finished.

    An hour partition found damaged is rebuilt from landing (see `pipelines.rebuild`) when
    every object that wrote to it is still there; otherwise `DamagedPartition` stops the
    run. `rebuild` names partitions (keys or URIs) to rebuild first, whatever is lost.

    The run holds the lake's writer lock (`pipelines.writer_lock`), waiting for it up to
    `lake.writer_wait_seconds`; `LakeBusy` when it could not.
    """
    storage = Storage(settings.lake.root)
    with writer_lock(storage, "ingest", wait_seconds=settings.lake.writer_wait_seconds) as lock:
        return _ingest_held(settings, key, storage, lock, sources, on_progress, rebuild, since)


def _ingest_held(settings: Settings, key: bytes, storage: Storage, lock: WriterLock,
                 sources: tuple[str, ...], on_progress: Callable[[str, int, int], None] | None,
                 rebuild: tuple[str, ...], since: datetime | None) -> IngestSummary:
    started = time.perf_counter()
    run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    entries = ledger.load(storage)
    summary = IngestSummary(run_id=run_id)
    for text in rebuild:
        table, dt, hour = named_partition(text, {TABLE_OF[s] for s in sources})
        plan = plan_hour_rebuild(storage, entries, table, dt, hour, "asked for")
        lock.check()
        apply_rebuild(storage, entries, plan, run_id)
        summary.rebuilt.append(plan)
    landed = landing_objects(storage, sources, since, entries)
    summary.landed = len(landed)
    if since is None:  # all of landing listed: what is not in it has left it
        in_landing = {o.key for _, o in landed}
        gone = [k for k, e in entries.items() if e.source in sources and k not in in_landing]
        if len(gone) >= ledger.ARCHIVE_AFTER:  # keeps the live ledger the size of landing
            lock.check()
            ledger.archive(storage, entries, gone, month=datetime.now(UTC).strftime("%Y-%m"))

    todo = new_or_changed(landed, entries)
    if not todo:
        summary.seconds = time.perf_counter() - started
        return summary
    progress = _Progress(on_progress)
    quarantined = frozenset(o.key for o in storage.list("quarantine/"))
    erased = load_erased(storage, key)
    partitions: set[tuple[str, str, int]] = set()
    with _executor(settings.ingest.workers) as pool:
        while todo:
            progress.add_bytes(sum(o.size for _, o in todo))
            try:
                _ingest_waves(settings, key, storage, lock, entries, todo, quarantined, pool, progress,
                              summary, partitions, erased)
                todo = []
            except DamagedPartition as err:
                plan = plan_hour_rebuild(storage, entries, err.table, err.dt, err.hour, err.cause)
                if plan.lost or any(r.key == plan.key for r in summary.rebuilt):
                    err.lost = plan.lost
                    raise
                log.info("%s; rebuilding it from the %d landing objects that wrote to it",
                            err, len(plan.taken_again))
                lock.check()
                apply_rebuild(storage, entries, plan, run_id)
                summary.rebuilt.append(plan)
                # The objects of the failed wave are not in the ledger yet: they come again too.
                todo = new_or_changed(landed, entries)

    summary.objects = len({e.object for e in summary.entries})

    summary.lines = sum(e.lines for e in summary.entries)
    summary.rows = sum(e.rows for e in summary.entries)
    summary.duplicates = sum(e.duplicates for e in summary.entries)
    summary.quarantined = sum(e.quarantined for e in summary.entries)
    summary.erased = sum(e.erased for e in summary.entries)
    summary.partitions = len(partitions)
    summary.bytes_in = progress.total_bytes
    summary.seconds = time.perf_counter() - started
    return summary


def plan_hour_rebuild(storage: Storage, entries: dict[str, ledger.Entry], table: str, dt: str,
                      hour: int, cause: str) -> Rebuild:
    """What rebuilding one silver hour from landing takes again, and what it would lose."""
    # Every source of the table, not just this run's: an hour holds rows of each.
    table_sources = tuple(s for s, t in TABLE_OF.items() if t == table)
    in_landing = {o.key for _, o in landing_objects(storage, table_sources)}
    archived = {e.object: e for e in ledger.history(storage, [date.fromisoformat(dt)], table_sources)
                if e.object not in entries}  # long gone from landing: their rows would be lost
    return plan_rebuild(table, dt, hour, cause, table_sources, {**archived, **entries}, in_landing)


def _ingest_waves(settings: Settings, key: bytes, storage: Storage, lock: WriterLock,
                  entries: dict[str, ledger.Entry],
                  todo: list[tuple[str, ObjectInfo]], quarantined: frozenset[str], pool: Executor,
                  progress: _Progress, summary: IngestSummary,
                  partitions: set[tuple[str, str, int]], erased: ErasedVisitors | None) -> None:
    starts = plan_waves(todo, settings.ingest.wave_bytes)
    progress.waves_recorded = 0
    for first, end in zip(starts, [*starts[1:], len(todo)], strict=True):
        # Rows already in a partition from an object of this wave or a later one can only
        # come from an interrupted earlier run (or a changed object): they are replaced,
        # not de-duplicated. Earlier waves' rows were written by this run and stay.
        reprocessed = frozenset(o.key for _, o in todo[first:])
        lock.check()
        results, merged = _ingest_wave(settings, key, todo[first:end], first, reprocessed,
                                       quarantined, pool, progress, summary, erased)
        partitions.update((TABLE_OF[r.source], *h) for r in results for h in r.hours)
        lock.check()  # a lapsed lease: another writer may have written since; record nothing
        _record_wave(storage, entries, results, merged, summary.run_id, summary)
        progress.wave_recorded(len(starts))


@dataclass
class _Progress:
    """Progress across the waves of a run, reported as (phase, done, total): "parse" in
    landing bytes, "merge" in hour partitions, "wave" in waves recorded in the ledger."""

    report: Callable[[str, int, int], None] | None
    total_bytes: int = 0
    parsed_bytes: int = 0
    merges_done: int = 0
    merges_planned: int = 0
    waves_recorded: int = 0

    def add_bytes(self, size: int) -> None:
        self.total_bytes += size

    def parsed(self, size: int) -> None:
        self.parsed_bytes += size
        if self.report:
            self.report("parse", self.parsed_bytes, self.total_bytes)

    def plan_merges(self, n: int) -> None:
        self.merges_planned += n

    def merged(self) -> None:
        self.merges_done += 1
        if self.report:
            self.report("merge", self.merges_done, self.merges_planned)

    def wave_recorded(self, waves: int) -> None:
        self.waves_recorded += 1
        if self.report:
            self.report("wave", self.waves_recorded, waves)


def _ingest_wave(settings: Settings, key: bytes, todo: list[tuple[str, ObjectInfo]], first: int,
                 reprocessed: frozenset[str], quarantined: frozenset[str], pool: Executor, progress: _Progress,
                 summary: IngestSummary, erased: ErasedVisitors | None = None,
                 ) -> tuple[list[ObjectResult], list[MergeResult]]:
    """Both phases for consecutive objects of the run (`first` is the index of the first)."""
    t0 = time.perf_counter()
    with staging_folder(summary.run_id) as staging:
        tasks = plan_tasks(todo, settings, staging, key, first=first, clock=summary.clock,
                           quarantined=quarantined)
        if len(tasks) < settings.ingest.workers:  # few large objects: parallel within them
            inner = settings.ingest.workers // len(tasks)
            tasks = [dataclasses.replace(t, inner_workers=inner) for t in tasks]
        results: list[ObjectResult] = []
        for f in as_completed([pool.submit(parse_task_or_isolate, t) for t in tasks]):
            task_results = f.result()
            results.extend(task_results)
            progress.parsed(sum(r.obj.size for r in task_results))
        failed = [r for r in results if r.failure]
        if failed and len(failed) == len(results):  # not an object's fault: Footfall's or its setup's
            storage = Storage(settings.lake.root)
            for r in failed:
                storage.delete(r.quarantine_key)
            raise failed[0].failure  # type: ignore[misc]

        t1 = time.perf_counter()
        summary.parse_seconds += t1 - t0
        release_free_memory()  # the parse phase's caches, before the merge phase's peak
        hours = sorted({(TABLE_OF[r.source], *h) for r in results for h in r.hours})
        merges = [MergeTask(settings.lake.root, t, os.path.join(staging, t, f"{d}_{h:02d}"), d, h,
                            reprocessed, summary.clock, erased) for t, d, h in hours]
        progress.plan_merges(len(merges))
        staged: dict[tuple[str, str, int], int] = defaultdict(int)
        for r in results:
            for (d, h), n in r.staged.items():
                staged[(TABLE_OF[r.source], d, h)] += n
        merged: list[MergeResult] = []
        # Three chunks' worth keeps the merge phase's peak below the parse phase's (two of
        # the busiest hours no longer merge side by side), so the run's peak does not
        # depend on how many such hours the input has. Measured at 8M lines: merge peak
        # 730-752 MiB against 838-852 with four chunks, the merge phase 6 % slower.
        for m in merge_in_budget(merges, [staged[(m.table, m.dt, m.hour)] for m in merges], pool,
                                 settings.ingest.workers, budget=settings.ingest.chunk_bytes * 3):
            merged.append(m)
            progress.merged()
        summary.merge_seconds += time.perf_counter() - t1
    return results, merged


def _record_wave(storage: Storage, entries: dict[str, ledger.Entry], results: list[ObjectResult],
                 merged: list[MergeResult], run_id: str, summary: IngestSummary) -> None:
    """Put a wave's objects in the ledger, once their partitions and quarantine are durable."""
    kept: dict[str, int] = defaultdict(int)
    dups: dict[str, int] = defaultdict(int)
    erased: dict[str, int] = defaultdict(int)
    for m in merged:
        for counts, into in ((m.kept, kept), (m.duplicates, dups), (m.erased, erased)):
            for o, n in counts.items():
                into[o] += n
    now = datetime.now(UTC)
    for r in sorted(results, key=lambda r: r.index):
        entry = ledger.Entry(
            source=r.source, object=r.obj.key, size=r.obj.size, mtime_ns=r.obj.mtime_ns,
            lines=r.lines, rows=kept[r.obj.key], duplicates=dups[r.obj.key],
            quarantined=r.quarantined, erased=erased[r.obj.key], extra_columns=r.extra_columns, error=r.error,
            hours=[f"{d}/{h:02d}" for d, h in sorted(r.hours)], run_id=run_id, ingested_at=now,
        )
        entries[r.obj.key] = entry
        summary.entries.append(entry)
        agg = summary.by_source.setdefault(r.source, defaultdict(int))
        for name in ("lines", "rows", "duplicates", "quarantined", "erased"):
            agg[name] += getattr(entry, name)
        agg["objects"] += 1
    storage.make_durable([r.quarantine_key for r in results if r.quarantine_key])
    ledger.save(storage, entries)
