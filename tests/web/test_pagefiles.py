"""Signed page URLs through a real server: the WSGI fast path (web/pagefiles.py) answers cached pages of ordinary
documents without Flask or the database; the Flask route behind it draws missing pages; confidential documents
never get such a URL and a signed URL stops working once a document is made confidential or removed."""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from meeting_server.documents import cache_path
from meeting_server.documents.fastpath import derive_key, marker_path, page_url
from tests.conftest import SHARED, LiveServer, start_server

VI = sorted((SHARED / "samples" / "vi").glob("*.pdf"))
SIGNED = re.compile(r"^/pages/(\d+)/([0-9a-f]{64})/\{page\}-w\{width\}\.\{fmt\}\?s=[A-Za-z0-9_-]{22}$")
# Flask adds this header to every answer (app.py `_headers`); the fast path does not: how a test tells them apart.
FLASK_ONLY = "X-Frame-Options"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("pagefiles"))
    yield server
    server.stop()


def clerk(srv: LiveServer) -> dict[str, str]:
    return srv.bearer(srv.links["clerk"])


def delegate(srv: LiveServer) -> dict[str, str]:
    return srv.bearer(next(d["url"] for d in srv.links["delegates"] if d["role"] == "delegate"))


def listing(srv: LiveServer, headers: dict[str, str]) -> list[dict[str, Any]]:
    r = requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=headers, timeout=10)
    assert r.status_code == 200
    return r.json()["documents"]  # type: ignore[no-any-return]


def wait_ready(srv: LiveServer, doc_id: int, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        d = requests.get(f"{srv.url}/api/v1/documents/{doc_id}", headers=clerk(srv), timeout=10).json()
        if d["status"] != "processing":
            assert d["status"] == "ready", d
            return d  # type: ignore[no-any-return]
        assert time.monotonic() < deadline, d
        time.sleep(0.05)


def own_bytes(path: Path, tag: str) -> bytes:
    """A sample PDF with a comment after its end: the same pages, bytes (and content hash) of its own, so no demo
    document shares its page cache."""
    return path.read_bytes() + f"\n% {tag}\n".encode()


def upload(srv: LiveServer, data: bytes, name: str, **form: str) -> dict[str, Any]:
    r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk(srv),
                      files={"file": (name, data, "application/pdf")}, data=form, timeout=30)
    assert r.status_code == 202, r.text
    return wait_ready(srv, int(r.json()["id"]))


def demo_doc(srv: LiveServer) -> dict[str, Any]:
    """A demo document (not confidential), ready and drawn ahead at both widths, as the delegate's list shows it."""
    docs = listing(srv, clerk(srv))
    wait_ready(srv, docs[0]["id"])
    d = next(d for d in listing(srv, delegate(srv)) if d["id"] == docs[0]["id"])
    folder = cached(srv, SIGNED.match(d["page_url"]).group(2), 1).parent  # type: ignore[union-attr]
    deadline = time.monotonic() + 60
    while len(list(folder.glob("*-w1600.webp"))) < d["page_count"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return d


def fill(template: str, page: int, width: int = 720, fmt: str = "webp") -> str:
    return template.format(page=page, width=width, fmt=fmt)


def cached(srv: LiveServer, content_hash: str, page: int, width: int = 720, fmt: str = "webp") -> Path:
    return cache_path(srv.data_dir / "documents" / "cache", content_hash, page - 1, width, fmt)


def key(srv: LiveServer) -> bytes:
    """The server's page-URL key, as someone who stole a URL's signing secret would have it (to forge URLs)."""
    return derive_key((srv.data_dir / "secret_key").read_text().strip())


def test_lists_hand_out_one_signed_url_per_document_the_same_for_every_card(srv: LiveServer) -> None:
    d = demo_doc(srv)
    m = SIGNED.match(d["page_url"])
    assert m and int(m.group(1)) == d["id"], d["page_url"]
    # Stable per document, not per viewer: the guest, the projector, the chair and the delegate get the same URL,
    # so a page any of them fetched is in the browser's cache under one name.
    for url in (srv.links["guest"], srv.links["kiosk"], srv.links["chair"][0], srv.links["clerk"]):
        theirs = next(x for x in listing(srv, srv.bearer(url)) if x["id"] == d["id"])
        assert theirs["page_url"] == d["page_url"]
    detail = requests.get(f"{srv.url}/api/v1/documents/{d['id']}", headers=delegate(srv), timeout=10).json()
    assert detail["pages"][1]["images"] == {"720": fill(d["page_url"], 2), "1600": fill(d["page_url"], 2, 1600)}


def test_signed_url_is_answered_from_the_cache_without_a_card(srv: LiveServer) -> None:
    d = demo_doc(srv)
    content_hash = SIGNED.match(d["page_url"]).group(2)  # type: ignore[union-attr]
    url = srv.url + fill(d["page_url"], 1)
    r = requests.get(url, timeout=10)  # no cookie, no token: the URL is the authorization
    assert r.status_code == 200
    assert r.content == cached(srv, content_hash, 1).read_bytes()
    assert r.headers["Content-Type"] == "image/webp"
    assert r.headers["Content-Length"] == str(len(r.content))
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert r.headers["ETag"] == f'"{content_hash[:20]}-1-720-webp"'
    assert FLASK_ONLY not in r.headers  # answered by the fast path
    # The same ETag as the authenticated route gives for the same image, so caches agree across both URLs.
    old = requests.get(f"{srv.url}/documents/{d['id']}/pages/1.webp?w=720", headers=delegate(srv), timeout=10)
    assert old.status_code == 200 and old.headers["ETag"] == r.headers["ETag"] and old.content == r.content
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(r.content)) and not head.content


