"""Documents through a real server: upload, page images, page sync, the presenter grant, confidential documents,
search, notes, and the refusals, with real HTTP and real Socket.IO clients."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest
import requests

from tests.conftest import SHARED, LiveServer, start_server
from tests.db_kit import peek
from tests.realtime.helpers import Screen

VI = sorted((SHARED / "samples" / "vi").glob("*.pdf"))


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module (starting one per test would cost seconds each); tests do not undo each other."""
    server = start_server(tmp_path_factory.mktemp("docs-live"))
    yield server
    server.stop()


def clerk(srv: LiveServer) -> dict[str, str]:
    return srv.bearer(srv.links["clerk"])


def delegates(srv: LiveServer) -> list[dict[str, Any]]:
    return [d for d in srv.links["delegates"] if d["role"] == "delegate"]


def wait_done(srv: LiveServer, doc_id: int, headers: dict[str, str] | None = None,
              timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = requests.get(f"{srv.url}/api/v1/documents/{doc_id}", headers=headers or clerk(srv), timeout=10).json()
        if d["status"] != "processing":
            return d
        assert time.monotonic() < deadline, d
        time.sleep(0.05)


def upload(srv: LiveServer, path: Path | bytes, name: str = "tai-lieu.pdf", **form: str) -> int:
    data = path.read_bytes() if isinstance(path, Path) else path
    r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk(srv),
                      files={"file": (name, data, "application/pdf")}, data=form, timeout=30)
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def demo_doc(srv: LiveServer) -> dict[str, Any]:
    docs = requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk(srv), timeout=10).json()["documents"]
    return wait_done(srv, docs[0]["id"])


def test_demo_documents_are_attached_to_the_third_item(srv: LiveServer) -> None:
    docs = requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk(srv), timeout=10).json()["documents"]
    assert len(docs) == 5
    state = Screen(srv.url, srv.token(srv.links["clerk"]))
    try:
        item3 = next(it for it in state.wait("state")["agenda"] if it["position"] == 3)
    finally:
        state.close()
    assert {d["item_id"] for d in docs} == {item3["id"]}
    assert all(wait_done(srv, d["id"])["status"] == "ready" for d in docs)


def test_upload_then_status_then_cached_page_images(srv: LiveServer) -> None:
    doc_id = upload(srv, VI[1], "Kế hoạch.pdf", downloadable="1")
    d = wait_done(srv, doc_id)
    assert d["status"] == "ready" and d["page_count"] == len(pymupdf.open(VI[1]))
    assert d["original_name"] == "Kế hoạch.pdf"
    first = d["pages"][0]["images"]
    assert set(first) == {"720", "1600"}
    delegate = srv.bearer(delegates(srv)[0]["url"])
    r = requests.get(srv.url + first["720"], headers=delegate, timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/webp"
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert r.content[:4] == b"RIFF" and len(r.content) > 5000
    etag = r.headers["ETag"]
    r2 = requests.get(srv.url + first["720"], headers=dict(delegate, **{"If-None-Match": etag}), timeout=10)
    assert r2.status_code == 304 and not r2.content
    # JPEG for browsers without WebP, drawn on demand.
    r3 = requests.get(f"{srv.url}/documents/{doc_id}/pages/2.jpeg?w=1600", headers=delegate, timeout=30)
    assert r3.status_code == 200 and r3.content[:3] == b"\xff\xd8\xff"
    # The original, where the clerk allowed it: the very bytes uploaded.
    r4 = requests.get(f"{srv.url}/documents/{doc_id}/original", headers=delegate, timeout=10)
    assert r4.status_code == 200 and r4.content == VI[1].read_bytes()


def test_same_file_twice_is_stored_once(srv: LiveServer) -> None:
    a = upload(srv, VI[2], "a.pdf")
    b = upload(srv, VI[2], "b.pdf")
    assert a != b
    assert wait_done(srv, a)["status"] == wait_done(srv, b)["status"] == "ready"
    digest = hashlib.sha256(VI[2].read_bytes()).hexdigest()
    stored = list((srv.data_dir / "documents" / "originals").iterdir())
    assert [p.name for p in stored].count(digest) == 1
    # Stored under the content hash, never under the browser's name.
    assert all(len(p.name) == 64 for p in stored)


def test_bad_page_requests_get_clear_answers_not_500(srv: LiveServer) -> None:
    d = demo_doc(srv)
    h = clerk(srv)
    assert requests.get(f"{srv.url}/documents/{d['id']}/pages/999.webp", headers=h, timeout=10).status_code == 404
    assert requests.get(f"{srv.url}/documents/{d['id']}/pages/1.gif", headers=h, timeout=10).status_code == 404
    r = requests.get(f"{srv.url}/documents/{d['id']}/pages/1.webp?w=33", headers=h, timeout=10)
    assert r.status_code == 400 and "720" in r.text
    assert requests.get(f"{srv.url}/documents/9999/pages/1.webp", headers=h, timeout=10).status_code == 404
    r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=h, data={}, timeout=10)
    assert r.status_code == 400 and "chọn một tệp" in r.json()["message"]


