"""Appending to the hash-chained audit log, in the same transaction as the change it records."""

from __future__ import annotations

from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from meeting_server.domain import audit
from meeting_server.store.tables import AuditEvent, AuditHead, utcnow


def record(s: Session, meeting_id: int | None, kind: str, actor: str, data: dict[str, Any]) -> AuditEvent:
    """Append one event; the caller commits. Nothing in the application updates or deletes an event."""
    head = s.get(AuditHead, 1)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=audit.GENESIS)
        s.add(head)
        s.flush()
    # The UPDATE takes the database's write lock before the head is read, so the chain cannot fork.
    s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    s.refresh(head)
    at = utcnow().isoformat(timespec="microseconds")
    entry = {"seq": head.seq, "meeting_id": meeting_id, "at": at, "kind": kind, "actor": actor, "data": data}
    digest = audit.next_hash(head.hash, entry)
    event = AuditEvent(seq=head.seq, meeting_id=meeting_id, at=at, kind=kind, actor=actor, data=data, hash=digest)
    s.add(event)
    head.hash = digest
    return event
