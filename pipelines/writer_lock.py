"""One writer at a time: the lake's writer lock, `state/writer.lock`.

Ingest, erase and retention each read part of the lake and write it back (hour partitions,
the ingest ledger, the erasure log). Two of them at once lose each other's writes without
a sign: an erase that rewrites an hour while ingest merges new rows into it keeps one of
the two versions, so either the new rows or the erasure is gone, and the ledger still
counts them. So each holds this lock for its run; readers (build, query, report) do not
need it, since every partition is replaced in one step, but a build waits out a running
erase before it ends (`running_erase`).

Locally the lock is an `flock` on the file: the kernel lets go when the process ends,
however it ends. On S3 it is an object created only when absent (a conditional PUT,
`If-None-Match: *`) and renewed by its holder every `LEASE_SECONDS / 6` (`If-Match` its own
ETag). A holder that stops renewing (killed, its machine lost) is taken over once its lease
has run out, with `If-Match` on the ETag the waiter read, so of several waiters one wins.
A holder that finds its lease taken over stops before its next write (`check`).
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from pipelines.storage import Storage, s3_client

LOCK_KEY = "state/writer.lock"
LEASE_SECONDS = 120.0  # an S3 holder that has not renewed for this long is taken to be gone
EXIT_BUSY = 75  # sysexits' EX_TEMPFAIL: "try again later", which a scheduler can tell apart


class LakeBusy(Exception):
    """Another ingest, erase or retention holds the lake; the message says who and what to do."""


class LeaseLost(Exception):
    """This run's lease on an S3 lake ran out and another writer may have taken it."""


class WriterLock:
    """A held lock. `check()` before each write that another writer could overturn."""

    def __init__(self, storage: Storage, command: str):
        self.storage, self.command = storage, command
        self.lost = threading.Event()

    def check(self) -> None:
        if self.lost.is_set():
            raise LeaseLost(
                f"this {self.command} run's hold on {self.storage.uri(LOCK_KEY)} was not renewed "
                f"within {LEASE_SECONDS:.0f} s (the process was paused or cut off from S3) and "
                "another writer may hold it now: it stopped before writing more; run it again")


def _holder(command: str, lease: bool) -> dict[str, object]:
    now = datetime.now(UTC)
    holder: dict[str, object] = {"command": command, "host": socket.gethostname(), "pid": os.getpid(),
                                 "since": now.isoformat(timespec="seconds")}
    if lease:
        holder["expires"] = (now + timedelta(seconds=LEASE_SECONDS)).isoformat(timespec="seconds")
    return holder


def _parse(body: bytes) -> dict[str, object]:
    try:
        holder = json.loads(body)
        return holder if isinstance(holder, dict) else {}
    except ValueError:  # being rewritten this instant, or not ours
        return {}


def _busy(storage: Storage, command: str, holder: dict[str, object], waited: float) -> LakeBusy:
    who = (f"footfall {holder.get('command', '?')} (pid {holder.get('pid', '?')} on "
           f"{holder.get('host', '?')}, since {holder.get('since', '?')})") if holder else "another writer"
    gone = (f"; if that process is gone, its lease runs out at {holder['expires']} and the next "
            "writer takes over" if holder.get("expires") else "")
    after = f" after waiting {waited:.0f} s" if waited else ""
    return LakeBusy(
        f"{who} is writing {storage.uri()}: ingest, erase and retention run one at a time so "
        f"that none loses another's writes; this {command} did nothing{after}. Run it again "
        f"when that one ends, or give --wait SECONDS{gone}")


@contextmanager
def writer_lock(storage: Storage, command: str, *, wait_seconds: float = 0) -> Iterator[WriterLock]:
    """Hold the lake's writer lock for the block, waiting up to `wait_seconds` for it;
    `LakeBusy` when another writer still holds it then."""
    deadline = time.monotonic() + max(0.0, wait_seconds)
    held = _S3Lock(storage, command) if storage.is_s3 else _LocalLock(storage, command)
    started = time.monotonic()
    while not held.try_acquire():
        left = deadline - time.monotonic()
        if left <= 0:
            raise _busy(storage, command, held.current(), time.monotonic() - started if wait_seconds else 0)
        time.sleep(min(1.0, left))
    try:
        yield held
    finally:
        held.release()


