"""The minutes through HTTP on the in-process app: autosave, preview, finalize and freeze, versions, archives,
access."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from meeting_server.domain.permissions import ROLE_PERMISSIONS, Permission
from tests.conftest import csrf_token, token_of
from tests.db_kit import Peek
from tests.minutes.signing_kit import sign_all_with_pins
from tests.web.test_access import ROLE_OF, ROLES


def bearer(app_links: dict[str, Any], role: str = "clerk") -> dict[str, str]:
    url = app_links["clerk"] if role == "clerk" else app_links[role][0]
    return {"Authorization": f"Bearer {token_of(url)}"}


@pytest.fixture
def clerk(app: Any, app_links: dict[str, Any]) -> Any:
    """A Bearer-authenticated clerk client and the meeting's API base."""
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = bearer(app_links)["Authorization"]
    client.base = f"/api/v1/meetings/{app_links['meeting_id']}"  # type: ignore[attr-defined]
    return client


def test_autosave_merges_texts_and_refuses_bad_input(clerk: Any) -> None:
    base = clerk.base
    st = clerk.get(base + "/minutes").get_json()
    assert st["status"] == "draft" and st["version"] == 1 and st["revision"] == 0
    assert st["texts"]["recipients"] == ["Thường trực HĐND xã", "UBND xã", "Các đại biểu HĐND xã"]
    item = st["agenda"][1]["id"]
    r = clerk.put(base + "/minutes/draft", json={"changes": {"opening": "Đồng chí Chủ tịch khai mạc.",
                                                             "summaries": {str(item): "Ý kiến thống nhất."}},
                                                 "revision": 0})
    assert r.status_code == 200 and r.get_json()["revision"] == 1
    r = clerk.put(base + "/minutes/draft", json={"changes": {"recipients": "TT HĐND huyện\n\nUBND xã"},
                                                 "revision": 1})
    texts = clerk.get(base + "/minutes").get_json()["texts"]
    assert texts["opening"] == "Đồng chí Chủ tịch khai mạc."
    assert texts["summaries"] == {str(item): "Ý kiến thống nhất."}
    assert texts["recipients"] == ["TT HĐND huyện", "UBND xã"]
    # A save from an out-of-date tab, an unknown part, a summary of no agenda item, text where a dict belongs.
    for body, code in [({"changes": {"opening": "cũ"}, "revision": 0}, "minutes.stale"),
                       ({"changes": {"password": "x"}}, "payload.invalid"),
                       ({"changes": {"summaries": {"99999": "x"}}}, "payload.invalid"),
                       ({"changes": {"opening": 5}}, "payload.invalid"),
                       ({"changes": "x"}, "payload.invalid")]:
        r = clerk.put(base + "/minutes/draft", json=body)
        assert r.status_code == 400 and r.get_json()["error"] == code, (body, r.get_json())
    assert clerk.get(base + "/minutes").get_json()["texts"]["opening"] == "Đồng chí Chủ tịch khai mạc."
    r = clerk.put(base + "/minutes/draft", data="not json", content_type="application/json")
    assert r.status_code == 400 and "JSON" in r.get_json()["message"]


def test_preview_renders_pages_in_the_worker(clerk: Any) -> None:
    r = clerk.post(clerk.base + "/minutes/preview", json={"width": 300})
    assert r.status_code == 200
    out = r.get_json()
    assert out["page_count"] == len(out["pages"]) >= 2
    assert all(p.startswith("data:image/jpeg;base64,") for p in out["pages"])
    import base64

    from PIL import Image

    img = Image.open(io.BytesIO(base64.b64decode(out["pages"][0].split(",", 1)[1])))
    assert img.width == 300 and abs(img.height / img.width - 297 / 210) < 0.01
    assert clerk.post(clerk.base + "/minutes/preview", json={"width": "big"}).status_code == 400