def test_presenter_turns_a_page_and_every_screen_follows(srv: LiveServer) -> None:
    d = demo_doc(srv)
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    phone = Screen(srv.url, srv.token(delegates(srv)[0]["url"]))
    kiosk = Screen(srv.url, srv.token(srv.links["kiosk"]))
    guest = Screen(srv.url, srv.token(srv.links["guest"]))
    try:
        start = chair.wait("state")["seq"]
        for s in (phone, kiosk, guest):
            s.wait("state")
        before = time.time() * 1000
        ack = chair.call("present", {"document_id": d["id"], "page": 2})
        assert ack["ok"] and ack["seq"] > start
        for s in (chair, phone, kiosk, guest):
            ev = s.wait("presented")
            assert ev["document_id"] == d["id"] and ev["page"] == 2 and ev["seq"] == ack["seq"]
            assert before - 5 <= ev["ts"] <= time.time() * 1000 + 5
            assert set(ev) == {"document_id", "page", "seq", "ts"}
        # A device that joins late gets the presented page in its snapshot.
        late = Screen(srv.url, srv.token(delegates(srv)[1]["url"]))
        try:
            st = late.wait("state")
            assert st["presented"] == {"document_id": d["id"], "page": 2} and st["seq"] >= ack["seq"]
        finally:
            late.close()
        bad = chair.call("present", {"document_id": d["id"], "page": 999})
        assert bad["ok"] is False and "trang" in bad["error"]
        assert chair.call("present", {"document_id": d["id"], "page": "2"})["code"] == "payload.invalid"
        stop = chair.call("present", {"document_id": None})
        assert phone.wait("presented", lambda e: e["seq"] == stop["seq"])["document_id"] is None
    finally:
        for s in (chair, phone, kiosk, guest):
            s.close()


def test_two_quick_next_taps_reach_two_pages_further_everywhere(srv: LiveServer) -> None:
    """Two "next page" taps sent back to back, before the first turn's `presented` comes back: the server moves from
    the page it has stored (`step`), so every phone and the projector end two pages further, not one."""
    d = demo_doc(srv)
    assert d["page_count"] >= 4
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    phone = Screen(srv.url, srv.token(delegates(srv)[0]["url"]))
    kiosk = Screen(srv.url, srv.token(srv.links["kiosk"]))
    try:
        for s in (chair, phone, kiosk):
            s.wait("state")
        start = chair.call("present", {"document_id": d["id"], "page": 2})
        assert start["ok"]
        acks: list[Any] = []
        # As the screen sends them: the room's page it shows (2) plus one, each time, and the step.
        for _ in range(2):
            chair.client.emit("present", {"document_id": d["id"], "page": 3, "step": 1}, callback=acks.append)
        for s in (phone, kiosk):
            pages = [s.wait("presented", lambda e: e["seq"] > start["seq"])["page"] for _ in range(2)]
            assert pages == [3, 4]
        deadline = time.monotonic() + 10
        while len(acks) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert [a["ok"] for a in acks] == [True, True]
        # Back again, and past the ends: the step stops at the first and the last page.
        back = [chair.call("present", {"document_id": d["id"], "page": 1, "step": -1}) for _ in range(5)]
        assert phone.wait("presented", lambda e: e["seq"] == back[-1]["seq"])["page"] == 1
        last = chair.call("present", {"document_id": d["id"], "page": d["page_count"], "step": 10 ** 6})
        assert phone.wait("presented", lambda e: e["seq"] == last["seq"])["page"] == d["page_count"]
        # A step on a document the room does not show: the page sent is the one shown.
        other = [x for x in requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk(srv),
                                         timeout=10).json()["documents"] if x["id"] != d["id"]][0]
        wait_done(srv, other["id"])
        moved = chair.call("present", {"document_id": other["id"], "page": 2, "step": 1})
        ev = kiosk.wait("presented", lambda e: e["seq"] == moved["seq"])
        assert (ev["document_id"], ev["page"]) == (other["id"], 2)
        assert chair.call("present", {"document_id": d["id"], "page": 1, "step": "1"})["code"] == "payload.invalid"
    finally:
        for s in (chair, phone, kiosk):
            s.close()


