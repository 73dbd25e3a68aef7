"""Every poll kind and every refusal, through a real server, real Socket.IO phones and the HTTP API."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, start_server
from tests.db_kit import peek
from tests.realtime.helpers import Screen
from tests.realtime.voting_kit import (
    api,
    chair,
    clerk,
    close_poll,
    delegates,
    join,
    make_poll,
    open_poll,
    screen,
    secretary,
)

PRESENT = 20  # plain delegates who join, besides the chair and the secretary


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module: the chair, the secretary and 20 delegates are present; 8 delegates are not."""
    server = start_server(Path(tmp_path_factory.mktemp("voting")))
    join(server, chair(server))
    join(server, secretary(server))
    for d in delegates(server)[:PRESENT]:
        join(server, d["url"])
    yield server
    server.stop()


@pytest.fixture(scope="module")
def phones(srv: LiveServer) -> Iterator[list[Screen]]:
    """The 20 present delegates' phones, connected for the whole module."""
    screens = [screen(srv, d["url"]) for d in delegates(srv)[:PRESENT]]
    yield screens
    for s in screens:
        s.close()


def _cast(phone: Screen, poll_id: int, choice: Any) -> dict[str, Any]:
    return dict(phone.call("cast", {"poll_id": poll_id, "choice": choice}))


def test_open_vote_counts_changes_once_and_names_only_for_the_bench(srv: LiveServer, phones: list[Screen]) -> None:
    kiosk = screen(srv, srv.links["kiosk"])
    chair_screen = screen(srv, chair(srv))
    try:
        poll = make_poll(srv)
        assert poll["state"] == "draft" and poll["kind"] == "open"
        opened = open_poll(srv, poll["id"])
        # Fixed at opening: the chair, the secretary and 20 delegates are present.
        assert opened["progress"] == {"poll_id": poll["id"], "voted": 0, "eligible": 22}
        ev = kiosk.wait("poll", lambda e: e["event"] == "opened")
        assert ev["poll"]["options"] == [{"key": "for", "label": "Tán thành"},
                                         {"key": "against", "label": "Không tán thành"},
                                         {"key": "abstain", "label": "Không biểu quyết"}]
        pid = poll["id"]
        for phone in phones[:15]:
            assert _cast(phone, pid, "for") == {"ok": True, "poll_id": pid, "changed": False}
        for phone in phones[15:17]:
            assert _cast(phone, pid, "against")["ok"] is True
        assert _cast(phones[17], pid, "abstain")["ok"] is True
        # A delegate may change an open-vote choice while the poll is open: still one ballot.
        assert _cast(phones[17], pid, "for") == {"ok": True, "poll_id": pid, "changed": True}
        # The chair votes on their own phone, twice: counted once.
        assert chair_screen.call("cast", {"poll_id": pid, "choice": "against"})["ok"] is True
        assert chair_screen.call("cast", {"poll_id": pid, "choice": "for"})["changed"] is True
        prog = kiosk.wait("poll.progress", lambda e: e["voted"] == 19)
        assert set(prog) == {"poll_id", "voted", "eligible", "seq"} and prog["eligible"] == 22
        # While open, nobody gets a running count, not even the chair.
        during = api(srv, chair(srv), "GET", f"/polls/{pid}").json()
        assert "result" not in during and during["progress"]["voted"] == 19
        closed = close_poll(srv, pid)
        res = closed["result"]
        assert [(o["key"], o["votes"], o["percent"]) for o in res["options"]] == [
            ("for", 17, "56,67%"), ("against", 2, "6,67%"), ("abstain", 0, "0,00%")]
        assert res["passed"] is True and res["required"] == 16 and res["seated"] == 30
        assert "Tán thành: 17/30 đại biểu, chiếm 56,67% tổng số đại biểu HĐND xã." in res["lines"]
        assert res["lines"][-1].startswith("Kết quả: Thông qua")
        # Everyone sees the same result; only the chair, secretary and clerk see who chose what.
        k = kiosk.wait("poll", lambda e: e["event"] == "closed")
        assert k["poll"]["result"] == res and "voters" not in k["poll"]
        c = chair_screen.wait("poll", lambda e: e["event"] == "closed")
        chair_row = next(v for v in c["poll"]["voters"] if v["participant_id"] == srv.links["delegates"][0][
            "participant_id"])
        assert chair_row["choice"] == "for"
        assert len(c["poll"]["voters"]) == 22 and sum(v["choice"] is None for v in c["poll"]["voters"]) == 3
        for who, sees in ((clerk(srv), True), (secretary(srv), True), (delegates(srv)[0]["url"], False),
                          (srv.links["guest"], False), (srv.links["kiosk"], False)):
            got = api(srv, who, "GET", f"/polls/{pid}").json()
            assert got["result"] == res and ("voters" in got) is sees
        phone_ev = phones[0].wait("poll", lambda e: e["event"] == "closed")
        assert phone_ev["poll"]["result"]["lines"] == res["lines"]
        # Voting on a closed poll.
        late = _cast(phones[19], pid, "for")
        assert late["ok"] is False and late["code"] == "vote.not_open" and "không đang mở" in late["error"]
    finally:
        kiosk.close()
        chair_screen.close()


