"""Requests to speak through a real server and real Socket.IO clients: the queue, the floor, the record."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
import socketio

from tests.conftest import LiveServer, start_server
from tests.realtime.helpers import Screen


@pytest.fixture(scope="module")
def shared_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(tmp_path_factory.mktemp("speakers") / "data")
    yield srv
    srv.stop()


@pytest.fixture
def live_server(shared_server: LiveServer) -> LiveServer:
    """One server for this module (a start costs seconds), brought back before each test to no agenda item under
    way, nobody speaking, nobody waiting and the five-minute default; tests read only their own history rows."""
    _reset(shared_server)
    return shared_server


def _reset(srv: LiveServer) -> None:
    with screens(srv, srv.links["chair"][0]) as (chair,):
        chair.call("speak.end")
        for item in next(data for name, data in chair.seen if name == "state")["agenda"]:
            res = chair.call("agenda.set_current", {"item_id": item["id"]})
            st = chair.wait("state", lambda s, seq=res["seq"]: s["seq"] == seq)
            for q in st["speakers"]["queue"]:
                assert chair.call("speak.withdraw", {"request_id": q["request_id"]})["ok"] is True
        assert chair.call("agenda.set_current", {"item_id": None})["ok"] is True
        assert chair.call("speak.set_time", {"limit_s": 300})["ok"] is True


def _delegates(srv: LiveServer) -> list[dict[str, Any]]:
    return [d for d in srv.links["delegates"] if d["role"] == "delegate"]


@contextmanager
def screens(srv: LiveServer, *urls: str) -> Iterator[list[Screen]]:
    """Connected screens for the given join links, each past its first `state`."""
    opened: list[Screen] = []
    try:
        for url in urls:
            sc = Screen(srv.url, srv.token(url))
            sc.wait("state")
            opened.append(sc)
        yield opened
    finally:
        for sc in opened:
            sc.close()


def _start_item(chair: Screen, index: int = 3) -> int:
    """The chair moves the sitting to an agenda item (default: "Thảo luận tại hội trường")."""
    first = next(data for name, data in chair.seen if name == "state")
    item = int(first["agenda"][index]["id"])
    res = chair.call("agenda.set_current", {"item_id": item})
    assert res["ok"] is True
    chair.wait("state", lambda s: s["seq"] == res["seq"])
    return item


def _state(sc: Screen, min_seq: int) -> dict[str, Any]:
    """A fresh `state` (asked for with `sync`) at least as new as `min_seq`."""
    assert sc.call("sync")["ok"] is True
    return sc.wait("state", lambda s: s["seq"] >= min_seq)  # type: ignore[no-any-return]


def _history(srv: LiveServer) -> list[dict[str, Any]]:
    """What the minutes will read, straight from the server's database file."""
    from sqlalchemy.orm import Session

    from meeting_server.services import speakers
    from meeting_server.store.db import make_engine

    engine = make_engine(srv.database_url or f"sqlite:///{srv.data_dir / 'meeting.db'}", srv.data_dir)
    try:
        with Session(engine) as s:
            return speakers.history(s, srv.links["meeting_id"])
    finally:
        engine.dispose()


