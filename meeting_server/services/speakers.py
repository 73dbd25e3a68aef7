"""Requests to speak (đăng ký phát biểu): the queue per agenda item and the one floor per meeting, in the database.

The rules are domain.speakers; this module loads a meeting's requests, lets the rules decide, writes the result
back with an audit entry and a seq bump in the same transaction (each use case its own unit of work, whose `Change`
says `speakers`), and shapes what the screens show.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from meeting_server.domain import speakers as rules
from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.domain.principal import Principal
from meeting_server.services import audit, unit
from meeting_server.services.unit import Change, Done
from meeting_server.store.tables import AgendaItem, Meeting, Participant, SpeakerSetting, SpeakRequest, utcnow

__all__ = [
    "DEFAULT_LIMIT_S",
    "MIN_LIMIT_S",
    "MAX_LIMIT_S",
    "request",
    "withdraw",
    "give",
    "end",
    "set_time",
    "default_limit",
    "speakers_state",
    "history",
]

#: Five minutes unless the chair sets otherwise; no law fixes a speaking time for commune councils, the
#: standing rules of each sitting (nội quy kỳ họp) do, so it is a per-meeting setting.
DEFAULT_LIMIT_S = 300
MIN_LIMIT_S = 30
MAX_LIMIT_S = 3600

_NEW = "new"


def _lock(s: Session, m: Meeting) -> None:
    """Bump seq first (`unit.bump_locked`): the UPDATE takes the database's write lock before the requests are
    read, so two changes cannot both pass a rule check on the same old state."""
    unit.bump_locked(s, m)


def _rows(s: Session, meeting_id: int) -> list[SpeakRequest]:
    """All requests of a meeting in the order they were made (ties broken by insertion, as the rules expect)."""
    return list(s.scalars(select(SpeakRequest).where(SpeakRequest.meeting_id == meeting_id)
                          .order_by(SpeakRequest.requested_at, SpeakRequest.id)))


def _record(row: SpeakRequest) -> rules.SpeakRequest:
    return rules.SpeakRequest(
        id=str(row.id),
        delegate_id=str(row.participant_id),
        agenda_item_id=str(row.agenda_item_id),
        requested_at=row.requested_at,
        status=rules.RequestStatus(row.status),
        started_at=row.started_at,
        ended_at=row.ended_at,
    )


def _write_back(rows: list[SpeakRequest], records: tuple[rules.SpeakRequest, ...]) -> None:
    by_id = {str(r.id): r for r in rows}
    for rec in records:
        row = by_id.get(rec.id)
        if row is None:
            continue
        row.status = str(rec.status)
        row.started_at = rec.started_at
        row.ended_at = rec.ended_at


def _flush(s: Session) -> None:
    # The partial unique indexes back the rules up; should they ever fire, the person still gets a sentence.
    try:
        s.flush()
    except IntegrityError as err:
        s.rollback()
        raise DomainError("Danh sách phát biểu vừa thay đổi, hãy thử lại.", "speak.conflict") from err


def _participant(m: Meeting, participant_id: int) -> Participant | None:
    s = object_session(m)
    p = s.get(Participant, participant_id) if s is not None else None
    return p if p is not None and p.meeting_id == m.id else None


def _check_limit(limit_s: int) -> int:
    if isinstance(limit_s, bool) or not isinstance(limit_s, int) or not MIN_LIMIT_S <= limit_s <= MAX_LIMIT_S:
        raise DomainError("Thời gian phát biểu phải từ 30 giây đến 60 phút.", "speak.invalid_time")
    return limit_s


def default_limit(s: Session, meeting_id: int) -> int:
    """The meeting's default speaking time in seconds."""
    row = s.get(SpeakerSetting, meeting_id)
    return row.default_limit_s if row is not None else DEFAULT_LIMIT_S


#: What a request to speak is for: to speak on the item, or, during question time, a follow-up question (chất vấn
#: bổ sung) or debate (tranh luận) on the question on the floor.
KINDS = ("speak", "follow_up", "debate")


