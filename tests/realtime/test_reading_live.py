"""Reading mode's text through a real server: a page's headings and paragraphs to whoever may see its image, a
scanned upload read by OCR and then found by search (the meeting's and the archive's), a confidential document's
text refused to a guest and never left in a shared cache."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, start_server
from tests.documents.conftest import VI_SAMPLES
from tests.documents.test_reading import HAVE_TESSERACT, NO_TESSERACT, make_scan
from tests.realtime.test_documents_live import clerk, delegates, demo_doc, upload, wait_done

VI = VI_SAMPLES  # MEETING_SAMPLES, or the shared samples beside the checkout
DONG_LE = next(p for p in VI if p.name == "ke-hoach-cds-dong-le.pdf")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("reading-live"))
    yield server
    server.stop()


def text_of(srv: LiveServer, doc_id: int, page: int, headers: dict[str, str]) -> requests.Response:
    return requests.get(f"{srv.url}/api/v1/documents/{doc_id}/pages/{page}/text", headers=headers, timeout=10)


def test_a_page_reads_as_headings_and_paragraphs(srv: LiveServer) -> None:
    d = demo_doc(srv)
    r = text_of(srv, d["id"], 1, srv.bearer(delegates(srv)[0]["url"]))
    assert r.status_code == 200 and r.headers["Cache-Control"] == "private, no-cache"
    body = r.json()
    assert body["source"] == "pdf" and body["page"] == 1 and not body["confidential"]
    kinds = {b["k"] for b in body["blocks"]}
    assert kinds == {"h", "p"}
    assert any("Hội đồng nhân dân" in b["t"] for b in body["blocks"])
    # Wrapped lines are joined: far fewer paragraphs than the page has lines.
    lines = requests.get(f"{srv.url}/api/v1/documents/{d['id']}", headers=clerk(srv), timeout=10).json()
    assert lines["page_count"] >= 1
    assert text_of(srv, d["id"], 999, clerk(srv)).status_code == 404
    assert text_of(srv, 9999, 1, clerk(srv)).status_code == 404
    assert requests.get(f"{srv.url}/api/v1/documents/{d['id']}/pages/1/text", timeout=10).status_code in (401, 403)


def test_confidential_text_is_refused_to_a_guest_and_never_cached(srv: LiveServer) -> None:
    doc_id = upload(srv, VI[3], "mat.pdf", confidential="1")
    assert wait_done(srv, doc_id)["status"] == "ready"
    for who in (srv.links["guest"], srv.links["kiosk"]):
        r = text_of(srv, doc_id, 1, srv.bearer(who))
        assert r.status_code == 404 and "Không tìm thấy tài liệu" in r.json()["message"]
    r = text_of(srv, doc_id, 1, srv.bearer(delegates(srv)[0]["url"]))
    assert r.status_code == 200 and r.json()["confidential"] is True and r.json()["blocks"]
    assert r.headers["Cache-Control"] == "private, no-store"


@pytest.mark.skipif(not HAVE_TESSERACT, reason=NO_TESSERACT)
def test_a_scanned_upload_is_read_by_ocr_and_found_by_search(srv: LiveServer, tmp_path: Path) -> None:
    scan = make_scan(DONG_LE, tmp_path / "ban-quet.pdf")
    doc_id = upload(srv, scan, "Bản quét.pdf")
    assert wait_done(srv, doc_id)["status"] == "ready"
    delegate = srv.bearer(delegates(srv)[0]["url"])
    deadline = time.monotonic() + 120
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = text_of(srv, doc_id, 1, delegate).json()
        if body["source"] != "pending":
            break
        time.sleep(0.5)
    assert body["source"] == "ocr", body
    text = " ".join(b["t"] for b in body["blocks"])
    assert "Kế hoạch chuyển đổi số" in text and "Hội đồng nhân dân xã Đồng Lê" in text
    # Search, without diacritics, now finds the scanned document's page too.
    hits = requests.get(f"{srv.url}/api/v1/meetings/1/search", params={"q": "thuong truc hoi dong"},
                        headers=delegate, timeout=10).json()["hits"]
    mine = [h for h in hits if h["document_id"] == doc_id]
    assert mine and mine[0]["page"] == 1 and "<mark>Thường trực Hội đồng</mark>" in mine[0]["snippet"]
    # And so does the council's archive of the term (issue #19): the clerk's search across the sessions lists the
    # scanned document's page, by the text recognised at upload, and opens it.
    archive = srv.session_for(srv.links["clerk"])
    page = archive.get(srv.url + "/archive/", params={"q": "thuong truc hoi dong"}, timeout=10).text
    link = f"/archive/sessions/1/documents/{doc_id}.pdf#page=1"
    assert link in page, page
    hit = page.split(link, 1)[1].split("</li>", 1)[0]
    assert "Bản quét" in hit and "<mark>Thường trực Hội đồng</mark>" in hit, hit
