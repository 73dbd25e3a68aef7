"""Leases in the database (domain/leases.py): one owner at a time across server processes, taken over when the
owner stops renewing. Portable SQL only (a SELECT, then a compare-and-swap UPDATE or an INSERT on the primary
key), so the same code holds on SQLite and on PostgreSQL; no advisory locks, no flock.

- `take`: this process takes the lease if nobody holds it, it already does, or its owner let it run out. Taking it
  from another owner is a take-over, recorded in the audit log (`lease.taken_over`: which work, from whom, when the
  owner's lease ran out), since an auditor reading why a poll closed in another process, or a document was
  processed twice in part, needs it.
- `renew`: the heartbeat (realtime/leases.py) pushes `expires_at` on every lease this process holds, in one UPDATE;
  its commit skips the fsync (a lease describes only processes now running, as devices.py's rows do).
- `release`: done with the work.
"""

from __future__ import annotations

import threading
from datetime import datetime

from flask import Flask
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from meeting_server.domain import leases as rules
from meeting_server.services import audit, unit
from meeting_server.store import db
from meeting_server.store.tables import Lease, utcnow

__all__ = ["holder", "holds", "owner", "release", "release_all", "renew", "take"]

_owner_lock = threading.Lock()


def owner(app: Flask) -> str:
    """This server process's name as a lease owner (made once per app: a process, for the database)."""
    me = app.extensions.get("lease_owner")
    if me is None:
        with _owner_lock:
            me = app.extensions.setdefault("lease_owner", rules.owner_id())
    return str(me)


def holder(s: Session, name: str) -> rules.Holder | None:
    """Who holds the lease now, as stored (perhaps run out)."""
    row = s.execute(select(Lease.owner, Lease.expires_at).where(Lease.name == name)).first()
    return None if row is None else rules.Holder(row.owner, row.expires_at)


def holds(s: Session, name: str, me: str, now: datetime | None = None) -> bool:
    """Whether `me` holds the lease and it has not run out."""
    h = holder(s, name)
    return h is not None and h.owner == me and h.expires_at > (now or utcnow())


def take(s: Session, name: str, me: str, *, meeting_id: int | None = None, now: datetime | None = None) -> bool:
    """Take (or keep) the lease for `me`; False when another live owner holds it or took it first. Its own unit of
    work. A take-over from an owner whose lease ran out is audited (`meeting_id`: the meeting the work is for)."""
    now = now or utcnow()
    try:
        with unit.of_work(s):
            h = holder(s, name)
            if not rules.may_take(h, me, now):
                return False
            if h is None:
                s.add(Lease(name=name, owner=me, expires_at=rules.expiry(now), taken_at=now))
                s.flush()  # two processes inserting at once: the primary key lets one through
                return True
            # Compare-and-swap: only if the row is still what was read (another process may take it meanwhile).
            res = s.execute(update(Lease).where(Lease.name == name, Lease.owner == h.owner,
                                                Lease.expires_at == h.expires_at)
                            .values(owner=me, expires_at=rules.expiry(now), taken_at=now)
                            .execution_options(synchronize_session=False))
            if res.rowcount != 1:  # type: ignore[attr-defined]
                s.rollback()
                return False
            if rules.is_take_over(h, me):
                if meeting_id is not None and audit.is_frozen(s, meeting_id):
                    meeting_id = None  # a signed meeting takes no entry: the take-over goes in the server's chain
                audit.record(s, meeting_id, "lease.taken_over", f"system:{me}",
                             {"lease": name, "from": h.owner, "expired_at": h.expires_at.isoformat()})
            return True
    except IntegrityError:
        return False


def renew(s: Session, me: str, now: datetime | None = None) -> set[str]:
    """Push back the expiry of every lease `me` holds; returns their names (a lease another process took over after
    `me` failed to renew in time is not among them: its work is no longer ours). Its own unit of work."""
    now = now or utcnow()
    if not unit.nested(s) and not (s.new or s.dirty or s.deleted):
        db.relax_durability(s)
    with unit.of_work(s):
        s.execute(update(Lease).where(Lease.owner == me).values(expires_at=rules.expiry(now))
                  .execution_options(synchronize_session=False))
        return set(s.scalars(select(Lease.name).where(Lease.owner == me)))


def release(s: Session, name: str, me: str) -> None:
    """`me` is done with the work: the lease is gone (if `me` still held it). Its own unit of work."""
    with unit.of_work(s):
        s.execute(delete(Lease).where(Lease.name == name, Lease.owner == me)
                  .execution_options(synchronize_session=False))


def release_all(s: Session, me: str) -> None:
    """A process that stops cleanly gives its leases back, so the others take its work over at once."""
    with unit.of_work(s):
        s.execute(delete(Lease).where(Lease.owner == me).execution_options(synchronize_session=False))