def test_secret_yes_no_one_ballot_and_no_change(srv: LiveServer, phones: list[Screen]) -> None:
    poll = make_poll(srv, kind="secret", title="Bỏ phiếu kín về việc thành lập Tổ công tác",
                     threshold="two_thirds")
    pid = poll["id"]
    open_poll(srv, pid)
    for phone in phones[:16]:
        assert _cast(phone, pid, "yes")["ok"] is True
    for phone in phones[16:18]:
        assert _cast(phone, pid, "no")["ok"] is True
    again = _cast(phones[0], pid, "no")
    assert again == {"ok": False, "error": "Đại biểu đã bỏ phiếu; không thể thay đổi.", "code": "vote.already_voted"}
    offered = _cast(phones[18], pid, "for")  # an open-vote option is not offered on a secret ballot
    assert offered["ok"] is False and offered["code"] == "vote.invalid_choice" and "Đồng ý" in offered["error"]
    res = close_poll(srv, pid)["result"]
    assert (res["issued"], res["returned"], res["valid"], res["invalid"]) == (22, 18, 18, 0)
    assert [(o["key"], o["votes"]) for o in res["options"]] == [("yes", 16), ("no", 2)]
    # At least two-thirds of 30 is 20: 16 is not enough.
    assert res["required"] == 20 and res["passed"] is False
    assert "voters" not in api(srv, chair(srv), "GET", f"/polls/{pid}").json()


def test_election_counts_invalid_ballots_never_fixes_them(srv: LiveServer, phones: list[Screen]) -> None:
    poll = make_poll(srv, kind="election", title="Bầu Ủy viên Thường trực HĐND xã", seats=1,
                     candidates=["Nguyễn Thị Lan", "Trần Văn Minh", "Lò Văn Pếnh"])
    pid = poll["id"]
    assert [c["key"] for c in poll["candidates"]] == ["c1", "c2", "c3"]
    open_poll(srv, pid)
    for phone in phones[:9]:
        assert _cast(phone, pid, ["c1"])["ok"] is True
    for phone in phones[9:18]:
        assert _cast(phone, pid, ["c2"])["ok"] is True
    assert _cast(phones[18], pid, ["c1", "c2"])["ok"] is True  # more names than seats: invalid, counted
    assert _cast(phones[19], pid, [])["ok"] is True  # every name struck: invalid, counted
    assert _cast(phones[0], pid, ["c1"])["code"] == "vote.already_voted"
    res = close_poll(srv, pid)["result"]
    assert (res["returned"], res["valid"], res["invalid"]) == (20, 18, 2)
    assert [(o["key"], o["votes"]) for o in res["options"]] == [("c1", 9), ("c2", 9), ("c3", 0)]
    # 9 < 16: nobody reaches more than half of N.
    assert res["outcome"] == "seats_unfilled" and res["elected"] == []
    assert "Không có người trúng cử." in res["lines"]