def test_page_turns_are_refused_to_screens_that_may_not_present(srv: LiveServer) -> None:
    """`present` checks its card itself (registry.fast_socket_event): the projector and a guest may read but not
    present; a card revoked by another server process is refused and hung up; none of them moves any screen."""
    d = demo_doc(srv)
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    kiosk = Screen(srv.url, srv.token(srv.links["kiosk"]))
    guest = Screen(srv.url, srv.token(srv.links["guest"]))
    who = delegates(srv)[4]
    phone = Screen(srv.url, srv.token(who["url"]))
    old = srv.token(who["url"])
    def presented_row() -> Any:
        with peek(srv) as db:
            return db.execute("SELECT document_id, page, presenter_participant_id FROM presentation").fetchall()

    before = presented_row()
    try:
        chair.wait("state")
        for s in (kiosk, guest, phone):
            s.wait("state")
        for s in (kiosk, guest):
            refused = s.call("present", {"document_id": d["id"], "page": 2})
            assert refused["ok"] is False and refused["code"] == "document.not_presenter", refused
            assert "Chủ tọa" in refused["error"]
        # The chair hands presenting to this delegate; then another process revokes the card (what it leaves in
        # the shared database: the old token no longer names the card).
        assert chair.call("present.grant", {"participant_id": who["participant_id"]})["ok"]
        phone.wait("state", lambda st: st["presenter"]["granted_participant_id"] == who["participant_id"])
        with peek(srv) as db:
            db.execute("UPDATE participant SET token = ? WHERE token = ?", ("replaced-" + old[:20], old))
        res = phone.call("present", {"document_id": d["id"], "page": 3})
        assert res == {"ok": False, "error": "Thẻ không còn hiệu lực.", "code": "auth.revoked"}
        deadline = time.monotonic() + 5
        while phone.client.connected and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not phone.client.connected, "the revoked card's connection was not hung up"
        # Nothing moved: the presented page is what it was, and no screen got a `presented`. (Not `seq`: demo
        # documents still being processed move it on their own.)
        assert presented_row() == before
        for s in (chair, kiosk, guest):
            got = [name for name, _ in s.seen] + [name for name, _ in list(s.events.queue)]
            assert "presented" not in got, got
    finally:
        with peek(srv) as db:
            db.execute("UPDATE participant SET token = ? WHERE id = ?", (old, who["participant_id"]))
        assert chair.call("present.grant", {"participant_id": None})["ok"]
        for s in (chair, kiosk, guest, phone):
            s.close()


def test_delegate_presents_only_with_the_chairs_grant(srv: LiveServer) -> None:
    d = demo_doc(srv)
    who = delegates(srv)[2]
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    phone = Screen(srv.url, srv.token(who["url"]))
    try:
        chair.wait("state")
        phone.wait("state")
        refused = phone.call("present", {"document_id": d["id"], "page": 1})
        assert refused["ok"] is False and refused["code"] == "document.not_presenter"
        assert phone.call("present.grant", {"participant_id": who["participant_id"]})["code"] == "forbidden"
        assert chair.call("present.grant", {"participant_id": who["participant_id"]})["ok"]
        st = phone.wait("state", lambda s: s["presenter"]["granted_participant_id"] == who["participant_id"])
        assert st["presenter"]["granted_name"] == who["name"]
        ok = phone.call("present", {"document_id": d["id"], "page": 3})
        assert ok["ok"], ok
        assert chair.wait("presented", lambda e: e["seq"] == ok["seq"])["page"] == 3
        assert chair.call("present.grant", {"participant_id": None})["ok"]
        phone.wait("state", lambda s: s["presenter"]["granted_participant_id"] is None)
        assert phone.call("present", {"document_id": d["id"], "page": 1})["code"] == "document.not_presenter"
    finally:
        chair.close()
        phone.close()


