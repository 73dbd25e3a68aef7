"""Question time (chất vấn và trả lời chất vấn) in the database: one function per use case.

The rules are domain.questions; each use case locks the meeting (`unit.bump_locked`), loads its questions, lets
the rules decide, writes the result back with an audit entry in the same unit of work, and returns the `Change`
(`questions`, and `speakers` when follow-ups change with it) for realtime.announce. `questions_state` shapes what
the screens show; `owed` the clerk's list of written answers still due; `history` the minutes' part.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from meeting_server.domain import limits
from meeting_server.domain import questions as rules
from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.domain.principal import Principal
from meeting_server.domain.timefmt import VN
from meeting_server.services import audit, clock, unit
from meeting_server.services.unit import Change, Done
from meeting_server.store.tables import AgendaItem, Meeting, Participant, Question, utcnow

__all__ = [
    "file",
    "file_on_paper",
    "reorder",
    "call",
    "start_answer",
    "end",
    "withdraw",
    "written_answer_received",
    "questions_state",
    "owed",
    "history",
    "today",
    "called",
]

_NEW = "new"


def today(s: Session) -> date:
    """Today in Vietnam, by the clerk-corrected clock (a due date is a Vietnamese calendar date)."""
    return clock.corrected(s).astimezone(VN).date()


def _rows(s: Session, meeting_id: int) -> list[Question]:
    return list(s.scalars(select(Question).where(Question.meeting_id == meeting_id)
                          .order_by(Question.position, Question.id)))


def _record(row: Question) -> rules.Question:
    return rules.Question(
        id=str(row.id), asker_id=str(row.participant_id), addressee_name=row.addressee_name,
        addressee_title=row.addressee_title, topic=row.topic, text=row.text, filed_at=row.filed_at,
        position=row.position, status=rules.Status(row.status), called_at=row.called_at,
        answer_started_at=row.answer_started_at, ended_at=row.ended_at, due_date=row.due_date)


def _write_back(rows: list[Question], records: tuple[rules.Question, ...]) -> None:
    by_id = {str(r.id): r for r in rows}
    for rec in records:
        row = by_id.get(rec.id)
        if row is None:
            continue
        row.position = rec.position
        row.status = str(rec.status)
        row.called_at = rec.called_at
        row.answer_started_at = rec.answer_started_at
        row.ended_at = rec.ended_at
        row.due_date = rec.due_date


def _flush(s: Session) -> None:
    # The partial unique index backs the one-on-the-floor rule up; should it fire, the person gets a sentence.
    try:
        s.flush()
    except IntegrityError as err:
        s.rollback()
        raise DomainError("Danh sách chất vấn vừa thay đổi, hãy thử lại.", "question.conflict") from err


def _changed(m: Meeting, speakers: bool = False) -> Change:
    return unit.change(m, questions=True, speakers=speakers)


def _row(rows: list[Question], question_id: int) -> Question:
    row = next((r for r in rows if r.id == question_id), None)
    if row is None:
        raise NotFound("Không tìm thấy câu hỏi chất vấn.", "question.not_found")
    return row


def _texts(fields: dict[str, Any]) -> tuple[str, str, str, str]:
    """The four texts of a question, cleaned and within their limits (domain.limits), or the refusal naming one."""
    return (limits.clean(limits.QUESTION_ADDRESSEE_NAME, fields.get("addressee_name", "")),
            limits.clean(limits.QUESTION_ADDRESSEE_TITLE, fields.get("addressee_title", "")),
            limits.clean(limits.QUESTION_TOPIC, fields.get("topic", "")),
            limits.clean(limits.QUESTION_TEXT, fields.get("text", "")).strip())


def file(s: Session, m: Meeting, who: Principal, fields: dict[str, Any]) -> Done[Question]:
    """A delegate files a question of their own (before or during the session)."""
    if who.participant_id is None or not who.is_delegate:
        raise DomainError("Chỉ đại biểu mới gửi chất vấn được.", "forbidden")
    texts = _texts(fields)
    with unit.of_work(s):
        row = _file(s, m, who.participant_id, texts, who.actor, on_paper=False)
    return Done(row, _changed(m))


def file_on_paper(s: Session, m: Meeting, participant_id: int, fields: dict[str, Any], actor: str) -> Done[Question]:
    """The clerk files a delegate's question from a paper form (phiếu chất vấn)."""
    texts = _texts(fields)
    with unit.of_work(s):
        p = s.get(Participant, participant_id)
        if p is None or p.meeting_id != m.id or p.role not in ("chair", "secretary", "delegate"):
            raise DomainError("Hãy chọn đại biểu đặt câu hỏi.", "question.no_asker")
        row = _file(s, m, participant_id, texts, actor, on_paper=True)
    return Done(row, _changed(m))


