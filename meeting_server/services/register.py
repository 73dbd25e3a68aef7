"""The council's register of resolutions: every poll that passed a motion, in every session of the council, with the
number and date of issue the clerk gives it after the session (domain/register.py has the rules).

The vote and its counts are the poll's stored result (what the projector announced and the minutes print); the
register adds only what is decided after the sitting, in `resolution`, with an audit entry a signed meeting still
takes (`register.`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.documents.textsearch import fold_vietnamese
from meeting_server.domain import limits
from meeting_server.domain import register as rules
from meeting_server.domain.errors import DomainError
from meeting_server.domain.payload import fields, integer, text
from meeting_server.services import audit, unit
from meeting_server.store.tables import Document, Meeting, MinutesDraft, Poll, Resolution, utcnow

__all__ = ["council_meetings", "entries", "save"]


def council_meetings(s: Session, m: Meeting) -> list[Meeting]:
    """Every session of the council `m` belongs to (the same council's name), in the order they sat."""
    rows = list(s.scalars(select(Meeting).where(Meeting.council_name == m.council_name)))
    return sorted(rows, key=session_sort_key)


def session_sort_key(m: Meeting) -> tuple[str, int]:
    """Sessions in the order they sat: their start (else their creation), then their id."""
    when = m.starts_at or m.created_at
    return (when.isoformat() if when else "", m.id)


def _draft_document(s: Session, p: Poll) -> Document | None:
    """The document a resolution is most likely the text of: on the poll's agenda item, the one whose title says
    "nghị quyết" (the draft), else the item's first."""
    if p.agenda_item_id is None:
        return None
    docs = list(s.scalars(select(Document).where(Document.agenda_item_id == p.agenda_item_id,
                                                 Document.status == "ready")
                          .order_by(Document.position, Document.id)))
    for d in docs:
        if "nghi quyet" in fold_vietnamese(d.title):
            return d
    return docs[0] if docs else None


def entries(s: Session, m: Meeting, only: Collection[int] | None = None) -> list[dict[str, Any]]:
    """The register of `m`'s council: one row per resolution, sessions in the order they sat, polls in the order
    they closed (with `only`, the rows of those polls alone)."""
    meetings = council_meetings(s, m)
    ids = [x.id for x in meetings]
    if not ids:
        return []
    finals: dict[int, int] = {}
    for d in s.scalars(select(MinutesDraft).where(MinutesDraft.meeting_id.in_(ids), MinutesDraft.status == "final")):
        finals[d.meeting_id] = max(finals.get(d.meeting_id, 0), d.version)
    registered = {r.poll_id: r for r in s.scalars(select(Resolution).where(Resolution.meeting_id.in_(ids)))}
    by_id = {x.id: x for x in meetings}
    rows: list[dict[str, Any]] = []
    chosen = select(Poll).where(Poll.meeting_id.in_(ids), Poll.state == "closed")
    if only is not None:
        chosen = chosen.where(Poll.id.in_(sorted(only)))
    polls = s.scalars(chosen.order_by(Poll.closed_at, Poll.id))
    order = {mid: k for k, mid in enumerate(ids)}
    for p in sorted(polls, key=lambda p: order[p.meeting_id]):
        if not rules.is_resolution(p.kind, p.result):
            continue
        reg = registered.get(p.id)
        doc = s.get(Document, reg.document_id) if reg is not None and reg.document_id else _draft_document(s, p)
        session = by_id[p.meeting_id]
        rows.append({
            "poll_id": p.id,
            "meeting_id": p.meeting_id,
            "session": session.session_title,
            "term": session.term,
            "number": reg.number if reg else "",
            "issued_on": reg.issued_on if reg else "",
            "issued_on_text": rules.format_issued_on(reg.issued_on if reg else ""),
            "title": (reg.title if reg and reg.title else p.title),
            "subject": p.title,
            "mode": "open" if p.kind == "open" else "secret",
            "votes": rules.vote_summary(p.result),
            "closed_at": p.closed_at.isoformat() if p.closed_at else "",
            "document_id": doc.id if doc else None,
            "document_title": doc.title if doc else "",
            "document_confidential": bool(doc.confidential) if doc else False,
            "minutes_version": finals.get(p.meeting_id),
        })
    return rows


def save(s: Session, m: Meeting, poll_id: Any, body: Mapping[str, Any], actor: str) -> dict[str, Any]:
    """Give a resolution of `m`'s council its number, date of issue, title (trích yếu) and document.

    Refused, changing nothing: a poll that is not a resolution of this council, a number already given to another
    resolution of the council, an invalid date, a text over its limit, a document of another session.
    """
    f = fields(body)
    if isinstance(poll_id, bool) or not isinstance(poll_id, int):
        raise DomainError("Không tìm thấy nghị quyết này.", "register.not_found")
    p = s.get(Poll, poll_id)
    council = {x.id for x in council_meetings(s, m)}
    if p is None or p.meeting_id not in council or p.state != "closed" or not rules.is_resolution(p.kind, p.result):
        raise DomainError("Không tìm thấy nghị quyết này.", "register.not_found")
    number = limits.clean(limits.RESOLUTION_NUMBER, text(f, "number", ""))
    title = limits.clean(limits.RESOLUTION_TITLE, text(f, "title", ""))
    issued_on = rules.parse_issued_on(text(f, "issued_on", ""))
    document_id = integer(f, "document_id", allow_none=True)
    if document_id is not None:
        d = s.get(Document, document_id)
        if d is None or d.meeting_id != p.meeting_id:
            raise DomainError("Tài liệu này không thuộc kỳ họp của nghị quyết.", "register.invalid_document")
    if number:
        key = rules.number_key(number)
        year = issued_on[:4]
        for other in s.scalars(select(Resolution).where(Resolution.meeting_id.in_(sorted(council)),
                                                        Resolution.poll_id != p.id)):
            if other.number and rules.number_key(other.number) == key and other.issued_on[:4] == year:
                taken = s.get(Poll, other.poll_id)
                raise DomainError("Số nghị quyết «%(number)s» đã dùng cho «%(title)s».", "register.number_taken",
                                  params={"number": number, "title": other.title or (taken.title if taken else "")})
    with unit.of_work(s):
        reg = s.get(Resolution, p.id)
        if reg is None:
            reg = Resolution(poll_id=p.id, meeting_id=p.meeting_id)
            s.add(reg)
        reg.number, reg.issued_on, reg.title, reg.document_id = number, issued_on, title, document_id
        reg.updated_at = utcnow()
        audit.record(s, p.meeting_id, "register.resolution", actor,
                     {"poll_id": p.id, "number": number, "issued_on": issued_on, "title": title,
                      "document_id": document_id})
    return {"poll_id": p.id, "number": number, "issued_on": issued_on, "title": title, "document_id": document_id}