def test_election_of_two(srv: LiveServer, phones: list[Screen]) -> None:
    poll = make_poll(srv, kind="election", title="Bầu hai Ủy viên Ban Kinh tế - Xã hội", seats=2,
                     candidates=[{"key": "lan", "name": "Nguyễn Thị Lan"}, {"key": "minh", "name": "Trần Văn Minh"},
                                 {"key": "penh", "name": "Lò Văn Pếnh"}])
    pid = poll["id"]
    open_poll(srv, pid)
    unknown = _cast(phones[0], pid, ["lan", "hoa"])
    assert unknown["code"] == "vote.unknown_candidate"
    for phone in phones[:17]:
        assert _cast(phone, pid, ["lan", "minh"])["ok"] is True
    assert _cast(phones[17], pid, ["penh", "lan"])["ok"] is True
    assert _cast(phones[18], pid, ["lan", "minh", "penh"])["ok"] is True  # three names for two seats: invalid
    res = close_poll(srv, pid)["result"]
    assert [(o["key"], o["votes"]) for o in res["options"]] == [("lan", 18), ("minh", 17), ("penh", 1)]
    assert res["outcome"] == "elected" and res["elected"] == ["lan", "minh"] and res["invalid"] == 1
    assert "Trúng cử: Nguyễn Thị Lan, Trần Văn Minh." in res["lines"]


def test_confidence_rating_three_levels_and_consequences(srv: LiveServer, phones: list[Screen]) -> None:
    poll = make_poll(srv, kind="confidence_rating", title="Lấy phiếu tín nhiệm",
                     officials=[{"key": "ct", "name": "Chủ tịch UBND xã"}, {"key": "pct", "name": "Phó Chủ tịch"}])
    pid = poll["id"]
    assert [lv["key"] for lv in poll["levels"]] == ["high", "normal", "low"]
    open_poll(srv, pid)
    bad = _cast(phones[0], pid, {"ct": "rất cao"})
    assert bad["code"] == "vote.invalid_level" and "Tín nhiệm cao" in bad["error"]
    for i, phone in enumerate(phones):
        choice = {"ct": "low" if i < 20 else "high", "pct": "high" if i < 5 else ("normal" if i < 18 else None)}
        assert _cast(phone, pid, choice)["ok"] is True
    res = close_poll(srv, pid)["result"]
    ct, pct = res["ratings"]
    assert [lv["votes"] for lv in ct["levels"]] == [0, 0, 20]
    assert ct["consequence"] == "dismissal_proposed"  # 20 of 30 is two-thirds
    assert [lv["votes"] for lv in pct["levels"]] == [5, 13, 0] and pct["invalid"] == 2
    assert any("đề nghị miễn nhiệm" in line for line in res["lines"])


def test_confidence_vote(srv: LiveServer, phones: list[Screen]) -> None:
    poll = make_poll(srv, kind="confidence_vote", title="Bỏ phiếu tín nhiệm",
                     officials=[{"key": "pct", "name": "Phó Chủ tịch UBND xã"}])
    pid = poll["id"]
    assert [o["label"] for o in poll["options"]] == ["Tín nhiệm", "Không tín nhiệm"]
    open_poll(srv, pid)
    for i, phone in enumerate(phones):
        assert _cast(phone, pid, "no" if i < 16 else "yes")["ok"] is True
    res = close_poll(srv, pid)["result"]
    assert [(o["key"], o["votes"]) for o in res["options"]] == [("yes", 4), ("no", 16)]
    assert res["outcome"] == "dismissal_proposed"


