"""Appending to the hash-chained audit log, in the same transaction as the change it records."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError
from meeting_server.store.tables import AuditEvent, AuditHead, utcnow

#: Kinds that may still be appended once a meeting's minutes are signed (a correction is a new, linked version).
AFTER_FINAL_KINDS = ("minutes.",)


def record(s: Session, meeting_id: int | None, kind: str, actor: str, data: dict[str, Any]) -> AuditEvent:
    """Append one event; the caller commits. Nothing in the application updates or deletes an event.

    Every change of a meeting passes here, so this is also where a meeting whose minutes are signed refuses
    further changes (issue 6: finalizing freezes the meeting).
    """
    if meeting_id is not None and not kind.startswith(AFTER_FINAL_KINDS) and is_frozen(s, meeting_id):
        raise DomainError("Biên bản kỳ họp đã được ký: kỳ họp không thể thay đổi nữa.", "meeting.frozen")
    head = s.get(AuditHead, 1)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=audit.GENESIS)
        s.add(head)
        s.flush()
    # The UPDATE takes the database's write lock before the head is read, so the chain cannot fork.
    s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    s.refresh(head)
    entry = audit.make_entry(meeting_id, kind, utcnow(), actor, data)  # type: ignore[arg-type]
    digest = audit.next_hash(head.hash, entry)
    event = AuditEvent(seq=head.seq, meeting_id=meeting_id, at=entry["at"], kind=kind, actor=actor,
                       data=entry["data"], hash=digest)
    s.add(event)
    head.hash = digest
    return event


def is_frozen(s: Session, meeting_id: int) -> bool:
    """True from the moment the minutes are being signed: a signed meeting takes no more changes."""
    from meeting_server.store.tables import MinutesDraft

    return s.scalar(select(MinutesDraft.id).where(MinutesDraft.meeting_id == meeting_id,
                                                  MinutesDraft.status.in_(("signing", "final"))).limit(1)) is not None


def entry_of(meeting_id: int | None, at: str, kind: str, actor: str, data: Any) -> dict[str, Any]:
    """The hashed payload of a stored row: exactly the dict `record` passed to `audit.next_hash`."""
    return {"meeting_id": meeting_id, "kind": kind, "at": at, "actor": actor, "data": data}


def head(s: Session) -> tuple[int, str]:
    """(seq, hash) of the newest link of the chain; (0, GENESIS) for an empty log."""
    h = s.get(AuditHead, 1)
    return (0, audit.GENESIS) if h is None else (h.seq, h.hash)


def iter_rows(db_path: Path | str) -> Iterator[tuple[int, int | None, str, str, str, str, str]]:
    """Stored rows in seq order, read through a read-only SQLite connection (fast: 100,000 rows in well under 1 s)."""
    conn = sqlite3.connect(f"file:{Path(db_path)}?mode=ro", uri=True)
    try:
        yield from conn.execute("SELECT seq, meeting_id, at, kind, actor, data, hash FROM audit_event ORDER BY rowid")
    finally:
        conn.close()


def verify_database(db_path: Path | str) -> audit.ChainReport:
    """Re-derive the whole chain stored in a database file and compare its end with audit_head.

    Rows are read in storage order (rowid, which is seq here), so a row moved by editing its seq is seen as out
    of place rather than silently sorted back.
    """
    path = Path(db_path)
    if not path.is_file():
        raise DomainError(f"Không tìm thấy cơ sở dữ liệu {path}.", "audit.no_database")
    records = [
        audit.AuditRecord(seq, entry_of(mid, at, kind, actor, json.loads(data)), digest)
        for seq, mid, at, kind, actor, data, digest in iter_rows(path)
    ]
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT hash FROM audit_head WHERE id = 1").fetchone()
    finally:
        conn.close()
    return audit.verify_chain(records, expected_head=row[0] if row else None)


def events(s: Session, meeting_id: int) -> list[AuditEvent]:
    """One meeting's events in order (for the archive and the record)."""
    return list(s.scalars(select(AuditEvent).where(AuditEvent.meeting_id == meeting_id).order_by(AuditEvent.seq)))
