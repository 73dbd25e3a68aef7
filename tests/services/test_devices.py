"""Which cards have a screen connected now (services/devices.py), told on any box: a connection's process runs while
its process lease does (domain/leases.process), not merely while some process on this box has its pid."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from meeting_server.domain import leases as rules
from meeting_server.services import devices, leases, meetings
from meeting_server.store import db
from meeting_server.store.tables import DeviceSession, Lease, utcnow


def _dead_pid() -> int:
    """A pid that no process has now (one that has just ended and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_devices_of_other_boxes_count_while_their_process_lease_runs(app: Any) -> None:
    here = socket.gethostname()[:40]
    dead = _dead_pid()
    with app.app_context(), db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        people = [p.id for p in m.participants][:6]
        me = leases.owner(app)
        now = utcnow()
        owners = {
            "mine": (me, os.getpid()),
            # Another box: its pid means nothing here (here it is a dead one); its lease says it runs.
            "other box, running": ("hop-2:4242:0badcafe", dead),
            "other box, gone": ("hop-3:4243:deadbeef", dead),
            # This box, lease not yet run out but the process is gone (SIGKILL a second ago): gone at once.
            "this box, killed": (f"{here}:{dead}:feedf00d", dead),
            # Written before 0014 (no owner): its pid on this box decides.
            "old row, running": (None, os.getpid()),
            "old row, gone": (None, dead),
        }
        for (label, (owner, pid)), person in zip(owners.items(), people, strict=True):
            s.add(DeviceSession(sid=f"sid-{label}", participant_id=person, pid=pid, owner=owner, connected_at=now))
        for owner, expires in (("hop-2:4242:0badcafe", now + rules.TTL), ("hop-3:4243:deadbeef", now - timedelta(1)),
                               (f"{here}:{dead}:feedf00d", now + rules.TTL)):
            s.add(Lease(name=rules.process(owner), owner=owner, expires_at=expires, taken_at=now))
        s.commit()
        by_label = dict(zip(owners, people, strict=True))
        live = {by_label["mine"], by_label["other box, running"], by_label["old row, running"]}

        assert devices.live_among(s, people) == live
        assert [devices.has_live_device(s, p) for p in people] == [p in live for p in people]

        assert devices.clear_stale(s) == 3
        left = set(s.scalars(select(DeviceSession.participant_id)))
        assert left == live
        # The lease of the process that died on another box went with its rows; a running one's stays.
        names = set(s.scalars(select(Lease.name)))
        assert rules.process("hop-3:4243:deadbeef") not in names
        assert rules.process("hop-2:4242:0badcafe") in names


def test_a_connection_is_stored_with_its_process_as_lease_owner(app: Any) -> None:
    with app.app_context(), db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        person = m.participants[0].id
        devices.connected(s, "sid-1", person)
        row = s.scalars(select(DeviceSession).where(DeviceSession.sid == "sid-1")).one()
        assert row.owner == leases.owner(app) and row.pid == os.getpid()
        assert devices.has_live_device(s, person)
        devices.disconnected(s, "sid-1")
        assert not devices.has_live_device(s, person)