def test_refusals_on_cast(srv: LiveServer, phones: list[Screen]) -> None:
    absent = delegates(srv)[PRESENT]  # never joined
    others = {
        "guest": screen(srv, srv.links["guest"]),
        "invited": screen(srv, srv.links["guests"][0]["url"]),
        "kiosk": screen(srv, srv.links["kiosk"]),
        "clerk": screen(srv, clerk(srv)),
        "absent": Screen(srv.url, absent["url"].rsplit("/", 1)[1]),  # connecting does not mark present
    }
    try:
        draft = make_poll(srv, title="Chưa mở")
        assert _cast(phones[0], draft["id"], "for")["code"] == "vote.not_open"
        poll = make_poll(srv)
        pid = poll["id"]
        open_poll(srv, pid)
        for name in ("guest", "invited", "kiosk", "clerk"):
            res = others[name].call("cast", {"poll_id": pid, "choice": "for"})
            assert res == {"ok": False, "error": "Bạn không có quyền thực hiện thao tác này.", "code": "forbidden"}
        res = others["absent"].call("cast", {"poll_id": pid, "choice": "for"})
        assert res["ok"] is False and res["code"] == "vote.not_eligible"
        assert _cast(phones[0], pid, "maybe")["code"] == "vote.invalid_choice"
        assert _cast(phones[0], pid, ["for"])["code"] == "vote.invalid_choice"
        assert _cast(phones[0], 999999, "for")["code"] == "not_found"
        assert _cast(phones[0], "1", "for")["code"] == "payload.invalid"
        assert phones[0].call("cast", "for")["code"] == "payload.invalid"
        # A delegate marked present while the poll is open may vote.
        join(srv, absent["url"])
        assert others["absent"].call("cast", {"poll_id": pid, "choice": "for"})["ok"] is True
        assert api(srv, chair(srv), "GET", f"/polls/{pid}").json()["progress"]["eligible"] == 23
        # Nothing of the refused attempts was counted.
        res = close_poll(srv, pid)["result"]
        assert res["returned"] == 1 and res["issued"] == 23
    finally:
        for s in others.values():
            s.close()


def test_http_refusals_by_role(srv: LiveServer) -> None:
    m = srv.links["meeting_id"]
    body = {"kind": "open", "title": "Biểu quyết"}
    d = delegates(srv)[0]["url"]
    assert api(srv, None, "POST", f"/meetings/{m}/polls", body).status_code in (400, 401)
    assert api(srv, None, "GET", f"/meetings/{m}/polls").status_code == 401
    for who in (d, srv.links["guest"], srv.links["kiosk"], secretary(srv)):
        assert api(srv, who, "POST", f"/meetings/{m}/polls", body).status_code == 403
    assert api(srv, chair(srv), "POST", f"/meetings/{m}/polls", body).status_code == 201
    poll = make_poll(srv)
    pid = poll["id"]
    # Drafts are the bench's business.
    assert api(srv, d, "GET", f"/polls/{pid}").status_code == 404
    assert all(p["state"] != "draft" for p in api(srv, d, "GET", f"/meetings/{m}/polls").json()["polls"])
    # Opening, closing and cancelling: the chair of the sitting only.
    for who in (clerk(srv), secretary(srv), d, srv.links["guest"]):
        assert api(srv, who, "POST", f"/polls/{pid}/open").status_code == 403
        assert api(srv, who, "POST", f"/polls/{pid}/cancel", {"reason": "x"}).status_code == 403
    bad = api(srv, chair(srv), "POST", f"/polls/{pid}/open", {"countdown": "mười"})
    assert bad.status_code == 400 and "đếm ngược" in bad.json()["message"]
    bad = api(srv, chair(srv), "POST", f"/polls/{pid}/open", ["x"])
    assert bad.status_code == 400 and bad.json()["message"] == "Cần một đối tượng JSON."
    for wrong in ({"kind": "referendum", "title": "x"}, {"kind": "open", "title": ""},
                  {"kind": "election", "title": "Bầu", "seats": 2, "candidates": ["A"]},
                  {"kind": "open", "title": "x", "threshold": "most"},
                  {"kind": "open", "title": "x", "agenda_item_id": 99999}):
        r = api(srv, clerk(srv), "POST", f"/meetings/{m}/polls", wrong)
        assert r.status_code in (400, 404) and r.json()["message"], wrong
    # A cancel needs a reason; the record stays with it; a re-vote links to it.
    r = api(srv, chair(srv), "POST", f"/polls/{pid}/cancel", {"reason": "  "})
    assert r.status_code == 400 and "lý do" in r.json()["message"]
    r = api(srv, chair(srv), "POST", f"/polls/{pid}/cancel", {"reason": "Sai nội dung tờ trình"})
    assert r.json()["state"] == "cancelled" and r.json()["cancel_reason"] == "Sai nội dung tờ trình"
    assert api(srv, chair(srv), "POST", f"/polls/{pid}/open").json()["message"] == "Biểu quyết đã bị hủy."
    again = api(srv, clerk(srv), "POST", f"/polls/{pid}/revote")
    assert again.status_code == 201 and again.json()["revote_of_id"] == pid and again.json()["state"] == "draft"
    # Two polls open at once are refused.
    a, b = make_poll(srv, title="A"), make_poll(srv, title="B")
    open_poll(srv, a["id"])
    r = api(srv, chair(srv), "POST", f"/polls/{b['id']}/open")
    assert r.status_code == 400 and r.json()["error"] == "vote.another_open"
    close_poll(srv, a["id"])


