"""Every change to the minutes reaches the screens with its seq, on a real server with a real Socket.IO client.

A change that bumps the meeting's `seq` and announces nothing leaves a gap: at the next event every screen of the
room sees it and asks for a full `sync` at once (issue 16, `post_version`).
"""

from __future__ import annotations

import requests

from tests.conftest import LiveServer
from tests.minutes.signing_kit import sign_live
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
        srv.documents_ready()  # the minutes are prepared only once every document is read in
        r = sign_live(srv)  # the clerk prepares, the secretary then the chair sign from their own cards
        assert r.status_code == 200 and r.json()["stage"] == "final", r.text
        # Every step is told to every screen: prepared, signed by the secretary, signed by the chair.
        steps = [chair.wait("state", timeout=30)["seq"] for _ in range(3)]
        assert steps == sorted(steps) and len(set(steps)) == 3
        signed = {"seq": steps[-1]}
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
