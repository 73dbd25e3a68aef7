"""Claims: which server process of a data directory is doing a piece of work now (processing an upload, signing or
preparing the minutes), as an flock on a file of its own.

An flock, not a row: the kernel drops it when its process ends, so work left by a killed process is found
unclaimed by the next start, and no stale lock is left behind. One box only, as the shared SQLite file is
(several boxes would need the database's own locks: issue #20).
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["held"]


@contextmanager
def held(path: Path) -> Iterator[bool]:
    """True while this process holds the claim at `path` (created if need be), False at once if another does."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