def _file(s: Session, m: Meeting, participant_id: int, texts: tuple[str, str, str, str], actor: str, *,
          on_paper: bool) -> Question:
    unit.bump_locked(s, m)
    rows = _rows(s, m.id)
    now = utcnow()
    name, title, topic, text = texts
    records = rules.file([_record(r) for r in rows], _NEW, str(participant_id), name, title, topic, text, now,
                         meeting_ended=m.status == "ended")
    new = records[-1]
    row = Question(meeting_id=m.id, participant_id=participant_id, addressee_name=name, addressee_title=title,
                   topic=topic, text=text, on_paper=on_paper, filed_at=now, filed_by=actor, position=new.position,
                   status=str(new.status), ended_by="")
    s.add(row)
    _flush(s)
    audit.record(s, m.id, "question.filed", actor,
                 {"question_id": row.id, "participant_id": participant_id, "addressee_name": name,
                  "addressee_title": title, "topic": topic, "on_paper": on_paper})
    return row


def reorder(s: Session, m: Meeting, order: Sequence[int], actor: str) -> Change:
    """The chair's order of the waiting questions (every waiting question's id, once)."""
    with unit.of_work(s):
        unit.bump_locked(s, m)
        rows = _rows(s, m.id)
        records = rules.reorder([_record(r) for r in rows], [str(i) for i in order])
        _write_back(rows, records)
        _flush(s)
        audit.record(s, m.id, "question.reordered", actor, {"order": list(order)})
    return _changed(m)


def call(s: Session, m: Meeting, question_id: int, actor: str) -> Done[Question]:
    """The chair calls a question ("Mời chất vấn") during the current agenda item (question time): the projector
    shows it, its asker and the one questioned, with the asker's clock."""
    with unit.of_work(s):
        unit.bump_locked(s, m)
        if m.status != "in_progress":
            raise DomainError("Kỳ họp chưa khai mạc hoặc đã bế mạc.", "question.not_in_session")
        if m.current_item_id is None:
            raise DomainError("Hãy chuyển sang nội dung chất vấn trong chương trình trước.", "question.no_item")
        rows = _rows(s, m.id)
        row = _row(rows, question_id)
        records = rules.call([_record(r) for r in rows], str(question_id), utcnow())
        _write_back(rows, records)
        row.agenda_item_id = m.current_item_id
        _flush(s)
        audit.record(s, m.id, "question.called", actor,
                     {"question_id": row.id, "agenda_item_id": row.agenda_item_id})
    return Done(row, _changed(m))


def start_answer(s: Session, m: Meeting, question_id: int, actor: str) -> Done[Question]:
    """The chair invites the one questioned to answer ("Mời trả lời"): the answer's clock starts."""
    with unit.of_work(s):
        unit.bump_locked(s, m)
        rows = _rows(s, m.id)
        row = _row(rows, question_id)
        _write_back(rows, rules.start_answer([_record(r) for r in rows], str(question_id), utcnow()))
        _flush(s)
        audit.record(s, m.id, "question.answering", actor, {"question_id": row.id})
    return Done(row, _changed(m))


def parse_due(value: Any) -> date | None:
    """A due date as the form sends it ("YYYY-MM-DD"), or None when empty."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise DomainError("Hạn trả lời không hợp lệ.", "question.bad_due_date")
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise DomainError("Hạn trả lời không hợp lệ.", "question.bad_due_date") from None


def end(s: Session, m: Meeting, question_id: int, outcome: str, due: date | None, actor: str) -> Done[Question]:
    """The chair ends a question: answered in the hall, to be answered in writing by `due`, or withdrawn. Waiting
    follow-up and debate requests on it leave the speakers' list with it."""
    with unit.of_work(s):
        unit.bump_locked(s, m)
        rows = _rows(s, m.id)
        row = _row(rows, question_id)
        _write_back(rows, rules.end([_record(r) for r in rows], str(question_id), outcome, utcnow(), today(s), due))
        row.ended_by = actor
        _flush(s)
        audit.record(s, m.id, "question.ended", actor,
                     {"question_id": row.id, "outcome": row.status,
                      "due_date": row.due_date.isoformat() if row.due_date else None})
        followups = _drop_followups(s, m, row.id, actor)
    return Done(row, _changed(m, speakers=followups))


def _drop_followups(s: Session, m: Meeting, question_id: int, actor: str) -> bool:
    """Waiting follow-up and debate requests on an ended question are withdrawn; says whether there were any."""
    from meeting_server.store.tables import SpeakRequest

    waiting = list(s.scalars(select(SpeakRequest).where(SpeakRequest.question_id == question_id,
                                                        SpeakRequest.status == "waiting")))
    for r in waiting:
        r.status = "withdrawn"
        r.ended_at = utcnow()
        audit.record(s, m.id, "speak.withdrawn", actor,
                     {"request_id": r.id, "participant_id": r.participant_id, "agenda_item_id": r.agenda_item_id,
                      "reason": "question.ended"})
    return bool(waiting)


def withdraw(s: Session, m: Meeting, who: Principal, question_id: int) -> Done[Question]:
    """The asker withdraws their own question ("Rút câu hỏi") while it waits or is on the floor."""
    if who.participant_id is None:
        raise DomainError("Bạn chỉ rút được câu hỏi của chính mình.", "forbidden")
    with unit.of_work(s):
        unit.bump_locked(s, m)
        rows = _rows(s, m.id)
        row = _row(rows, question_id)
        _write_back(rows, rules.withdraw([_record(r) for r in rows], str(question_id), str(who.participant_id),
                                         utcnow()))
        row.ended_by = who.actor
        _flush(s)
        audit.record(s, m.id, "question.withdrawn", who.actor, {"question_id": row.id})
        followups = _drop_followups(s, m, row.id, who.actor)
    return Done(row, _changed(m, speakers=followups))


