"""Question time rules (domain.questions): filing, order, calling, answering, outcomes, what is owed."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from meeting_server.domain import questions as q
from meeting_server.domain.errors import DomainError

T0 = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
TODAY = date(2026, 12, 4)


def three() -> tuple[q.Question, ...]:
    qs: tuple[q.Question, ...] = ()
    for i, who in enumerate(("d1", "d2", "d3"), start=1):
        qs = q.file(qs, str(i), who, "Nguyễn Văn A", "Chủ tịch UBND xã", f"Vấn đề {i}", f"Câu hỏi {i}?", T0)
    return qs


def by_id(qs: tuple[q.Question, ...], qid: str) -> q.Question:
    return next(x for x in qs if x.id == qid)


def test_filed_questions_take_the_next_position() -> None:
    qs = three()
    assert [x.position for x in qs] == [1, 2, 3]
    assert all(x.status == q.Status.FILED for x in qs)


@pytest.mark.parametrize(("name", "title", "topic", "text", "code"), [
    ("", "", "Đường", "Khi nào?", "question.no_addressee"),
    ("A", "", "  ", "Khi nào?", "question.no_topic"),
    ("", "Chủ tịch UBND xã", "Đường", "", "question.no_text"),
])
def test_a_question_must_say_whom_and_what(name: str, title: str, topic: str, text: str, code: str) -> None:
    with pytest.raises(DomainError) as err:
        q.file((), "1", "d1", name, title, topic, text, T0)
    assert err.value.code == code


def test_no_question_after_the_session_ended() -> None:
    with pytest.raises(DomainError) as err:
        q.file((), "1", "d1", "A", "", "Đường", "Khi nào?", T0, meeting_ended=True)
    assert err.value.code == "question.meeting_ended"


def test_reorder_names_every_waiting_question_once() -> None:
    qs = q.reorder(three(), ["3", "1", "2"])
    assert [x.id for x in q.ordered(qs)] == ["3", "1", "2"]
    with pytest.raises(DomainError) as err:
        q.reorder(qs, ["3", "1"])
    assert err.value.code == "question.order_stale"


def test_one_question_on_the_floor_at_a_time() -> None:
    qs = q.call(three(), "2", T0)
    assert q.current(qs) == by_id(qs, "2") and by_id(qs, "2").phase == "asking"
    with pytest.raises(DomainError) as err:
        q.call(qs, "1", T0)
    assert err.value.code == "question.other_called"


def test_timer_counts_the_asking_then_the_answer() -> None:
    qs = q.call(three(), "1", T0)
    assert q.remaining_seconds(by_id(qs, "1"), 180, 300, T0 + timedelta(seconds=30)) == 150
    qs = q.start_answer(qs, "1", T0 + timedelta(seconds=100))
    assert by_id(qs, "1").phase == "answering"
    assert q.remaining_seconds(by_id(qs, "1"), 180, 300, T0 + timedelta(seconds=420)) == -20
    assert q.remaining_seconds(by_id(qs, "2"), 180, 300, T0) is None


def test_answered_in_the_hall_only_after_being_called() -> None:
    with pytest.raises(DomainError) as err:
        q.end(three(), "1", "answered", T0, TODAY)
    assert err.value.code == "question.not_called"
    qs = q.end(q.call(three(), "1", T0), "1", "answered", T0, TODAY)
    assert by_id(qs, "1").status == q.Status.ANSWERED and q.current(qs) is None
    with pytest.raises(DomainError) as err:
        q.end(qs, "1", "withdrawn", T0, TODAY)
    assert err.value.code == "question.closed"


def test_written_answer_needs_a_due_date_from_today() -> None:
    for due, code in ((None, "question.no_due_date"), (TODAY - timedelta(days=1), "question.due_past"),
                      (TODAY + timedelta(days=400), "question.due_far")):
        with pytest.raises(DomainError) as err:
            q.end(three(), "1", "written", T0, TODAY, due)
        assert err.value.code == code
    qs = q.end(three(), "1", "written", T0, TODAY, TODAY + timedelta(days=15))
    assert by_id(qs, "1").status == q.Status.WRITTEN
    assert q.owed(qs) == (by_id(qs, "1"),)
    assert not q.is_overdue(by_id(qs, "1"), TODAY)
    assert q.is_overdue(by_id(qs, "1"), TODAY + timedelta(days=16))
    qs = q.answered_in_writing(qs, "1", T0)
    assert q.owed(qs) == ()


def test_bad_outcome_is_refused() -> None:
    with pytest.raises(DomainError) as err:
        q.end(three(), "1", "lost", T0, TODAY)
    assert err.value.code == "question.bad_outcome"


def test_the_asker_alone_withdraws_their_question() -> None:
    with pytest.raises(DomainError) as err:
        q.withdraw(three(), "1", "d2", T0)
    assert err.value.code == "forbidden"
    qs = q.withdraw(q.call(three(), "1", T0), "1", "d1", T0)
    assert by_id(qs, "1").status == q.Status.WITHDRAWN and q.current(qs) is None
