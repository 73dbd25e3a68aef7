"""Which cards have a screen connected now, in the database so that every server process knows it.

The connect and disconnect handlers (realtime/session.py) add and remove one row per Socket.IO connection, named by
the server process that holds it. A process that dies (power cut, SIGKILL) cannot remove its rows: on one box every
process shares the SQLite file, so a row whose process no longer runs is stale and is ignored, and removed when a
process starts (`clear_stale`). A stale row can only make a device look connected, i.e. refuse a vote recorded for
someone: the safe side.

These rows are committed without the fsync (`synchronous=NORMAL`, store.db.relax_durability): they describe only
connections of processes now running, so a power cut that loses the newest of them loses nothing anyone needs (every
connection dies with the box, and the rows of the dead process are removed at the next start all the same). WAL keeps
each commit atomic and in order, and the next FULL commit makes them durable. With FULL, 500 phones reconnecting after
a restart paid 500 fsyncs on the loop before their `state` (scripts/bench/room_loop.py reconnect: 100 one-row commits
took 510 ms with FULL and 3 ms with NORMAL on this machine's loaded disk).
"""

from __future__ import annotations

import os

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meeting_server.services import unit
from meeting_server.store import db
from meeting_server.store.tables import DeviceSession, utcnow

__all__ = ["clear_stale", "connected", "disconnected", "has_live_device", "live_among"]


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # runs, under another user
        return True
    return True


def connected(s: Session, sid: str, participant_id: int) -> None:
    """A card's screen connected on this process (its own unit of work; no screen shows it, so no seq)."""
    _no_fsync(s)
    with unit.of_work(s):
        # A plain INSERT: a connection's sid is new by construction, and `merge` would SELECT it first, once per
        # phone of the 500 reconnecting after a restart (scripts/bench/room_loop.py reconnect).
        s.add(DeviceSession(sid=sid, participant_id=participant_id, pid=os.getpid(), connected_at=utcnow()))


def disconnected(s: Session, sid: str) -> None:
    """That connection is gone (its own unit of work)."""
    _no_fsync(s)
    with unit.of_work(s):
        s.execute(delete(DeviceSession).where(DeviceSession.sid == sid))


def _no_fsync(s: Session) -> None:
    """This row's commit skips the fsync (the module's docstring says why), when it is its own unit of work, so that
    nothing else is committed along with it under the lighter sync."""
    if not unit.nested(s) and not (s.new or s.dirty or s.deleted):
        db.relax_durability(s)


def has_live_device(s: Session, participant_id: int) -> bool:
    """Whether the person's own screen is connected now, to any server process."""
    pids = s.scalars(select(DeviceSession.pid).where(DeviceSession.participant_id == participant_id))
    return any(_alive(pid) for pid in set(pids))


def clear_stale(s: Session) -> int:
    """At a process's start: remove the rows of processes that no longer run (its own unit of work)."""
    with unit.of_work(s):
        pids = set(s.scalars(select(DeviceSession.pid).distinct()))
        dead = [pid for pid in pids if not _alive(pid)]
        if not dead:
            return 0
        return s.execute(delete(DeviceSession).where(DeviceSession.pid.in_(dead))).rowcount or 0  # type: ignore[attr-defined]


def live_among(s: Session, participant_ids: list[int]) -> set[int]:
    """Which of these people have their own screen connected now (the secretary's list marks them)."""
    if not participant_ids:
        return set()
    rows = s.execute(select(DeviceSession.participant_id, DeviceSession.pid)
                     .where(DeviceSession.participant_id.in_(participant_ids))).all()
    return {pid for pid, proc in rows if _alive(proc)}