def written_answer_received(s: Session, m: Meeting, question_id: int, actor: str) -> Done[Question]:
    """The clerk records that the written answer owed came ("Đã nhận trả lời")."""
    with unit.of_work(s):
        unit.bump_locked(s, m)
        rows = _rows(s, m.id)
        row = _row(rows, question_id)
        _write_back(rows, rules.answered_in_writing([_record(r) for r in rows], str(question_id), utcnow()))
        row.written_answer_at = utcnow()
        _flush(s)
        audit.record(s, m.id, "question.written_answer", actor, {"question_id": row.id})
    return Done(row, _changed(m))


def called(s: Session, meeting_id: int) -> Question | None:
    """The question on the floor, if any (the speakers' follow-ups are linked to it)."""
    return s.scalar(select(Question).where(Question.meeting_id == meeting_id, Question.status == "called"))


def _ms(t: datetime) -> int:
    return int(t.timestamp() * 1000)


def _view(q: Question, people: dict[int, Participant | None], day: date) -> dict[str, Any]:
    p = people.get(q.participant_id)
    return {
        "id": q.id, "position": q.position, "status": q.status,
        "asker_id": q.participant_id, "asker_name": p.full_name if p else "", "asker_title": p.title if p else "",
        "addressee_name": q.addressee_name, "addressee_title": q.addressee_title,
        "topic": q.topic, "text": q.text, "on_paper": q.on_paper, "filed_at": q.filed_at.isoformat(),
        "due_date": q.due_date.isoformat() if q.due_date else None,
        "overdue": q.status == rules.Status.WRITTEN and q.due_date is not None and q.due_date < day,
    }


def questions_state(m: Meeting, now: datetime | None = None) -> dict[str, Any]:
    """What every screen shows of question time: the questions in the chair's order (the list is public in the
    hall, like the speakers'), the one on the floor with its phase and its clock's end in server time
    (`server_now_ms` lets a screen count down against the server's clock), and the written answers owed."""
    s = object_session(m)
    if s is None:
        raise RuntimeError("meeting is not attached to a session")
    now = now or utcnow()
    day = today(s)
    rows = _rows(s, m.id)
    people = {pid: s.get(Participant, pid) for pid in {r.participant_id for r in rows}}
    by_id = {str(r.id): r for r in rows}
    records = rules.ordered([_record(r) for r in rows])
    listing = [_view(by_id[rec.id], people, day) for rec in records]
    current = None
    cur = rules.current(records)
    if cur is not None:
        row = by_id[cur.id]
        answering = row.answer_started_at is not None
        start = row.answer_started_at if answering else row.called_at
        limit = rules.ANSWER_LIMIT_S if answering else rules.ASK_LIMIT_S
        assert start is not None
        ends_at = start + timedelta(seconds=limit)
        current = {**_view(row, people, day), "phase": cur.phase, "limit_s": limit,
                   "started_at_ms": _ms(start), "ends_at_ms": _ms(ends_at),
                   "remaining_s": rules.remaining_seconds(cur, rules.ASK_LIMIT_S, rules.ANSWER_LIMIT_S, now)}
    return {
        "seq": m.seq,
        "server_now_ms": _ms(now),
        "today": day.isoformat(),
        "default_due_date": (day + timedelta(days=rules.WRITTEN_ANSWER_DAYS)).isoformat(),
        "questions": listing,
        "current": current,
        "owed": [_view(by_id[q.id], people, day) for q in rules.owed(records)],
    }


def owed(s: Session, meeting_id: int) -> list[dict[str, Any]]:
    """The written answers still owed for a meeting, soonest due first, each with `overdue`."""
    m = s.get(Meeting, meeting_id)
    if m is None:
        return []
    state = questions_state(m)
    owed_list: list[dict[str, Any]] = state["owed"]
    return owed_list


def history(s: Session, meeting_id: int) -> list[dict[str, Any]]:
    """Every question of a meeting that was filed, in the chair's order, with the asker, the one questioned, the
    agenda item it was called under and how it ended, for the minutes."""
    rows = _rows(s, meeting_id)
    records = rules.ordered([_record(r) for r in rows])
    by_id = {str(r.id): r for r in rows}
    out = []
    for rec in records:
        q = by_id[rec.id]
        p = s.get(Participant, q.participant_id)
        item = s.get(AgendaItem, q.agenda_item_id) if q.agenda_item_id is not None else None
        out.append({"question_id": q.id, "agenda_item_id": item.id if item else None,
                    "asker": p.full_name if p else "", "asker_title": p.title if p else "",
                    "addressee_name": q.addressee_name, "addressee_title": q.addressee_title,
                    "topic": q.topic, "text": q.text, "status": q.status, "on_paper": q.on_paper,
                    "due_date": q.due_date, "called_at": q.called_at})
    return out
