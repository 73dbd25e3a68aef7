"""Question time through a real server and real Socket.IO clients: filing, refusals that change nothing, the chair
calling and ending questions, the projector's view, follow-ups from the speakers' queue, and the clerk's paper form
and list of written answers owed over HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, start_server
from tests.realtime.helpers import Screen

ASK = {"addressee_name": "Trần Văn Bình", "addressee_title": "Chủ tịch UBND xã", "topic": "Đường liên thôn",
       "text": "Khi nào sửa xong đường liên thôn Đồng Tâm?"}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    srv = start_server(tmp_path_factory.mktemp("questions") / "data")
    # The demo's documents read in first: each one ready moves the meeting's seq, which the test counts.
    srv.documents_ready()
    yield srv
    srv.stop()


@contextmanager
def screens(srv: LiveServer, *urls: str) -> Iterator[list[Screen]]:
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


def _delegates(srv: LiveServer) -> list[dict[str, Any]]:
    return [d for d in srv.links["delegates"] if d["role"] == "delegate"]


def _state(sc: Screen) -> dict[str, Any]:
    return next(data for name, data in reversed(sc.seen) if name == "state")


def test_question_time_from_filing_to_what_is_owed(live_server: LiveServer) -> None:
    srv = live_server
    a, b, c = _delegates(srv)[:3]
    with screens(srv, srv.links["chair"][0], a["url"], b["url"], srv.links["kiosk"], srv.links["guest"],
                 c["url"]) as (chair, pa, pb, kiosk, guest, pc):
        # A delegate files; every screen gets the list, the same for all.
        res = pa.call("question.file", ASK)
        assert res["ok"] is True
        qid = res["question_id"]
        ev = kiosk.wait("questions", lambda p: p["seq"] == res["seq"])
        assert [(q["id"], q["asker_name"], q["status"]) for q in ev["questions"]] == [(qid, a["name"], "filed")]
        guest.wait("questions", lambda p: p["seq"] == res["seq"])
        seq = res["seq"]

        # Refusals: in Vietnamese, and nothing changes (no new seq, no new question).
        for payload, words in (({**ASK, "text": "  "}, "nội dung câu hỏi"),
                               ({**ASK, "topic": "x" * 201}, "dài quá 200 ký tự"),
                               ({**ASK, "topic": ["a"]}, "phải là chữ")):
            bad = pb.call("question.file", payload)
            assert bad["ok"] is False and words in bad["error"], bad
        # Who may not: a guest or the projector files or withdraws nothing; a delegate runs nothing of the chair's.
        chairs = [("question.reorder", {"order": [qid]}), ("question.call", {"question_id": qid}),
                  ("question.answer", {"question_id": qid}),
                  ("question.end", {"question_id": qid, "outcome": "withdrawn"})]
        for sc, event, data in ((guest, "question.file", ASK), (kiosk, "question.file", ASK),
                                (guest, "question.withdraw", {"question_id": qid}),
                                (kiosk, "question.withdraw", {"question_id": qid}),
                                *[(who, e, d) for who in (pa, pb, guest, kiosk) for e, d in chairs]):
            bad = sc.call(event, data)
            assert bad["ok"] is False and bad["code"] == "forbidden" and "quyền" in bad["error"], (event, bad)
        bad = pb.call("question.withdraw", {"question_id": qid})  # not the asker: only one's own question
        assert bad["ok"] is False and bad["error"], bad
        bad = chair.call("question.call", {"question_id": qid})
        assert bad["ok"] is False and "chưa khai mạc" in bad["error"]
        st = chair.call("question.reorder", {"order": [qid]})  # a no-op order still passes: the only waiting one
        assert st["ok"] is True and st["seq"] == seq + 1
        seq = st["seq"]

        # The chair opens the sitting, moves to question time, calls the question.
        assert chair.call("meeting.set_status", {"status": "in_progress", "below_quorum_ok": True})["ok"] is True
        item = _state(chair)["agenda"][-1]["id"]
        assert chair.call("agenda.set_current", {"item_id": item})["ok"] is True
        res = chair.call("question.call", {"question_id": qid})
        assert res["ok"] is True
        ev = kiosk.wait("questions", lambda p: p["seq"] == res["seq"])
        cur = ev["current"]
        assert (cur["id"], cur["asker_name"], cur["addressee_title"], cur["phase"]) == (
            qid, a["name"], "Chủ tịch UBND xã", "asking")
        assert cur["ends_at_ms"] - cur["started_at_ms"] == 180_000
        assert abs(cur["started_at_ms"] - ev["server_now_ms"]) < 5_000

        # A follow-up from the speakers' queue, linked to the question on the floor.
        res = pb.call("speak.request", {"kind": "follow_up"})
        assert res["ok"] is True
        sp = kiosk.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert [(x["name"], x["kind"], x["question_id"]) for x in sp["queue"]] == [(b["name"], "follow_up", qid)]
        # And a debate (tranh luận) on the same question from another delegate, after it in the queue.
        res = pc.call("speak.request", {"kind": "debate"})
        assert res["ok"] is True
        sp = kiosk.wait("speakers", lambda p: p["seq"] == res["seq"])
        assert [(x["name"], x["kind"], x["question_id"]) for x in sp["queue"]] == [
            (b["name"], "follow_up", qid), (c["name"], "debate", qid)]
        bad = pb.call("speak.request", {"kind": "shout"})
        assert bad["ok"] is False and "không hợp lệ" in bad["error"]

        res = chair.call("question.answer", {"question_id": qid})
        ev = kiosk.wait("questions", lambda p: p["seq"] == res["seq"])
        assert ev["current"]["phase"] == "answering" and ev["current"]["limit_s"] == 300

        # Written answer: a past due date is refused and changes nothing; a good one ends the question.
        past = (date.today() - timedelta(days=3)).isoformat()
        bad = chair.call("question.end", {"question_id": qid, "outcome": "written", "due_date": past})
        assert bad["ok"] is False and "không được trước hôm nay" in bad["error"]
        bad = chair.call("question.end", {"question_id": qid, "outcome": "written", "due_date": "mai"})
        assert bad["ok"] is False and "Hạn trả lời không hợp lệ" in bad["error"]
        due = (date.today() + timedelta(days=15)).isoformat()
        res = chair.call("question.end", {"question_id": qid, "outcome": "written", "due_date": due})
        assert res["ok"] is True and res["status"] == "written"
        ev = kiosk.wait("questions", lambda p: p["seq"] == res["seq"])
        assert ev["current"] is None
        assert [(q["id"], q["due_date"], q["overdue"]) for q in ev["owed"]] == [(qid, due, False)]
        # `speakers` of the same seq came just before `questions` (realtime.announce's order).
        sp = next(d for n, d in kiosk.seen if n == "speakers" and d["seq"] == res["seq"])
        assert sp["queue"] == []  # the follow-up and the debate left with their question

        # The asker withdraws a second question of theirs; the chair withdraws a third.
        q2 = pb.call("question.file", {**ASK, "topic": "Chợ xã"})["question_id"]
        assert pb.call("question.withdraw", {"question_id": q2})["ok"] is True
        q3 = pa.call("question.file", {**ASK, "topic": "Trường học"})["question_id"]
        res = chair.call("question.end", {"question_id": q3, "outcome": "withdrawn"})
        ev = kiosk.wait("questions", lambda p: p["seq"] == res["seq"])
        assert {q["id"]: q["status"] for q in ev["questions"]} == {qid: "written", q2: "withdrawn", q3: "withdrawn"}

    # The clerk files one from a paper form and records the written answer; refusals are said on the console.
    clerk = srv.session_for(srv.links["clerk"])
    page = clerk.get(srv.url + "/clerk/", timeout=10).text
    assert 'id="questions"' in page
    token = re.search(r'name="csrf-token" content="([^"]+)"', page)
    assert token is not None
    form = {"csrf_token": token.group(1), "participant_id": str(b["participant_id"]), **ASK, "topic": "Nước sạch"}
    r = clerk.post(srv.url + "/clerk/questions", data={**form, "text": ""}, timeout=10)
    assert "Hãy ghi nội dung câu hỏi chất vấn." in r.text
    r = clerk.post(srv.url + "/clerk/questions", data=form, timeout=10)
    assert "Đã ghi câu hỏi chất vấn của đại biểu." in r.text
    r = clerk.post(srv.url + f"/clerk/questions/{qid}/written", data={"csrf_token": token.group(1)}, timeout=10)
    assert "Đã ghi nhận trả lời bằng văn bản." in r.text
    r = clerk.post(srv.url + f"/clerk/questions/{qid}/written", data={"csrf_token": token.group(1)}, timeout=10)
    assert "không chờ trả lời bằng văn bản" in r.text
    # Not the clerk's: a delegate's card may not use the clerk's routes.
    for card in (a["url"], srv.links["chair"][0], srv.links["kiosk"], srv.links["guest"]):
        other = srv.session_for(card)
        token = re.search(r'name="csrf-token" content="([^"]+)"', other.get(srv.url + "/delegate", timeout=10).text)
        csrf = {"csrf_token": token.group(1)} if token else {}
        for path in ("/clerk/questions", f"/clerk/questions/{qid}/written"):
            r = other.post(srv.url + path, data={**form, **csrf}, timeout=10)
            assert r.status_code == 403, (card, path, r.status_code)
    with screens(srv, srv.links["kiosk"]) as (kiosk,):
        st = _state(kiosk)["questions"]
        paper = [q for q in st["questions"] if q["topic"] == "Nước sạch"]
        assert len(paper) == 1 and paper[0]["on_paper"] and paper[0]["asker_name"] == b["name"]
        assert st["owed"] == []
    assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
