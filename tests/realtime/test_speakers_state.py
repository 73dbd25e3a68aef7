"""The `speakers` payload and the record for the minutes, computed in-process at chosen instants."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import attendance, meetings, speakers
from meeting_server.store import db


def _delegate(m: Any, n: int) -> Principal:
    p = [x for x in m.participants if x.role == "delegate"][n]
    return Principal(Role.DELEGATE, m.id, p.id, p.full_name)


def test_countdown_fields_over_time_and_history(app: Any) -> None:
    with db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        meetings.set_current_item(s, m, m.items[3].id, "chair:test")
        a, b = _delegate(m, 0), _delegate(m, 1)
        ra = speakers.request(s, m, a).value
        speakers.request(s, m, b)
        seq = m.seq
        given = speakers.give(s, m, ra.id, 60, "chair:test").value
        assert m.seq == seq + 1  # one change, one seq
        start = given.started_at
        assert start is not None

        st = speakers.speakers_state(m, now=start + timedelta(seconds=59, milliseconds=500))
        assert st["speaking"]["remaining_s"] == 1 and st["speaking"]["over_time"] is False
        assert st["server_now_ms"] == st["speaking"]["started_at_ms"] + 59_500
        st = speakers.speakers_state(m, now=start + timedelta(seconds=75))
        # Over time: the clock goes negative and says so; the speech goes on until the chair ends it.
        assert st["speaking"]["remaining_s"] == -15 and st["speaking"]["over_time"] is True
        assert st["next"]["name"] == b.name and [q["place"] for q in st["queue"]] == [1]

        speakers.end(s, m, "chair:test")
        hist = speakers.history(s, m.id)
        assert len(hist) == 1
        h = hist[0]
        assert (h["name"], h["agenda_item_id"], h["agenda_item_title"]) == (
            a.name, m.items[3].id, "Thảo luận tại hội trường")
        assert h["started_at"] == start and h["ended_at"] is not None and h["ended_at"] >= start
        assert h["started_at"].tzinfo is not None and h["limit_s"] == 60


def test_absent_delegate_cannot_request_and_refusal_changes_nothing(app: Any) -> None:
    with db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        meetings.set_current_item(s, m, m.items[3].id, "chair:test")
        d = _delegate(m, 2)
        assert d.participant_id is not None
        attendance.mark(s, m, d.participant_id, "absent", "Đi công tác", None, "clerk:test")
        seq = m.seq
        with pytest.raises(DomainError) as err:
            speakers.request(s, m, d)
        assert err.value.code == "speak.not_present"
        assert m.seq == seq and speakers.speakers_state(m)["queue"] == []


def test_moving_to_another_item_ends_the_speech_under_way(app: Any) -> None:
    """The walkthrough found a speaker still "speaking" on the projector after the chair moved on."""
    from sqlalchemy import select

    from meeting_server.store.tables import AuditEvent

    with db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        meetings.set_current_item(s, m, m.items[3].id, "chair:test")
        a, b = _delegate(m, 0), _delegate(m, 1)
        ra = speakers.request(s, m, a).value
        speakers.request(s, m, b)
        speakers.give(s, m, ra.id, 60, "chair:test")
        meetings.set_current_item(s, m, m.items[3].id, "chair:test")  # the same item again: the speech goes on
        assert speakers.speakers_state(m)["speaking"]["name"] == a.name

        meetings.set_current_item(s, m, m.items[4].id, "chair:test")
        st = speakers.speakers_state(m)
        assert st["speaking"] is None and st["queue"] == [] and st["agenda_item_id"] == m.items[4].id
        [h] = speakers.history(s, m.id)
        assert h["name"] == a.name and h["agenda_item_id"] == m.items[3].id and h["ended_at"] is not None
        ended = s.scalars(select(AuditEvent).where(AuditEvent.kind == "speak.ended")).all()
        assert [(e.actor, e.data["reason"], e.data["request_id"]) for e in ended] == [
            ("chair:test", "agenda.moved", ra.id)]

        # Back on the item, the delegate who was still waiting is next again.
        meetings.set_current_item(s, m, m.items[3].id, "chair:test")
        st = speakers.speakers_state(m)
        assert st["speaking"] is None and [q["name"] for q in st["queue"]] == [b.name]