def running_erase(storage: Storage) -> dict[str, object] | None:
    """The holder of the writer lock when it is an erase still running, else None.

    A build takes no lock (it would turn ingests away for its whole run) but must not end
    while an erase is under way (see `models.build`); so this reads who holds the lock
    without taking it from anyone: the S3 object's lease, or the local file's contents,
    checked with a `flock` only when they name an erase (a killed one leaves them behind)."""
    if storage.is_s3:
        from botocore.exceptions import ClientError

        lock = _S3Lock(storage, "build")
        try:
            body = lock.client.get_object(Bucket=lock.bucket, Key=lock.key)["Body"].read()
        except ClientError as err:
            if lock._refused(err):  # no one holds the lake
                return None
            raise
        holder = _parse(body)
        live = str(holder.get("expires", "")) > datetime.now(UTC).isoformat(timespec="seconds")
        return holder if live and holder.get("command") == "erase" else None
    path = Path(storage.full(LOCK_KEY))
    try:
        holder = _parse(path.read_bytes())
    except FileNotFoundError:
        return None
    if holder.get("command") != "erase":
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return holder  # held: the erase is running
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


class _LocalLock(WriterLock):
    def __init__(self, storage: Storage, command: str):
        super().__init__(storage, command)
        self.path = Path(storage.full(LOCK_KEY))
        self.fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        body = json.dumps(_holder(self.command, lease=False)).encode()
        os.ftruncate(fd, 0)
        os.pwrite(fd, body, 0)
        self.fd = fd
        return True

    def current(self) -> dict[str, object]:
        try:
            return _parse(self.path.read_bytes())
        except OSError:
            return {}

    def release(self) -> None:
        if self.fd is not None:
            os.ftruncate(self.fd, 0)  # no stale holder for the next reader
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            self.fd = None


class _S3Lock(WriterLock):
    def __init__(self, storage: Storage, command: str):
        super().__init__(storage, command)
        self.bucket, _, prefix = storage.base.partition("/")
        self.key = f"{prefix}/{LOCK_KEY}" if prefix else LOCK_KEY
        self.client = s3_client()
        self.etag = ""
        self.seen: dict[str, object] = {}
        self.stop = threading.Event()
        self.renewer: threading.Thread | None = None

    def _put(self, **condition: str) -> str:
        body = json.dumps(_holder(self.command, lease=True)).encode()
        return self.client.put_object(Bucket=self.bucket, Key=self.key, Body=body,
                                      ContentType="application/json", **condition)["ETag"]

    @staticmethod
    def _refused(err: Exception) -> bool:
        """The condition failed: held (412), a concurrent conditional write (409) or gone (404)."""
        status = getattr(err, "response", {}).get("ResponseMetadata", {}).get("HTTPStatusCode")
        return status in (404, 409, 412)

    def try_acquire(self) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.etag = self._put(IfNoneMatch="*")
        except ClientError as err:
            if not self._refused(err):
                raise
            try:
                found = self.client.get_object(Bucket=self.bucket, Key=self.key)
            except ClientError as gone:
                if self._refused(gone):  # released in between: try again at once
                    return self.try_acquire()
                raise
            self.seen = _parse(found["Body"].read())
            expires = str(self.seen.get("expires", ""))
            if expires and expires > datetime.now(UTC).isoformat(timespec="seconds"):
                return False
            try:  # the holder stopped renewing: take over, unless another waiter did first
                self.etag = self._put(IfMatch=found["ETag"])
            except ClientError as taken:
                if self._refused(taken):
                    return False
                raise
        self.renewer = threading.Thread(target=self._renew, name="writer-lock", daemon=True)
        self.renewer.start()
        return True

    def current(self) -> dict[str, object]:
        return self.seen

    def _renew(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        renewed = time.monotonic()
        while not self.stop.wait(LEASE_SECONDS / 6):
            try:
                self.etag = self._put(IfMatch=self.etag)
                renewed = time.monotonic()
            except ClientError as err:
                if self._refused(err):  # taken over: this run no longer holds the lake
                    self.lost.set()
                    return
            except BotoCoreError:
                pass  # a network hiccup: try again until the lease itself runs out
            if time.monotonic() - renewed > LEASE_SECONDS:
                self.lost.set()
                return

    def release(self) -> None:
        from botocore.exceptions import ClientError

        self.stop.set()
        if self.renewer is not None:
            self.renewer.join()
        if self.lost.is_set():
            return  # another writer's lock now: leave it alone
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.key, IfMatch=self.etag)
        except ClientError as err:
            if self._refused(err):
                return
            # A store without conditional deletes: delete it if it is still ours.
            if self.client.head_object(Bucket=self.bucket, Key=self.key)["ETag"] == self.etag:
                self.client.delete_object(Bucket=self.bucket, Key=self.key)
