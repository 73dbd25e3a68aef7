"""Attendance: joining marks a delegate present; the clerk marks absences with reasons, late arrivals, departures."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, object_session

from meeting_server.domain import limits, quorum
from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.domain.permissions import DELEGATE_ROLES
from meeting_server.domain.voting import Threshold
from meeting_server.services import audit, unit, voting
from meeting_server.services.unit import Change, Done
from meeting_server.store.tables import Attendance, Meeting, Participant, utcnow

STATUSES = ("present", "absent", "left", "unknown")


@dataclass(frozen=True)
class Summary:
    """The live line "Có mặt 24/30 — đủ điều kiện tiến hành kỳ họp (≥ 20)", as numbers."""

    present: int
    seated: int
    required: int
    quorate: bool
    absent: int
    late: int
    left: int
    rule: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def summary(m: Meeting) -> Summary:
    """Count the council's delegates present against N; guests and the clerk do not count.

    Every phone that connects gets this line: one grouped count in the database, not a walk over every
    participant's attendance (500 delegates reconnecting after a Wi-Fi outage made that quadratic).
    """
    s = object_session(m)
    assert s is not None, "summary() needs a meeting attached to a session"
    late_present = func.sum(case((and_(Attendance.status == "present", Attendance.late), 1), else_=0))
    rows = s.execute(
        select(Attendance.status, func.count(), late_present)
        .join(Participant, Participant.id == Attendance.participant_id)
        .where(Participant.meeting_id == m.id, Participant.role.in_([r.value for r in DELEGATE_ROLES]))
        .group_by(Attendance.status)
    ).all()
    counts = {status: n for status, n, _late in rows}
    present, absent, left = counts.get("present", 0), counts.get("absent", 0), counts.get("left", 0)
    late = sum(int(n or 0) for _status, _count, n in rows)
    rule = Threshold(m.quorum_rule)
    return Summary(
        present=present,
        seated=m.seated_count,
        required=quorum.quorum_required(m.seated_count, rule),
        # The rule is domain/quorum.py's. More present than N means the clerk's N is out of date: the count still
        # shows and N present are a quorum (is_quorate refuses a count above N), so the line does not crash.
        quorate=quorum.is_quorate(min(present, m.seated_count), m.seated_count, rule),
        absent=absent,
        late=late,
        left=left,
        rule=m.quorum_rule,
    )


def _row(p: Participant) -> Attendance:
    if p.attendance is None:
        p.attendance = Attendance(participant_id=p.id, status="unknown")
    return p.attendance


def joined(s: Session, m: Meeting, p: Participant) -> Change | None:
    """A card was scanned: mark its holder present (late when the sitting is already open). None if they were
    already present (nothing changed, nothing committed)."""
    if p.attendance is not None and p.attendance.status == "present":
        return None
    with unit.of_work(s):
        a = _row(p)
        now = utcnow()
        first_time = a.arrived_at is None
        a.status, a.left_at, a.reason, a.marked_by = "present", None, "", "self"
        if first_time:
            a.arrived_at = now
            a.late = m.status == "in_progress"
        voting.on_present(s, m, p.id)
        unit.bump(m)
        audit.record(s, m.id, "attendance.joined", f"{p.role}:{p.id}",
                     {"participant_id": p.id, "late": a.late})
    return unit.change(m, attendance=True)


def mark(s: Session, m: Meeting, participant_id: int, status: str, reason: str, late: bool | None,
         actor: str) -> Done[Participant]:
    """The clerk or secretary sets someone's attendance: present, absent (with reason) or left early."""
    p = next((x for x in m.participants if x.id == participant_id), None)
    if p is None:
        raise NotFound("Không tìm thấy đại biểu.")
    if status not in ("present", "absent", "left"):
        raise DomainError("Trạng thái điểm danh không hợp lệ.", "attendance.invalid")
    reason = limits.clean(limits.ATTENDANCE_REASON, reason)
    if status == "absent" and not reason:
        raise DomainError("Hãy ghi lý do vắng mặt (ví dụ: ốm, đi công tác).", "attendance.reason_required")
    with unit.of_work(s):
        _mark(s, m, p, status, reason, late, actor)
    return Done(p, unit.change(m, attendance=True))


def _mark(s: Session, m: Meeting, p: Participant, status: str, reason: str, late: bool | None, actor: str) -> None:
    a = _row(p)
    now = utcnow()
    if status == "present":
        if a.arrived_at is None:
            a.arrived_at = now
        a.left_at = None
        a.reason = ""
        voting.on_present(s, m, p.id)
    elif status == "absent":
        a.reason = reason
        a.arrived_at = None
    else:
        if a.status != "present":
            raise DomainError("Chỉ người đang có mặt mới có thể rời sớm.", "attendance.invalid")
        a.left_at = now
        a.reason = reason
    if late is not None and status == "present":
        a.late = late
    a.status, a.marked_by = status, actor[:20]  # who marked it: a vote recorded for someone needs another person
    unit.bump(m)
    audit.record(s, m.id, f"attendance.{status}", actor,
                 {"participant_id": p.id, "reason": a.reason, "late": a.late})


def roster(m: Meeting) -> list[dict[str, Any]]:
    """Everyone with their attendance, for the clerk, chair and secretary."""
    out = []
    for p in m.participants:
        if p.role == "clerk":
            continue
        a = p.attendance
        out.append({
            "id": p.id,
            "position": p.position,
            "name": p.full_name,
            "title": p.title,
            "group": p.group_name,
            "role": p.role,
            "status": a.status if a else "unknown",
            "late": bool(a and a.late),
            "arrived_at": a.arrived_at.isoformat() if a and a.arrived_at else None,
            "left_at": a.left_at.isoformat() if a and a.left_at else None,
            "reason": a.reason if a else "",
        })
    return out