def test_finalize_freezes_signs_and_versions(app: Any, clerk: Any, app_links: dict[str, Any]) -> None:
    base = clerk.base
    clerk.put(base + "/minutes/draft", json={"changes": {"conclusions": "Chủ tọa bế mạc kỳ họp."}})
    assert clerk.get(base + "/minutes.pdf").status_code == 404
    # The old one-click finalize is gone: the clerk prepares, the secretary then the chair sign (test_signing.py).
    out = sign_all_with_pins(app, app_links)
    assert out["status"] == "final" and out["version"] == 1
    pdf = clerk.get(f"{base}/minutes.pdf?version=1")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    import hashlib

    assert hashlib.sha256(pdf.data).hexdigest() == out["current_sha256"]
    doc = pymupdf.open(stream=pdf.data)
    text = " ".join(page.get_text() for page in doc)
    assert "Chủ tọa bế mạc kỳ họp." in text and "BIÊN BẢN" in text
    # Frozen: the meeting, attendance and the signed texts take no change; finalizing again is refused.
    r = clerk.patch(base, json={"place": "Nơi khác"})
    assert r.status_code == 400 and r.get_json()["error"] == "meeting.frozen"
    pid = app_links["delegates"][3]["participant_id"]
    r = clerk.post(f"{base}/attendance/{pid}", json={"status": "absent", "reason": "ốm"})
    assert r.get_json()["error"] == "meeting.frozen"
    r = clerk.put(base + "/minutes/draft", json={"changes": {"opening": "sửa"}})
    assert r.get_json()["error"] == "minutes.frozen"
    assert clerk.post(base + "/minutes/prepare", json={}).get_json()["error"] == "minutes.not_draft"
    # A correction is a new version linked to the signed one; both stay downloadable.
    r = clerk.post(base + "/minutes/versions", json={"note": "Sửa lỗi chính tả phần kết luận"})
    assert r.status_code == 201 and r.get_json()["version"] == 2
    clerk.put(base + "/minutes/draft", json={"changes": {"conclusions": "Chủ tọa tuyên bố bế mạc kỳ họp."}})
    assert sign_all_with_pins(app, app_links)["status"] == "final"
    versions = clerk.get(base + "/minutes").get_json()["versions"]
    assert [(v["version"], v["status"]) for v in versions] == [(1, "final"), (2, "final")]
    v2 = clerk.get(base + "/minutes.pdf")
    assert "tuyên bố bế mạc" in " ".join(p.get_text() for p in pymupdf.open(stream=v2.data))
    v1 = clerk.get(base + "/minutes.pdf?version=1")
    assert v1.data == pdf.data
    record = json.loads(zipfile.ZipFile(io.BytesIO(clerk.get(base + "/archive.zip").data)).read("ho-so-ky-hop.json"))
    assert record["minutes_version"] == 2 and record["corrects"]["version"] == 1
    assert record["corrects"]["note"] == "Sửa lỗi chính tả phần kết luận"
    # The audit chain holds both finalizations and is intact.
    chk = clerk.get("/api/v1/audit/verify").get_json()
    assert chk["ok"] is True and chk["first_break"] is None


def test_archive_and_public_export(app: Any, clerk: Any, app_links: dict[str, Any]) -> None:
    base = clerk.base
    assert clerk.get(base + "/public-export.zip").get_json()["error"] == "minutes.not_final"
    sign_all_with_pins(app, app_links)
    z = zipfile.ZipFile(io.BytesIO(clerk.get(base + "/archive.zip").data))
    names = set(z.namelist())
    assert {"bien-ban-v1.pdf", "ho-so-ky-hop.json", "ket-qua-bieu-quyet.csv", "nhat-ky.jsonl", "README.txt"} <= names
    events = [json.loads(line) for line in z.read("nhat-ky.jsonl").decode().splitlines()]
    assert events[0]["kind"] == "meeting.created" and events[-1]["kind"] == "minutes.finalized"
    assert all(len(e["hash"]) == 64 for e in events)
    rows = list(csv.reader(io.StringIO(z.read("ket-qua-bieu-quyet.csv").decode("utf-8-sig"))))
    assert rows[0][:3] == ["STT nội dung", "Nội dung", "Vấn đề biểu quyết"]
    pub = zipfile.ZipFile(io.BytesIO(clerk.get(base + "/public-export.zip").data))
    assert set(pub.namelist()) == {"cong-khai/index.html", "cong-khai/nghi-quyet.html", "cong-khai/ket-qua.html",
                                   "cong-khai/bien-ban.html", "cong-khai/bien-ban.pdf"}
    assert "Kỳ họp thứ Hai" in pub.read("cong-khai/index.html").decode()


