"""Local staging folders of ingest runs, and the ones that killed runs left behind.

A run removes its folder when it ends, but a run that is killed (SIGKILL, out of memory, a
container restart) cannot; its folder holds up to a wave's rows. Each folder's name says
which host and process own it, so the next run on the same host removes the folders of
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


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_abandoned() -> None:
    """Remove this host's staging folders whose owning process no longer exists."""
    here = socket.gethostname()
    for folder in Path(tempfile.gettempdir()).glob(f"{PREFIX}*@*@*"):
        pid, host, _ = folder.name[len(PREFIX):].split("@", 2)
        if host == here and pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def staging_folder(run_id: str) -> Iterator[str]:
    """A fresh folder under the system's temporary directory (`TMPDIR`), removed on exit.
    Its name carries the owner (`footfall-ingest-<pid>@<host>@<run>-…`), so a folder that
    a kill left half-created or half-removed is still recognised."""
    remove_abandoned()
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}@{socket.gethostname()}@{run_id}-")
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
