"""Local staging folders of ingest runs, and the ones that killed runs left behind.

A run removes its folder when it ends, but a run that is killed (SIGKILL, out of memory, a
container restart) cannot; its folder holds up to a wave's rows. Each folder records the
host and process that own it, so the next run on the same host removes the folders of
processes that are gone (a folder of another host, say another container sharing the
directory, is never judged by process ids that are not its own).
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "footfall-ingest-"
OWNER = "owner"  # "<host> <pid>"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def _owner() -> str:
    return f"{socket.gethostname()} {os.getpid()}"


def remove_abandoned() -> None:
    """Remove this host's staging folders whose owning process no longer exists."""
    for folder in Path(tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            host, pid = (folder / OWNER).read_text().split()
            dead = host == socket.gethostname() and not _alive(int(pid))
        except (OSError, ValueError):  # not ours to judge, or its owner is still creating it
            continue
        if dead:
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staging_folder(run_id: str) -> Iterator[str]:
    """A fresh folder under the system's temporary directory (`TMPDIR`), removed on exit."""
    remove_abandoned()
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{run_id}-")
    try:
        Path(folder, OWNER).write_text(_owner())
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