def test_uploading_is_for_the_clerk_only(srv: LiveServer) -> None:
    for url in (delegates(srv)[0]["url"], srv.links["guest"], srv.links["kiosk"], srv.links["chair"][0]):
        r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=srv.bearer(url),
                          files={"file": ("x.pdf", VI[0].read_bytes())}, timeout=10)
        assert r.status_code == 403, url
    r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", files={"file": ("x.pdf", b"%PDF-1.4")}, timeout=10)
    assert r.status_code in (400, 401)  # no card: CSRF or login refuses before anything is stored


def test_confidential_document_is_hidden_watermarked_and_not_downloadable(srv: LiveServer) -> None:
    doc_id = upload(srv, VI[3], "mat.pdf", confidential="1", downloadable="1")
    d = wait_done(srv, doc_id)
    assert d["status"] == "ready" and d["confidential"] and not d["downloadable"]
    guest, kiosk = srv.bearer(srv.links["guest"]), srv.bearer(srv.links["kiosk"])
    d1, d2 = srv.bearer(delegates(srv)[0]["url"]), srv.bearer(delegates(srv)[1]["url"])
    page = f"{srv.url}/documents/{doc_id}/pages/1.webp?w=720"
    for h in (guest, kiosk):
        assert requests.get(f"{srv.url}/api/v1/documents/{doc_id}", headers=h, timeout=10).status_code == 404
        assert requests.get(page, headers=h, timeout=10).status_code == 404
        listed = requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=h, timeout=10).json()["documents"]
        assert doc_id not in [x["id"] for x in listed]
    r1 = requests.get(page, headers=d1, timeout=30)
    r2 = requests.get(page, headers=d2, timeout=30)
    assert r1.status_code == r2.status_code == 200
    # Each delegate's copy carries their own name: different images, private caching only.
    assert r1.content != r2.content and r1.headers["ETag"] != r2.headers["ETag"]
    assert r1.headers["Cache-Control"].startswith("private")
    assert requests.get(f"{srv.url}/documents/{doc_id}/original", headers=d1, timeout=10).status_code == 403
    assert requests.get(f"{srv.url}/documents/{doc_id}/original", headers=clerk(srv), timeout=10).status_code == 403

    # Presented: delegates get the page, the projector and guests get "nothing presented".
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    phone = Screen(srv.url, srv.token(delegates(srv)[0]["url"]))
    ks = Screen(srv.url, srv.token(srv.links["kiosk"]))
    gs = Screen(srv.url, srv.token(srv.links["guest"]))
    try:
        for s in (chair, phone, ks, gs):
            s.wait("state")
        ack = chair.call("present", {"document_id": doc_id, "page": 1})
        assert ack["ok"]
        assert phone.wait("presented", lambda e: e["seq"] == ack["seq"])["document_id"] == doc_id
        for s in (ks, gs):
            ev = s.wait("presented", lambda e: e["seq"] == ack["seq"])
            assert ev["document_id"] is None and ev["page"] is None
        assert requests.get(page, headers=kiosk, timeout=10).status_code == 404
        # The chair chooses to put it on the projector: the kiosk gets it, watermarked; guests still do not.
        ack = chair.call("present", {"document_id": doc_id, "page": 1, "projector": True})
        assert ks.wait("presented", lambda e: e["seq"] == ack["seq"])["document_id"] == doc_id
        assert gs.wait("presented", lambda e: e["seq"] == ack["seq"])["document_id"] is None
        assert requests.get(page, headers=kiosk, timeout=30).status_code == 200
        assert requests.get(page, headers=guest, timeout=10).status_code == 404
        # A delegate may not put a confidential page on the projector even with the grant.
        assert phone.call("present", {"document_id": doc_id, "page": 1, "projector": True})["ok"] is False
        chair.call("present", {"document_id": None})
    finally:
        for s in (chair, phone, ks, gs):
            s.close()


