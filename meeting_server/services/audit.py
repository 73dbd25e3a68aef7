"""Appending to the hash-chained audit log, in the same transaction as the change it records.

The links are keyed with the data directory's chain key (`store.audit_log`, loaded with each pooled connection),
and an act that matters (`domain.audit.CHECKPOINT_KINDS`: a poll closed, minutes signed, the sitting ended, a
restore) also gets a signed checkpoint outside the database, written and fsynced as soon as the transaction
commits, before the caller can acknowledge the act.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import event, insert, select, update
from sqlalchemy.orm import Session

from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError
from meeting_server.store import audit_log
from meeting_server.store.db import AUDIT_KEY, DATA_DIR
from meeting_server.store.tables import AuditEvent, AuditHead, Meeting, MinutesDraft, core_table, utcnow

log = logging.getLogger(__name__)
_PENDING = "meeting_server.pending_checkpoints"

#: Kinds that may still be appended once a meeting's minutes are signed (a correction is a new, linked version).
#: Entries a signed meeting still takes: the minutes' own steps, and the register of resolutions (the number and date
#: of issue are given after the session; they add to the record, never change it).
AFTER_FINAL_KINDS = ("minutes.", "register.")
#: Minutes statuses that freeze the meeting: the old one-click signing, prepared for the signers, signed.
FROZEN_STATUSES = ("signing", "prepared", "final")
FROZEN_MESSAGE = "Biên bản kỳ họp đã được ký: kỳ họp không thể thay đổi nữa."


def record(s: Session, meeting_id: int | None, kind: str, actor: str, data: dict[str, Any]) -> AuditEvent:
    """Append one event; the caller commits. Nothing in the application updates or deletes an event.

    Every change of a meeting passes here, so this is also where a meeting whose minutes are signed refuses
    further changes (issue 6: finalizing freezes the meeting).
    """
    if meeting_id is not None and not kind.startswith(AFTER_FINAL_KINDS) and is_frozen(s, meeting_id):
        raise DomainError(FROZEN_MESSAGE, "meeting.frozen")
    if meeting_id is not None:
        # The meeting's row before the head: the order of the ballots' group commit (`unit.bump_many`, then
        # `record_many`). A use case whose seq is written at its commit took the head first, and on PostgreSQL it
        # and a ballot batch deadlocked (tests/services/test_audit_concurrent.py). FOR NO KEY UPDATE, the lock of
        # an UPDATE of the seq: FOR UPDATE also waited for every foreign key's share lock on the meeting (each
        # insert of a row referencing it), and two such writers deadlocked. SQLite: one writer, no clause.
        s.execute(select(Meeting.id).where(Meeting.id == meeting_id).with_for_update(key_share=True))
    head = s.get(AuditHead, 1)
    if head is None:
        head = AuditHead(id=1, seq=0, hash=audit.GENESIS)
        s.add(head)
        s.flush()
    # The UPDATE takes the database's write lock before the head is read, so the chain cannot fork.
    s.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    s.refresh(head)
    key = chain_key(s)
    entry = audit.make_entry(meeting_id, kind, utcnow(), actor, data)
    digest = audit.next_hash(head.hash, entry, key.for_seq(head.seq) if key else None)
    row = AuditEvent(seq=head.seq, meeting_id=meeting_id, at=entry["at"], kind=kind, actor=actor,
                     data=entry["data"], hash=digest)
    s.add(row)
    head.hash = digest
    if key is not None and kind in audit.CHECKPOINT_KINDS:
        _checkpoint_after_commit(s, key, meeting_id, head.seq, digest, kind)
    return row


def chain_key(s: Session) -> audit.ChainKey | None:
    """The chain key of the session's database (None for a database with no data directory, e.g. in memory)."""
    key: audit.ChainKey | None = s.connection().info.get(AUDIT_KEY)
    return key


def _data_dir(s: Session) -> Path | None:
    """The data directory the connection's engine was made for (beside SQLite's file, or given for PostgreSQL)."""
    found = s.connection().info.get(DATA_DIR)
    return Path(found) if found is not None else None


def _checkpoint_after_commit(s: Session, key: audit.ChainKey, meeting_id: int | None, seq: int, digest: str,
                             kind: str) -> None:
    """Queue a checkpoint of this link, written when (and only if) the transaction commits."""
    data_dir = _data_dir(s)
    if data_dir is None:
        return
    pending = s.info.get(_PENDING)
    if pending is None:
        pending = s.info[_PENDING] = []
        event.listen(s, "after_commit", _write_pending)
        event.listen(s, "after_rollback", _drop_pending)
    pending.append((data_dir, key, meeting_id, seq, digest, kind))