def test_request_give_end_flow_reaches_every_screen(live_server: LiveServer) -> None:
    srv = live_server
    # The phone's page carries the panel; its strings and its script come after the first screen (web/catalogs.py).
    phone = requests.Session()
    html = phone.get(srv.local(_delegates(srv)[0]["url"]), timeout=10).text
    block = re.search(r'data-later-strings="([^"]+)"', html)
    assert block is not None
    script = phone.get(srv.url + block.group(1), timeout=10).text
    strings = json.loads(script[script.index("})(") + 3:script.rindex(");")])["speakers"]
    assert strings["request"] == "Xin phát biểu" and strings["withdraw"] == "Rút đăng ký"
    assert strings["your_place"] == "Bạn đứng thứ {place}"
    # speakers.js comes in the page's later bundle (web/statics.py BUNDLES), which live.js fetches.
    assert 'id="speak-panel"' in html and 'data-later="/static/bundle/delegate-later.js?v=' in html
    a, b = _delegates(srv)[0], _delegates(srv)[1]
    with screens(srv, srv.links["chair"][0], a["url"], b["url"], srv.links["kiosk"], srv.links["guest"]) as (
        chair, pa, pb, kiosk, guest,
    ):
        item = _start_item(chair)

        res = pa.call("speak.request")
        assert res["ok"] is True
        ev = kiosk.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert [q["name"] for q in ev["queue"]] == [a["name"]]
        assert ev["agenda_item_id"] == item and ev["speaking"] is None and ev["next"]["name"] == a["name"]

        res = pb.call("speak.request")
        assert res["ok"] is True
        ev = pb.wait("speakers", lambda p: p["seq"] == res["seq"])
        # Order of requests; each knows its place ("Bạn đứng thứ 2").
        assert [(q["place"], q["name"]) for q in ev["queue"]] == [(1, a["name"]), (2, b["name"])]
        assert ev["queue"][1]["participant_id"] == b["participant_id"]
        guest.wait("speakers", lambda p: p["seq"] == res["seq"])

        first = ev["queue"][0]["request_id"]
        res = chair.call("speak.give", {"request_id": first, "limit_s": 120})
        assert res == {**res, "ok": True, "limit_s": 120}
        ev = kiosk.wait("speakers", lambda p: p["seq"] == res["seq"])
        sp = ev["speaking"]
        assert sp["name"] == a["name"] and sp["limit_s"] == 120
        # The countdown is anchored in server time: end = start + limit, and the server's clock travels along.
        assert sp["ends_at_ms"] - sp["started_at_ms"] == 120_000
        assert sp["started_at_ms"] <= ev["server_now_ms"] < sp["ends_at_ms"]
        assert 118 <= sp["remaining_s"] <= 120 and sp["over_time"] is False
        assert [q["name"] for q in ev["queue"]] == [b["name"]] and ev["next"]["name"] == b["name"]

        # Giving the floor to the next one ends the first speech at the same instant.
        second = ev["queue"][0]["request_id"]
        res = chair.call("speak.give", {"request_id": second})
        assert res["ok"] is True and res["limit_s"] == 300  # the meeting's default
        ev = pa.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert ev["speaking"]["name"] == b["name"] and ev["queue"] == [] and ev["next"] is None

        res = chair.call("speak.end")
        assert res["ok"] is True
        ev = kiosk.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert ev["speaking"] is None

        hist = [h for h in _history(srv) if h["request_id"] in (first, second)]
        assert [(h["name"], h["agenda_item_id"]) for h in hist] == [(a["name"], item), (b["name"], item)]
        assert hist[0]["ended_at"] == hist[1]["started_at"]
        assert all(h["ended_at"] is not None and h["started_at"] <= h["ended_at"] for h in hist)
        assert hist[0]["limit_s"] == 120 and hist[0]["agenda_item_title"] == "Thảo luận tại hội trường"
        assert isinstance(hist[0]["title"], str) and hist[0]["participant_id"] == a["participant_id"]


def test_withdraw_request_again_and_lists_per_agenda_item(live_server: LiveServer) -> None:
    srv = live_server
    a, b = _delegates(srv)[0], _delegates(srv)[1]
    with screens(srv, srv.links["chair"][0], a["url"], b["url"]) as (chair, pa, pb):
        spoken = len(_history(srv))
        discussion = _start_item(chair)
        assert pa.call("speak.request")["ok"] is True
        res = pa.call("speak.withdraw")
        assert res["ok"] is True
        ev = chair.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert ev["queue"] == []
        again = pa.call("speak.withdraw")
        assert again == {"ok": False, "error": "Bạn chưa đăng ký phát biểu ở nội dung này.",
                         "code": "speak.not_waiting"}
        # Withdrawn, one may ask again; the chair may also take someone off the list.
        res = pa.call("speak.request")
        assert res["ok"] is True
        res = chair.call("speak.withdraw", {"request_id": res["request_id"]})
        assert res["ok"] is True
        assert chair.wait("speakers", lambda p: p["seq"] == res["seq"])["queue"] == []
        # No speech was held, so the record of speeches did not grow.
        assert len(_history(srv)) == spoken

        # Each agenda item has its own list: a request on one item is not in the next item's queue.
        assert pa.call("speak.request")["ok"] is True
        vote = _start_item(chair, 4)
        st = _state(chair, 0)
        assert st["speakers"]["queue"] == [] and st["speakers"]["agenda_item_id"] == vote
        assert pb.call("speak.request")["ok"] is True
        assert pa.call("speak.request")["ok"] is True  # the same delegate may ask again on this item
        back = chair.call("agenda.set_current", {"item_id": discussion})
        st = chair.wait("state", lambda s: s["seq"] == back["seq"])
        assert [q["name"] for q in st["speakers"]["queue"]] == [a["name"]]