def request(s: Session, m: Meeting, who: Principal, kind: str = "speak") -> Done[SpeakRequest]:
    """A delegate asks for the floor on the current agenda item ("Xin phát biểu"); they join the end of the queue.
    A `follow_up` or `debate` request is linked to the question on the floor (services.questions)."""
    if who.participant_id is None or not who.is_delegate:
        raise DomainError("Chỉ đại biểu mới đăng ký phát biểu được.", "forbidden")
    if kind not in KINDS:
        raise DomainError("Loại đăng ký phát biểu không hợp lệ.", "speak.bad_kind")
    with unit.of_work(s):
        row = _request(s, m, who, kind)
    return Done(row, _changed(m))


def _changed(m: Meeting) -> Change:
    return unit.change(m, speakers=True)


def _request(s: Session, m: Meeting, who: Principal, kind: str = "speak") -> SpeakRequest:
    assert who.participant_id is not None
    _lock(s, m)
    question_id = None
    if kind != "speak":
        from meeting_server.services import questions

        q = questions.called(s, m.id)
        if q is None:
            raise DomainError("Chưa có câu hỏi chất vấn nào đang được trả lời.", "speak.no_question")
        question_id = q.id
    if m.status == "ended":
        raise DomainError("Kỳ họp đã bế mạc.", "speak.meeting_ended")
    if m.current_item_id is None:
        raise DomainError("Chủ tọa chưa bắt đầu nội dung nào để đăng ký phát biểu.", "speak.no_item")
    p = _participant(m, who.participant_id)
    if p is None:
        raise NotFound("Không tìm thấy đại biểu.")
    if p.attendance is not None and p.attendance.status in ("absent", "left"):
        raise DomainError("Bạn đang được ghi là vắng mặt hoặc đã về; hãy báo thư ký để điểm danh lại.",
                          "speak.not_present")
    rows = _rows(s, m.id)
    now = utcnow()
    try:
        rules.request_floor([_record(r) for r in rows], _NEW, str(p.id), str(m.current_item_id), now)
    except DomainError as err:
        if err.code == "speak.already_requested":
            # Said to the person who tapped, not about a third party.
            raise DomainError("Bạn đã đăng ký phát biểu ở nội dung này rồi.", err.code) from err
        raise
    row = SpeakRequest(meeting_id=m.id, agenda_item_id=m.current_item_id, participant_id=p.id, requested_at=now,
                       status=str(rules.RequestStatus.WAITING), kind=kind, question_id=question_id)
    s.add(row)
    _flush(s)
    entry: dict[str, Any] = {"request_id": row.id, "participant_id": p.id, "agenda_item_id": row.agenda_item_id}
    if kind != "speak":
        entry.update(kind=kind, question_id=question_id)
    audit.record(s, m.id, "speak.requested", who.actor, entry)
    return row


def withdraw(s: Session, m: Meeting, who: Principal, request_id: int | None = None,
             may_manage: bool = False) -> Done[SpeakRequest]:
    """Withdraw a waiting request ("Rút đăng ký"): a delegate their own on the current item; the chair
    (`may_manage`) any waiting request by id."""
    with unit.of_work(s):
        row = _withdraw(s, m, who, request_id, may_manage)
    return Done(row, _changed(m))


def _withdraw(s: Session, m: Meeting, who: Principal, request_id: int | None, may_manage: bool) -> SpeakRequest:
    _lock(s, m)
    rows = _rows(s, m.id)
    if request_id is None:
        row = next((r for r in rows if r.participant_id == who.participant_id
                    and r.agenda_item_id == m.current_item_id and r.status == rules.RequestStatus.WAITING), None)
        if row is None:
            raise DomainError("Bạn chưa đăng ký phát biểu ở nội dung này.", "speak.not_waiting")
    else:
        row = next((r for r in rows if r.id == request_id), None)
        if row is None:
            raise NotFound("Không tìm thấy đăng ký phát biểu.", "speak.not_found")
        if row.participant_id != who.participant_id and not may_manage:
            raise DomainError("Bạn chỉ rút được đăng ký của chính mình.", "forbidden")
    records = rules.withdraw([_record(r) for r in rows], str(row.id), utcnow())
    _write_back(rows, records)
    _flush(s)
    audit.record(s, m.id, "speak.withdrawn", who.actor,
                 {"request_id": row.id, "participant_id": row.participant_id, "agenda_item_id": row.agenda_item_id})
    return row


