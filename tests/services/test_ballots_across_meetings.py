"""Ballots of several meetings written in one group commit (realtime/voting.py's writer takes whatever phones of
any meeting sent together, services.voting.cast_many): each meeting's polls take only its own delegates' ballots.

One deployment may serve the sessions of several councils at once (issue 20). A poll of another meeting looks
absent (services.voting.get); in a batch, a poll was checked against the meeting of the first ballot naming it only,
so a delegate of another meeting whose ballot came after it in the same batch was answered "not on the list"
(vote.not_eligible) instead: the poll's existence told to another council, and the answer depending on which
ballots happened to arrive together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.domain.roster import parse_rows
from meeting_server.services import attendance, meetings, roster, unit, voting
from meeting_server.services.voting import Casted
from meeting_server.store.tables import Meeting, Participant
from tests.services.writer_kit import writer_in_thread

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


def test_a_batch_locks_its_meetings_in_one_order(engine: Any, s: Session, m: Meeting) -> None:
    """Two processes' batches naming the same two meetings deadlocked on PostgreSQL (CI's front test of two
    councils voting at once): `UPDATE meeting … WHERE id IN (1, 2)` locks the rows in the order it finds them on
    disk, and an update moves a row's newest version to the end of the page, so one batch locked 2 then waited for
    1 while the other held 1 and waited for 2. PostgreSQL ended one, whose 183 ballots were then refused.
    `bump_many` takes the meetings' locks one by one in id order: a batch that waits for one holds none after it."""
    if engine.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite lets one writer in at a time: no two batches hold rows at once")
    b = _council(s, "Hòa Bình")
    s.commit()
    first, second = sorted((m.id, b.id))
    factory = sessionmaker(engine, expire_on_commit=False)
    for _ in range(3):  # the lower id's newest version now lies after the other's on the page
        with factory() as w:
            w.execute(update(Meeting).where(Meeting.id == first).values(seq=Meeting.seq + 1))
            w.commit()
    holder = factory()
    holder.execute(update(Meeting).where(Meeting.id == first).values(seq=Meeting.seq + 1))  # holds the first
    outcome: dict[str, Any] = {}
    t = writer_in_thread(factory, lambda w: unit.bump_many(w, [first, second]), outcome)
    time.sleep(0.5)  # the batch now waits for the first meeting
    try:
        # It must hold nothing after the row it waits for: the second meeting is free.
        with factory() as probe:
            probe.execute(text("SET LOCAL lock_timeout = '1s'"))
            try:
                probe.execute(select(Meeting.id).where(Meeting.id == second).with_for_update(nowait=True)).all()
                free = True
            except OperationalError:
                free = False
            probe.rollback()
    finally:
        holder.commit()
        holder.close()
        t.join(30)
    assert free, "the batch locked the second meeting while it waited for the first"
    assert outcome == {"ok": True}
