"""One storage interface for the lake: a local directory or `s3://bucket/prefix`.

Writes are atomic for readers: locally a temporary file is renamed over the target; on S3
an object PUT (or a completed multipart upload) replaces the key in one step. Every table
partition is a single object, so a reader sees the old partition or the new one, never half.
"""

from __future__ import annotations

import contextlib
import functools
import io
import logging
import os
import shutil
import threading
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO, TypeVar

import polars as pl
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from polars.exceptions import PanicException

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
REREADS = 4  # tries of a read over S3 objects that are replaced meanwhile
DELETE_BATCH = 1000  # keys in one S3 DeleteObjects request (its limit)
COPIERS = 16  # S3 objects copied at once (`copy_to_local`): a GET's wait is mostly latency
COPY_BUFFER = 8 * 1024**2
OPEN_AHEAD = 6  # landing objects a reader's GETs are sent ahead of the one it reads (`open_inputs`)
S3_CONNECTIONS = 64  # kept open by the process's boto3 client
log = logging.getLogger(__name__)
L = TypeVar("L")
T = TypeVar("T")


class KeptChanging(RuntimeError):
    """Objects a read needed were replaced under each of its tries: nothing is wrong with
    them, and the same command run a little later succeeds."""


class DamagedFile(Exception):
    """A file of the lake that Footfall wrote no longer reads as one (cut short, overwritten
    or replaced outside Footfall); the message says what to do about it."""


def _fsync(path: str) -> None:
    with open(path, "rb+") as f:
        os.fsync(f.fileno())


@dataclass(frozen=True)
class ObjectInfo:
    key: str  # path relative to the lake root, with "/" separators
    size: int
    mtime_ns: int


# What picks the S3 endpoint and credentials: a client is shared while these stay the same.
_AWS_ENV = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE",
            "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def _per_process_and_aws_env(make: Callable[[], T]) -> Callable[[], T]:
    """`make()` once per process and AWS environment, then shared: both clients are
    thread-safe, and each costs time to make (boto3's ~0.1 s of CPU) and new connections
    (a TCP and TLS handshake each) where a shared one reuses its pool. Ingest makes a
    `Storage` for each task of each worker."""
    made: dict[tuple, T] = {}
    lock = threading.Lock()

    def shared() -> T:
        key = (os.getpid(), *(os.environ.get(k) for k in _AWS_ENV))  # a fork's child makes its own
        with lock:
            if key not in made:
                made.clear()  # another server or credentials: the old client is not needed again
                made[key] = make()
            return made[key]

    shared.__doc__ = make.__doc__
    return shared


@functools.cache
def _openers() -> ThreadPoolExecutor:
    """Threads that send the GETs of `open_inputs` ahead (started on demand)."""
    return ThreadPoolExecutor(max_workers=8, thread_name_prefix="s3-open")


@_per_process_and_aws_env
def s3_client():
    """A boto3 S3 client with the endpoint, region and credentials the lake's own reads use
    (boto3 reads AWS_ENDPOINT_URL[_S3] itself); its own session, as the default one is not
    thread-safe. Its pool keeps a connection for each request that may be under way at once
    (a build's copiers; each ingest worker's object and the ones opened ahead of it): past
    boto3's default of 10, urllib3 closes each connection it has no room for once used."""
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client("s3", config=Config(max_pool_connections=S3_CONNECTIONS))