def test_proxy_vote_by_the_secretary(srv: LiveServer, phones: list[Screen]) -> None:
    poll = make_poll(srv)
    pid = poll["id"]
    open_poll(srv, pid)
    target = delegates(srv)[PRESENT - 1]  # present, phone left at home
    body = {"participant_id": target["participant_id"], "choice": "for"}
    assert api(srv, delegates(srv)[0]["url"], "POST", f"/polls/{pid}/proxy", body).status_code == 403
    assert api(srv, chair(srv), "POST", f"/polls/{pid}/proxy", body).status_code == 403
    # While the delegate's own phone is connected, they vote on it: the secretary cannot.
    r = api(srv, secretary(srv), "POST", f"/polls/{pid}/proxy", body)
    assert r.status_code == 400 and r.json()["error"] == "vote.proxy_device_connected"
    phones[PRESENT - 1].close()
    for _ in range(50):  # the disconnect reaches the server a moment later
        r = api(srv, secretary(srv), "POST", f"/polls/{pid}/proxy", body)
        if r.json().get("error") != "vote.proxy_device_connected":
            break
        time.sleep(0.1)
    phones[PRESENT - 1] = screen(srv, target["url"])
    assert r.status_code == 200 and r.json()["progress"]["voted"] == 1
    res = close_poll(srv, pid)
    row = next(v for v in res["voters"] if v["participant_id"] == target["participant_id"])
    assert row["choice"] == "for" and row["proxy"] is True
    secret = make_poll(srv, kind="secret", title="Kín")
    open_poll(srv, secret["id"])
    r = api(srv, secretary(srv), "POST", f"/polls/{secret['id']}/proxy", body)
    assert r.status_code == 400 and r.json()["error"] == "vote.proxy_secret"
    # Paper ballots of a secret vote: the counting committee's totals, checked and marked.
    r = api(srv, clerk(srv), "POST", f"/polls/{secret['id']}/paper", {"issued": 2, "returned": 3})
    assert r.status_code == 400 and "biên bản kiểm phiếu" in r.json()["message"]
    assert _cast(phones[0], secret["id"], "yes")["ok"] is True
    r = api(srv, clerk(srv), "POST", f"/polls/{secret['id']}/paper",
            {"issued": 2, "returned": 2, "invalid": 0, "counts": {"yes": 1, "no": 1}})
    assert r.status_code == 200, r.text
    res = close_poll(srv, secret["id"])["result"]
    assert res["paper"]["returned"] == 2 and [o["votes"] for o in res["options"]] == [2, 1]
    assert any("phiếu giấy theo biên bản kiểm phiếu" in line for line in res["lines"])


