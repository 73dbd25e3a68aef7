"""The meeting record: every fact the minutes are written from, as the JSON-native dict `domain.minutes` reads.

Built from what the store holds (meeting, participants, attendance with reasons, late arrivals and departures,
agenda, audit log) plus the clerk's texts of the current minutes version. Polls, speeches and documents come
from the voting, speakers, question time and documents features through `_polls`, `_speeches`, `_questions`
and `_documents`.
"""

from __future__ import annotations

import re
from contextvars import ContextVar
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain.permissions import DELEGATE_ROLES, Role
from meeting_server.domain.timefmt import VN
from meeting_server.services import audit, clock, meetings
from meeting_server.store.tables import (
    AuditEvent,
    Meeting,
    MinutesDraft,
    Participant,
    utcnow,
)

__all__ = ["TEXT_KEYS", "build_record"]

#: The parts of the record the clerk writes; everything else comes from the store.
TEXT_KEYS = ("opening", "conclusions", "document_number")
#: The clerk's clock correction in force while one record is being built.
_SHIFT: ContextVar[timedelta] = ContextVar("clock_shift", default=timedelta(0))
#: How the minutes mark an open vote the secretary recorded for a delegate without a device.
PROXY_MARK = "thư ký ghi thay"
_TERM = re.compile(r"^\s*(?:khóa\s+)?(?P<term>[^,]+?)\s*(?:,\s*nhiệm kỳ\s+(?P<years>.+?))?\s*$", re.IGNORECASE)


