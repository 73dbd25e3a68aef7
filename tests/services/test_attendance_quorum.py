"""The attendance line's quorum is domain/quorum.py's rule, on a real database (no server)."""

from __future__ import annotations

from typing import Any

from meeting_server.domain.permissions import DELEGATE_ROLES
from meeting_server.domain.quorum import is_quorate
from meeting_server.domain.voting import Threshold
from meeting_server.services import attendance, meetings
from meeting_server.store import db


def test_summary_says_what_the_domain_rule_says(app: Any) -> None:
    with db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        council = [p for p in m.participants if p.role in {r.value for r in DELEGATE_ROLES}]
        assert len(council) == m.seated_count == 30
        for rule in ("two_thirds", "more_than_half"):
            m.quorum_rule = rule
            for n, p in enumerate(council, start=1):
                attendance.joined(s, m, p)
                line = attendance.summary(m)
                assert line.present == n
                assert line.quorate == is_quorate(n, 30, Threshold(rule)), (rule, n)
            for p in council:
                p.attendance.status = "unknown"
            s.flush()
        # The clerk's N is out of date (fewer than are present): the line still shows, and it is a quorum.
        for p in council:
            attendance.joined(s, m, p)
        m.seated_count = 20
        line = attendance.summary(m)
        assert (line.present, line.seated, line.quorate) == (30, 20, True)
