"""Importing the delegate list from CSV or XLSX: read the file, preview it, then save it in one transaction."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from meeting_server import offload
from meeting_server.domain.errors import N_, DomainError, NotFound
from meeting_server.domain.permissions import DELEGATE_ROLES, Role
from meeting_server.domain.roster import RosterPreview, fold
from meeting_server.services import audit, unit
from meeting_server.services.rosterfile import ImportRefused
from meeting_server.services.tokens import new_token
from meeting_server.services.unit import Done
from meeting_server.store.tables import Meeting, Participant

__all__ = ["READ_TIMEOUT", "ImportPlan", "ImportRefused", "EDITABLE_ROLES", "RoleChange", "apply", "has_record", "plan",
           "read_table", "set_role", "table_of"]

#: Seconds the child may take to read a roster file (a real one takes well under one).
READ_TIMEOUT = 20.0


def read_table(data: bytes, filename: str, max_bytes: int, timeout: float = READ_TIMEOUT) -> list[list[str]]:
    """The file's cells as text (CSV or XLSX, by content), read in a child process (services/rosterfile.py) within
    `timeout` seconds: the event loop only checks the size and waits, without blocking, for the answer."""
    if len(data) > max_bytes:
        raise ImportRefused(
            "Tệp quá lớn (%(size_mb)d MB). Danh sách đại biểu chỉ vài chục kB; giới hạn là %(limit_mb)d MB.",
            params={"size_mb": len(data) // 1024 // 1024, "limit_mb": max_bytes // 1024 // 1024}
        )
    if not data.strip():
        raise ImportRefused("Tệp rỗng.")
    try:
        out = json.loads(offload.call("meeting_server.services.rosterfile:from_payload",
                                      {"data": base64.b64encode(data).decode("ascii")}, timeout=timeout))
    except offload.OffloadFailed as exc:
        raise ImportRefused(
            "Không đọc xong tệp danh sách trong %(seconds)d giây; tệp quá phức tạp để là một danh sách đại biểu. "
            "Chưa nhập gì. Hãy chép danh sách sang một tệp Excel mới hoặc lưu thành CSV UTF-8 rồi tải lên lại.",
            params={"seconds": int(timeout)}) from exc
    if "refused" in out:
        raise ImportRefused(out["refused"], params=out.get("params") or {})
    return table_of(out["table"], N_("Tệp danh sách không đọc được."))


def table_of(raw: Any, message: str) -> list[list[str]]:
    """A table of texts from JSON (the API's `rows`, the preview's hidden field, the child's answer): a list of
    rows, each a list of texts or numbers; anything else is refused with `message`."""
    if not isinstance(raw, list) or not all(isinstance(r, list) for r in raw):
        raise DomainError(message, "roster.invalid")
    table = []
    for row in raw:
        if not all(c is None or (isinstance(c, str | int | float) and not isinstance(c, bool)) for c in row):
            raise DomainError(message, "roster.invalid")
        table.append(["" if c is None else str(c) for c in row])
    return table


@dataclass(frozen=True)
class RoleChange:
    """Someone kept on the list whose role the new file changes (who becomes chair or secretary)."""

    name: str
    old: str
    new: str


@dataclass(frozen=True)
class ImportPlan:
    """What saving the preview would do to the meeting's list: counts, and who changes role or leaves."""

    added: int
    kept: int
    removed: int
    role_changes: tuple[RoleChange, ...] = ()
    removed_names: tuple[str, ...] = ()


def plan(m: Meeting, preview: RosterPreview) -> ImportPlan:
    """Count people added, kept (their cards stay valid) and removed; name who changes role and who leaves."""
    by_key = {(fold(p.full_name), fold(p.title)): p for p in m.participants if p.role != "clerk"}
    existing = set(by_key)
    incoming = {(fold(r.full_name), fold(r.title)): r for r in preview.rows}
    changes = tuple(RoleChange(r.full_name, by_key[k].role, r.role.value) for k, r in incoming.items()
                    if k in by_key and by_key[k].role != r.role.value)
    removed = tuple(sorted((p for k, p in by_key.items() if k not in incoming), key=lambda p: p.position))
    return ImportPlan(len(set(incoming) - existing), len(set(incoming) & existing), len(existing - set(incoming)),
                      changes, tuple(p.full_name for p in removed))


def apply(s: Session, m: Meeting, preview: RosterPreview, actor: str) -> Done[ImportPlan]:
    """Save a preview without problems: matched people keep their card, new ones get one, others are removed.
    Every screen gets a new `state` and attendance."""
    if not preview.ok:
        raise ImportRefused("Danh sách còn lỗi; chưa nhập gì.")
    with unit.of_work(s):
        result = _apply(s, m, preview, actor)
    return Done(result, unit.change(m, state=True, attendance=True))


def _apply(s: Session, m: Meeting, preview: RosterPreview, actor: str) -> ImportPlan:
    result = plan(m, preview)
    by_key = {(fold(p.full_name), fold(p.title)): p for p in m.participants if p.role != "clerk"}
    incoming_keys = set()
    for r in preview.rows:
        key = (fold(r.full_name), fold(r.title))
        incoming_keys.add(key)
        p = by_key.get(key)
        if p is None:
            p = Participant(meeting_id=m.id, token=new_token(), full_name=r.full_name, title=r.title)
            m.participants.append(p)
        p.position, p.full_name, p.title, p.group_name, p.role = (
            r.position, r.full_name, r.title, r.group_name, r.role.value)
    leaving = [p for key, p in by_key.items() if key not in incoming_keys]
    on_record = [p.full_name for p in leaving if has_record(s, p)]
    if on_record:
        # Removing them would delete their speeches, ballots and attendance from the record the minutes use.
        raise ImportRefused(
            "Không thể bỏ khỏi danh sách những người đã có trong hồ sơ kỳ họp (điểm danh, phát biểu, biểu quyết): "
            "%(names)s. Hãy giữ họ trong tệp và đánh dấu vắng mặt nếu cần.", params={"names": ", ".join(on_record)})
    for p in leaving:
        m.participants.remove(p)
    unit.bump(m)
    s.flush()
    audit.record(s, m.id, "roster.imported", actor,
                 {"added": result.added, "kept": result.kept, "removed": result.removed,
                  "rows": len(preview.rows)})
    return result


def has_record(s: Session, p: Participant) -> bool:
    """Whether a person already appears in the meeting's record (attendance marked, spoke, voted, took notes)."""
    from sqlalchemy import exists, select

    from meeting_server.store.tables import PageNote, PollVoter, SpeakRequest

    if p.attendance is not None and p.attendance.status != "unknown":
        return True
    return bool(s.scalar(select(
        exists().where(SpeakRequest.participant_id == p.id)
        | exists().where(PollVoter.participant_id == p.id)
        | exists().where(PageNote.participant_id == p.id))))


#: The roles the clerk may give a person on the list (the clerk's own card and the projector are not people's).
EDITABLE_ROLES = (Role.CHAIR, Role.SECRETARY, Role.DELEGATE, Role.GUEST)


def set_role(s: Session, m: Meeting, participant_id: Any, role: Any, actor: str) -> Done[tuple[str, str]]:
    """Change one person's role after the import (a secretary the list did not name, a vice-chair who chairs).

    Audited, and announced: every screen gets a new `state` and attendance, the person their own `me`; their next
    request or event is checked against the new role (every one resolves the card again). Someone already on a
    poll's list of voters stays a council member: turning them into a guest (or a guest into a delegate) would
    change who may vote after the fact. Answers (old role, new role)."""
    if isinstance(participant_id, bool) or not isinstance(participant_id, int):
        raise DomainError("Hãy chọn đại biểu.", "payload.invalid")
    try:
        new = Role(role)
    except ValueError:
        new = None
    if new not in EDITABLE_ROLES:
        raise DomainError("Vai trò không hợp lệ.", "participant.invalid_role")
    p = next((x for x in m.participants if x.id == participant_id and x.role != Role.CLERK), None)
    if p is None:
        raise NotFound("Không tìm thấy đại biểu.")
    old = Role(p.role)
    if old == new:
        return Done((old.value, new.value), unit.change(m))
    with unit.of_work(s):
        if (old in DELEGATE_ROLES) != (new in DELEGATE_ROLES) and _on_a_poll(s, p):
            raise DomainError("%(name)s đã có tên trong danh sách biểu quyết: không thể chuyển giữa đại biểu và "
                              "khách mời.", "participant.role_on_record", params={"name": p.full_name})
        p.role = new.value
        unit.bump(m)
        audit.record(s, m.id, "participant.role_changed", actor,
                     {"participant_id": p.id, "from": old.value, "to": new.value})
    return Done((old.value, new.value), unit.change(m, state=True, attendance=True, people=(p.id,)))


def _on_a_poll(s: Session, p: Participant) -> bool:
    from sqlalchemy import exists, select

    from meeting_server.store.tables import PollVoter

    return bool(s.scalar(select(exists().where(PollVoter.participant_id == p.id))))
