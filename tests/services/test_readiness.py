"""The readiness check and the role editor on a real SQLite (the demo meeting; its shipped list names no secretary:
the demo then names one, which the tests take back where they need the list as it came)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import attendance, readiness, roster, signing, tokens, voting
from meeting_server.services.demo import DEMO_SECRETARY
from meeting_server.store.tables import Meeting, Participant


def _person(m: Meeting, role: str) -> Participant:
    return next(p for p in m.participants if p.role == role)


def _codes(lines: list[Any]) -> list[str]:
    return [line.code for line in lines]


def test_the_list_as_shipped_has_no_secretary_and_the_check_says_what_to_do(
        s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    sec = _person(m, "secretary")
    assert sec.full_name == DEMO_SECRETARY
    seq = stored(f"SELECT seq FROM meeting WHERE id = {m.id}")
    done = roster.set_role(s, m, sec.id, "delegate", "clerk:1")
    assert done.value == ("secretary", "delegate")
    assert done.change.state and done.change.attendance and done.change.people == (sec.id,)
    assert stored(f"SELECT role FROM participant WHERE id = {sec.id}") == "delegate"
    assert stored(f"SELECT seq FROM meeting WHERE id = {m.id}") == seq + 1
    assert stored("SELECT kind FROM audit_event ORDER BY seq DESC LIMIT 1") == "participant.role_changed"
    sitting = readiness.before_sitting(s, m)
    line = next(x for x in sitting if x.code == "readiness.no_secretary")
    assert line.blocking and "Chưa có thư ký kỳ họp" in line.message and "«Thư ký kỳ họp»" in line.message
    assert "readiness.no_secretary" in _codes(readiness.before_signing(s, m))
    with pytest.raises(DomainError) as refused:
        readiness.check_signing(s, m)
    assert refused.value.code == "readiness.no_secretary"
    # Back to a secretary: the line goes.
    roster.set_role(s, m, sec.id, "secretary", "clerk:1")
    assert "readiness.no_secretary" not in _codes(readiness.before_sitting(s, m))


def test_secretary_or_chair_marked_absent(s: Session, m: Meeting) -> None:
    sec, chair = _person(m, "secretary"), _person(m, "chair")
    attendance.mark(s, m, sec.id, "absent", "ốm", None, "clerk:1")
    lines = readiness.before_signing(s, m)
    line = next(x for x in lines if x.code == "readiness.secretary_absent")
    assert not line.blocking and line.params == {"name": sec.full_name}
    attendance.mark(s, m, chair.id, "absent", "đi công tác", None, "clerk:1")
    assert "readiness.chair_absent" in _codes(readiness.before_sitting(s, m))


def test_an_open_poll_blocks_signing_and_a_chair_who_did_not_vote_is_flagged(s: Session, m: Meeting) -> None:
    chair = _person(m, "chair")
    for p in m.participants:
        if p.role in ("chair", "delegate", "secretary"):
            attendance.joined(s, m, p)
    item = m.items[0]
    poll = voting.create(s, m, {"kind": "open", "title": "Thông qua chương trình", "agenda_item_id": item.id},
                         "clerk:1").value
    voting.open_poll(s, m, poll, "chair:1")
    lines = readiness.before_signing(s, m)
    assert lines[0].code == "readiness.poll_open" and lines[0].blocking
    with pytest.raises(DomainError) as refused:
        readiness.check_signing(s, m)
    assert "vẫn đang mở" in refused.value.message
    # An item with a vote and no document: before the sitting, upload it.
    assert any(x.code == "readiness.no_documents" and x.params == {"title": item.title}
               for x in readiness.before_sitting(s, m))
    delegate = next(p for p in m.participants if p.role == "delegate")
    voting.cast(s, voting.Cast(who=Principal(Role.DELEGATE, m.id, delegate.id, delegate.full_name), poll_id=poll.id,
                               choice="for"))
    s.commit()
    voting.close(s, m, poll, "chair:1")
    lines = readiness.before_signing(s, m)
    assert "readiness.poll_open" not in _codes(lines)
    line = next(x for x in lines if x.code == "readiness.chair_not_voted")
    assert line.params == {"title": "Thông qua chương trình"} and not line.blocking
    assert chair.full_name  # the chair was on the list (present at opening) and did not vote


def test_signing_is_refused_without_a_secretary_before_anything_is_rendered(s: Session, m: Meeting,
                                                                           tmp_path: Any) -> None:
    from flask import Flask

    app = Flask(__name__)
    app.config["DATA_DIR"] = tmp_path
    app.extensions["db_engine"] = s.get_bind()  # the minutes' claim asks which database it is on
    sec = _person(m, "secretary")
    roster.set_role(s, m, sec.id, "delegate", "clerk:1")
    with pytest.raises(DomainError) as refused:
        signing.prepare(app, s, m, "clerk:1")  # refused before any worker is asked
    assert refused.value.code == "readiness.no_secretary"
    from meeting_server.services import minutes

    assert minutes.current(s, m).status == "draft"


def test_role_changes_that_are_refused_change_nothing(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    delegate = next(p for p in m.participants if p.role == "delegate")
    clerk = _person(m, "clerk")
    seq = stored(f"SELECT seq FROM meeting WHERE id = {m.id}")
    for pid, role, code in ((delegate.id, "clerk", "participant.invalid_role"),
                            (delegate.id, "kiosk", "participant.invalid_role"),
                            (delegate.id, "ông chủ", "participant.invalid_role"),
                            (clerk.id, "delegate", "not_found"),
                            (True, "guest", "payload.invalid")):
        with pytest.raises(DomainError) as refused:
            roster.set_role(s, m, pid, role, "clerk:1")
        assert refused.value.code == code
    # On a poll's list of voters: a delegate stays a council member.
    attendance.joined(s, m, delegate)
    poll = voting.create(s, m, {"kind": "open", "title": "Biểu quyết"}, "clerk:1").value
    voting.open_poll(s, m, poll, "chair:1")
    seq = stored(f"SELECT seq FROM meeting WHERE id = {m.id}")
    with pytest.raises(DomainError) as refused:
        roster.set_role(s, m, delegate.id, "guest", "clerk:1")
    assert refused.value.code == "participant.role_on_record" and delegate.full_name in refused.value.message
    assert stored(f"SELECT role FROM participant WHERE id = {delegate.id}") == "delegate"
    assert stored(f"SELECT seq FROM meeting WHERE id = {m.id}") == seq
    # …but may chair or keep the minutes.
    assert roster.set_role(s, m, delegate.id, "secretary", "clerk:1").value == ("delegate", "secretary")


def test_cards_not_printed_since_issued(s: Session, m: Meeting) -> None:
    people = [p for p in m.participants if p.role != "clerk"]
    line = next(x for x in readiness.before_sitting(s, m) if x.code == "readiness.cards_unprinted")
    assert line.params == {"n": len(people)}
    readiness.cards_printed(s, m, [p.id for p in people], "clerk:1")
    assert "readiness.cards_unprinted" not in _codes(readiness.before_sitting(s, m))
    tokens.revoke_and_reissue(s, people[3], "clerk:1")
    line = next(x for x in readiness.before_sitting(s, m) if x.code == "readiness.cards_unprinted")
    assert line.params == {"n": 1}
    readiness.cards_printed(s, m, [people[3].id], "clerk:1")
    assert "readiness.cards_unprinted" not in _codes(readiness.before_sitting(s, m))


def test_paper_totals_beyond_n_are_refused_and_nothing_changes(s: Session, m: Meeting) -> None:
    for p in m.participants:
        if p.role in ("chair", "delegate", "secretary"):
            attendance.joined(s, m, p)
    poll = voting.create(s, m, {"kind": "secret", "title": "Bỏ phiếu kín"}, "clerk:1").value
    voting.open_poll(s, m, poll, "chair:1")
    eligible = 30  # every council member joined before the poll opened
    with pytest.raises(DomainError) as refused:
        voting.set_paper(s, m, poll, {"issued": 5, "returned": 5, "invalid": 0, "counts": {"yes": 5, "no": 0}},
                         "secretary:9")
    assert refused.value.message == (f"Số phiếu phát ra ({eligible + 5}: {eligible} phiếu điện tử và 5 phiếu giấy) "
                                     "nhiều hơn tổng số đại biểu HĐND (30). Hãy kiểm tra lại biên bản kiểm phiếu.")
    s.refresh(poll)
    assert poll.paper is None
