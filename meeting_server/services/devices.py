"""Which cards have a screen connected now, in the database so that every server process knows it.

The connect and disconnect handlers (realtime/session.py) add and remove one row per Socket.IO connection, named by
the server process that holds it: its lease owner name (`owner`, domain/leases.owner_id) and, for people reading,
its pid. A process that dies (power cut, SIGKILL) cannot remove its rows; it stops renewing its process lease
(domain/leases.process, taken at start and renewed by the heartbeat, realtime/leases.py), so a row whose process
lease has run out, or was given back at a clean stop, is stale: ignored, and removed when a process starts
(`clear_stale`). That holds with several boxes on one PostgreSQL database, where a pid names a process on one box
only. The process asking counts its own rows as live whatever its lease says (the threaded test server runs no
heartbeat). Rows written before the owner was stored (0014_device_owner) are judged by their pid on this box. A
stale row can only make a device look connected, i.e. refuse a vote recorded for someone: the safe side.

These rows are committed without the fsync (`synchronous=NORMAL`, store.db.relax_durability): they describe only
connections of processes now running, so a power cut that loses the newest of them loses nothing anyone needs (every
connection dies with the box, and the rows of the dead process are removed at the next start all the same). WAL keeps
each commit atomic and in order, and the next FULL commit makes them durable. With FULL, 500 phones reconnecting after
a restart paid 500 fsyncs on the loop before their `state` (scripts/bench/room_loop.py reconnect: 100 one-row commits
took 510 ms with FULL and 3 ms with NORMAL on this machine's loaded disk).
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from flask import current_app, has_app_context
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from meeting_server.domain import leases as lease_rules
from meeting_server.services import leases, unit
from meeting_server.store import db
from meeting_server.store.tables import DeviceSession, Lease, utcnow

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
        # A plain Core INSERT: a connection's sid is new by construction; `merge` would SELECT it first and the ORM's
        # flush costs more than the statement, once per phone of the 500 reconnecting after a restart
        # (scripts/bench/room_loop.py reconnect).
        s.execute(insert(DeviceSession).values(sid=sid, participant_id=participant_id, pid=os.getpid(), owner=_me(),
                                               connected_at=utcnow()))


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


def _me() -> str | None:
    """This process as a lease owner (None outside an app: a script)."""
    return leases.owner(current_app) if has_app_context() else None


def _live(s: Session, rows: Iterable[tuple[str | None, int]]) -> set[tuple[str | None, int]]:
    """Which (owner, pid) pairs name a process that runs now (the module's docstring says how it is told)."""
    rows = set(rows)
    me = _me()
    others = {owner for owner, _ in rows if owner is not None and owner != me}
    running: set[str] = set()
    if others:
        names = {lease_rules.process(owner): owner for owner in others}
        running = {names[n] for n in s.scalars(select(Lease.name).where(Lease.name.in_(names),
                                                                          Lease.expires_at > utcnow()))}

    def runs(owner: str | None, pid: int) -> bool:
        if owner is None:  # a row from before 0014_device_owner
            return _alive(pid)
        if owner == me:
            return True
        # On this box a dead pid settles it at once (a restart after SIGKILL need not wait for the lease to run out).
        return owner in running and (not lease_rules.on_this_host(owner) or _alive(pid))

    return {(owner, pid) for owner, pid in rows if runs(owner, pid)}


def has_live_device(s: Session, participant_id: int) -> bool:
    """Whether the person's own screen is connected now, to any server process."""
    rows = s.execute(select(DeviceSession.owner, DeviceSession.pid)
                     .where(DeviceSession.participant_id == participant_id)).all()
    return bool(_live(s, ((owner, pid) for owner, pid in rows)))


def clear_stale(s: Session) -> int:
    """At a process's start: remove the rows of processes that no longer run (its own unit of work)."""
    with unit.of_work(s):
        rows = {(owner, pid) for owner, pid in s.execute(select(DeviceSession.owner, DeviceSession.pid).distinct())}
        dead = rows - _live(s, rows)
        removed = 0
        for owner, pid in dead:
            which = DeviceSession.owner == owner if owner is not None else (
                DeviceSession.owner.is_(None) & (DeviceSession.pid == pid))
            removed += s.execute(delete(DeviceSession).where(which)).rowcount or 0  # type: ignore[attr-defined]
        # The process leases of processes that died without giving theirs back (one row per crash otherwise).
        s.execute(delete(Lease).where(Lease.name.like(lease_rules.process("%")), Lease.expires_at <= utcnow())
                  .execution_options(synchronize_session=False))
        return removed


def live_among(s: Session, participant_ids: list[int]) -> set[int]:
    """Which of these people have their own screen connected now (the secretary's list marks them)."""
    if not participant_ids:
        return set()
    rows = s.execute(select(DeviceSession.participant_id, DeviceSession.owner, DeviceSession.pid)
                     .where(DeviceSession.participant_id.in_(participant_ids))).all()
    live = _live(s, ((owner, pid) for _, owner, pid in rows))
    return {person for person, owner, pid in rows if (owner, pid) in live}