def test_refusals_leave_everything_unchanged(live_server: LiveServer) -> None:
    srv = live_server
    a, b = _delegates(srv)[0], _delegates(srv)[1]
    with screens(srv, srv.links["chair"][0], a["url"], b["url"], srv.links["guest"], srv.links["kiosk"],
                 srv.links["guests"][0]["url"]) as (chair, pa, pb, room_guest, kiosk, invited):
        # No agenda item under way yet: nothing to ask on.
        res = pa.call("speak.request")
        assert res["ok"] is False and res["code"] == "speak.no_item"
        assert "chưa bắt đầu nội dung" in res["error"]
        _start_item(chair)
        seq = _state(chair, 0)["seq"]

        for screen in (room_guest, kiosk, invited):
            res = screen.call("speak.request")
            assert res == {"ok": False, "error": "Bạn không có quyền thực hiện thao tác này.", "code": "forbidden"}

        req = pa.call("speak.request")
        assert req["ok"] is True
        twice = pa.call("speak.request")
        assert twice == {"ok": False, "error": "Bạn đã đăng ký phát biểu ở nội dung này rồi.",
                         "code": "speak.already_requested"}

        # A delegate, the session secretary or the clerk may not run the list: that is the chair's.
        with screens(srv, srv.links["secretary"][0], srv.links["clerk"]) as (secretary, clerk):
            for screen in (pb, secretary, clerk):
                for event, data in (("speak.give", {"request_id": req["request_id"]}), ("speak.end", None),
                                    ("speak.set_time", {"limit_s": 60})):
                    res = screen.call(event, data)
                    assert res["ok"] is False and res["code"] == "forbidden", event
            # The clerk holds no delegate's card: no request of their own either.
            assert clerk.call("speak.request")["code"] == "forbidden"
        # A delegate may not withdraw someone else's request.
        res = pb.call("speak.withdraw", {"request_id": req["request_id"]})
        assert res == {"ok": False, "error": "Bạn chỉ rút được đăng ký của chính mình.", "code": "forbidden"}

        # The floor only goes to someone waiting.
        assert pb.call("speak.request")["ok"] is True
        wd = pb.call("speak.withdraw")
        res = chair.call("speak.give", {"request_id": wd["request_id"]})
        assert res == {"ok": False, "error": "Chỉ mời phát biểu được đại biểu đang chờ.", "code": "speak.not_waiting"}
        res = chair.call("speak.give", {"request_id": 987654})
        assert res["ok"] is False and res["code"] == "speak.not_found"
        res = chair.call("speak.end")
        assert res == {"ok": False, "error": "Không có đại biểu nào đang phát biểu.", "code": "speak.nobody_speaking"}

        # Bad input: a sentence, never a crash.
        invalid, integer = "Dữ liệu gửi lên không hợp lệ.", "Trường «%s» phải là một số nguyên."
        for event, data, error in (
                ("speak.give", {"request_id": "1"}, integer % "request_id"),
                ("speak.give", None, integer % "request_id"),
                ("speak.give", [1], invalid), ("speak.give", {"request_id": True}, integer % "request_id"),
                ("speak.set_time", {"limit_s": "60"}, integer % "limit_s"),
                ("speak.set_time", {"limit_s": 60, "current": "yes"}, "Trường «current» phải là true hoặc false.")):
            res = chair.call(event, data)
            assert res == {"ok": False, "error": error, "code": "payload.invalid"}, data
        for limit in (0, 29, 3601, -5):
            res = chair.call("speak.set_time", {"limit_s": limit})
            assert res["code"] == "speak.invalid_time" and "30 giây đến 60 phút" in res["error"]
            res = chair.call("speak.give", {"request_id": req["request_id"], "limit_s": limit})
            assert res["code"] == "speak.invalid_time"

        # Only the successful changes moved seq: request, request, withdraw.
        state = _state(chair, seq + 3)
        assert state["seq"] == seq + 3
        assert [q["name"] for q in state["speakers"]["queue"]] == [a["name"]]
        assert state["speakers"]["speaking"] is None