def test_search_without_diacritics_finds_vietnamese(srv: LiveServer) -> None:
    demo_doc(srv)
    h = srv.bearer(delegates(srv)[0]["url"])
    for q, word in (("chuyen doi so", "chuyển đổi số"), ("dai bieu", "đại biểu"), ("HĐND", "HĐND")):
        r = requests.get(f"{srv.url}/api/v1/meetings/1/search", params={"q": q}, headers=h, timeout=10)
        hits = r.json()["hits"]
        assert hits, q
        assert all({"document_id", "page", "snippet", "title"} <= set(x) for x in hits)
        assert any(f"<mark>{word}" in x["snippet"].lower() or f"<mark>{word.lower()}" in x["snippet"].lower()
                   for x in hits), (q, hits[0])
    assert requests.get(f"{srv.url}/api/v1/meetings/1/search", params={"q": "\"*) OR ("}, headers=h,
                        timeout=10).status_code == 200
    guest = srv.bearer(srv.links["guest"])
    assert requests.get(f"{srv.url}/api/v1/meetings/2/search", params={"q": "a"}, headers=guest,
                        timeout=10).status_code == 404


def test_private_notes_belong_to_their_author(srv: LiveServer) -> None:
    d = demo_doc(srv)
    a, b = srv.bearer(delegates(srv)[0]["url"]), srv.bearer(delegates(srv)[1]["url"])
    a_session = srv.session_for(delegates(srv)[0]["url"])
    r = requests.put(f"{srv.url}/api/v1/documents/{d['id']}/notes/2", headers=a, json={"text": "Hỏi về kinh phí"},
                     timeout=10)
    assert r.status_code == 200
    assert requests.get(f"{srv.url}/api/v1/documents/{d['id']}/notes", headers=a, timeout=10).json()["notes"] == {
        "2": "Hỏi về kinh phí"}
    assert requests.get(f"{srv.url}/api/v1/documents/{d['id']}/notes", headers=b, timeout=10).json()["notes"] == {}
    text = a_session.get(f"{srv.url}/api/v1/meetings/1/notes.txt", timeout=10).text
    assert "Trang 2" in text and "Hỏi về kinh phí" in text
    assert "Hỏi về kinh phí" not in requests.get(f"{srv.url}/api/v1/meetings/1/notes.txt", headers=b, timeout=10).text
    guest = srv.bearer(srv.links["guest"])
    assert requests.put(f"{srv.url}/api/v1/documents/{d['id']}/notes/2", headers=guest, json={"text": "x"},
                        timeout=10).status_code == 403
    # A cookie client must send the CSRF token: a forged form post changes nothing.
    r = a_session.put(f"{srv.url}/api/v1/documents/{d['id']}/notes/2", json={"text": "forged"}, timeout=10)
    assert r.status_code == 400


def test_clerk_screens_see_processing_progress_and_everyone_the_new_list(srv: LiveServer) -> None:
    clerk_screen = Screen(srv.url, srv.token(srv.links["clerk"]))
    phone = Screen(srv.url, srv.token(delegates(srv)[0]["url"]))
    try:
        clerk_screen.wait("state")
        start = phone.wait("state")["seq"]
        doc_id = upload(srv, VI[4], "bao-cao.pdf")
        done = clerk_screen.wait("document", lambda e: e["id"] == doc_id and e["status"] == "ready")
        assert done["page_count"] >= 1 and done["error"] is None
        last = clerk_screen.wait("document", lambda e: e["id"] == doc_id and e["pages_rendered"] == e["page_count"])
        assert last["status"] == "ready"
        listed = phone.wait("documents", lambda e: doc_id in [d["id"] for d in e["documents"]])
        assert listed["seq"] > start
        # A damaged file: the clerk's screen says why, in Vietnamese.
        bad = upload(srv, b"%PDF-1.7\n1 0 obj <<>>\ntrailer <<>>\n%%EOF", "hong.pdf")
        failed = clerk_screen.wait("document", lambda e: e["id"] == bad and e["status"] == "failed")
        assert failed["error"]["code"] == "doc.damaged" and "hỏng" in failed["error"]["message"]
        # Delegates never see a failed upload in their list.
        assert bad not in [d["id"] for d in phone.wait("documents", lambda e: e["seq"] > listed["seq"])["documents"]]
    finally:
        clerk_screen.close()
        phone.close()


