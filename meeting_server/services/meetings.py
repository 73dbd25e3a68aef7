"""Setting a meeting up and running its agenda."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain import limits
from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.domain.roster import fold
from meeting_server.services import audit, unit
from meeting_server.services.tokens import new_token
from meeting_server.services.unit import Change, Done
from meeting_server.store.tables import AgendaItem, Meeting, Participant

QUORUM_RULES = ("two_thirds", "more_than_half")
LEVELS = ("xã", "phường", "thị trấn", "đặc khu")


@dataclass(frozen=True)
class MeetingFields:
    """What the clerk fills in for a meeting."""

    council_level: str
    locality: str
    session_title: str
    term: str
    place: str
    starts_at: datetime | None
    seated_count: int
    quorum_rule: str = "two_thirds"

    def check(self) -> MeetingFields:
        """Refuse what would make thresholds or the minutes wrong; the fields as they will be stored (texts cleaned
        and within their limits, domain/limits.py)."""
        if self.council_level not in LEVELS:
            raise DomainError("Cấp hành chính không hợp lệ.", "meeting.invalid")
        cleaned = replace(
            self,
            locality=limits.clean(limits.MEETING_LOCALITY, self.locality),
            session_title=limits.clean(limits.MEETING_SESSION_TITLE, self.session_title),
            term=limits.clean(limits.MEETING_TERM, self.term),
            place=limits.clean(limits.MEETING_PLACE, self.place),
        )
        if not cleaned.locality:
            raise DomainError("Hãy nhập tên xã/phường.", "meeting.invalid")
        if not cleaned.session_title:
            raise DomainError("Hãy nhập tên kỳ họp.", "meeting.invalid")
        if isinstance(self.seated_count, bool) or not isinstance(self.seated_count, int):
            raise DomainError("Tổng số đại biểu phải là số nguyên.", "meeting.invalid")
        if not 1 <= self.seated_count <= 500:
            raise DomainError("Tổng số đại biểu phải từ 1 đến 500.", "meeting.invalid")
        if self.quorum_rule not in QUORUM_RULES:
            raise DomainError("Quy tắc số đại biểu tối thiểu không hợp lệ.", "meeting.invalid")
        return cleaned

    @property
    def council_name(self) -> str:
        return f"Hội đồng nhân dân {self.council_level} {self.locality.strip()}"


def get(s: Session, meeting_id: int) -> Meeting:
    """The meeting or NotFound."""
    m = s.get(Meeting, meeting_id)
    if m is None:
        raise NotFound("Không tìm thấy kỳ họp.")
    return m


def current(s: Session) -> Meeting | None:
    """The meeting the room is set up for: the newest that has not ended, else the newest."""
    m = s.scalar(select(Meeting).where(Meeting.status != "ended").order_by(Meeting.id.desc()).limit(1))
    return m or s.scalar(select(Meeting).order_by(Meeting.id.desc()).limit(1))


def create(s: Session, f: MeetingFields, actor: str) -> Meeting:
    """A new meeting with its own projector and room tokens, and a clerk card (no screen shows it yet: nothing to
    announce)."""
    f = f.check()
    with unit.of_work(s):
        m = _create(s, f, actor)
    return m


def _create(s: Session, f: MeetingFields, actor: str) -> Meeting:
    m = Meeting(
        council_name=f.council_name,
        council_level=f.council_level,
        locality=f.locality.strip(),
        session_title=f.session_title.strip(),
        term=f.term.strip(),
        place=f.place.strip(),
        starts_at=f.starts_at,
        seated_count=f.seated_count,
        quorum_rule=f.quorum_rule,
        kiosk_token=new_token(),
        guest_token=new_token(),
    )
    s.add(m)
    s.flush()
    s.add(Participant(meeting_id=m.id, position=0, full_name="Văn phòng HĐND", title="Thư ký", role="clerk",
                      token=new_token()))
    audit.record(s, m.id, "meeting.created", actor, _fields_dict(f))
    return m


def update(s: Session, m: Meeting, f: MeetingFields, actor: str) -> Change:
    """Change the meeting's details."""
    f = f.check()
    with unit.of_work(s):
        _update(s, m, f, actor)
    return unit.change(m, state=True)