def test_reconnecting_phone_learns_its_ballot_counted(srv: LiveServer, phones: list[Screen]) -> None:
    poll = make_poll(srv, kind="secret", title="Kín: nhớ phiếu")
    pid = poll["id"]
    open_poll(srv, pid)
    assert _cast(phones[3], pid, "yes")["ok"] is True
    again = screen(srv, delegates(srv)[3]["url"])
    other = screen(srv, delegates(srv)[4]["url"])
    try:
        st = again.seen[-1][1]
        assert st["voting"]["shown"]["id"] == pid and st["voting"]["shown"]["state"] == "open"
        assert st["voting"]["mine"] == {**st["voting"]["mine"], str(pid): {"voted": True}}
        assert str(pid) not in other.seen[-1][1]["voting"]["mine"]
    finally:
        again.close()
        other.close()
        close_poll(srv, pid)


def test_revoked_card_cannot_cast(srv: LiveServer, phones: list[Screen]) -> None:
    d = delegates(srv)[PRESENT - 2]
    phone = Screen(srv.url, d["url"].rsplit("/", 1)[1], )
    poll = make_poll(srv)
    open_poll(srv, poll["id"])
    try:
        session = srv.session_for(clerk(srv))
        page = session.get(f"{srv.url}/clerk/", timeout=10).text
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        r = session.post(f"{srv.url}/clerk/participants/{d['participant_id']}/reissue", data={"csrf_token": csrf},
                         timeout=10)
        assert r.status_code == 200
        try:
            res = phone.call("cast", {"poll_id": poll["id"], "choice": "for"}, timeout=3)
            assert res["ok"] is False
        except Exception:  # hung up at once: just as good, nothing was cast
            pass
        got = api(srv, chair(srv), "GET", f"/polls/{poll['id']}").json()
        assert got["progress"]["voted"] == 0
    finally:
        phone.client.disconnect()
        close_poll(srv, poll["id"])
        srv.refresh_links()
        requests.get(srv.local(next(x["url"] for x in srv.links["delegates"]
                                    if x["participant_id"] == d["participant_id"])), timeout=10)


def test_card_revoked_by_another_server_process_is_refused_at_its_next_ballot(srv: LiveServer) -> None:
    """With several server processes, only the one that revoked a card hangs its phones up; the others learn it at
    the card's next event. `cast` checks its tokens in the ballot writer's batch: the same refusal, then hang-up."""
    d = delegates(srv)[PRESENT - 3]
    phone = screen(srv, d["url"])
    poll = make_poll(srv)
    open_poll(srv, poll["id"])
    old = d["url"].rsplit("/", 1)[1]
    try:
        # What another process's revocation leaves in the shared database: the old token no longer names the card.
        with peek(srv) as db:
            db.execute("UPDATE participant SET token = ? WHERE token = ?", ("replaced-" + old[:20], old))
            db.execute("INSERT INTO revoked_token (token, participant_id, revoked_at) VALUES (?, ?, ?)",
                       (old, d["participant_id"], "2026-11-24 08:00:00"))
        res = phone.call("cast", {"poll_id": poll["id"], "choice": "for"})
        assert res == {"ok": False, "error": "Thẻ không còn hiệu lực.", "code": "auth.revoked"}
        deadline = time.monotonic() + 5
        while phone.client.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not phone.client.connected, "the revoked card's connection was not hung up"
        assert api(srv, chair(srv), "GET", f"/polls/{poll['id']}").json()["progress"]["voted"] == 0
    finally:
        with peek(srv) as db:
            db.execute("DELETE FROM revoked_token WHERE token = ?", (old,))
            db.execute("UPDATE participant SET token = ? WHERE id = ?", (old, d["participant_id"]))
        phone.close()
        close_poll(srv, poll["id"])
