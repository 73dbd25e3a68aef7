"""Question time in the database (services.questions) on a real SQLite file: each use case stores what it says,
announces `questions`, writes its audit entry, and a refusal stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import meetings, questions, speakers
from meeting_server.services.unit import Change
from meeting_server.store.tables import Meeting, Participant

ASK = {"addressee_name": "Trần Văn Bình", "addressee_title": "Chủ tịch UBND xã", "topic": "Đường liên thôn",
       "text": "Khi nào sửa xong đường liên thôn Đồng Tâm?"}


def _people(m: Meeting, role: str = "delegate") -> list[Participant]:
    return [p for p in m.participants if p.role == role]


def _who(p: Participant) -> Principal:
    return Principal(Role(p.role), p.meeting_id, p.id, p.full_name)


def _open(s: Session, m: Meeting) -> None:
    meetings.set_status(s, m, "in_progress", "chair:test", below_quorum_ok=True)
    meetings.set_current_item(s, m, m.items[-1].id, "chair:test")


def test_filing_stores_and_announces(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    d = _people(m)[0]
    seq = m.seq
    done = questions.file(s, m, _who(d), ASK)
    assert done.change == Change(m.id, seq + 1, questions=True)
    assert stored("SELECT topic FROM question") == "Đường liên thôn"
    assert stored("SELECT kind FROM audit_event ORDER BY seq DESC LIMIT 1") == "question.filed"
    st = questions.questions_state(m)
    assert [(q["asker_name"], q["status"]) for q in st["questions"]] == [(d.full_name, "filed")]


@pytest.mark.parametrize(("field", "value", "code"), [
    ("text", "", "question.no_text"),
    ("topic", "   ", "question.no_topic"),
    ("text", "x" * 2001, "text.too_long"),
    ("addressee_title", "Chủ tịch\u202e", "text.bidi"),
    ("topic", 5, "payload.invalid"),
])
def test_bad_input_stores_nothing(s: Session, m: Meeting, stored: Callable[[str], Any], field: str, value: Any,
                                  code: str) -> None:
    seq = m.seq
    with pytest.raises(DomainError) as err:
        questions.file(s, m, _who(_people(m)[0]), {**ASK, field: value})
    assert err.value.code == code
    assert stored("SELECT count(*) FROM question") == 0 and stored("SELECT seq FROM meeting") == seq


def test_clerk_files_from_paper_for_a_delegate_only(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    guest = _people(m, "guest")[0]
    with pytest.raises(DomainError) as err:
        questions.file_on_paper(s, m, guest.id, ASK, "clerk:test")
    assert err.value.code == "question.no_asker"
    d = _people(m)[3]
    questions.file_on_paper(s, m, d.id, ASK, "clerk:test")
    assert stored("SELECT on_paper FROM question") == 1
    assert stored("SELECT participant_id FROM question") == d.id


def test_calling_needs_an_open_session_and_an_item(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    q = questions.file(s, m, _who(_people(m)[0]), ASK).value
    with pytest.raises(DomainError) as err:
        questions.call(s, m, q.id, "chair:test")
    assert err.value.code == "question.not_in_session" and stored("SELECT status FROM question") == "filed"
    _open(s, m)
    done = questions.call(s, m, q.id, "chair:test")
    assert done.change.questions and stored("SELECT status FROM question") == "called"
    st = questions.questions_state(m)
    cur = st["current"]
    assert cur["phase"] == "asking" and cur["limit_s"] == 180
    assert cur["ends_at_ms"] - cur["started_at_ms"] == 180_000
    questions.start_answer(s, m, q.id, "chair:test")
    assert questions.questions_state(m)["current"]["phase"] == "answering"


def test_order_call_and_each_outcome(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    _open(s, m)
    ds = _people(m)
    ids = [questions.file(s, m, _who(d), {**ASK, "topic": f"Vấn đề {i}"}).value.id for i, d in enumerate(ds[:3])]
    questions.reorder(s, m, [ids[2], ids[0], ids[1]], "chair:test")
    assert [q["id"] for q in questions.questions_state(m)["questions"]] == [ids[2], ids[0], ids[1]]
    with pytest.raises(DomainError) as err:
        questions.reorder(s, m, [ids[2]], "chair:test")
    assert err.value.code == "question.order_stale"
    questions.call(s, m, ids[2], "chair:test")
    with pytest.raises(DomainError) as err:
        questions.call(s, m, ids[0], "chair:test")
    assert err.value.code == "question.other_called"
    questions.end(s, m, ids[2], "answered", None, "chair:test")
    today = questions.today(s)
    with pytest.raises(DomainError) as err:
        questions.end(s, m, ids[0], "written", today - timedelta(days=1), "chair:test")
    assert err.value.code == "question.due_past" and stored(f"SELECT status FROM question WHERE id={ids[0]}") == "filed"
    questions.end(s, m, ids[0], "written", today + timedelta(days=15), "chair:test")
    with pytest.raises(DomainError) as err:
        questions.withdraw(s, m, _who(ds[0]), ids[1])  # someone else's
    assert err.value.code == "forbidden"
    questions.withdraw(s, m, _who(ds[1]), ids[1])
    rows = dict(s.execute(__import__("sqlalchemy").text("SELECT id, status FROM question")).all())
    assert rows == {ids[2]: "answered", ids[0]: "written", ids[1]: "withdrawn"}
    owed = questions.owed(s, m.id)
    assert [(q["id"], q["due_date"], q["overdue"]) for q in owed] == [
        (ids[0], (today + timedelta(days=15)).isoformat(), False)]
    questions.written_answer_received(s, m, ids[0], "clerk:test")
    assert questions.owed(s, m.id) == []


def test_overdue_is_marked(s: Session, m: Meeting) -> None:
    _open(s, m)
    q = questions.file(s, m, _who(_people(m)[0]), ASK).value
    questions.end(s, m, q.id, "written", questions.today(s), "chair:test")
    q.due_date = questions.today(s) - timedelta(days=2)  # as if the session was weeks ago
    s.commit()
    assert questions.owed(s, m.id)[0]["overdue"] is True


def test_follow_ups_leave_the_list_with_their_question(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    _open(s, m)
    ds = _people(m)
    q = questions.file(s, m, _who(ds[0]), ASK).value
    with pytest.raises(DomainError) as err:
        speakers.request(s, m, _who(ds[1]), kind="follow_up")
    assert err.value.code == "speak.no_question"
    questions.call(s, m, q.id, "chair:test")
    speakers.request(s, m, _who(ds[1]), kind="debate")
    st = speakers.speakers_state(m)
    assert [(x["kind"], x["question_id"]) for x in st["queue"]] == [("debate", q.id)]
    done = questions.end(s, m, q.id, "answered", None, "chair:test")
    assert done.change.speakers and stored("SELECT status FROM speak_request") == "withdrawn"