def _update(s: Session, m: Meeting, f: MeetingFields, actor: str) -> None:
    m.council_name = f.council_name
    m.council_level = f.council_level
    m.locality = f.locality.strip()
    m.session_title = f.session_title.strip()
    m.term = f.term.strip()
    m.place = f.place.strip()
    m.starts_at = f.starts_at
    m.seated_count = f.seated_count
    m.quorum_rule = f.quorum_rule
    unit.bump(m)
    audit.record(s, m.id, "meeting.updated", actor, _fields_dict(f))


def _fields_dict(f: MeetingFields) -> dict[str, Any]:
    return {
        "council_name": f.council_name,
        "session_title": f.session_title,
        "term": f.term,
        "place": f.place,
        "starts_at": f.starts_at.isoformat() if f.starts_at else None,
        "seated_count": f.seated_count,
        "quorum_rule": f.quorum_rule,
    }


def add_item(s: Session, m: Meeting, title: str, description: str, actor: str) -> Done[AgendaItem]:
    """Append an agenda item."""
    title, description = _item_texts(title, description)
    with unit.of_work(s):
        item = AgendaItem(meeting_id=m.id, position=len(m.items) + 1, title=title, description=description)
        m.items.append(item)
        s.flush()
        unit.bump(m)
        audit.record(s, m.id, "agenda.item_added", actor, {"item_id": item.id, "title": title})
    return Done(item, unit.change(m, state=True))


def edit_item(s: Session, m: Meeting, item_id: int, title: str, description: str, actor: str) -> Change:
    """Rename an agenda item."""
    item = _item(m, item_id)
    title, description = _item_texts(title, description)
    with unit.of_work(s):
        item.title, item.description = title, description
        unit.bump(m)
        audit.record(s, m.id, "agenda.item_edited", actor, {"item_id": item.id, "title": item.title})
    return unit.change(m, state=True)


def _item_texts(title: str, description: str) -> tuple[str, str]:
    """An item's title and description as stored (domain/limits.py); a title is required."""
    title = limits.clean(limits.AGENDA_TITLE, title)
    if not title:
        raise DomainError("Hãy nhập tên nội dung.", "agenda.invalid")
    return title, limits.clean(limits.AGENDA_DESCRIPTION, description).strip()


def move_item(s: Session, m: Meeting, item_id: int, delta: int, actor: str) -> Change | None:
    """Move an item up (-1) or down (+1) in the order (None: already first or last, nothing changed)."""
    items = list(m.items)
    item = _item(m, item_id)
    i = items.index(item)
    j = i + delta
    if not 0 <= j < len(items):
        return None
    with unit.of_work(s):
        items[i], items[j] = items[j], items[i]
        for pos, it in enumerate(items, start=1):
            it.position = pos
        unit.bump(m)
        audit.record(s, m.id, "agenda.reordered", actor, {"order": [it.id for it in items]})
    return unit.change(m, state=True)


def delete_item(s: Session, m: Meeting, item_id: int, actor: str) -> Change:
    """Remove an agenda item that is not the current one."""
    item = _item(m, item_id)
    if m.current_item_id == item.id:
        raise DomainError("Không thể xóa nội dung đang diễn ra.", "agenda.current")
    with unit.of_work(s):
        if _item_has_record(s, item.id):
            raise DomainError("Nội dung này đã có tài liệu, phát biểu hoặc biểu quyết; không thể xóa.",
                              "agenda.on_record")
        m.items.remove(item)
        for pos, it in enumerate(m.items, start=1):
            it.position = pos
        unit.bump(m)
        audit.record(s, m.id, "agenda.item_deleted", actor, {"item_id": item_id, "title": item.title})
    return unit.change(m, state=True)


def _item_has_record(s: Session, item_id: int) -> bool:
    """Documents, speeches or polls hang on the item: deleting it would cut them out of the minutes."""
    from sqlalchemy import exists

    from meeting_server.store.tables import Document, Poll, SpeakRequest

    return bool(s.scalar(select(
        exists().where(Document.agenda_item_id == item_id)
        | exists().where(SpeakRequest.agenda_item_id == item_id)
        | exists().where(Poll.agenda_item_id == item_id))))


