"""Every change to the minutes reaches the screens with its seq, on a real server with a real Socket.IO client.

A change that bumps the meeting's `seq` and announces nothing leaves a gap: at the next event every screen of the
room sees it and asks for a full `sync` at once (issue 16, `post_version`).
"""

from __future__ import annotations

import requests

from tests.conftest import LiveServer
from tests.realtime.helpers import Screen


def test_a_correction_of_signed_minutes_is_announced_with_its_seq(live_server: LiveServer) -> None:
    srv = live_server
    base = f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/minutes"
    auth = srv.bearer(srv.links["clerk"])
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    try:
        chair.wait("state")
        r = requests.put(base + "/draft", headers=auth, timeout=10,
                         json={"changes": {"conclusions": "Chủ tọa bế mạc kỳ họp."}})
        assert r.status_code == 200, r.text
        r = requests.post(base + "/finalize", headers=auth, json={}, timeout=120)
        assert r.status_code == 200, r.text
        signed = chair.wait("state")  # the meeting is frozen: every screen is told
        r = requests.post(base + "/versions", headers=auth, timeout=10, json={"note": "Sửa lỗi chính tả"})
        assert r.status_code == 201, r.text
        # The correction is the next change of the meeting: the screen hears of it, with the very next seq,
        # rather than meeting a gap at the next event.
        corrected = chair.wait("state", timeout=5)
        assert corrected["seq"] == signed["seq"] + 1
        assert chair.call("sync")["ok"] is True
        assert chair.wait("state")["seq"] == corrected["seq"]  # nothing else happened in between
    finally:
        chair.close()
