"""Local staging folders of ingest runs, and the ones that killed runs left behind.

A run removes its folder when it ends, but a run that is killed (SIGKILL, out of memory, a
container restart) cannot; its folder holds up to a wave's rows. Each folder records the
process that owns it, so the next run on the machine removes the folders of processes
that are gone.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PREFIX = "footfall-ingest-"
OWNER = "owner.pid"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_abandoned(root: str | None = None) -> list[Path]:
    """Remove the staging folders whose owning process no longer exists; returns them."""
    removed = []
    for folder in Path(root or tempfile.gettempdir()).glob(PREFIX + "*"):
        try:
            pid = int((folder / OWNER).read_text())
        except (OSError, ValueError):  # not ours to judge, or its owner is still creating it
            continue
        if not _alive(pid):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


@contextmanager
def staging_folder(run_id: str) -> Iterator[str]:
    """A fresh folder under the system's temporary directory (`TMPDIR`), removed on exit."""
    remove_abandoned()
    folder = tempfile.mkdtemp(prefix=f"{PREFIX}{run_id}-")
    try:
        Path(folder, OWNER).write_text(str(os.getpid()))
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
