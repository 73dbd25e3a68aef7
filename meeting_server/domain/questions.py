"""Question time (chất vấn và trả lời chất vấn), as pure functions over a meeting's question records.

A delegate (or the clerk, from a paper form) files a question addressed to an official or body; the chair orders
the questions, calls one (the asker puts it, then the one questioned answers, each against a time limit), and ends
it as answered in the hall, to be answered in writing by a due date, or withdrawn (by its asker or the chair).

Law: Law 77/2015 on Local Government Organisation Art. 96.1 (a delegate may question the chair, vice-chairs and
members of the commune People's Committee; the person questioned must answer); Law on Supervisory Activities 2015
Art. 84 (put at the session or sent in writing). Practice (Resolution 594/NQ-UBTVQH15): questions not taken in the
hall are answered in writing; the times (about 3 minutes to ask, 5 to answer) and the written answers' delay are
settings.

Every function takes the records and returns a new tuple; nothing is changed in place.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import DomainError

__all__ = [
    "ASK_LIMIT_S",
    "ANSWER_LIMIT_S",
    "WRITTEN_ANSWER_DAYS",
    "MAX_DUE_DAYS",
    "Status",
    "Outcome",
    "Question",
    "file",
    "reorder",
    "call",
    "start_answer",
    "end",
    "withdraw",
    "answered_in_writing",
    "ordered",
    "current",
    "owed",
    "is_overdue",
    "remaining_seconds",
]

#: About three minutes to put a question and five to answer it (Resolution 594/NQ-UBTVQH15, practice).
ASK_LIMIT_S = 180
ANSWER_LIMIT_S = 300
#: The due date a written answer gets unless the chair sets another (practice; a setting of the sitting).
WRITTEN_ANSWER_DAYS = 15
#: A due date further than this is a typo (a year, not a date of this term's next session).
MAX_DUE_DAYS = 366


class Status(StrEnum):
    """Where a question stands."""

    FILED = "filed"  # waiting to be called
    CALLED = "called"  # on the floor: being put, then answered
    ANSWERED = "answered"  # answered in the hall
    WRITTEN = "written"  # to be answered in writing, by `due_date`
    WRITTEN_DONE = "written_done"  # the written answer came
    WITHDRAWN = "withdrawn"


class Outcome(StrEnum):
    """How the chair ends a question."""

    ANSWERED = "answered"
    WRITTEN = "written"
    WITHDRAWN = "withdrawn"


#: States from which a question can still be called, reordered or withdrawn.
OPEN = (Status.FILED, Status.CALLED)


@dataclass(frozen=True)
class Question:
    """One question; times are UTC-aware, `due_date` a calendar date in Vietnam."""

    id: str
    asker_id: str
    addressee_name: str
    addressee_title: str
    topic: str
    text: str
    filed_at: datetime
    position: int
    status: Status = Status.FILED
    called_at: datetime | None = None
    answer_started_at: datetime | None = None
    ended_at: datetime | None = None
    due_date: date | None = None

    @property
    def phase(self) -> str | None:
        """While called: "asking" until the chair invites the answer, then "answering"."""
        if self.status != Status.CALLED:
            return None
        return "answering" if self.answer_started_at is not None else "asking"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (ISO 8601 times and date)."""
        return {
            "id": self.id, "asker_id": self.asker_id, "addressee_name": self.addressee_name,
            "addressee_title": self.addressee_title, "topic": self.topic, "text": self.text,
            "filed_at": self.filed_at.isoformat(), "position": self.position, "status": str(self.status),
            "called_at": self.called_at.isoformat() if self.called_at else None,
            "answer_started_at": self.answer_started_at.isoformat() if self.answer_started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
            "due_date": self.due_date.isoformat() if self.due_date else None,
        }


def file(records: Iterable[Question], question_id: str, asker_id: str, addressee_name: str, addressee_title: str,
         topic: str, text: str, now: datetime, *, meeting_ended: bool = False) -> tuple[Question, ...]:
    """File a question (before or during the session); it goes to the end of the order.

    The texts are already cleaned (domain.limits); here an empty one is refused: a question must say whom it asks
    and what (Law on Supervisory Activities 2015 Art. 84: concrete and clear).
    """
    qs = tuple(records)
    if meeting_ended:
        raise DomainError("Kỳ họp đã bế mạc, không gửi chất vấn được nữa.", "question.meeting_ended")
    if any(q.id == question_id for q in qs):
        raise DomainError("Mã câu hỏi chất vấn bị trùng.", "question.duplicate_id")
    if not addressee_name.strip() and not addressee_title.strip():
        raise DomainError("Hãy ghi người hoặc cơ quan được chất vấn.", "question.no_addressee")
    if not topic.strip():
        raise DomainError("Hãy ghi vấn đề chất vấn.", "question.no_topic")
    if not text.strip():
        raise DomainError("Hãy ghi nội dung câu hỏi chất vấn.", "question.no_text")
    position = max((q.position for q in qs), default=0) + 1
    return (*qs, Question(question_id, asker_id, addressee_name, addressee_title, topic, text, now, position))


def reorder(records: Iterable[Question], order: Sequence[str]) -> tuple[Question, ...]:
    """The chair's order of the questions still waiting: `order` names each of them exactly once."""
    qs = tuple(records)
    waiting = {q.id for q in qs if q.status == Status.FILED}
    if len(order) != len(set(order)) or set(order) != waiting:
        raise DomainError("Danh sách câu hỏi vừa thay đổi, hãy sắp xếp lại.", "question.order_stale")
    taken = sorted(q.position for q in qs if q.status == Status.FILED)
    new_pos = dict(zip(order, taken, strict=True))
    return tuple(replace(q, position=new_pos[q.id]) if q.id in new_pos else q for q in qs)