def test_if_none_match_gets_304_and_no_body(srv: LiveServer) -> None:
    d = demo_doc(srv)
    url = srv.url + fill(d["page_url"], 1)
    tag = requests.get(url, timeout=10).headers["ETag"]
    for header in (tag, "W/" + tag, f'"other", {tag}'):
        r = requests.get(url, headers={"If-None-Match": header}, timeout=10)
        assert r.status_code == 304 and r.content == b"", header
        assert r.headers["ETag"] == tag and r.headers["Cache-Control"].startswith("public")
    assert requests.get(url, headers={"If-None-Match": '"other"'}, timeout=10).status_code == 200


def test_tampered_or_borrowed_signatures_are_refused_and_change_nothing(srv: LiveServer) -> None:
    d = demo_doc(srv)
    other = next(x for x in listing(srv, delegate(srv)) if x["id"] != d["id"])
    url = fill(d["page_url"], 1)
    path, sig = url.split("?s=")
    doc_id, content_hash = SIGNED.match(d["page_url"]).groups()  # type: ignore[union-attr]
    other_hash = SIGNED.match(other["page_url"]).group(2)  # type: ignore[union-attr]
    files = sorted(p.name for p in cached(srv, content_hash, 1).parent.iterdir())
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    refused = [
        f"{path}?s={flipped}",  # one character changed
        f"{path}?s={sig[:-1]}",  # cut short
        path,  # no signature at all
        f"{path}?x={sig}",  # not the signature parameter
        f"/pages/{other['id']}/{content_hash}/1-w720.webp?s={sig}",  # another document, this one's signature
        f"/pages/{doc_id}/{other_hash}/1-w720.webp?s={sig}",  # other bytes, this one's signature
    ]
    for bad in refused:
        r = requests.get(srv.url + bad, timeout=10)
        assert r.status_code == 403, bad
        assert r.text == "Đường dẫn ảnh trang không hợp lệ." and r.headers["Cache-Control"] == "no-store"
    # The signature covers the document, not one page: it opens every page of this document (all of which the
    # server hands to the same cards at once) and nothing of another one.
    assert requests.get(srv.url + fill(d["page_url"], 2), timeout=10).status_code == 200
    # Nothing was drawn, written or removed by the refusals; the right URL still works.
    assert sorted(p.name for p in cached(srv, content_hash, 1).parent.iterdir()) == files
    assert requests.get(srv.url + url, timeout=10).status_code == 200