@_per_process_and_aws_env
def s3_filesystem() -> pafs.S3FileSystem:
    """S3 through the usual AWS credential chain; AWS_ENDPOINT_URL points at another server."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs: dict = {}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host or scheme, scheme=scheme if host else "https")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    if region:
        kwargs["region"] = region
    return pafs.S3FileSystem(allow_delayed_open=True, **kwargs)


class _Body(io.RawIOBase):
    """An S3 object read front to back from one GET's body. Where the connection fails
    midway (a reset, a timeout), the read goes on from the byte it reached with a ranged
    GET of the same version (`If-Match` its ETag), up to RESUMES times; then, or when the
    object was replaced meanwhile, an OSError naming it, as any failure of the store is."""

    RESUMES = 3

    def __init__(self, storage: Storage, key: str):
        self._storage, self._key = storage, key
        self._at, self._resumed, self._etag, self._body = 0, 0, "", None
        self._body = self._get()

    def _get(self):
        extra = {"Range": f"bytes={self._at}-", "IfMatch": self._etag} if self._at else {}
        response = self._storage._request(self._key, "get_object", **extra)
        self._etag = response["ETag"]
        return response["Body"]

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        from botocore.exceptions import BotoCoreError

        while True:
            try:
                data = self._body.read(None if size is None or size < 0 else size)
            except BotoCoreError as err:
                if self._resumed == self.RESUMES:
                    raise OSError(f"reading {self._storage.uri(self._key)} failed: {err}") from err
                self._resumed += 1
                log.warning("reading %s broke off at byte %d (%s): going on from there",
                            self._storage.uri(self._key), self._at, err)
                self._body.close()
                self._body = self._get()
                continue
            self._at += len(data)
            return data

    def readall(self) -> bytes:
        return self.read()

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed and self._body is not None:
            self._body.close()
        super().close()


class Storage:
    """The lake root. Keys are relative paths like `silver/requests/dt=2026-01-01/...`."""

    def __init__(self, root: str):
        self.root = root.rstrip("/")
        self.is_s3 = self.root.startswith("s3://")
        if self.is_s3:
            self.fs: pafs.FileSystem = s3_filesystem()
            self.base = self.root[len("s3://"):]
        else:
            self.fs = pafs.LocalFileSystem()
            self.base = str(Path(self.root).resolve())

    def full(self, key: str) -> str:
        return f"{self.base}/{key}" if key else self.base

    def uri(self, key: str = "") -> str:
        """Address of a key for other readers (DuckDB, awswrangler)."""
        return f"s3://{self.full(key)}" if self.is_s3 else self.full(key)

    def key_of(self, uri: str) -> str:
        """The key of an address `uri` gave."""
        return uri[len(self.uri("")):].lstrip("/")

    def list(self, prefix: str, after: str = "") -> list[ObjectInfo]:
        """Every object below `prefix`, sorted by key; missing prefix → empty list.

        `after`: only keys that sort after it. On S3 the listing itself starts there
        (`StartAfter`), so keys before it cost no LIST requests: a time-ordered prefix read
        from a recent hour on costs a request or two, whatever the retention keeps."""
        if after and self.is_s3:
            found = self._s3_list_after(prefix, after)
        else:
            selector = pafs.FileSelector(self.full(prefix), recursive=True, allow_not_found=True)
            found = [ObjectInfo(info.path[len(self.base) + 1:], info.size or 0, info.mtime_ns or 0)
                     for info in self.fs.get_file_info(selector)
                     if info.type == pafs.FileType.File]
        out = []
        for obj in found:
            name = obj.key.rsplit("/", 1)[-1]
            if name.startswith(".") or name.endswith(".tmp"):
                continue  # our own in-flight temporaries
            if obj.key > after:
                out.append(obj)
        return sorted(out, key=lambda o: o.key)

    def _s3_list_after(self, prefix: str, after: str) -> list[ObjectInfo]:
        bucket, _, base = self.base.partition("/")
        lead = f"{base}/" if base else ""
        pages = s3_client().get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=lead + prefix, StartAfter=lead + after)
        return [ObjectInfo(o["Key"][len(lead):], o["Size"],
                           (o["LastModified"] - _EPOCH) // timedelta(microseconds=1) * 1000)
                for page in pages for o in page.get("Contents", ())
                if not o["Key"].endswith("/")]  # a console "folder": Arrow's listing skips them too

    def root_exists(self) -> bool:
        """Whether the lake's directory, or on S3 its bucket, exists (a prefix inside a
        bucket exists as soon as an object is written below it)."""
        where = self.base.split("/", 1)[0] if self.is_s3 else self.base
        return self.fs.get_file_info(where).type == pafs.FileType.Directory

    def exists(self, key: str) -> bool:
        return self.fs.get_file_info(self.full(key)).type == pafs.FileType.File

    def open_input(self, key: str) -> BinaryIO:
        """The bytes as stored, read front to back. On S3 the body of one GET: one version
        of the object, with no request for its size first (Arrow's input stream asks it,
        then GETs the object in pieces: three requests an object, where this is one); a
        connection that breaks off is taken up again where it stopped (`_Body`)."""
        if not self.is_s3:
            return open(self.full(key), "rb")  # noqa: SIM115 - caller closes
        return _Body(self, key)  # type: ignore[return-value]

    def open_inputs(self, keys: list[str], ahead: int = OPEN_AHEAD) -> Iterator[BinaryIO]:
        """`open_input` of each key in turn, for the caller to read and close. On S3 the
        next `ahead` objects' GETs are sent while the caller reads one, so their time to
        first byte passes meanwhile, not one object after another."""
        if not self.is_s3:
            yield from (self.open_input(k) for k in keys)
            return
        pending: deque[Future[BinaryIO]] = deque()
        waiting = iter(keys)
        try:
            while True:
                while len(pending) <= ahead and (key := next(waiting, None)) is not None:
                    pending.append(_openers().submit(self.open_input, key))
                if not pending:
                    return
                yield pending.popleft().result()
        finally:  # the caller stopped early: close what was opened for it
            for future in pending:
                future.cancel()
                if not future.cancelled() and future.exception() is None:
                    future.result().close()

    def open_random(self, key: str) -> BinaryIO:
        """For formats read from the end (Parquet): seekable, fetched by range on S3."""
        if not self.is_s3:
            return open(self.full(key), "rb")  # noqa: SIM115 - caller closes
        return self.fs.open_input_file(self.full(key))  # type: ignore[return-value]

    def read_bytes(self, key: str) -> bytes:
        """An object's bytes; on S3 those of one version of it (`_get`)."""
        if self.is_s3:
            return self._get(key)
        with self.open_input(key) as f:
            return f.read()

    def copy_to_local(self, objects: list[ObjectInfo], into: Path) -> dict[str, str]:
        """Copies of S3 objects under the local folder `into` (their keys as paths), each
        streamed from one GET, COPIERS at once; returns key → local path."""
        def copy(key: str) -> tuple[str, str]:
            path = into / key
            path.parent.mkdir(parents=True, exist_ok=True)
            with _Body(self, key) as body, open(path, "wb") as out:
                shutil.copyfileobj(body, out, COPY_BUFFER)
            return key, str(path)

        with ThreadPoolExecutor(COPIERS) as pool:
            return dict(pool.map(copy, [o.key for o in objects]))

    def read_bytes_if_any(self, key: str) -> bytes | None:
        """`read_bytes`, or None when there is no such object: read without asking first
        whether it exists, which on S3 is a request more."""
        try:
            return self.read_bytes(key)
        except FileNotFoundError:
            return None

    def _get(self, key: str) -> bytes:
        """An S3 object whole, with one GET: S3 answers it from one version however often
        the key is replaced meanwhile. Arrow's reader asks for the size and then for ranges
        of it, so an hour partition that ingest replaces in between reads as bytes of two
        versions: a "damaged" file, or an HTTP 416. Missing: FileNotFoundError; any other
        failure of the store: OSError, as Arrow's would be."""
        with _Body(self, key) as body:
            return body.read()

    def _request(self, key: str, operation: str, **extra) -> dict:
        """boto3's answer to `operation` on `key` (errors as `_get` says)."""
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, _, name = self.full(key).partition("/")
        try:
            return getattr(s3_client(), operation)(Bucket=bucket, Key=name, **extra)
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("NoSuchKey", "404"):
                raise FileNotFoundError(f"{self.uri(key)} does not exist") from err
            if code in ("PreconditionFailed", "412"):  # `If-Match` of a read going on
                raise OSError(f"{self.uri(key)} was replaced while it was read: run again to read "
                              "the new version") from err
            raise OSError(f"reading {self.uri(key)} failed: {err}") from err
        except BotoCoreError as err:
            raise OSError(f"reading {self.uri(key)} failed: {err}") from err

    def _temp(self, key: str) -> str:
        head, _, name = key.rpartition("/")
        return f"{head}/.{name}.{uuid.uuid4().hex}.tmp" if head else f".{name}.{uuid.uuid4().hex}.tmp"

    def _commit(self, temp: str, key: str) -> None:
        os.replace(self.full(temp), self.full(key))

    def _publish(self, key: str, write: Callable[[str | BinaryIO], None], durable: bool) -> int:
        """Write object `key` atomically; returns its size. Locally `write` gets a temporary
        path, renamed over the key once complete (fsynced first when `durable`); on S3 it
        gets an output stream, and the object appears only when the upload completes."""
        if self.is_s3:
            # As given: Arrow would gzip a `.gz` key's bytes again (the collector's batches, already gzip).
            with self.fs.open_output_stream(self.full(key), compression=None) as out:
                write(out)
                written = out.tell()  # what was sent, so S3 need not be asked
            return written
        Path(self.full(key)).parent.mkdir(parents=True, exist_ok=True)
        temp = self._temp(key)
        write(self.full(temp))
        if durable:
            _fsync(self.full(temp))
        size = os.path.getsize(self.full(temp))
        self._commit(temp, key)
        return size

    def write_bytes(self, key: str, data: bytes) -> None:
        def write(sink: str | BinaryIO) -> None:
            if isinstance(sink, str):
                Path(sink).write_bytes(data)
            else:
                sink.write(data)

        self._publish(key, write, durable=True)

    def write_parquet(self, key: str, table: pa.Table | pl.DataFrame, *, durable: bool = True) -> int:
        """Write one Parquet object atomically (zstd, 256k-row groups); returns its size.

        Polars frames go through Polars' writer, which writes its string views directly
        (about twice as fast as converting to Arrow and using pyarrow's writer).
        `durable=False` leaves the fsync to a later `make_durable` over many keys."""
        def write(sink: str | BinaryIO) -> None:
            if isinstance(table, pl.DataFrame):
                table.write_parquet(sink, compression="zstd", compression_level=1,
                                    row_group_size=262_144, statistics=True)
            else:
                pq.write_table(table, sink, compression="zstd", compression_level=1,
                               row_group_size=262_144)

        return self._publish(key, write, durable)

    def put_file(self, key: str, path: str | Path, *, durable: bool = True) -> int:
        """Publish a local file as object `key`, copied in pieces rather than read whole."""
        def write(sink: str | BinaryIO) -> None:
            if isinstance(sink, str):
                shutil.copyfile(path, sink)
            else:
                with open(path, "rb") as src:
                    shutil.copyfileobj(src, sink, 8 << 20)

        return self._publish(key, write, durable)

    def make_durable(self, keys: list[str]) -> None:
        """fsync objects written with `durable=False` (S3 writes are durable already).

        Concurrent fsyncs share the file system's journal commits, so a few hundred small
        files cost about as much as a few, where one after another they cost milliseconds each."""
        if self.is_s3 or not keys:
            return
        with ThreadPoolExecutor(max_workers=min(32, len(keys))) as pool:
            list(pool.map(_fsync, [self.full(k) for k in keys if os.path.exists(self.full(k))]))

    def read_parquet(self, key: str) -> pa.Table:
        # One file, read directly: `pq.read_table` goes through pyarrow.dataset, whose
        # import imports pandas (a second at start-up).
        if self.is_s3:
            return pq.ParquetFile(pa.BufferReader(self._get(key))).read()
        with self.fs.open_input_file(self.full(key)) as f:
            return pq.ParquetFile(f).read()

    def read_frame(self, key: str) -> pl.DataFrame:
        """One Parquet object as a Polars frame (its own columns only, no hive keys); on S3
        one version of it (`_get`)."""
        if self.is_s3:
            return pl.read_parquet(io.BytesIO(self._get(key)), hive_partitioning=False)
        path = self.full(key)
        try:
            return pl.read_parquet(path, hive_partitioning=False)
        except OSError:  # Polars' message elides the path: let Python's open say it, if it fails too
            open(path, "rb").close()
            raise

    def read_intact(self, key: str, needed: Iterable[str]) -> pl.DataFrame:
        """`read_frame`, or `DamagedFile` (its message the cause) when the object does not read
        as Parquet or lacks a `needed` column. The storage failing (`OSError`) is not damage
        and propagates as it is."""
        try:
            frame = self.read_frame(key)
        except OSError:
            raise
        except (Exception, PanicException) as err:  # Polars' and Arrow's errors for a bad file
            raise DamagedFile((" ".join(str(err).split()) or type(err).__name__)[:300]) from err
        missing = [n for n in needed if n not in frame.columns]
        if missing:
            raise DamagedFile(f"it lacks the columns {', '.join(missing[:5])}")
        return frame

    def delete(self, key: str) -> None:
        self.delete_many([key])

    def delete_many(self, keys: Iterable[str]) -> None:
        """Delete objects; a missing one is no error. On S3 a thousand a request, with
        boto3: Arrow's `delete_file` asks each key what it is first and, where it removed a
        folder's last object, PUTs an empty `folder/` object to keep the folder (three
        requests an object, and a marker left in the bucket)."""
        keys = list(keys)
        if not self.is_s3:
            for key in keys:
                with contextlib.suppress(FileNotFoundError):
                    self.fs.delete_file(self.full(key))
            return
        from botocore.exceptions import BotoCoreError, ClientError

        bucket, _, base = self.base.partition("/")
        lead = f"{base}/" if base else ""
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start:start + DELETE_BATCH]
            try:
                answer = s3_client().delete_objects(Bucket=bucket, Delete={
                    "Objects": [{"Key": lead + k} for k in batch], "Quiet": True})
            except (BotoCoreError, ClientError) as err:
                raise OSError(f"deleting {len(batch):,} object(s) under {self.uri()} failed: {err}") from err
            if errors := answer.get("Errors"):
                raise OSError(f"deleting {len(errors):,} object(s) under {self.uri()} failed, e.g. "
                              f"{errors[0].get('Key')}: {errors[0].get('Code')} {errors[0].get('Message')}")

    def iter_prefixes(self, prefix: str) -> Iterator[str]:
        """Immediate sub-folders of `prefix` (e.g. the `dt=` partitions of a table)."""
        selector = pafs.FileSelector(self.full(prefix), recursive=False, allow_not_found=True)
        for info in self.fs.get_file_info(selector):
            if info.type == pafs.FileType.Directory:
                yield info.path[len(self.base) + 1:]


def read_while_replaced(storage: Storage, listing: Callable[[], L], read: Callable[[L], T], what: str,
                        errors: tuple[type[BaseException], ...], *, listed: L | None = None) -> T:
    """`read(listing())` (`listed`: that listing, already made), tried again with a fresh
    listing while it fails with one of `errors` on an S3 lake whose listing changed meanwhile.

    Arrow, and DuckDB through it, reads an S3 object by byte ranges after asking for its
    size, so a partition that ingest replaces in between reads as bytes of two versions and
    fails (a damaged file, an HTTP 416); locally a reader keeps the file it opened. A failure
    with the listing unchanged is not this, and propagates."""
    seen = listing() if listed is None else listed
    for attempt in range(1, REREADS + 1):
        try:
            return read(seen)
        except errors as err:
            fresh = listing() if storage.is_s3 else seen
            if fresh == seen:
                raise
            if attempt == REREADS:
                raise KeptChanging(f"the lake changed under each of {attempt} tries to read {what} (ingest or "
                                   "a build replaced objects it was reading): run it again later") from err
            log.warning("objects were replaced while reading %s (%s): reading again", what,
                        " ".join(str(err).split())[:200])
            seen = fresh
    raise AssertionError("unreachable")
