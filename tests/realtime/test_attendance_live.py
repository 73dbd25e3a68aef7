"""Joining, attendance and agenda control, through a real server and real Socket.IO clients."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests
import socketio

from tests.conftest import LiveServer
from tests.db_kit import peek
from tests.realtime.helpers import Screen


def _delegates(srv: LiveServer) -> list[dict[str, Any]]:
    return [d for d in srv.links["delegates"] if d["role"] == "delegate"]


def test_connect_gets_state_snapshot_by_role(live_server: LiveServer) -> None:
    srv = live_server
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    guest = Screen(srv.url, srv.token(srv.links["guest"]))
    try:
        cs = chair.wait("state")
        gs = guest.wait("state")
        title = "Kỳ họp thứ Hai, Hội đồng nhân dân xã Đồng Lê khóa I, nhiệm kỳ 2026 - 2031"
        assert cs["meeting"]["full_title"] == title
        assert len(cs["agenda"]) == 6
        assert cs["attendance"] == gs["attendance"]
        assert cs["attendance"]["seated"] == 30 and cs["attendance"]["required"] == 20
        # The chair sees names; a guest does not.
        assert len([a for a in cs["attendees"] if a["role"] != "guest"]) == 30
        assert "attendees" not in gs
        assert cs["me"]["role"] == "chair" and gs["me"]["role"] == "guest"
    finally:
        chair.close()
        guest.close()


def test_unknown_token_is_refused(live_server: LiveServer) -> None:
    client = socketio.Client(reconnection=False)
    with pytest.raises(socketio.exceptions.ConnectionError):
        client.connect(live_server.url, auth={"token": "not-a-card"}, transports=["websocket"], wait_timeout=5)


def test_scanning_a_card_updates_every_screen(live_server: LiveServer) -> None:
    srv = live_server
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    kiosk = Screen(srv.url, srv.token(srv.links["kiosk"]))
    try:
        start = chair.wait("state")
        kiosk.wait("state")
        d = _delegates(srv)[0]
        # The delegate opens their QR link on their phone.
        phone = requests.Session()
        r = phone.get(srv.local(d["url"]), timeout=10)
        assert r.status_code == 200 and '<body data-page="delegate"' in r.text  # the page itself (web/join.py)
        ev = chair.wait("attendance", lambda p: p["attendance"]["present"] == 1)
        assert ev["seq"] > start["seq"]
        row = next(a for a in ev["attendees"] if a["id"] == d["participant_id"])
        assert row["status"] == "present" and row["arrived_at"]
        kev = kiosk.wait("attendance", lambda p: p["attendance"]["present"] == 1)
        assert "attendees" not in kev
        assert kev["seq"] == ev["seq"]
        # A second scan changes nothing and sends nothing new.
        phone.get(srv.local(d["url"]), timeout=10)
        api = requests.get(f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/attendance",
                           headers={"Authorization": f"Bearer {srv.token(srv.links['clerk'])}"}, timeout=10)
        assert api.json()["summary"]["present"] == 1
    finally:
        chair.close()
        kiosk.close()


def test_quorum_line_reaches_twenty_of_thirty(live_server: LiveServer) -> None:
    srv = live_server
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    try:
        chair.wait("state")
        everyone = srv.links["delegates"]
        for d in everyone[:19]:
            requests.get(srv.local(d["url"]), timeout=10)
        ev = chair.wait("attendance", lambda p: p["attendance"]["present"] == 19)
        assert ev["attendance"]["quorate"] is False
        requests.get(srv.local(everyone[19]["url"]), timeout=10)
        ev = chair.wait("attendance", lambda p: p["attendance"]["present"] == 20)
        assert ev["attendance"] == {**ev["attendance"], "present": 20, "seated": 30, "required": 20, "quorate": True}
    finally:
        chair.close()


def test_clerk_marks_absence_with_reason(live_server: LiveServer) -> None:
    srv = live_server
    secretary = Screen(srv.url, srv.token(srv.links["secretary"][0]))
    try:
        secretary.wait("state")
        d = _delegates(srv)[1]
        url = f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/attendance/{d['participant_id']}"
        auth = {"Authorization": f"Bearer {srv.token(srv.links['clerk'])}"}
        r = requests.post(url, json={"status": "absent"}, headers=auth, timeout=10)
        assert r.status_code == 400 and "lý do" in r.json()["message"]
        r = requests.post(url, json={"status": "absent", "reason": "Đi công tác"}, headers=auth, timeout=10)
        assert r.status_code == 200
        ev = secretary.wait("attendance", lambda p: p["attendance"]["absent"] == 1)
        row = next(a for a in ev["attendees"] if a["id"] == d["participant_id"])
        assert row["status"] == "absent" and row["reason"] == "Đi công tác"
        # A delegate may not mark anyone.
        r = requests.post(url, json={"status": "present"}, timeout=10,
                          headers={"Authorization": f"Bearer {srv.token(d['url'])}"})
        assert r.status_code == 403
    finally:
        secretary.close()


def test_agenda_control_only_for_chair_and_clerk(live_server: LiveServer) -> None:
    srv = live_server
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    delegate = Screen(srv.url, srv.token(_delegates(srv)[0]["url"]))
    guest = Screen(srv.url, srv.token(srv.links["guest"]))
    try:
        st = chair.wait("state")
        delegate.wait("state")
        guest.wait("state")
        item = st["agenda"][1]["id"]
        for screen in (delegate, guest):
            res = screen.call("agenda.set_current", {"item_id": item})
            assert res["ok"] is False and res["code"] == "forbidden"
        assert chair.call("agenda.set_current", {"item_id": "x"})["ok"] is False
        res = chair.call("agenda.set_current", {"item_id": item})
        assert res["ok"] is True
        got = delegate.wait("state", lambda s: s["current_item_id"] == item)
        assert got["seq"] == res["seq"]
        guest.wait("state", lambda s: s["current_item_id"] == item)
        # Nobody has joined: opening is refused with the counts until the chair confirms it.
        meeting = f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}"
        chair_auth = {"Authorization": f"Bearer {srv.token(srv.links['chair'][0])}"}
        below = chair.call("meeting.set_status", {"status": "in_progress"})
        assert below["ok"] is False and below["code"] == "meeting.below_quorum"
        assert "có mặt 0/30, cần ít nhất 20" in below["error"] and below["error"].endswith("Vẫn khai mạc?")
        # Nothing changed: still not opened, and no opening in the audit log. (Not `seq`: the demo documents,
        # still being processed in the background, move it on their own.)
        assert requests.get(meeting, headers=chair_auth, timeout=10).json()["status"] == "draft"
        with peek(srv) as db:
            assert db.execute("SELECT count(*) FROM audit_event WHERE kind = 'meeting.in_progress'").fetchone() == (0,)
        assert chair.call("meeting.set_status", {"status": "in_progress", "below_quorum_ok": "yes"})["code"] == \
            "payload.invalid"
        assert delegate.call("meeting.set_status", {"status": "in_progress", "below_quorum_ok": True})["code"] == \
            "forbidden"
        assert chair.call("meeting.set_status", {"status": "in_progress", "below_quorum_ok": True})["ok"] is True
        with peek(srv) as db:
            [(data,)] = db.execute("SELECT CAST(data AS TEXT) FROM audit_event "
                                   "WHERE kind = 'meeting.in_progress'").fetchall()
        assert json.loads(data) == {"present": 0, "seated": 30, "required": 20}  # opened knowingly, on record
        assert chair.call("meeting.set_status", {"status": "in_progress"})["ok"] is False
    finally:
        for s in (chair, delegate, guest):
            s.close()


def test_revoked_card_stops_at_once(live_server: LiveServer) -> None:
    srv = live_server
    d = _delegates(srv)[2]
    screen = Screen(srv.url, srv.token(d["url"]))
    try:
        screen.wait("state")
        clerk = srv.session_for(srv.links["clerk"])
        page = clerk.get(f"{srv.url}/clerk/", timeout=10).text
        import re

        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        r = clerk.post(f"{srv.url}/clerk/participants/{d['participant_id']}/reissue",
                       data={"csrf_token": csrf}, timeout=10)
        assert r.status_code == 200
        # The old card's live connection is told what to do and hung up; the old QR shows a clear page.
        assert screen.wait("revoked") == {"code": "auth.revoked",
                                          "message": "Thẻ của bạn đã bị thu hồi. Hãy gặp thư ký để nhận thẻ mới."}
        # Connecting again with it is refused with the same code (a page then stops reconnecting: static/js/live.js).
        refused = socketio.Client(reconnection=False)
        got: list[Any] = []
        refused.on("connect_error", lambda data: got.append(data))
        with pytest.raises(socketio.exceptions.ConnectionError):
            refused.connect(srv.url, auth={"token": srv.token(d["url"])}, transports=["websocket"], wait_timeout=10)
        assert got == [{"message": "Thẻ của bạn đã bị thu hồi. Hãy gặp thư ký để nhận thẻ mới.",
                        "data": {"code": "auth.revoked",
                                 "message": "Thẻ của bạn đã bị thu hồi. Hãy gặp thư ký để nhận thẻ mới."}}]
        old = requests.get(srv.local(d["url"]), timeout=10)
        assert old.status_code == 410 and "đã bị thu hồi" in old.text
        new_links = srv.refresh_links()
        new_url = next(x["url"] for x in new_links["delegates"] if x["participant_id"] == d["participant_id"])
        assert new_url != d["url"]
        assert requests.get(srv.local(new_url), timeout=10).status_code == 200
    finally:
        screen.close()


def test_websockets_go_without_compression(live_server: LiveServer) -> None:
    """Every browser offers permessage-deflate; the server declines it (a zlib context per phone costs ~150 kB and
    every broadcast would be compressed once per phone), and the connection works without it."""
    from websockets.sync.client import connect

    url = live_server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    with connect(url, compression="deflate") as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert str(ws.recv(timeout=5)).startswith("0{")  # Engine.IO's open packet
        ws.send("40" + json.dumps({"token": live_server.token(live_server.links["kiosk"])}))
        got = [str(ws.recv(timeout=5)) for _ in range(2)]
        assert any(m.startswith("40{") for m in got), got  # connected to the namespace


def test_a_page_that_has_the_snapshot_is_not_sent_it_again_on_connect(live_server: LiveServer) -> None:
    """The phone's page carries its snapshot in its HTML; connecting with that snapshot's digest it gets no second
    copy (5 kB on a slow link), while a stale digest, or a change since, still brings the full `state`."""
    srv = live_server
    srv.documents_ready()  # the demo's documents read in: the room's snapshot no longer moves on its own
    d = _delegates(srv)[0]
    token = srv.token(d["url"])
    first = Screen(srv.url, token)
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    quiet: list[Any] = []
    try:
        snap = first.wait("state")
        assert isinstance(snap["digest"], str) and len(snap["digest"]) == 24

        def connect(digest: str) -> tuple[socketio.Client, list[Any]]:
            got: list[Any] = []
            c = socketio.Client(reconnection=False)
            c.on("state", got.append)
            c.connect(srv.url, auth={"token": token, "digest": digest}, transports=["websocket"], wait_timeout=10)
            quiet.append(c)
            return c, got

        same, same_got = connect(snap["digest"])
        stale, stale_got = connect("0" * 24)
        import time

        time.sleep(1.0)
        assert same.connected and same_got == []  # the snapshot it has: nothing sent
        assert len(stale_got) == 1 and stale_got[0]["digest"] == snap["digest"]
        # `sync` always answers with the full snapshot.
        assert same.call("sync", {}, timeout=10)["ok"] is True
        deadline = time.monotonic() + 10
        while not same_got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert same_got and same_got[0]["seq"] >= snap["seq"] and same_got[0]["agenda"] == snap["agenda"]
        # After a change (the chair moves to an item: seq moves), the old digest brings the new snapshot.
        agenda_id = snap["agenda"][1]["id"]
        assert chair.call("agenda.set_current", {"item_id": agenda_id})["ok"] is True
        later, later_got = connect(snap["digest"])
        deadline = time.monotonic() + 10
        while not later_got and time.monotonic() < deadline:
            time.sleep(0.05)
        assert later_got and later_got[0]["current_item_id"] == agenda_id and later_got[0]["seq"] > snap["seq"]
        assert later_got[0]["digest"] != snap["digest"]
    finally:
        for c in quiet:
            c.disconnect()
        first.close()
        chair.close()
