"""Claims: which server process is doing a piece of work now (processing an upload, signing or preparing the
minutes).

On one box (SQLite, and the documents on the data directory's disk): an flock on a file of its own (`held`). An
flock, not a row: the kernel drops it when its process ends, so work left by a killed process is found unclaimed by
the next start, and no stale lock is left behind.

Across boxes (PostgreSQL, the minutes): a session-level advisory lock (`advisory`) on a connection of its own,
opened for the claim and closed with it, never one of the pool's (a pooled connection would keep the lock after
the claim ends). PostgreSQL drops it when that session ends: the claim's end, the process's death (the kernel
closes its socket, the server's backend sees the end of input at once), or, for a box that lost power, the
server's TCP keepalives on that connection (set below, about 25 s; nothing on a unix socket, where the socket's end
is always seen). The row that says what was under way is the work's own (the minutes version's status): a row
saying `signing` or `prepared` whose lock nobody holds was left by a crash, as a file whose flock is free is.
"""

from __future__ import annotations

import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

__all__ = ["MINUTES", "advisory", "held"]

log = logging.getLogger(__name__)

#: The advisory locks' first key (a namespace: nothing else of the project takes advisory locks; the leases are
#: rows): "minu", the minutes of the meeting whose id is the second key.
MINUTES = 0x6D696E75

#: The server's keepalives on a claim's connection (TCP only): a box gone without closing its socket releases its
#: claims after about idle + interval × count seconds.
_KEEPALIVE = ("SET tcp_keepalives_idle = 10", "SET tcp_keepalives_interval = 5", "SET tcp_keepalives_count = 3")


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


@contextmanager
def advisory(conninfo: str, namespace: int, key: int) -> Iterator[bool]:
    """True while this process holds PostgreSQL's session-level advisory lock (`namespace`, `key`) on a connection
    of its own (`conninfo`: a libpq URL), False at once if another session of any box holds it."""
    import psycopg

    conn: Any = psycopg.connect(conninfo, autocommit=True)
    try:
        for sql in _KEEPALIVE:
            conn.execute(sql)
        row = conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (int(namespace), int(key))).fetchone()
        mine = bool(row and row[0])
        yield mine
        if mine:
            try:
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", (int(namespace), int(key)))
            except psycopg.Error:  # the connection was lost meanwhile: the lock went with it (said in the log)
                log.warning("advisory claim (%s, %s): its connection was lost before the claim ended", namespace,
                            key)
    finally:
        conn.close()