def test_revoked_card_cannot_request(live_server: LiveServer) -> None:
    srv = live_server
    d = _delegates(srv)[2]
    with screens(srv, srv.links["chair"][0], d["url"]) as (chair, phone):
        _start_item(chair)
        clerk = srv.session_for(srv.links["clerk"])
        page = clerk.get(f"{srv.url}/clerk/", timeout=10).text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        r = clerk.post(f"{srv.url}/clerk/participants/{d['participant_id']}/reissue",
                       data={"csrf_token": csrf}, timeout=10)
        assert r.status_code == 200
        phone.wait("revoked")
        # The old card can neither reconnect nor, had it stayed connected, ask for the floor.
        old = socketio.Client(reconnection=False)
        with pytest.raises(socketio.exceptions.ConnectionError):
            old.connect(srv.url, auth={"token": srv.token(d["url"])}, transports=["websocket"], wait_timeout=5)
        st = _state(chair, 0)
        assert st["speakers"]["queue"] == []
        # The new card works.
        new_url = next(x["url"] for x in srv.refresh_links()["delegates"]
                       if x["participant_id"] == d["participant_id"])
        with screens(srv, new_url) as (fresh,):
            assert fresh.call("speak.request")["ok"] is True


def test_speaking_time_setting_and_state_snapshot(live_server: LiveServer) -> None:
    srv = live_server
    a = _delegates(srv)[0]
    with screens(srv, srv.links["chair"][0], a["url"]) as (chair, pa):
        _start_item(chair)
        res = chair.call("speak.set_time", {"limit_s": 180})
        assert res["ok"] is True
        ev = pa.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert ev["default_limit_s"] == 180
        req = pa.call("speak.request")
        assert chair.call("speak.give", {"request_id": req["request_id"]})["limit_s"] == 180
        # More time for the speaker under way: the end moves, the start does not.
        res = chair.call("speak.set_time", {"limit_s": 240, "current": True})
        assert res["ok"] is True
        ev = pa.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert ev["speaking"]["limit_s"] == 240 and ev["default_limit_s"] == 180
        assert ev["speaking"]["ends_at_ms"] - ev["speaking"]["started_at_ms"] == 240_000
        # A screen that connects now (or reconnects) gets the list in its first `state`.
    with screens(srv, srv.links["kiosk"]) as (kiosk,):
        st = kiosk.seen[-1][1]
        assert st["speakers"]["speaking"]["name"] == a["name"]
        assert st["speakers"]["speaking"]["limit_s"] == 240
        assert isinstance(st["speakers"]["server_now_ms"], int)
    hist = [h for h in _history(srv) if h["request_id"] == req["request_id"]]
    assert len(hist) == 1 and hist[0]["ended_at"] is None and hist[0]["duration_s"] is None


def test_two_taps_at_once_make_one_request(live_server: LiveServer) -> None:
    """A phone and a tablet of the same card tap together: one request, one refusal, never two places."""
    srv = live_server
    d = _delegates(srv)[4]
    with screens(srv, srv.links["chair"][0], d["url"], d["url"]) as (chair, phone, tablet):
        _start_item(chair)
        results: list[Any] = []
        threads = [threading.Thread(target=lambda sc=sc: results.append(sc.call("speak.request")))
                   for sc in (phone, tablet)]
        for th in threads:
            th.start()
        for th in threads:
            th.join(15)
        assert sorted(r["ok"] for r in results) == [False, True]
        refused = next(r for r in results if not r["ok"])
        assert refused["code"] == "speak.already_requested"
        st = _state(chair, max(r.get("seq", 0) for r in results))
        assert [q["participant_id"] for q in st["speakers"]["queue"]] == [d["participant_id"]]
