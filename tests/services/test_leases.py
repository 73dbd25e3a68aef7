"""Leases in the database (services/leases.py) on a real SQLite file: one owner at a time, renewal, take-over once
the owner stopped renewing (audited), release."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from meeting_server.domain import leases as rules
from meeting_server.services import leases
from meeting_server.store.tables import utcnow


def test_one_owner_at_a_time_and_take_over_once_it_ran_out(s: Session, stored: Callable[[str], Any]) -> None:
    other = sessionmaker(s.get_bind(), expire_on_commit=False)()
    t0 = utcnow()
    assert leases.take(s, "poll:1:countdown", "A", meeting_id=1, now=t0)
    assert not leases.take(other, "poll:1:countdown", "B", meeting_id=1, now=t0 + timedelta(seconds=1))
    assert leases.take(s, "poll:1:countdown", "A", now=t0 + timedelta(seconds=2))  # A keeps it
    # A renews: still A's past the first expiry.
    assert leases.renew(s, "A", now=t0 + timedelta(seconds=4)) == {"poll:1:countdown"}
    assert not leases.take(other, "poll:1:countdown", "B", now=t0 + rules.TTL + timedelta(seconds=1))
    assert leases.holds(s, "poll:1:countdown", "A", now=t0 + rules.TTL + timedelta(seconds=1))
    # A stops renewing (it died): once its lease ran out, B takes it over, and the audit log says so, once.
    late = t0 + timedelta(seconds=4) + rules.TTL
    assert leases.take(other, "poll:1:countdown", "B", meeting_id=1, now=late)
    assert not leases.holds(s, "poll:1:countdown", "A", now=late)
    assert leases.renew(s, "A", now=late) == set()  # A's work is no longer A's
    assert stored("SELECT count(*) FROM audit_event WHERE kind = 'lease.taken_over'") == 1
    # As text on both databases (PostgreSQL's json column comes back already parsed).
    entry = json.loads(stored("SELECT CAST(data AS TEXT) FROM audit_event WHERE kind = 'lease.taken_over'"))
    assert entry["lease"] == "poll:1:countdown" and entry["from"] == "A"
    assert stored("SELECT meeting_id FROM audit_event WHERE kind = 'lease.taken_over'") == 1
    # Release: only the owner's release counts.
    leases.release(s, "poll:1:countdown", "A")
    assert stored("SELECT owner FROM lease WHERE name = 'poll:1:countdown'") == "B"
    leases.release(other, "poll:1:countdown", "B")
    assert stored("SELECT count(*) FROM lease") == 0
    other.close()


def test_a_clean_stop_gives_every_lease_back(s: Session, stored: Callable[[str], Any]) -> None:
    for name in ("poll:1:countdown", "document:2"):
        assert leases.take(s, name, "A")
    assert leases.take(s, "document:3", "B")
    leases.release_all(s, "A")
    assert stored("SELECT count(*) FROM lease") == 1
    assert stored("SELECT owner FROM lease") == "B"