MINUTES_ROUTES = [
    ("GET", "/clerk/minutes", Permission.MINUTES_MANAGE),
    ("GET", "/api/v1/meetings/{m}/minutes", Permission.MINUTES_MANAGE),
    ("PUT", "/api/v1/meetings/{m}/minutes/draft", Permission.MINUTES_MANAGE),
    ("POST", "/api/v1/meetings/{m}/minutes/preview", Permission.MINUTES_MANAGE),
    ("POST", "/api/v1/meetings/{m}/minutes/prepare/cancel", Permission.MINUTES_MANAGE),
    ("GET", "/api/v1/meetings/{m}/minutes/signing", Permission.MEETING_READ),
    ("POST", "/api/v1/meetings/{m}/minutes/signatures/secretary", Permission.MINUTES_SIGN),
    ("POST", "/api/v1/meetings/{m}/minutes/signatures/chair/key", Permission.MINUTES_SIGN),
    ("GET", "/sign", Permission.MINUTES_SIGN),
    ("POST", "/api/v1/meetings/{m}/minutes/versions", Permission.MINUTES_MANAGE),
    ("GET", "/api/v1/meetings/{m}/minutes.pdf", Permission.MEETING_READ),
    ("GET", "/api/v1/meetings/{m}/archive.zip", Permission.MINUTES_MANAGE),
    ("GET", "/api/v1/meetings/{m}/public-export.zip", Permission.MINUTES_MANAGE),
    ("GET", "/api/v1/audit/verify", Permission.AUDIT_VERIFY),
]


@pytest.mark.parametrize(("method", "path", "permission"), MINUTES_ROUTES,
                         ids=[f"{m} {p}" for m, p, _ in MINUTES_ROUTES])
def test_access_matrix(login: Any, app_links: dict[str, Any], method: str, path: str, permission: Permission) -> None:
    url = path.format(m=app_links["meeting_id"])
    for role in ROLES:
        client = login(role)
        headers = {}
        if method != "GET" and role != "anonymous":
            headers["X-CSRFToken"] = csrf_token(client)
        # Bodies that are refused before any work is done ({"width": "x"}, {"pins": 5}, {"changes": 5}).
        body = {"width": "x", "pins": 5, "changes": 5} if method != "GET" else None
        r = client.open(url, method=method, headers=headers, json=body)
        if role == "anonymous":
            assert r.status_code == (401 if method == "GET" else 400), (role, r.status_code)
        elif permission in ROLE_PERMISSIONS[ROLE_OF[role]]:
            assert r.status_code in (200, 400, 404), (role, r.status_code, r.data[:300])
        else:
            assert r.status_code == 403, (role, r.status_code, r.data[:300])


def test_other_meeting_and_revoked_card_are_refused(app: Any, login: Any, app_links: dict[str, Any]) -> None:
    client = login("clerk")
    assert client.get(f"/api/v1/meetings/{app_links['meeting_id'] + 1}/minutes").status_code == 404
    from sqlalchemy import select

    from meeting_server.services import tokens
    from meeting_server.store import db
    from meeting_server.store.tables import Participant

    with db.standalone_session(app) as s:
        sec = s.scalars(select(Participant).where(Participant.role == "secretary")).first()
        assert sec is not None
        old = sec.token
        tokens.revoke_and_reissue(s, sec, "clerk:test")
        s.commit()
    r = app.test_client().get(f"/api/v1/meetings/{app_links['meeting_id']}/minutes",
                              headers={"Authorization": f"Bearer {old}"})
    assert r.status_code == 401


def test_cookie_writes_need_csrf(login: Any, app_links: dict[str, Any]) -> None:
    client = login("clerk")
    base = f"/api/v1/meetings/{app_links['meeting_id']}/minutes"
    r = client.put(base + "/draft", json={"changes": {"opening": "x"}})
    assert r.status_code == 400 and "Trang đã cũ" in r.get_json()["message"]
    r = client.put(base + "/draft", json={"changes": {"opening": "x"}},
                   headers={"X-CSRFToken": csrf_token(client, "/clerk/minutes")})
    assert r.status_code == 200


def test_editor_page_shows_texts_and_agenda(login: Any) -> None:
    html = login("clerk").get("/clerk/minutes").get_data(as_text=True)
    assert "Nội dung do thư ký soạn" in html and 'data-summary="' in html
    assert "js/minutes.js" in html and 'id="i18n-minutes"' in html
    assert "Kiểm tra nhật ký" in login("clerk").get("/clerk/").get_data(as_text=True)