def build_record(s: Session, meeting_id: int, texts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The record of a meeting (schema: `meeting_server.domain.minutes`); `texts` default to the newest version's.

    Times are written in Vietnam time as corrected by the clerk (`services.clock`): a mini-PC may boot with a wrong
    date, and the minutes must carry the real one.
    """
    token = _SHIFT.set(clock.offset(s))
    try:
        return _build(s, meeting_id, texts)
    finally:
        _SHIFT.reset(token)


def _vn(dt: datetime) -> datetime:
    """A stored (machine) time as real Vietnam time."""
    return (dt + _SHIFT.get()).astimezone(VN)


def _build(s: Session, meeting_id: int, texts: dict[str, Any] | None) -> dict[str, Any]:
    m = meetings.get(s, meeting_id)
    if texts is None:
        draft = s.scalar(select(MinutesDraft).where(MinutesDraft.meeting_id == meeting_id)
                         .order_by(MinutesDraft.version.desc()).limit(1))
        texts = dict(draft.texts) if draft is not None else {}
    started, ended = _times(s, m)
    people = [p for p in m.participants if p.role in {r.value for r in DELEGATE_ROLES}]
    summaries: dict[str, Any] = texts.get("summaries") or {}
    polls, speeches, documents = _polls(s, m), _speeches(s, m), _documents(s, m)
    asked = _questions(s, m)
    item_ids = {it.id for it in m.items}
    agenda = []
    for it in m.items:
        agenda.append({
            "item_id": it.id,
            "title": it.title,
            "documents": [d for d in documents if d.get("item_id") == it.id],
            "speeches": [x for x in speeches if x.get("item_id") == it.id],
            "questions": [q for q in asked if q.get("item_id") == it.id],
            "summary": str(summaries.get(str(it.id)) or ""),
            "polls": [p for p in polls if p.get("item_id") == it.id],
        })
    # Whatever belonged to no item (or to an item since deleted) is in the record too, in its own section.
    other = {
        "documents": [d for d in documents if d.get("item_id") not in item_ids],
        "speeches": [x for x in speeches if x.get("item_id") not in item_ids],
        "polls": [p for p in polls if p.get("item_id") not in item_ids],
    }
    seq, head = audit.head(s)
    term, years = _term(m.term)
    record: dict[str, Any] = {
        "meeting_id": m.id,
        "council": {"name": m.locality, "level": m.council_level},
        "document_number": str(texts.get("document_number") or ""),
        "session": {"title": m.session_title, "term": term, "term_years": years},
        "place": m.place or "…",
        "started_at": started.isoformat(),
        "ended_at": ended.isoformat(),
        "delegate_count": m.seated_count,
        "participants": [_attendance(p) for p in people],
        "chairs": [_person(p) for p in people if p.role == Role.CHAIR],
        "secretaries": [_person(p) for p in people if p.role == Role.SECRETARY],
        "guests": [_person(p) for p in m.participants if p.role == Role.GUEST],
        "opening": str(texts.get("opening") or ""),
        "agenda": agenda,
        "other": other,
        # Questions never called under an item still on the agenda: answered in writing, withdrawn, not reached.
        "questions": [q for q in asked if q.get("item_id") not in item_ids],
        "conclusions": str(texts.get("conclusions") or ""),
        "recipients": [str(x) for x in texts.get("recipients") or []],
        "audit": {"seq": seq, "head": head},
    }
    return record


def _polls(s: Session, m: Meeting) -> list[dict[str, Any]]:
    """Closed and cancelled polls, each `{"item_id", "subject", "mode", "lines", "result", "named"?, "passed"?}`.

    Everything comes from the result stored when the poll closed (`poll.result`), the one source of what the
    projector announced, the minutes print and the archive's CSV lists; `result` is its short verdict. Named lists
    are given for open votes only, a name recorded by the secretary marked "(thư ký ghi thay)"; a secret ballot's
    record carries totals alone.
    """
    from meeting_server.domain.voting import PollKind, verdict_vi
    from meeting_server.services import voting
    from meeting_server.store.tables import Poll

    out: list[dict[str, Any]] = []
    polls = s.scalars(select(Poll).where(Poll.meeting_id == m.id, Poll.state.in_(("closed", "cancelled")))
                      .order_by(Poll.closed_at, Poll.id))
    for p in polls:
        secret = PollKind(p.kind).is_secret
        entry: dict[str, Any] = {"item_id": p.agenda_item_id, "subject": p.title,
                                 "mode": "secret" if secret else "open"}
        if p.state == "cancelled":
            entry["lines"] = [f"Cuộc biểu quyết đã bị hủy. Lý do: {p.cancel_reason}"]
            entry["result"] = "Đã hủy"
        else:
            result = p.result or {}
            entry["lines"] = list(result.get("lines") or [])
            entry["result"] = verdict_vi(result)
            if result.get("passed") is not None:
                entry["passed"] = bool(result["passed"])
            if not secret:
                named: dict[str, list[str]] = {}
                for row in voting.named_list(s, p):
                    name = row["name"] + (f" ({PROXY_MARK})" if row["proxy"] else "")
                    named.setdefault(row["choice_label"], []).append(name)
                entry["named"] = named
        out.append(entry)
    return out


def _speeches(s: Session, m: Meeting) -> list[dict[str, Any]]:
    """Speeches, each `{"item_id", "speaker", "title"?, "from": "HH:MM", "to": "HH:MM"}`, in the order given."""
    from meeting_server.services import speakers

    out = []
    for h in speakers.history(s, m.id):
        end = h["ended_at"] or utcnow()
        out.append({"item_id": h["agenda_item_id"], "speaker": h["name"], "title": h["title"],
                    "from": _vn(h["started_at"]).strftime("%H:%M"),
                    "to": _vn(end).strftime("%H:%M")})
    return out


def _questions(s: Session, m: Meeting) -> list[dict[str, Any]]:
    """Question time, each `{"item_id", "asker", "asker_title", "addressee_name", "addressee_title", "topic",
    "status", "due_date"?}` in the chair's order (services.questions.history)."""
    from meeting_server.services import questions

    out = []
    for q in questions.history(s, m.id):
        entry = {"item_id": q["agenda_item_id"], "asker": q["asker"], "asker_title": q["asker_title"],
                 "addressee_name": q["addressee_name"], "addressee_title": q["addressee_title"],
                 "topic": q["topic"], "status": q["status"]}
        if q["due_date"] is not None:
            entry["due_date"] = q["due_date"].isoformat()
        out.append(entry)
    return out


def _documents(s: Session, m: Meeting) -> list[dict[str, Any]]:
    """Documents of each agenda item that were read in, each `{"item_id", "title", "confidential"}` and, for a
    draft delegates commented on, `"comments"`: the counts of its comments and their outcomes."""
    from meeting_server.services import comments
    from meeting_server.store.tables import Document

    docs = s.scalars(select(Document).where(Document.meeting_id == m.id, Document.status == "ready")
                     .order_by(Document.agenda_item_id, Document.position, Document.id))
    counts = comments.counts_by_document(s, m.id)
    out = []
    for d in docs:
        row: dict[str, Any] = {"item_id": d.agenda_item_id, "title": d.title or d.original_name,
                               "confidential": d.confidential}
        if d.id in counts:
            row["comments"] = counts[d.id]  # góp ý dự thảo: how many, and how they were answered
        out.append(row)
    return out


def _times(s: Session, m: Meeting) -> tuple[datetime, datetime]:
    """When the sitting opened and ended, from the audit log; the planned start and now stand in until then."""
    rows = s.execute(select(AuditEvent.kind, AuditEvent.at).where(
        AuditEvent.meeting_id == m.id, AuditEvent.kind.in_(("meeting.in_progress", "meeting.ended")))
        .order_by(AuditEvent.seq)).all()
    opened = next((datetime.fromisoformat(at) for kind, at in rows if kind == "meeting.in_progress"), None)
    closed = next((datetime.fromisoformat(at) for kind, at in reversed(rows) if kind == "meeting.ended"), None)
    start = opened or m.starts_at or utcnow()
    end = closed if closed is not None and m.status == "ended" else max(start, utcnow())
    return _vn(start), _vn(max(start, end))


def _term(text: str) -> tuple[str, str]:
    """"khóa I, nhiệm kỳ 2026 - 2031" → ("I", "2026 - 2031")."""
    match = _TERM.match(text or "")
    if not match:
        return text.strip() or "…", ""
    return match.group("term").strip() or "…", (match.group("years") or "").strip()


def _person(p: Participant) -> dict[str, Any]:
    return {"name": p.full_name, "title": p.title} if p.title else {"name": p.full_name}


def _attendance(p: Participant) -> dict[str, Any]:
    """A delegate's line in the attendance part: present, late (with the time), left early, or absent."""
    out = _person(p)
    a = p.attendance
    if a is None or a.status in ("unknown", "absent"):
        out["attendance"] = "absent"
        if a is not None and a.reason:
            out["reason"] = a.reason
    elif a.status == "left":
        out["attendance"] = "left_early"
        out["at"] = _vn(a.left_at or utcnow()).isoformat()
        if a.reason:
            out["reason"] = a.reason
    elif a.late:
        out["attendance"] = "late"
        out["at"] = _vn(a.arrived_at or utcnow()).isoformat()
    else:
        out["attendance"] = "present"
    return out
