"""Landing objects: discovery, format sniffing and bounded, line-aligned chunks.

The parser sees chunks of at most `chunk_bytes` decompressed bytes that end on a line
boundary, so memory stays bounded whatever the object size. Gzip and Parquet are
recognised by their magic bytes, never by the key's suffix; gzip is decompressed with
ISA-L, Parquet read in record batches.
"""

from __future__ import annotations

import contextlib
import itertools
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import BinaryIO

import pyarrow as pa
import pyarrow.parquet as pq
from isal import isal_zlib

from pipelines.config import Ingest
from pipelines.storage import ObjectInfo, Storage

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"
# Formats a landing object may arrive in by mistake (a Firehose set to another compression,
# say): named in one clear error instead of quarantining their bytes as lines.
UNREAD_FORMATS = {b"PK\x03\x04": "ZIP", b"\xff\x06\x00\x00sNaPpY": "Snappy",
                  b"\x28\xb5\x2f\xfd": "Zstandard", b"BZh": "bzip2", b"\xfd7zXZ\x00": "xz",
                  PARQUET_MAGIC: "Parquet"}
PARQUET_BATCH_ROWS = 65_536
# YYYY/MM/DD/HH/ (Firehose; standard logging v2 partitioning) or year=/month=/day=/hour=
# (v2 with Hive-compatible paths).
_KEY_HOUR = re.compile(r"(?:year=)?(\d{4})/(?:month=)?(\d{2})/(?:day=)?(\d{2})/(?:hour=)?(\d{2})/")
_STD_HOUR = re.compile(r"\.(\d{4})-(\d{2})-(\d{2})-(\d{2})\.")


def landing_prefix(source: str) -> str:
    return f"landing/{source}/"


# Sources Firehose delivers, under the hour it received the records (YYYY/MM/DD/HH/ below
# the source's prefix): a new object's key sorts after every key of the hours before.
ARRIVAL_KEYED = ("rtl", "beacon")
LIST_PAGE = 1000  # keys an S3 LIST request returns at most
# A stem that holds a date itself (a layout like {yyyy}/{MM}/{dd}/{DistributionId}.…) is new
# every day: listing from known stems would miss a new day's objects, so such a source is
# listed in full.
_DATED_STEM = re.compile(r"\d{4}[/-]\d{2}|year=")


def hours_back(now: datetime, hours: int) -> datetime:
    """The start of the hour `hours` before the one `now` is in: a listing from there."""
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours)


def hour_stem(key: str) -> tuple[str, str] | None:
    """The part of `key` before the hour it names and the strftime format of that hour, or
    None: keys that share a stem sort by that hour (Firehose YYYY/MM/DD/HH/, standard
    logs' <distribution>.YYYY-MM-DD-HH., v2's year=/month=/day=/hour=)."""
    found = [m for m in (_KEY_HOUR.search(key), _STD_HOUR.search(key)) if m]
    if not found:
        return None
    m = min(found, key=lambda m: m.start())
    if m.re is _STD_HOUR:
        return key[:m.start() + 1], "%Y-%m-%d-%H"
    if m.group(0).startswith("year="):
        return key[:m.start()], "year=%Y/month=%m/day=%d/hour=%H"
    return key[:m.start()], "%Y/%m/%d/%H"


def windows(source: str, since: datetime, known: Iterable[str]) -> list[tuple[str, str]] | None:
    """Where `source`'s objects of hour `since` on start: (stem, the key they sort after)
    for every stem of the `known` keys of the source (a Firehose source's prefix even with
    none known); None when they cannot be told by key alone (no stems, or a stem holding a
    date)."""
    prefix = landing_prefix(source)
    stems = {s for k in known if (s := hour_stem(k))}
    if source in ARRIVAL_KEYED:
        stems.add((prefix, "%Y/%m/%d/%H"))
    if not stems or any(_DATED_STEM.search(stem[len(prefix):]) for stem, _ in stems):
        return None
    return sorted((stem, stem + since.strftime(fmt)) for stem, fmt in stems)