def give(s: Session, m: Meeting, request_id: int, limit_s: int | None, actor: str) -> Done[SpeakRequest]:
    """The chair gives the floor ("Mời phát biểu") for `limit_s` seconds (the meeting's default when None);
    whoever was speaking ends at the same instant."""
    limit = _check_limit(limit_s) if limit_s is not None else default_limit(s, m.id)
    with unit.of_work(s):
        row = _give(s, m, request_id, limit, actor)
    return Done(row, _changed(m))


def _give(s: Session, m: Meeting, request_id: int, limit: int, actor: str) -> SpeakRequest:
    _lock(s, m)
    rows = _rows(s, m.id)
    row = next((r for r in rows if r.id == request_id), None)
    if row is None:
        raise NotFound("Không tìm thấy đăng ký phát biểu.", "speak.not_found")
    before = next((r for r in rows if r.status == rules.RequestStatus.SPEAKING), None)
    records = rules.give_floor([_record(r) for r in rows], str(row.id), utcnow())
    # The previous speech ends in the database before the new one starts: the index allows one speaker per meeting.
    _write_back([r for r in rows if r is not row], records)
    _flush(s)
    _write_back([row], records)
    row.limit_s = limit
    _flush(s)
    audit.record(s, m.id, "speak.given", actor, {
        "request_id": row.id, "participant_id": row.participant_id, "agenda_item_id": row.agenda_item_id,
        "limit_s": limit, "ended_request_id": before.id if before is not None else None,
    })
    return row


def end(s: Session, m: Meeting, actor: str) -> Done[SpeakRequest]:
    """The chair ends the current speech ("Kết thúc")."""
    with unit.of_work(s):
        _lock(s, m)
        row = _end_speech(s, m, _rows(s, m.id), actor, {})
    return Done(row, _changed(m))


def _end_speech(s: Session, m: Meeting, rows: list[SpeakRequest], actor: str, why: dict[str, Any]) -> SpeakRequest:
    """End the speech under way among `rows` (the rules refuse when there is none) and record it, with `why`."""
    records = rules.end_speech([_record(r) for r in rows], utcnow())
    speaking = next(r for r in rows if r.status == rules.RequestStatus.SPEAKING)
    _write_back(rows, records)
    _flush(s)
    audit.record(s, m.id, "speak.ended", actor, {
        "request_id": speaking.id, "participant_id": speaking.participant_id,
        "agenda_item_id": speaking.agenda_item_id, **why,
    })
    return speaking


def end_when_item_changes(s: Session, m: Meeting, item_id: int | None, actor: str) -> SpeakRequest | None:
    """The chair moves the sitting to another agenda item: a speech on the item left ends at that instant, as a
    conference system closes the microphone; requests still waiting stay with their item for when it comes back.
    Returns the speech ended, if any. Called by meetings.set_current_item after it changed the meeting (its UPDATE,
    flushed before the requests are read, holds the write lock)."""
    rows = _rows(s, m.id)
    speaking = next((r for r in rows if r.status == rules.RequestStatus.SPEAKING), None)
    if speaking is None or speaking.agenda_item_id == item_id:
        return None
    return _end_speech(s, m, rows, actor, {"reason": "agenda.moved"})


def set_time(s: Session, m: Meeting, limit_s: int, actor: str, current: bool = False) -> Change:
    """Set the meeting's default speaking time or, with `current`, the time of the speech under way (to give
    a speaker more, or less, time)."""
    limit = _check_limit(limit_s)
    with unit.of_work(s):
        _set_time(s, m, limit, actor, current)
    return _changed(m)


def _set_time(s: Session, m: Meeting, limit: int, actor: str, current: bool) -> None:
    _lock(s, m)
    if current:
        speaking = s.scalar(select(SpeakRequest).where(SpeakRequest.meeting_id == m.id,
                                                       SpeakRequest.status == rules.RequestStatus.SPEAKING))
        if speaking is None:
            raise DomainError("Không có đại biểu nào đang phát biểu.", "speak.nobody_speaking")
        speaking.limit_s = limit
        audit.record(s, m.id, "speak.time_set", actor, {"request_id": speaking.id, "limit_s": limit})
        return
    row = s.get(SpeakerSetting, m.id)
    if row is None:
        row = SpeakerSetting(meeting_id=m.id, default_limit_s=limit)
        s.add(row)
    row.default_limit_s = limit
    audit.record(s, m.id, "speak.default_time_set", actor, {"limit_s": limit})


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _person(p: Participant | None) -> dict[str, Any]:
    return {"participant_id": p.id if p else None, "name": p.full_name if p else "", "title": p.title if p else ""}


