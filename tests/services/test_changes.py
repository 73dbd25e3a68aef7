"""What each use case says it changed (the `Change` realtime.announce turns into emits), against what it stored."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import attendance, documents, links, minutes, roster, speakers, tokens, voting
from meeting_server.services.unit import Change
from meeting_server.store.tables import Meeting, Participant


def _people(m: Meeting, role: str = "delegate") -> list[Participant]:
    return [p for p in m.participants if p.role == role]


def _who(p: Participant) -> Principal:
    return Principal(Role(p.role), p.meeting_id, p.id, p.full_name)


def test_joining_says_attendance_once(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    d = _people(m)[0]
    seq = m.seq
    assert attendance.joined(s, m, d) == Change(m.id, seq + 1, attendance=True)
    assert stored(f"SELECT status FROM attendance WHERE participant_id = {d.id}") == "present"
    assert attendance.joined(s, m, d) is None  # scanned again: nothing changed, nothing to announce
    assert stored("SELECT seq FROM meeting") == seq + 1


def test_marking_and_importing(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    d = _people(m)[1]
    done = attendance.mark(s, m, d.id, "absent", "Ốm", None, "clerk:test")
    assert done.value is d and done.change == Change(m.id, m.seq, attendance=True)
    with pytest.raises(DomainError):
        attendance.mark(s, m, d.id, "absent", "", None, "clerk:test")  # no reason
    assert stored(f"SELECT reason FROM attendance WHERE participant_id = {d.id}") == "Ốm"
    from meeting_server.domain.roster import parse_rows

    table = [["STT", "Họ và tên", "Chức vụ", "Tổ", "Vai trò"],
             *[[str(p.position), p.full_name, p.title, p.group_name, {"chair": "Chủ tọa", "secretary": "Thư ký",
                                                                        "delegate": "Đại biểu", "guest": "Khách mời"}
                [p.role]] for p in m.participants if p.role != "clerk"]]
    imported = roster.apply(s, m, parse_rows(table), "clerk:test")
    assert imported.change == Change(m.id, m.seq, state=True, attendance=True)
    assert imported.value.removed == 0 and stored("SELECT seq FROM meeting") == m.seq


def test_speakers_say_speakers_and_a_refusal_stores_nothing(s: Session, m: Meeting,
                                                            stored: Callable[[str], Any]) -> None:
    d = _people(m)[2]
    with pytest.raises(DomainError) as err:
        speakers.request(s, m, _who(d))  # no agenda item yet
    assert err.value.code == "speak.no_item" and stored("SELECT count(*) FROM speak_request") == 0
    from meeting_server.services import meetings

    meetings.set_current_item(s, m, m.items[3].id, "chair:test")
    seq = stored("SELECT seq FROM meeting")
    asked = speakers.request(s, m, _who(d))
    assert asked.change == Change(m.id, seq + 1, speakers=True)
    given = speakers.give(s, m, asked.value.id, 60, "chair:test")
    assert given.change.seq == seq + 2 and given.value.status == "speaking"
    assert stored(f"SELECT status FROM speak_request WHERE id = {asked.value.id}") == "speaking"
    assert speakers.set_time(s, m, 120, "chair:test") == Change(m.id, seq + 3, speakers=True)


def test_polls_say_which_poll_and_what_happened(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    for p in _people(m)[:20]:
        attendance.joined(s, m, p)
    created = voting.create(s, m, {"kind": "open", "title": "Thông qua Nghị quyết"}, "clerk:test")
    p = created.value
    assert created.change == Change(m.id, m.seq, poll_id=p.id, poll_event="created")
    assert voting.open_poll(s, m, p, "chair:test") == Change(m.id, m.seq, poll_id=p.id, poll_event="opened")
    secretary = _people(m, "secretary")[0]
    proxied = voting.proxy(s, m, p, _who(secretary), _people(m)[0].id, "for")
    assert proxied.value == {"poll_id": p.id, "voted": 1, "eligible": proxied.value["eligible"]}
    assert proxied.change == Change(m.id, m.seq, poll_id=p.id, progress=(1, proxied.value["eligible"]))
    with pytest.raises(DomainError):
        voting.proxy(s, m, p, _who(secretary), _people(m)[0].id, "maybe")  # not a choice offered
    assert stored(f"SELECT count(*) FROM open_ballot WHERE poll_id = {p.id}") == 1
    closed = voting.close(s, m, p, "chair:test")
    assert closed == Change(m.id, m.seq, poll_id=p.id, poll_event="closed")
    assert stored(f"SELECT state FROM poll WHERE id = {p.id}") == "closed"
    assert stored("SELECT seq FROM meeting") == closed.seq


def test_presenting_rights_and_cards(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    d = _people(m)[0]
    assert documents.grant(s, m, d.id, "chair:test") == Change(m.id, m.seq, state=True, people=(d.id,))
    assert stored(f"SELECT granted_participant_id FROM presentation WHERE meeting_id = {m.id}") == d.id
    seq = m.seq
    old = d.token
    revoked = tokens.revoke_and_reissue(s, d, "clerk:test")
    assert revoked == Change(m.id, seq, revoked=(d.id,))  # hung up; no screen shows a token, so no seq
    assert stored(f"SELECT count(*) FROM revoked_token WHERE token = '{old}'") == 1
    assert links.follow_address(s, "http://10.0.0.7:8080") == Change(m.id, seq, state=True)
    assert stored("SELECT CAST(value AS TEXT) FROM setting WHERE key = 'public_base_url'") == '"http://10.0.0.7:8080"'


def test_a_correction_of_the_minutes_is_announced(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    """The defect of issue 16: `post_version` bumped seq and said nothing; its use case now says `state`."""
    draft = minutes.current(s, m)
    draft.status = "final"  # as finalize leaves it (the signing itself is tested in tests/minutes)
    s.commit()
    seq = m.seq
    done = minutes.new_version(s, m, "clerk:test", "Sửa lỗi chính tả")
    assert done.change == Change(m.id, seq + 1, state=True)
    assert done.value.version == 2 and stored("SELECT max(version) FROM minutes_draft") == 2
    with pytest.raises(DomainError) as err:
        minutes.new_version(s, m, "clerk:test", "")  # version 2 is a draft
    assert err.value.code == "minutes.not_final" and stored("SELECT count(*) FROM minutes_draft") == 2
    assert stored("SELECT seq FROM meeting") == seq + 1