def test_search_puts_pages_with_the_typed_phrase_first(srv: LiveServer) -> None:
    """"bien ban" finds "biên bản" before a page that only has "Ủy ban" and "biến" apart."""
    from meeting_server.documents.render import font_path

    pdf = pymupdf.open()
    for line in ("Ủy ban nhân dân xã báo cáo tình hình biến động đất đai năm nay.",
                 "Thông qua biên bản kỳ họp thứ nhất của Hội đồng nhân dân xã."):
        # The base-14 fonts have no Vietnamese letters: a TrueType font that has them, as real documents do.
        pdf.new_page().insert_text((72, 100), line, fontfile=str(font_path()), fontname="lib", fontsize=11)
    data = pdf.tobytes()
    doc_id = upload(srv, data, name="thu-tu-tim-kiem.pdf")
    assert wait_done(srv, doc_id)["status"] == "ready"
    h = srv.bearer(delegates(srv)[0]["url"])
    hits = requests.get(f"{srv.url}/api/v1/meetings/1/search", params={"q": "bien ban"}, headers=h,
                        timeout=10).json()["hits"]
    ours = [x["page"] for x in hits if x["document_id"] == doc_id]
    assert ours == [2, 1], hits
    # Every page with the phrase (one mark over both words) is listed before any page without it.
    phrase = [bool(re.search(r"<mark>biên bản</mark>", x["snippet"], re.IGNORECASE)) for x in hits]
    assert phrase == sorted(phrase, reverse=True), hits


def test_handing_presenting_reaches_that_delegates_own_state_only(srv: LiveServer) -> None:
    """The chair hands presenting to one delegate: that delegate's own `state` says they may present, every other
    delegate's says they may not; taking it back says so to the first one. (The per-role broadcast used to send
    the whole delegate role one `can_present`, false, so the page worked the grant out again itself.)"""
    handed, other = delegates(srv)[3], delegates(srv)[4]
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    phone = Screen(srv.url, srv.token(handed["url"]))
    neighbour = Screen(srv.url, srv.token(other["url"]))
    try:
        chairs = chair.wait("state")
        assert chairs["me"]["can_present"] is True
        # The chair's list of whom to hand it to: the council's members, no guest, no clerk.
        roles = {d["participant_id"]: d["role"] for d in srv.links["delegates"]}
        candidates = [c["id"] for c in chairs["presenter"]["candidates"]]
        assert handed["participant_id"] in candidates and len(candidates) == len(roles)
        assert {roles[c] for c in candidates} <= {"chair", "secretary", "delegate"}
        for s in (phone, neighbour):
            first = s.wait("state")
            assert first["me"]["can_present"] is False and "can_present" not in first
            assert "candidates" not in first["presenter"]
        assert chair.call("present.grant", {"participant_id": handed["participant_id"]})["ok"]
        mine = phone.wait("state", lambda st: "me" in st)
        assert mine["me"]["can_present"] is True and mine["me"]["participant_id"] == handed["participant_id"]
        assert mine["presenter"]["granted_participant_id"] == handed["participant_id"]
        theirs = neighbour.wait("state", lambda st: st["presenter"]["granted_participant_id"] is not None)
        assert "me" not in theirs and "can_present" not in theirs  # the role's state: nothing personal in it
        assert chair.call("present.grant", {"participant_id": None})["ok"]
        back = phone.wait("state", lambda st: "me" in st)
        assert back["me"]["can_present"] is False and back["presenter"]["granted_participant_id"] is None
        time.sleep(0.3)
        later = [d for name, d in neighbour.seen + list(neighbour.events.queue) if name == "state"]
        assert not any(d.get("me", {}).get("can_present") for d in later)
    finally:
        for s in (chair, phone, neighbour):
            s.close()