def discover(storage: Storage, source: str, since: datetime | None = None,
             known: Iterable[str] = ()) -> list[ObjectInfo]:
    """The landing objects of `source`; with `since`, only those of that hour on in each
    stem of the `known` keys (see `windows`): a new stem (a new distribution, say) and an
    object delivered into an older hour wait for a listing without `since`.

    On S3 each stem is listed from that hour on (`StartAfter`), unless listing the whole
    source costs fewer requests: a week of one-a-minute Firehose objects otherwise costs 11
    LIST requests on every sensor tick, one for the recent hours."""
    prefix = landing_prefix(source)
    known = [k for k in known if k.startswith(prefix)]
    starts = windows(source, since, known) if since is not None else None
    if starts is None:
        return storage.list(prefix)
    if storage.is_s3 and len(starts) <= max(1, -(-len(known) // LIST_PAGE)):
        found = {o.key: o for stem, after in starts for o in storage.list(stem, after)}
        return [found[k] for k in sorted(found)]
    return [o for o in storage.list(prefix)
            if any(o.key.startswith(stem) and o.key > after for stem, after in starts)]


def landing_hour(obj: ObjectInfo) -> datetime:
    """The hour a landing key names (Firehose: arrival; standard logs: request hour)."""
    m = _KEY_HOUR.search(obj.key) or _STD_HOUR.search(obj.key)
    if m:
        y, mo, d, h = (int(x) for x in m.groups())
        try:
            return datetime(y, mo, d, h, tzinfo=UTC)
        except ValueError:
            pass
    return datetime.fromtimestamp(obj.mtime_ns / 1e9, tz=UTC).replace(minute=0, second=0, microsecond=0)


class ObjectError(Exception):
    """The object could not be read to its end (corrupt or truncated compression, too big)."""


def peek(stream: BinaryIO, n: int) -> tuple[bytes, BinaryIO]:
    """The first `n` bytes of `stream`, and a stream that still starts at the beginning."""
    head = stream.read(n)
    if getattr(stream, "seekable", lambda: False)():
        stream.seek(0)
        return head, stream
    return head, _Prepend(head, stream)  # type: ignore[return-value]


def parquet_batches(file: BinaryIO, rows: int = PARQUET_BATCH_ROWS,
                    max_total_bytes: int = Ingest.max_object_bytes) -> Iterator[pa.RecordBatch]:
    """Record batches of a Parquet object, at most `rows` rows each, as plain columns of
    text and numbers named once each; ObjectError when the file is corrupt or truncated, or
    decodes to more than `max_total_bytes` (the batches read before either stand)."""
    total = 0
    try:
        reader = pq.ParquetFile(file)
        _check_names(reader.schema_arrow)
        for batch in reader.iter_batches(batch_size=rows):
            total += batch.nbytes
            if total > max_total_bytes:
                raise ObjectError(f"decompressed size exceeds {max_total_bytes} bytes")
            # A damaged page can decode to text that is not UTF-8, which Parquet readers
            # do not check: refuse it here, before anything downstream trusts it.
            batch.validate(full=True)
            yield _plain(batch)
    # ValueError: a damaged footer can hold a name that is not UTF-8 (UnicodeDecodeError).
    except (pa.ArrowException, OSError, ValueError) as err:
        raise ObjectError(f"unreadable Parquet: {err}") from None


def _check_names(schema: pa.Schema) -> None:
    """ObjectError unless every column has a name of printable text of its own: CloudFront
    writes such names, and a damaged one (a NUL in it) breaks Polars."""
    names = schema.names
    bad = [n for n in names if not n.isprintable()]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if bad or repeated:
        raise ObjectError("unreadable Parquet: column names "
                          + (f"not printable: {bad[:3]!r}" if bad else f"repeated: {repeated[:3]!r}"))


def _plain(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`batch` without schema metadata (nothing here reads it, and a damaged key that is not
    UTF-8 panics Polars), text that a writer stored as bare bytes (no UTF-8 annotation) as
    text; ArrowInvalid when it is not UTF-8."""
    columns = [c.cast(pa.large_string() if pa.types.is_large_binary(c.type) else pa.string())
               if pa.types.is_binary(c.type) or pa.types.is_large_binary(c.type) else c
               for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


GUNZIP_STEP = 4 * 1024 * 1024  # compressed bytes decoded at a time (most objects: one step)
# A damaged member up to this size (a Firehose object at its largest buffer) is decoded
# again, finely, up to the damage.
GUNZIP_REPLAY_BYTES = 16 * 1024 * 1024
GUNZIP_REPLAY_STEP = 4096


def gunzip(stream: BinaryIO, piece_bytes: int = Ingest.chunk_bytes) -> Iterator[bytes]:
    """The decompressed content of a gzip stream of one or more members, in pieces of at
    most `piece_bytes`; ObjectError at damage, after every piece decoded before it.

    A gzip file object hands on nothing of a read that fails, so a cut-off or damaged tail
    took the whole object with it. Here a cut-off stream yields all it holds but at most its
    last byte; a damaged member of up to GUNZIP_REPLAY_BYTES is decoded again up to the
    damage (a larger one loses the output of its last step).
    """
    inflate = None  # the current member's decompressor
    member: list[bytes] | None = []  # its input so far, while small enough to replay
    handed_on = 0  # its output so far
    data = b""
    while True:
        if not data:
            if not (data := stream.read(GUNZIP_STEP)):
                break
            if member is not None and inflate is not None:
                member.append(data)
        if inflate is None:
            data = data.lstrip(b"\x00")  # zero padding after a member is allowed (as gzip does)
            if not data:
                continue
            if len(data) < len(GZIP_MAGIC):
                data += stream.read(GUNZIP_STEP)
            if not data.startswith(GZIP_MAGIC):
                raise ObjectError(f"corrupt or truncated gzip: not gzip data after a member ({data[:8]!r})")
            inflate, member, handed_on = isal_zlib.decompressobj(wbits=31), [data], 0
        if member is not None and sum(map(len, member)) > GUNZIP_REPLAY_BYTES:
            member = None
        try:
            piece = inflate.decompress(data, piece_bytes)
        except isal_zlib.error as err:
            if member is not None:
                yield from _replay(b"".join(member), handed_on)
            raise ObjectError(f"corrupt or truncated gzip: {err}") from None
        if piece:
            handed_on += len(piece)
            yield piece
        data = inflate.unconsumed_tail
        if inflate.eof:
            data, inflate = inflate.unused_data, None
    if inflate is not None:
        raise ObjectError("corrupt or truncated gzip: the stream ends inside a member")


def _replay(member: bytes, skip: int) -> Iterator[bytes]:
    """What a damaged gzip member decodes to before its damage, less its first `skip` bytes:
    in steps up to the step that fails, then through that one a byte at a time (a
    decompressor cannot be copied, so a first pass finds the step, unkept)."""
    step = GUNZIP_REPLAY_STEP
    inflate, good = isal_zlib.decompressobj(wbits=31), 0
    with contextlib.suppress(isal_zlib.error):
        for good in range(0, len(member), step):
            inflate.decompress(member[good: good + step])
    inflate = isal_zlib.decompressobj(wbits=31)
    feeds = itertools.chain((member[at: at + step] for at in range(0, good, step)),
                            (member[at: at + 1] for at in range(good, min(good + step, len(member)))))
    for data in feeds:
        try:
            piece = inflate.decompress(data)
        except isal_zlib.error:
            return
        if len(piece) > skip:
            yield piece[skip:] if skip else piece
        skip = max(0, skip - len(piece))


@dataclass
class ChunkReader:
    """Iterates line-aligned chunks of one object's decompressed content.

    After iteration, `error` says why the object could not be read to its end (None when
    it was), and `compressed` whether it was gzip.
    """

    stream: BinaryIO
    chunk_bytes: int = Ingest.chunk_bytes  # the settings' defaults, defined once there
    max_line_bytes: int = Ingest.max_line_bytes
    max_total_bytes: int = Ingest.max_object_bytes  # a cap on decompressed size: gzip bombs stop here
    error: str | None = None
    compressed: bool = False
    total: int = 0

    def _raw(self) -> Iterator[bytes]:
        # Local files seek back; other streams replay the head (no wrapper in a local read).
        head, stream = peek(self.stream, 10)
        for magic, name in UNREAD_FORMATS.items():
            if head.startswith(magic):
                hint = ("only standard logs are read as Parquet" if name == "Parquet" else
                        "deliver it gzip-compressed or uncompressed (Firehose: GZIP)")
                raise ObjectError(f"{name} data, which ingest does not read: {hint}")
        self.compressed = head.startswith(GZIP_MAGIC)
        if not self.compressed:
            while block := stream.read(self.chunk_bytes):
                yield block
            return
        yield from gunzip(stream, self.chunk_bytes)

    def __iter__(self) -> Iterator[bytes]:
        gathered: list[bytes] = []  # blocks not yet handed on (the first may be a block's tail)
        size = 0
        last_nl: tuple[int, int] | None = None  # (block, offset) of the last newline gathered
        skipping = False  # inside an over-long line whose head was already handed on
        try:
            for block in self._raw():
                self.total += len(block)
                if self.total > self.max_total_bytes:
                    raise ObjectError(f"decompressed size exceeds {self.max_total_bytes} bytes")
                if skipping:
                    nl = block.find(b"\n")
                    if nl < 0:
                        continue
                    block, skipping = block[nl + 1:], False
                if (nl := block.rfind(b"\n")) >= 0:
                    last_nl = (len(gathered), nl)
                gathered.append(block)
                size += len(block)
                if size < self.chunk_bytes:
                    continue
                if last_nl is None:
                    if size > self.max_line_bytes:
                        # One line already longer than the cap: hand on its head (the parser
                        # quarantines it) and drop the rest of it as it streams past.
                        yield b"".join(gathered)
                        gathered, size, skipping = [], 0, True
                    continue
                # A chunk up to the last newline: one copy (none for a block that is one).
                k, cut = last_nl
                last = gathered[k]
                if k == 0:
                    yield last if cut == len(last) - 1 else last[: cut + 1]
                else:
                    yield b"".join([*gathered[:k], memoryview(last)[: cut + 1]])
                gathered = [last[cut + 1:], *gathered[k + 1:]]
                size, last_nl = sum(map(len, gathered)), None
            if size:
                yield b"".join(gathered)
        except ObjectError as err:
            if size:  # the lines before the damage are read as usual
                yield b"".join(gathered)
            self.error = str(err)


class _Prepend:
    """A read-only stream that first returns `head`, then reads on from `stream`."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self.head, self.stream = head, stream

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0:
                out, self.head = self.head + self.stream.read(), b""
                return out
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.stream.read(n)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass
