"""Comments on drafts through a real server on loopback: a delegate marks a passage (the page's words come from a
worker), comments, is refused out of time with a Vietnamese message; the drafting body's card opens only the
comments page, answers, exports; the delegate sees the answer; every route checks who asks."""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Iterator

import pymupdf
import pytest
import requests

from tests.conftest import LiveServer, start_server


def add_drafter(srv: LiveServer) -> str:
    """A card for the drafting body's representative (as the clerk's roster import would make it)."""
    from sqlalchemy.orm import Session

    from meeting_server.store import db
    from meeting_server.store.tables import Participant

    token = secrets.token_urlsafe(32)
    engine = db.make_engine(db.database_url(srv.data_dir))
    try:
        with Session(engine) as s:
            s.add(Participant(meeting_id=1, full_name="Trần Văn Soạn", title="Trưởng phòng Văn hóa - Xã hội",
                              role="drafter", position=99, token=token))
            s.commit()
    finally:
        engine.dispose()
    srv.refresh_links()
    return srv.local(srv.links["drafters"][0]["url"])




@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("comments-live"))
    yield server
    server.stop()


def delegate_url(srv: LiveServer, k: int = 0) -> str:
    return [d["url"] for d in srv.links["delegates"] if d["role"] == "delegate"][k]


def test_comment_answer_export_round_trip(srv: LiveServer) -> None:
    docs = srv.documents_ready()
    doc = docs[0]
    me = srv.bearer(delegate_url(srv))
    # The page's words, read by a worker, with boxes inside the page.
    r = requests.get(f"{srv.url}/api/v1/documents/{doc['id']}/pages/1/words", headers=me, timeout=150)
    assert r.status_code == 200, r.text
    words = r.json()
    assert words["words"] and words["width"] > 0
    first = words["words"][:3]
    quote = " ".join(w[4] for w in first)
    rect = [min(w[0] for w in first), min(w[1] for w in first), max(w[2] for w in first), max(w[3] for w in first)]
    r = requests.post(f"{srv.url}/api/v1/documents/{doc['id']}/comments", headers=me, timeout=10,
                      json={"page": 1, "quote": quote, "rects": [rect], "text": "Đề nghị bổ sung lộ trình."})
    assert r.status_code == 201, r.text
    cid = r.json()["id"]
    # Bad input: a Vietnamese message, nothing stored.
    r = requests.post(f"{srv.url}/api/v1/documents/{doc['id']}/comments", headers=me, timeout=10,
                      json={"page": 999, "quote": "", "rects": [], "text": "x"})
    assert r.status_code == 400 and r.json()["message"] == "Trang 999 không có trong tài liệu này."
    r = requests.post(f"{srv.url}/api/v1/documents/{doc['id']}/comments", headers=me, timeout=10,
                      json={"page": None, "text": "x" * 5001})
    assert r.status_code == 400 and "Nội dung góp ý" in r.json()["message"]
    mine = requests.get(f"{srv.url}/api/v1/comments", params={"document_id": doc["id"]}, headers=me,
                        timeout=10).json()["comments"]
    assert [(c["id"], c["quote"], c["outcome"]) for c in mine] == [(cid, quote, "")]

    # The drafting body's card: its home is the comments page, and nothing else of the meeting.
    drafter = requests.Session()
    r = drafter.get(add_drafter(srv), timeout=10)
    assert r.status_code == 200 and r.url.endswith("/comments"), r.url
    assert "Đề nghị bổ sung lộ trình." in r.text and quote in r.text
    for path in ("/delegate", "/api/v1/meetings/1/documents", f"/documents/{doc['id']}/pages/1.webp?w=360",
                 "/clerk/", f"/api/v1/documents/{doc['id']}/pages/1/words"):
        assert drafter.get(srv.url + path, timeout=10).status_code in (401, 403, 404), path
    csrf = r.text.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    r = drafter.post(f"{srv.url}/comments/{cid}/answer", data={"csrf_token": csrf, "outcome": "explained",
                                                               "answer": ""}, timeout=10)
    assert r.status_code == 400 and "phải ghi rõ nội dung trả lời" in r.text
    r = drafter.post(f"{srv.url}/comments/{cid}/answer", timeout=10, data={
        "csrf_token": csrf, "outcome": "explained", "answer": "Lộ trình đã có tại mục III."})
    assert r.status_code == 200 and "Đã lưu câu trả lời." in r.text
    pdf = drafter.get(f"{srv.url}/comments/tong-hop.pdf", timeout=120)
    assert pdf.status_code == 200 and pdf.headers["Content-Type"] == "application/pdf"
    with pymupdf.open(stream=pdf.content, filetype="pdf") as d:
        text = " ".join(" ".join(p.get_text().split()) for p in d)
    assert "Đề nghị bổ sung lộ trình." in text and "Lộ trình đã có tại mục III." in text
    docx_r = drafter.get(f"{srv.url}/comments/tong-hop.docx", timeout=120)
    assert docx_r.status_code == 200 and docx_r.content[:2] == b"PK"
    import docx

    cells = [c.text for t in docx.Document(io.BytesIO(docx_r.content)).tables for row in t.rows for c in row.cells]
    assert "Lộ trình đã có tại mục III." in cells

    # The delegate sees the answer; another delegate sees nothing until the clerk shares comments.
    mine = requests.get(f"{srv.url}/api/v1/comments", headers=me, timeout=10).json()["comments"]
    assert [(c["outcome"], c["answer"]) for c in mine] == [("explained", "Lộ trình đã có tại mục III.")]
    other = srv.bearer(delegate_url(srv, 1))
    assert requests.get(f"{srv.url}/api/v1/comments", headers=other, timeout=10).json()["comments"] == []
    clerk = srv.session_for(srv.links["clerk"])
    page = clerk.get(f"{srv.url}/clerk/", timeout=10).text
    assert "1 ý kiến góp ý, 0 chưa trả lời." in page
    csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    assert clerk.post(f"{srv.url}/comments/setting", data={"csrf_token": csrf, "shared": "1"},
                      timeout=10).status_code == 200
    assert len(requests.get(f"{srv.url}/api/v1/comments", headers=other, timeout=10).json()["comments"]) == 1


@pytest.mark.parametrize("role", ["guest", "kiosk", "clerk"])
def test_who_may_not_comment(srv: LiveServer, role: str) -> None:
    url = srv.links["guest"] if role == "guest" else srv.links[role]
    r = requests.post(f"{srv.url}/api/v1/documents/1/comments", headers=srv.bearer(url), timeout=10,
                      json={"page": None, "text": "Góp ý"})
    assert r.status_code == 403


def test_a_delegate_may_not_answer_or_export(srv: LiveServer) -> None:
    me = srv.bearer(delegate_url(srv))
    for path in ("/comments", "/comments/tong-hop.pdf", "/comments/tong-hop.docx"):
        assert requests.get(srv.url + path, headers=me, timeout=10).status_code == 403
    r = requests.post(f"{srv.url}/comments/1/answer", headers=me, json={"outcome": "accepted", "answer": ""},
                      timeout=10)
    assert r.status_code == 403


def test_the_drafting_body_has_only_the_right_to_answer(srv: LiveServer) -> None:
    """The drafting body's representative answers comments and nothing else: no comment of its own, no vote, no
    question, no request to speak, no agenda, no archive, no setting, no clerk's form; the projector and a guest
    read no comment either."""
    from tests.realtime.helpers import Screen

    docs = srv.documents_ready()
    if not srv.links.get("drafters"):
        add_drafter(srv)
    web = requests.Session()
    page = web.get(srv.local(srv.links["drafters"][0]["url"]), timeout=10).text
    csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
    bearer = srv.bearer(srv.links["drafters"][0]["url"])
    assert requests.post(f"{srv.url}/api/v1/documents/{docs[0]['id']}/comments", headers=bearer, timeout=10,
                         json={"page": None, "text": "Góp ý của cơ quan soạn thảo"}).status_code == 403
    for path in ("/api/v1/comments", "/archive/", "/archive/resolutions", "/api/v1/meetings/1/documents"):
        assert web.get(srv.url + path, timeout=10).status_code in (403, 404), path
    for path, data in (("/comments/setting", {"shared": "1"}), ("/clerk/questions", {"text": "x"}),
                       ("/archive/site.zip", {})):
        assert web.post(srv.url + path, data={"csrf_token": csrf, **data}, timeout=10).status_code == 403, path
    drafter = Screen(srv.url, srv.token(srv.links["drafters"][0]["url"]))
    try:
        for event, data in (("cast", {"poll_id": 1, "choice": "for"}), ("question.file", {"text": "x"}),
                            ("question.end", {"question_id": 1, "outcome": "withdrawn"}),
                            ("speak.request", {"kind": "speak"}), ("agenda.set_current", {"item_id": 1}),
                            ("meeting.set_status", {"status": "in_progress"}), ("present", {"document_id": 1})):
            bad = drafter.call(event, data)
            assert bad["ok"] is False and bad["code"] == "forbidden", (event, bad)
    finally:
        drafter.close()
    for card in (srv.links["kiosk"], srv.links["guest"]):
        r = requests.get(f"{srv.url}/api/v1/comments", headers=srv.bearer(card), timeout=10)
        assert r.status_code == 403, card
        r = requests.get(f"{srv.url}/api/v1/documents/{docs[0]['id']}/pages/1/words", headers=srv.bearer(card),
                         timeout=10)
        assert r.status_code == 403, card


def test_a_new_comment_reaches_the_drafter_and_the_clerk_live_and_no_one_else(srv: LiveServer) -> None:
    """The drafting body's card connects only to hear `comments` (the counts, no text): it gets no `state` of the
    meeting and may send nothing; the clerk's screen hears it too; a delegate's, the projector's do not."""
    from tests.realtime.helpers import Screen

    docs = srv.documents_ready()
    if not srv.links.get("drafters"):
        add_drafter(srv)
    drafter = Screen(srv.url, srv.token(srv.links["drafters"][0]["url"]))
    clerk = Screen(srv.url, srv.token(srv.links["clerk"]))
    phone = Screen(srv.url, srv.token(delegate_url(srv, 1)))
    kiosk = Screen(srv.url, srv.token(srv.links["kiosk"]))
    try:
        for s in (clerk, phone, kiosk):
            s.wait("state")
        refused = drafter.call("sync", {})
        assert refused["ok"] is False and refused["code"] == "forbidden", refused
        me = srv.bearer(delegate_url(srv))
        before = requests.get(f"{srv.url}/api/v1/comments", headers=me, timeout=10).json()["comments"]
        r = requests.post(f"{srv.url}/api/v1/documents/{docs[0]['id']}/comments", headers=me, timeout=10,
                          json={"page": None, "text": "Góp ý đến ngay bàn soạn thảo"})
        assert r.status_code == 201, r.text
        for s in (drafter, clerk):
            ev = s.wait("comments")
            assert ev["total"] == len(before) + 1 and ev["pending"] >= 1 and set(ev) == {"total", "pending"}
        assert "state" not in [e for e, _ in drafter.seen]
        # Answered from the drafting body's page: the clerk's console hears the new counts.
        drafter_web = requests.Session()
        page = drafter_web.get(srv.local(srv.links["drafters"][0]["url"]), timeout=10).text
        csrf = page.split('name="csrf-token" content="', 1)[1].split('"', 1)[0]
        assert drafter_web.post(f"{srv.url}/comments/{r.json()['id']}/answer", timeout=10, data={
            "csrf_token": csrf, "outcome": "accepted", "answer": "Tiếp thu."}).status_code == 200
        assert clerk.wait("comments")["pending"] == ev["pending"] - 1
        time.sleep(0.3)
        for s in (phone, kiosk):
            while not s.events.empty():
                s.seen.append(s.events.get())
            assert "comments" not in [e for e, _ in s.seen]
    finally:
        for s in (drafter, clerk, phone, kiosk):
            s.close()


def test_during_the_sitting_only_while_the_drafts_item_is_discussed(srv: LiveServer) -> None:
    """The chair opens the sitting and moves through the agenda over Socket.IO (as the chair's screen does); a
    comment on a draft of another item is refused with the reason and stores nothing, then taken on its item.
    Last in this module: it leaves the sitting open."""
    from tests.realtime.helpers import Screen

    docs = srv.documents_ready()
    doc = docs[0]
    me = srv.bearer(delegate_url(srv))
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    try:
        assert chair.call("meeting.set_status", {"status": "in_progress", "below_quorum_ok": True})["ok"]
        state = chair.wait("state")
        other = next(it["id"] for it in state["agenda"] if it["id"] != doc["item_id"])
        assert chair.call("agenda.set_current", {"item_id": other})["ok"]
        before = requests.get(f"{srv.url}/api/v1/comments", headers=me, timeout=10).json()["comments"]
        r = requests.post(f"{srv.url}/api/v1/documents/{doc['id']}/comments", headers=me, timeout=10,
                          json={"page": None, "text": "Góp ý khi chưa đến nội dung này"})
        assert r.status_code == 400
        assert r.json()["message"] == ("Chỉ góp ý được trước kỳ họp hoặc khi nội dung có dự thảo này đang được "
                                       "thảo luận.")
        assert requests.get(f"{srv.url}/api/v1/comments", headers=me, timeout=10).json()["comments"] == before
        assert chair.call("agenda.set_current", {"item_id": doc["item_id"]})["ok"]
        r = requests.post(f"{srv.url}/api/v1/documents/{doc['id']}/comments", headers=me, timeout=10,
                          json={"page": None, "text": "Góp ý trong phiên thảo luận"})
        assert r.status_code == 201, r.text
    finally:
        chair.close()
