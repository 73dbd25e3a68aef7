"""Ballots of several meetings written in one group commit (realtime/voting.py's writer takes whatever phones of
any meeting sent together, services.voting.cast_many): each meeting's polls take only its own delegates' ballots.

One deployment may serve the sessions of several councils at once (issue 20). A poll of another meeting looks
absent (services.voting.get); in a batch, a poll was checked against the meeting of the first ballot naming it only,
so a delegate of another meeting whose ballot came after it in the same batch was answered "not on the list"
(vote.not_eligible) instead: the poll's existence told to another council, and the answer depending on which
ballots happened to arrive together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.domain.roster import parse_rows
from meeting_server.services import attendance, meetings, roster, unit, voting
from meeting_server.services.voting import Casted
from meeting_server.store.tables import Meeting, Participant

ACTOR = "clerk:test"


def _who(p: Participant) -> Principal:
    return Principal(Role(p.role), p.meeting_id, p.id, p.full_name)


def _council(s: Session, locality: str) -> Meeting:
    """Another council's meeting on the same deployment, sitting, its delegates present, a poll open."""
    f = meetings.MeetingFields(council_level="phường", locality=locality, session_title="Kỳ họp thứ Hai",
                               term="2026 - 2031", place="Hội trường", starts_at=None, seated_count=5)
    m = meetings.create(s, f, ACTOR)
    rows = [["STT", "Họ và tên", "Chức vụ", "Tổ", "Vai trò"], ["1", "Chủ tọa Phường", "Chủ tịch HĐND", "Tổ 1",
                                                               "Chủ tọa"]]
    rows += [[str(i), f"Đại biểu Phường {i}", "Đại biểu HĐND", "Tổ 1", "Đại biểu"] for i in range(2, 6)]
    roster.apply(s, m, parse_rows(rows), ACTOR)
    s.refresh(m)
    return m


def _sitting_with_a_poll(s: Session, m: Meeting) -> tuple[int, list[Participant]]:
    people = [p for p in m.participants if p.role in ("chair", "delegate", "secretary")]
    for p in people:
        attendance.joined(s, m, p)
    meetings.set_status(s, m, "in_progress", ACTOR)
    poll = voting.create(s, m, {"kind": "open", "title": "Thông qua Nghị quyết"}, ACTOR).value
    voting.open_poll(s, m, poll, ACTOR)
    return poll.id, people


def test_one_batch_of_two_meetings_each_counts_its_own(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    poll_a, people_a = _sitting_with_a_poll(s, m)
    b = _council(s, "Hòa Bình")
    poll_b, people_b = _sitting_with_a_poll(s, b)
    # One batch as the writer makes it: both meetings' ballots interleaved, and two of B's delegates naming A's
    # poll after A's first ballot (the order that skipped the check), one of A's naming B's.
    casts = [voting.Cast(who=_who(people_a[0]), poll_id=poll_a, choice="for"),
             voting.Cast(who=_who(people_b[0]), poll_id=poll_b, choice="against"),
             voting.Cast(who=_who(people_b[1]), poll_id=poll_a, choice="for"),
             voting.Cast(who=_who(people_a[1]), poll_id=poll_b, choice="for"),
             voting.Cast(who=_who(people_a[2]), poll_id=poll_a, choice="abstain"),
             voting.Cast(who=_who(people_b[2]), poll_id=poll_a, choice="against"),
             voting.Cast(who=_who(people_b[3]), poll_id=poll_b, choice="for")]
    with unit.of_work(s):
        unit.bump_many(s, sorted({m.id, b.id}))
        out = voting.cast_many(s, casts)
    codes = [o.code if isinstance(o, DomainError) else (o.poll_id, o.meeting_id) for o in out]
    assert codes == [(poll_a, m.id), (poll_b, b.id), "not_found", "not_found", (poll_a, m.id), "not_found",
                     (poll_b, b.id)], codes
    assert all(isinstance(o, Casted) or o.message == "Không tìm thấy cuộc biểu quyết." for o in out)
    ballots = {(p, pid) for p, pid in [(poll_a, people_a[0].id), (poll_a, people_a[2].id), (poll_b, people_b[0].id),
                                       (poll_b, people_b[3].id)]}
    for poll_id, participant in ballots:
        assert stored(f"SELECT count(*) FROM open_ballot WHERE poll_id = {poll_id} "
                      f"AND participant_id = {participant}") == 1
    assert stored(f"SELECT count(*) FROM open_ballot WHERE poll_id IN ({poll_a}, {poll_b})") == 4
    assert stored(f"SELECT count(*) FROM poll_voter WHERE poll_id = {poll_a} AND participant_id IN "
                  f"({', '.join(str(p.id) for p in people_b)})") == 0