def _write_pending(s: Session) -> None:
    pending = s.info.get(_PENDING) or []
    while pending:
        data_dir, key, meeting_id, seq, digest, kind = pending.pop(0)
        try:
            audit_log.append_checkpoint(data_dir, key, meeting_id, seq, digest, kind)
        except OSError:  # the act is committed; verify-log will name the link without its checkpoint
            log.exception("checkpoint of audit entry %s (%s) could not be written", seq, kind)


def _drop_pending(s: Session) -> None:
    pending = s.info.get(_PENDING)
    if pending:
        pending.clear()


def record_many(s: Session, rows: Sequence[tuple[int | None, str, str, dict[str, Any]]]) -> None:
    """Append many events (meeting_id, kind, actor, data) with one read and one write of the chain's head: the
    group commit of ballots writes hundreds at once. Same entries, same hashes as `record` one at a time."""
    if not rows:
        return
    # The rule of `record`, once per meeting of the batch (callers refuse ballot by ballot before; this is the
    # guard that no path appends to a frozen meeting).
    if frozen_among(s, {r[0] for r in rows if r[0] is not None and not r[1].startswith(AFTER_FINAL_KINDS)}):
        raise DomainError(FROZEN_MESSAGE, "meeting.frozen")
    conn = s.connection()
    # The head is read locked (FOR UPDATE; SQLite has no such clause and needs none: one writer at a time), as
    # `record` locks it with its UPDATE first: on PostgreSQL an unlocked read let another writer move the head
    # before the compare-and-set below, which then failed the whole batch (tests/services/test_audit_concurrent.py).
    head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1).with_for_update()).first()
    if head is None:  # an empty log: the one-at-a-time path creates the head
        for meeting_id, kind, actor, data in rows:
            record(s, meeting_id, kind, actor, data)
        return
    digest = head[1]
    key = conn.info.get(AUDIT_KEY)
    events = []
    for seq, (meeting_id, kind, actor, data) in enumerate(rows, start=head[0] + 1):
        entry = audit.make_entry(meeting_id, kind, utcnow(), actor, data)
        digest = audit.next_hash(digest, entry, key.for_seq(seq) if key else None)
        events.append({"seq": seq, "meeting_id": meeting_id, "at": entry["at"], "kind": kind, "actor": actor,
                       "data": entry["data"], "hash": digest})
    # Compare-and-set on the head: a concurrent writer would make this fail rather than fork the chain.
    heads = core_table(AuditHead)
    moved = conn.execute(update(heads).where(heads.c.id == 1, heads.c.seq == head[0])
                         .values(seq=head[0] + len(rows), hash=digest))
    if moved.rowcount != 1:
        raise DomainError("Nhật ký thay đổi đồng thời; hãy gửi lại.", "conflict")
    conn.execute(insert(core_table(AuditEvent)), events)
    for obj in list(s.identity_map.values()):
        if isinstance(obj, AuditHead):
            s.expire(obj)


def is_frozen(s: Session, meeting_id: int) -> bool:
    """True from the moment the minutes are being signed: a signed meeting takes no more changes."""
    return s.scalar(select(MinutesDraft.id).where(MinutesDraft.meeting_id == meeting_id,
                                                  MinutesDraft.status.in_(FROZEN_STATUSES)).limit(1)) is not None


def frozen_among(s: Session, meeting_ids: set[int]) -> set[int]:
    """Which of these meetings are frozen (`is_frozen`), in one query."""
    if not meeting_ids:
        return set()
    return set(s.scalars(select(MinutesDraft.meeting_id).where(
        MinutesDraft.meeting_id.in_(sorted(meeting_ids)), MinutesDraft.status.in_(("signing", "final")))))


def head(s: Session) -> tuple[int, str]:
    """(seq, hash) of the newest link of the chain; (0, GENESIS) for an empty log."""
    h = s.get(AuditHead, 1)
    return (0, audit.GENESIS) if h is None else (h.seq, h.hash)


def events(s: Session, meeting_id: int) -> list[AuditEvent]:
    """One meeting's events in order (for the archive and the record)."""
    return list(s.scalars(select(AuditEvent).where(AuditEvent.meeting_id == meeting_id).order_by(AuditEvent.seq)))


# --- checking the whole record: the chain, its anchors outside the database, and what is derived from it ---