def speakers_state(m: Meeting, who: Principal | None = None, now: datetime | None = None) -> dict[str, Any]:
    """What every screen shows of the speakers' list: the queue of the current item in order, who speaks with
    their time limit and end in server time, and who is next; `server_now_ms` lets a screen count down against
    the server's clock rather than its own. The same for every role: the list is public in the hall."""
    s = object_session(m)
    if s is None:
        raise RuntimeError("meeting is not attached to a session")
    now = now or utcnow()
    rows = _rows(s, m.id)
    by_id = {str(r.id): r for r in rows}
    speaking_row = next((r for r in rows if r.status == rules.RequestStatus.SPEAKING), None)
    default = default_limit(s, m.id)
    limit = (speaking_row.limit_s or default) if speaking_row is not None else default
    item = str(m.current_item_id) if m.current_item_id is not None else None
    floor = rules.floor_status([_record(r) for r in rows], limit, now, item)
    waiting = floor.waiting if item is not None else ()
    # Only the people on the list, not the whole roster: every phone that connects gets this.
    people = {pid: s.get(Participant, pid) for pid in {r.participant_id for r in rows}}
    queue = []
    for place, rec in enumerate(waiting, start=1):
        row = by_id[rec.id]
        queue.append({"request_id": row.id, "place": place, "requested_at": row.requested_at.isoformat(),
                      "kind": row.kind, "question_id": row.question_id, **_person(people.get(row.participant_id))})
    speaking: dict[str, Any] | None = None
    if floor.speaking is not None and speaking_row is not None and speaking_row.started_at is not None:
        ends_at = speaking_row.started_at + timedelta(seconds=limit)
        speaking = {
            "request_id": speaking_row.id,
            "kind": speaking_row.kind,
            "question_id": speaking_row.question_id,
            **_person(people.get(speaking_row.participant_id)),
            "agenda_item_id": speaking_row.agenda_item_id,
            "started_at": speaking_row.started_at.isoformat(),
            "started_at_ms": _ms(speaking_row.started_at),
            "limit_s": limit,
            "ends_at": ends_at.isoformat(),
            "ends_at_ms": _ms(ends_at),
            "remaining_s": floor.remaining_seconds,
            "over_time": floor.over_time,
        }
    nxt = None
    if floor.next is not None and item is not None:
        nrow = by_id[floor.next.id]
        nxt = {"request_id": nrow.id, "kind": nrow.kind, **_person(people.get(nrow.participant_id))}
    return {
        "seq": m.seq,
        "server_now_ms": _ms(now),
        "agenda_item_id": m.current_item_id,
        "default_limit_s": default,
        "queue": queue,
        "speaking": speaking,
        "next": nxt,
    }


def history(s: Session, meeting_id: int) -> list[dict[str, Any]]:
    """Who spoke on which agenda item, from when to when, in order of speaking, for the minutes.

    Times are aware UTC datetimes; `ended_at` is None while the speech is under way.
    """
    rows = s.execute(
        select(SpeakRequest, Participant, AgendaItem)
        .join(Participant, Participant.id == SpeakRequest.participant_id)
        .join(AgendaItem, AgendaItem.id == SpeakRequest.agenda_item_id)
        .where(SpeakRequest.meeting_id == meeting_id, SpeakRequest.started_at.is_not(None))
        .order_by(SpeakRequest.started_at, SpeakRequest.id)
    ).all()
    out = []
    for req, p, item in rows:
        started, ended = req.started_at, req.ended_at
        assert started is not None  # selected so above
        out.append({
            "request_id": req.id,
            "agenda_item_id": item.id,
            "agenda_item_position": item.position,
            "agenda_item_title": item.title,
            "participant_id": p.id,
            "name": p.full_name,
            "title": p.title,
            "started_at": started,
            "ended_at": ended,
            "limit_s": req.limit_s,
            "kind": req.kind,
            "question_id": req.question_id,
            "duration_s": (ended - started) // timedelta(seconds=1) if ended is not None else None,
        })
    return out
