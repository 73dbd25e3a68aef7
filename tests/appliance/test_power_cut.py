"""A power cut in the middle of a sitting: SIGKILL the server, start it again on the same data directory.

The meeting, the attendance (with reasons) and the open poll come back as they were, and a screen that was
connected reconnects by itself and is brought up to date without anyone touching it.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from pathlib import Path

from tests.conftest import LiveServer
from tests.realtime.voting_kit import api, chair, clerk, delegates, join, make_poll, open_poll, screen


def test_sigkill_and_restart_keeps_sitting_attendance_and_open_poll(
        server_factory: Callable[..., LiveServer], tmp_path: Path) -> None:
    data = tmp_path / "box"
    srv = server_factory(data_dir=data)
    mid = srv.links["meeting_id"]
    people = delegates(srv)
    for d in people[:20]:
        join(srv, d["url"])
    r = api(srv, clerk(srv), "POST", f"/meetings/{mid}/attendance/{people[25]['participant_id']}",
            {"status": "absent", "reason": "Đi công tác"})
    assert r.status_code == 200
    chair_screen = screen(srv, chair(srv))
    assert chair_screen.call("meeting.set_status", {"status": "in_progress"})["ok"] is True
    poll = make_poll(srv)
    open_poll(srv, poll["id"])
    voter = screen(srv, people[0]["url"])
    assert voter.call("cast", {"poll_id": poll["id"], "choice": "for"})["ok"] is True
    before = api(srv, clerk(srv), "GET", f"/meetings/{mid}/attendance").json()
    before_meeting = api(srv, clerk(srv), "GET", f"/meetings/{mid}").json()

    # The power goes: no shutdown handler runs, no buffer is flushed.
    os.kill(srv.proc.pid, signal.SIGKILL)
    srv.proc.wait(10)
    again = server_factory(data_dir=data, port=srv.port)

    after = api(again, clerk(again), "GET", f"/meetings/{mid}/attendance").json()
    assert after == before
    assert after["summary"]["present"] == 20 and after["summary"]["absent"] == 1
    absent = next(a for a in after["attendees"] if a["id"] == people[25]["participant_id"])
    assert absent["reason"] == "Đi công tác"
    m = api(again, clerk(again), "GET", f"/meetings/{mid}").json()
    assert m["status"] == "in_progress" and m["seq"] == before_meeting["seq"]
    p = api(again, chair(again), "GET", f"/polls/{poll['id']}").json()
    assert p["state"] == "open"
    # The chair's screen reconnected by itself (same port, same cookie-less token) and got a fresh snapshot.
    state = chair_screen.wait("state", lambda s: s["voting"]["polls"] and s["attendance"] == before["summary"],
                              timeout=30)
    assert state["meeting"]["status"] == "in_progress"
    mine = voter.wait("state", lambda s: True, timeout=30)
    assert mine["voting"]["mine"][str(poll["id"])]["voted"] is True
    chair_screen.close()
    voter.close()