def test_a_page_not_drawn_yet_is_drawn_on_demand_then_served_by_the_fast_path(srv: LiveServer) -> None:
    d = demo_doc(srv)
    content_hash = SIGNED.match(d["page_url"]).group(2)  # type: ignore[union-attr]
    # JPEG is drawn only on demand (the pages are drawn ahead in WebP).
    jpeg = cached(srv, content_hash, 2, 1600, "jpeg")
    assert not jpeg.exists()
    url = srv.url + fill(d["page_url"], 2, 1600, "jpeg")
    r = requests.get(url, timeout=30)
    assert r.status_code == 200 and r.content[:3] == b"\xff\xd8\xff" and r.headers["Content-Type"] == "image/jpeg"
    assert FLASK_ONLY in r.headers  # Flask drew it
    assert r.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert jpeg.read_bytes() == r.content
    again = requests.get(url, timeout=10)
    assert again.status_code == 200 and again.content == r.content and FLASK_ONLY not in again.headers
    # A page past the end: the fast path has no file, Flask and the database say it does not exist.
    assert requests.get(srv.url + fill(d["page_url"], d["page_count"] + 1), timeout=10).status_code == 404


def test_a_missing_public_marker_is_put_back_by_the_database(srv: LiveServer) -> None:
    d = demo_doc(srv)
    doc_id, content_hash = SIGNED.match(d["page_url"]).groups()  # type: ignore[union-attr]
    marker = marker_path(srv.data_dir / "documents" / "cache", int(doc_id), content_hash)
    assert marker.exists()
    marker.unlink()  # as after an upgrade from a version without markers
    url = srv.url + fill(d["page_url"], 1)
    first = requests.get(url, timeout=10)
    assert first.status_code == 200 and FLASK_ONLY in first.headers
    assert marker.exists()
    assert FLASK_ONLY not in requests.get(url, timeout=10).headers


def test_confidential_documents_never_get_a_signed_url_and_forged_ones_are_refused(srv: LiveServer) -> None:
    data = own_bytes(VI[3], "mat")
    d = upload(srv, data, "mat.pdf", confidential="1")
    doc_id, content_hash = d["id"], hashlib.sha256(data).hexdigest()
    mine = next(x for x in listing(srv, delegate(srv)) if x["id"] == doc_id)
    assert mine["page_url"] == f"/documents/{doc_id}/pages/{{page}}.{{fmt}}?w={{width}}"
    assert all(u.startswith(f"/documents/{doc_id}/pages/") for p in d["pages"] for u in p["images"].values())
    # Guests do not see it at all, so they get no URL of any kind for it.
    assert doc_id not in [x["id"] for x in listing(srv, srv.bearer(srv.links["guest"]))]
    # A signed URL made with the server's own key (as if one had leaked): refused, no page without a name drawn.
    forged = page_url(key(srv), doc_id, content_hash, 1, 720, "webp")
    assert requests.get(srv.url + forged, timeout=30).status_code == 404
    assert not cached(srv, content_hash, 1).exists()
    assert not marker_path(srv.data_dir / "documents" / "cache", doc_id, content_hash).exists()
    # Its pages still come, watermarked per viewer, through the authenticated route.
    own = requests.get(srv.url + fill(mine["page_url"], 1), headers=delegate(srv), timeout=30)
    assert own.status_code == 200 and own.headers["Cache-Control"].startswith("private")


def test_same_bytes_as_a_public_document_the_confidential_one_still_gets_no_signed_url(srv: LiveServer) -> None:
    public = demo_doc(srv)
    public_hash = SIGNED.match(public["page_url"]).group(2)  # type: ignore[union-attr]
    twin = next(p for p in VI if hashlib.sha256(p.read_bytes()).hexdigest() == public_hash)
    d = upload(srv, twin.read_bytes(), "ban-mat.pdf", confidential="1")
    # The shared, unwatermarked images are on disk (drawn for the public document) but not for this one's URL.
    assert cached(srv, public_hash, 1).exists()
    forged = page_url(key(srv), d["id"], public_hash, 1, 720, "webp")
    assert requests.get(srv.url + forged, timeout=10).status_code == 404
    assert requests.get(srv.url + fill(public["page_url"], 1), timeout=10).status_code == 200