def set_current_item(s: Session, m: Meeting, item_id: int | None, actor: str, *,
                     keep_presentation: bool = False) -> Change:
    """The chair moves the sitting to an agenda item (or to none); a speech on the item left ends with it, and so
    does the presentation (the projector follows the agenda) unless the chair keeps it (`keep_presentation`, the
    box "giữ tài liệu trên màn chiếu"); every screen's new `state` shows what is presented then."""
    from meeting_server.services import documents, speakers

    if item_id is not None:
        _item(m, item_id)
    with unit.of_work(s):
        moved = item_id != m.current_item_id
        m.current_item_id = item_id
        unit.bump(m)
        kept = {"keep_presentation": True} if keep_presentation else {}
        audit.record(s, m.id, "agenda.current", actor, {"item_id": item_id, **kept})
        speakers.end_when_item_changes(s, m, item_id, actor)
        if moved and not keep_presentation:
            documents.stop_presenting(s, m, actor, "agenda.current")
    return unit.change(m, state=True)


def set_status(s: Session, m: Meeting, status: str, actor: str, *, below_quorum_ok: bool = False) -> Change:
    """Open (khai mạc) or end (bế mạc) the sitting.

    Opening with fewer delegates present than the quorum (domain/quorum.py) is refused with the counts unless the
    chair confirms it (`below_quorum_ok`): the rule is practice, not law (hdnd-rules.md), so the chair decides,
    knowingly, and the audit log keeps the counts the sitting was opened with.
    """
    if m.status == "ended":
        # Once ended (bế mạc), the sitting's record is the minutes' content: it is not opened again (a new sitting
        # is a new meeting).
        raise DomainError("Kỳ họp đã bế mạc, không thể khai mạc lại. Muốn họp tiếp, hãy tạo kỳ họp mới.",
                          "meeting.ended")
    allowed = {"draft": ("in_progress",), "in_progress": ("ended",)}
    if status not in allowed.get(m.status, ()):
        raise DomainError("Không thể chuyển kỳ họp sang trạng thái này.", "meeting.status")
    data: dict[str, Any] = {}
    if status == "in_progress":
        from meeting_server.services import attendance

        a = attendance.summary(m)
        if not a.quorate and not below_quorum_ok:
            raise DomainError("Chưa đủ số đại biểu để tiến hành kỳ họp: có mặt %(present)d/%(seated)d, cần ít nhất "
                              "%(required)d. Vẫn khai mạc?", "meeting.below_quorum",
                              params={"present": a.present, "seated": a.seated, "required": a.required})
        data = {"present": a.present, "seated": a.seated, "required": a.required}
    with unit.of_work(s):
        m.status = status
        unit.bump(m)
        audit.record(s, m.id, f"meeting.{status}", actor, data)
    return unit.change(m, state=True)


def _item(m: Meeting, item_id: int) -> AgendaItem:
    for it in m.items:
        if it.id == item_id:
            return it
    raise NotFound("Không tìm thấy nội dung trong chương trình.")


def of_council(s: Session, m: Meeting) -> list[Meeting]:
    """The meetings of `m`'s council (same level and locality, however the locality's case or accents were typed),
    newest first: the clerk's list to switch between."""
    key = _council_key(m)
    rows = s.scalars(select(Meeting).where(Meeting.council_level == m.council_level).order_by(Meeting.id.desc()))
    return [x for x in rows if _council_key(x) == key]


def _council_key(m: Meeting) -> tuple[str, str]:
    return m.council_level, fold(m.locality)


def clerk_token_of(s: Session, m: Meeting, target_id: int, actor: str) -> str:
    """The clerk card of another meeting of the same council, for the clerk of `m` who switches to it (the server
    opens a session for it: the token never reaches the browser). Another council's meeting is not found: a clerk
    card reaches its own council only. Audited server-wide (the target may be signed, hence frozen)."""
    target = s.get(Meeting, target_id)
    if target is None or _council_key(target) != _council_key(m):
        raise NotFound("Không tìm thấy kỳ họp.")
    clerk = next((p for p in target.participants if p.role == "clerk"), None)
    if clerk is None:
        raise NotFound("Không tìm thấy kỳ họp.")
    with unit.of_work(s):
        audit.record(s, None, "clerk.switched", actor, {"from_meeting": m.id, "to_meeting": target.id})
    return clerk.token