def call(records: Iterable[Question], question_id: str, now: datetime) -> tuple[Question, ...]:
    """The chair calls a waiting question: its asker puts it. One question is on the floor at a time."""
    qs = tuple(records)
    target = _find(qs, question_id)
    if target.status != Status.FILED:
        raise DomainError("Chỉ mời được câu hỏi đang chờ.", "question.not_waiting")
    if current(qs) is not None:
        raise DomainError("Đang có câu hỏi khác; hãy kết thúc câu hỏi đó trước.", "question.other_called")
    return _swap(qs, replace(target, status=Status.CALLED, called_at=now))


def start_answer(records: Iterable[Question], question_id: str, now: datetime) -> tuple[Question, ...]:
    """The chair invites the one questioned to answer ("Mời trả lời"): the answer's clock starts."""
    qs = tuple(records)
    target = _find(qs, question_id)
    if target.status != Status.CALLED:
        raise DomainError("Câu hỏi này không ở trên diễn đàn.", "question.not_called")
    if target.answer_started_at is not None:
        raise DomainError("Người được chất vấn đang trả lời.", "question.already_answering")
    return _swap(qs, replace(target, answer_started_at=now))


def end(records: Iterable[Question], question_id: str, outcome: Outcome | str, now: datetime, today: date,
        due_date: date | None = None) -> tuple[Question, ...]:
    """The chair ends a question: answered in the hall (it must have been called), to be answered in writing by
    `due_date` (today or later, within a year), or withdrawn."""
    qs = tuple(records)
    target = _find(qs, question_id)
    try:
        outcome = Outcome(outcome)
    except ValueError:
        raise DomainError("Kết quả chất vấn không hợp lệ.", "question.bad_outcome") from None
    if target.status not in OPEN:
        raise DomainError("Câu hỏi này đã kết thúc.", "question.closed")
    if outcome == Outcome.ANSWERED:
        if target.status != Status.CALLED:
            raise DomainError("Chỉ câu hỏi đã được mời mới trả lời tại hội trường được.", "question.not_called")
        return _swap(qs, replace(target, status=Status.ANSWERED, ended_at=now))
    if outcome == Outcome.WRITTEN:
        if due_date is None:
            raise DomainError("Hãy chọn hạn trả lời bằng văn bản.", "question.no_due_date")
        if due_date < today:
            raise DomainError("Hạn trả lời bằng văn bản không được trước hôm nay.", "question.due_past")
        if due_date > today + timedelta(days=MAX_DUE_DAYS):
            raise DomainError("Hạn trả lời bằng văn bản quá xa (hơn một năm).", "question.due_far")
        return _swap(qs, replace(target, status=Status.WRITTEN, ended_at=now, due_date=due_date))
    return _swap(qs, replace(target, status=Status.WITHDRAWN, ended_at=now))


def withdraw(records: Iterable[Question], question_id: str, asker_id: str, now: datetime) -> tuple[Question, ...]:
    """The asker withdraws their own question while it is waiting or on the floor."""
    qs = tuple(records)
    target = _find(qs, question_id)
    if target.asker_id != asker_id:
        raise DomainError("Bạn chỉ rút được câu hỏi của chính mình.", "forbidden")
    if target.status not in OPEN:
        raise DomainError("Câu hỏi này đã kết thúc.", "question.closed")
    return _swap(qs, replace(target, status=Status.WITHDRAWN, ended_at=now))


def answered_in_writing(records: Iterable[Question], question_id: str, now: datetime) -> tuple[Question, ...]:
    """The clerk records that a written answer owed has come."""
    qs = tuple(records)
    target = _find(qs, question_id)
    if target.status != Status.WRITTEN:
        raise DomainError("Câu hỏi này không chờ trả lời bằng văn bản.", "question.not_owed")
    return _swap(qs, replace(target, status=Status.WRITTEN_DONE))


def ordered(records: Iterable[Question]) -> tuple[Question, ...]:
    """The questions in the chair's order (the one called, then waiting by position, then the ended ones by
    position)."""
    rank = {Status.CALLED: 0, Status.FILED: 1}
    return tuple(sorted(records, key=lambda q: (rank.get(q.status, 2), q.position)))


def current(records: Iterable[Question]) -> Question | None:
    """The question on the floor, if any."""
    return next((q for q in records if q.status == Status.CALLED), None)


def is_overdue(q: Question, today: date) -> bool:
    """A written answer still owed after its due date."""
    return q.status == Status.WRITTEN and q.due_date is not None and q.due_date < today


def owed(records: Iterable[Question]) -> tuple[Question, ...]:
    """The written answers still owed, soonest due first."""
    return tuple(sorted((q for q in records if q.status == Status.WRITTEN),
                        key=lambda q: (q.due_date or date.max, q.position)))


def remaining_seconds(q: Question, ask_limit_s: int, answer_limit_s: int, now: datetime) -> int | None:
    """Whole seconds left of the current phase's limit (negative once over time); None unless called."""
    if q.status != Status.CALLED or q.called_at is None:
        return None
    start, limit = ((q.answer_started_at, answer_limit_s) if q.answer_started_at is not None
                    else (q.called_at, ask_limit_s))
    return limit - (now - start) // timedelta(seconds=1)


def _find(qs: tuple[Question, ...], question_id: str) -> Question:
    for q in qs:
        if q.id == question_id:
            return q
    raise DomainError("Không tìm thấy câu hỏi chất vấn.", "question.not_found")


def _swap(qs: tuple[Question, ...], new: Question) -> tuple[Question, ...]:
    return tuple(new if q.id == new.id else q for q in qs)