def test_console_audit_check_names_the_changed_row(app: Any, clerk: Any, database_url: str | None) -> None:
    """On either database: the check reads the rows the server writes (on PostgreSQL its database URL)."""
    assert clerk.get("/api/v1/audit/verify").get_json()["ok"] is True
    with Peek(Path(app.config["DATA_DIR"]), database_url) as conn:
        conn.execute("UPDATE audit_event SET actor = 'clerk:999' WHERE seq = 4")
    out = clerk.get("/api/v1/audit/verify").get_json()
    assert out["ok"] is False and out["first_break"] == {**out["first_break"], "seq": 4, "kind": "changed"}
    assert "Bản ghi số 4 đã bị sửa" in out["message"]


def test_console_audit_check_names_an_edited_attendance(app: Any, clerk: Any, database_url: str | None) -> None:
    """The console's check is verify-log's whole check: derived state too, not only the chain."""
    data_dir, url = Path(app.config["DATA_DIR"]), database_url
    with Peek(data_dir, url) as conn:
        pid = conn.execute("SELECT id FROM participant WHERE role = 'delegate' LIMIT 1").fetchone()[0]
    assert clerk.post(f"{clerk.base}/attendance/{pid}", json={"status": "present"}).status_code == 200
    assert clerk.get("/api/v1/audit/verify").get_json()["ok"] is True
    with Peek(data_dir, url) as conn:
        conn.execute("UPDATE attendance SET status = 'absent' WHERE participant_id = ?", (pid,))
    out = clerk.get("/api/v1/audit/verify").get_json()
    assert out["ok"] is False and out["first_break"] is None
    assert f"(số {pid}) là «absent» nhưng nhật ký ghi «present»" in out["message"] and out["problems"]


def test_archive_holds_every_document_as_uploaded(app: Any, clerk: Any, app_links: dict[str, Any]) -> None:
    """The archive's README promises the session's documents: each ready one, byte for byte, under tai-lieu/."""
    import hashlib

    from meeting_server.services.documents import original_path
    from meeting_server.store import db
    from meeting_server.store.tables import Document

    body = b"%PDF-1.4 tai lieu ky hop (noi dung thu)"
    digest = hashlib.sha256(body).hexdigest()
    meeting_id = int(clerk.base.rstrip("/").rsplit("/", 1)[1])
    with app.app_context():
        path = original_path(app, digest)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(body)
        s = db.session()
        s.add(Document(meeting_id=meeting_id, content_hash=digest, original_name="../Tờ trình số 12.pdf",
                       title="Tờ trình số 12", status="ready", page_count=1))
        s.add(Document(meeting_id=meeting_id, content_hash="0" * 64, original_name="hong.pdf", status="failed"))
        s.commit()
    sign_all_with_pins(app, app_links)
    z = zipfile.ZipFile(io.BytesIO(clerk.get(clerk.base + "/archive.zip").data))
    docs = [n for n in z.namelist() if n.startswith("tai-lieu/")]
    assert len(docs) == 1 and docs[0].endswith(".pdf") and ".." not in docs[0]
    assert z.read(docs[0]) == body


def test_prepare_refuses_an_unsettled_sitting_in_the_clerks_language(app: Any, clerk: Any) -> None:
    """Issue 17, defect 3: the reason is given in Vietnamese, and in English to a clerk who chose English."""
    from meeting_server.services import meetings
    from meeting_server.store import db
    from meeting_server.store.tables import Document

    with app.app_context():
        s = db.session()
        m = meetings.current(s)
        assert m is not None
        doc = Document(meeting_id=m.id, title="Tờ trình", original_name="to-trinh.pdf", content_hash="ab" * 32,
                       status="processing")
        s.add(doc)
        s.commit()
        doc_id = doc.id
    r = clerk.post(clerk.base + "/minutes/prepare", json={})
    assert r.status_code == 400 and r.get_json()["error"] == "minutes.document_unsettled"
    assert r.get_json()["message"] == "Chưa thể ký biên bản: còn tài liệu đang được xử lý. Hãy đợi xử lý xong."
    with clerk.session_transaction() as sess:
        sess["lang"] = "en"
    r = clerk.post(clerk.base + "/minutes/prepare", json={})
    assert r.get_json()["message"] == ("The minutes cannot be signed yet: a document is still being processed. "
                                       "Wait until it is ready.")
    assert clerk.get(clerk.base + "/minutes").get_json()["status"] == "draft"  # nothing was frozen
    with app.app_context():
        s = db.session()
        d = s.get(Document, doc_id)
        assert d is not None
        d.status = "ready"
        s.commit()