def test_made_confidential_after_the_url_was_handed_out_closes_it_and_public_again_reopens(srv: LiveServer) -> None:
    d = upload(srv, own_bytes(VI[0], "chuyen-mat"), "chuyen-mat.pdf")
    handed = next(x for x in listing(srv, delegate(srv)) if x["id"] == d["id"])["page_url"]
    url = srv.url + fill(handed, 1)
    assert requests.get(url, timeout=10).status_code == 200
    r = requests.patch(f"{srv.url}/api/v1/documents/{d['id']}", json={"confidential": True}, headers=clerk(srv),
                       timeout=10)
    assert r.status_code == 200 and r.json()["confidential"]
    # The old signed URL, the one browsers already hold: refused at once (its cached image is still on disk).
    assert requests.get(url, timeout=10).status_code == 404
    assert requests.get(url, headers={"If-None-Match": '"x"'}, timeout=10).status_code == 404
    now = next(x for x in listing(srv, delegate(srv)) if x["id"] == d["id"])["page_url"]
    assert now.startswith(f"/documents/{d['id']}/pages/")
    r = requests.patch(f"{srv.url}/api/v1/documents/{d['id']}", json={"confidential": False}, headers=clerk(srv),
                       timeout=10)
    assert r.status_code == 200
    assert next(x for x in listing(srv, delegate(srv)) if x["id"] == d["id"])["page_url"] == handed
    again = requests.get(url, timeout=10)
    assert again.status_code == 200 and FLASK_ONLY not in again.headers  # reopened by the clerk's change


def test_a_removed_document_s_signed_url_stops(srv: LiveServer) -> None:
    d = upload(srv, own_bytes(VI[1], "xoa"), "xoa.pdf")
    handed = next(x for x in listing(srv, delegate(srv)) if x["id"] == d["id"])["page_url"]
    url = srv.url + fill(handed, 1)
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.delete(f"{srv.url}/api/v1/documents/{d['id']}", headers=clerk(srv), timeout=10).status_code == 200
    assert requests.get(url, timeout=10).status_code == 404


def test_post_to_a_signed_url_is_not_allowed(srv: LiveServer) -> None:
    d = demo_doc(srv)
    assert requests.post(srv.url + fill(d["page_url"], 1), timeout=10).status_code in (400, 405)


def test_the_flask_route_behind_the_fast_path_declares_its_signed_url(app: Any) -> None:
    # tests/web/test_access.py wants a declaration on every route; this one is a capability URL, not a card's role.
    view = app.view_functions["documents.signed_page"]
    assert view.required_permission is None and view.authorized_by == "signed URL"
    rules = [r.rule for r in app.url_map.iter_rules() if r.endpoint == "documents.signed_page"]
    assert rules == ["/pages/<int:document_id>/<content_hash>/<name>"]


def test_the_middleware_alone_remembers_pages_within_its_bound_and_still_asks_the_marker(tmp_path: Path) -> None:
    from meeting_server.web.pagefiles import PageFiles

    k = derive_key("secret")
    content_hash = "ef" * 32
    images = {n: bytes([n]) * 500 for n in (1, 2, 3)}
    for n, body in images.items():
        f = cache_path(tmp_path, content_hash, n - 1, 720, "webp")
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_bytes(body)
    marker = marker_path(tmp_path, 5, content_hash)
    marker.touch()
    inner: list[str] = []

    def flask(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        inner.append(environ["PATH_INFO"])
        start_response("404 Not Found", [])
        return [b""]

    mw = PageFiles(flask, k, tmp_path, memory_bytes=1100)  # room for two pages

    def get(n: int) -> tuple[str, bytes]:
        path, query = page_url(k, 5, content_hash, n, 720, "webp").split("?")
        seen: list[str] = []
        body = b"".join(mw({"PATH_INFO": path, "QUERY_STRING": query, "REQUEST_METHOD": "GET"},
                           lambda status, headers: seen.append(status)))
        return seen[0], body

    for n in (1, 2, 3, 1, 2, 3):
        assert get(n) == ("200 OK", images[n])
    assert mw._held == 1000 and len(mw._pages) == 2 and inner == []
    marker.unlink()  # made confidential: remembered pages are refused too, Flask decides
    assert get(3)[0] == "404 Not Found" and get(1)[0] == "404 Not Found"
    assert len(inner) == 2
