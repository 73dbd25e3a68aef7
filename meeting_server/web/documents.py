"""Documents over HTTP: upload (clerk), status, page images with immutable caching, originals, search, notes."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request, send_file

from meeting_server.documents import fastpath
from meeting_server.domain import payload
from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.domain.permissions import Permission
from meeting_server.extensions import csrf
from meeting_server.realtime import documents as live
from meeting_server.realtime.announce import announce
from meeting_server.services import documents, meetings
from meeting_server.store import db
from meeting_server.store.tables import Meeting
from meeting_server.web import pagefiles
from meeting_server.web.guards import bearer_token, principal, requires, same_meeting, signed_url
from meeting_server.web.payload import json_body, json_document

bp = Blueprint("documents", __name__)
csrf.exempt(bp)

YEAR = 31_536_000


@bp.before_request
def _csrf_for_cookie_clients() -> None:
    """As in the API: a browser posting with its cookie must send the CSRF header; Bearer clients need not."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and bearer_token() is None:
        csrf.protect()


def _app() -> Any:
    return current_app._get_current_object()  # type: ignore[attr-defined]


def _meeting(meeting_id: int) -> Meeting:
    same_meeting(meeting_id)
    return meetings.get(db.session(), meeting_id)


def _flag(name: str) -> bool:
    return (request.form.get(name) or "").lower() in ("1", "true", "on", "yes")


@bp.route("/api/v1/meetings/<int:meeting_id>/documents", methods=["POST"])
@requires(Permission.DOCUMENT_MANAGE)
def upload(meeting_id: int) -> Any:
    """Upload one file (multipart field `file`; `item_id`, `confidential`, `downloadable`): 202 with its id,
    processed in the render pool; clerk screens receive `document` progress events."""
    m = _meeting(meeting_id)
    f = request.files.get("file")
    if f is None or not f.filename:
        raise DomainError("Hãy chọn một tệp để tải lên.", "document.no_file")
    item_raw = request.form.get("item_id") or ""
    try:
        item_id = int(item_raw) if item_raw else None
    except ValueError as exc:
        raise DomainError("Nội dung chương trình không hợp lệ.", "document.invalid_item") from exc
    app = _app()
    up = documents.store_upload(app, f.stream, documents.limits(app).max_upload_bytes)
    done = documents.create(db.session(), m, up, f.filename, f.mimetype or "", item_id=item_id,
                            confidential=_flag("confidential"), downloadable=_flag("downloadable"),
                            actor=principal().actor)
    doc = done.value
    live.start_processing(app, doc.id)
    announce(done.change)
    return jsonify({"id": doc.id, "status": doc.status, "url": f"/api/v1/documents/{doc.id}"}), 202


@bp.route("/api/v1/meetings/<int:meeting_id>/documents")
@requires(Permission.DOCUMENT_READ)
def list_documents(meeting_id: int) -> Any:
    """The meeting's documents this card may see."""
    _meeting(meeting_id)
    return jsonify({"documents": documents.listing(db.session(), principal())})


@bp.route("/api/v1/documents/<int:document_id>")
@requires(Permission.DOCUMENT_READ)
def get_document(document_id: int) -> Any:
    """Status (processing | ready | failed), failure message, page count and each page's image URLs."""
    who = principal()
    doc = documents.visible(db.session(), who, document_id)
    return jsonify(documents.detail(doc, who))


@bp.route("/api/v1/documents/<int:document_id>", methods=["PATCH"])
@requires(Permission.DOCUMENT_MANAGE)
def patch_document(document_id: int) -> Any:
    """Change title, agenda item, confidential, downloadable (clerk)."""
    body = json_body()
    who = principal()
    s = db.session()
    done = documents.update(_app(), s, meetings.get(s, who.meeting_id), document_id, body, who.actor)
    announce(done.change)
    return jsonify(documents.detail(done.value, who))


@bp.route("/api/v1/documents/<int:document_id>", methods=["DELETE"])
@requires(Permission.DOCUMENT_MANAGE)
def delete_document(document_id: int) -> Any:
    """Remove a document (clerk)."""
    who = principal()
    s = db.session()
    announce(documents.remove(_app(), s, meetings.get(s, who.meeting_id), document_id, who.actor))
    return jsonify({"ok": True})


@bp.route("/api/v1/documents/<int:document_id>/password", methods=["POST"])
@requires(Permission.DOCUMENT_MANAGE)
def give_password(document_id: int) -> Any:
    """Open a password-protected PDF with the password the clerk typed: 202, processed again."""
    body = json_document()
    password = body.get("password") if isinstance(body, dict) else request.form.get("password")
    if not isinstance(password, str):
        raise DomainError("Hãy nhập mật khẩu.", "document.password_missing")
    who = principal()
    s = db.session()
    done = documents.retry_with_password(s, meetings.get(s, who.meeting_id), document_id, password, who.actor)
    doc = done.value
    announce(done.change)
    live.start_processing(_app(), doc.id, password=password)
    return jsonify({"id": doc.id, "status": doc.status}), 202


@bp.route("/documents/<int:document_id>/pages/<int:page>.<fmt>")
@requires(Permission.DOCUMENT_READ)
def page_image(document_id: int, page: int, fmt: str) -> Any:
    """A page image (`w` = 720 or 1600): immutable, ETag from the content hash; drawn on demand when missing."""
    try:
        width = int(request.args.get("w", documents.PHONE_WIDTH))
    except ValueError as exc:
        raise DomainError("Độ rộng ảnh không hợp lệ (720 hoặc 1600).", "document.bad_width") from exc
    img = documents.page_image(_app(), db.session(), principal(), document_id, page, width, fmt)
    cache = f"{'private' if img.private else 'public'}, max-age={YEAR}, immutable"
    if img.etag in request.if_none_match or img.etag.strip('"') in request.if_none_match:
        return Response(status=304, headers={"ETag": img.etag, "Cache-Control": cache})
    # One read and one write: a page image is a few hundred kB at most, and the chunked file wrapper costs more.
    with open(img.path, "rb") as f:
        body = f.read()
    return Response(body, mimetype=img.mime, headers={"ETag": img.etag, "Cache-Control": cache})


@bp.route("/api/v1/documents/<int:document_id>/pages/<int:page>/text")
@requires(Permission.DOCUMENT_READ)
def page_text(document_id: int, page: int) -> Any:
    """One page's text for reading mode (headings and paragraphs), to whoever may see its image; a confidential
    document's text is never stored by any cache (`no-store`), the others' is revalidated (OCR may fill it later)."""
    body = documents.page_text(db.session(), principal(), document_id, page)
    reply = jsonify(body)
    reply.headers["Cache-Control"] = "private, no-store" if body["confidential"] else "private, no-cache"
    return reply


@bp.route("/pages/<int:document_id>/<content_hash>/<name>")
@signed_url
def signed_page(document_id: int, content_hash: str, name: str) -> Any:
    """A page image by its signed URL, when the fast path (web/pagefiles.py) could not answer from the cache: the
    same signature check, then the database (ready, not confidential), drawn on demand when missing."""
    m = fastpath.PATH.match(request.path)
    if m is None:
        raise NotFound("Không tìm thấy trang.")
    if not fastpath.verify(documents.page_key(_app()), document_id, content_hash,
                           pagefiles.signature_of(request.query_string.decode("latin-1"))):
        return Response(pagefiles.FORBIDDEN, status=403, mimetype="text/plain",
                        headers={"Cache-Control": "no-store"})
    page, width, fmt = int(m.group(3)), int(m.group(4)), m.group(5)
    img = documents.signed_page_image(_app(), db.session(), document_id, content_hash, page, width, fmt)
    headers = {"ETag": img.etag, "Cache-Control": pagefiles.CACHE_CONTROL}
    if pagefiles.etag_matches(request.headers.get("If-None-Match"), img.etag):
        return Response(status=304, headers=headers)
    with open(img.path, "rb") as f:
        body = f.read()
    return Response(body, mimetype=img.mime, headers=headers)


@bp.route("/documents/<int:document_id>/original")
@requires(Permission.DOCUMENT_READ)
def download_original(document_id: int) -> Any:
    """The uploaded file, where the clerk allowed downloading (never a confidential document)."""
    path, name, mime = documents.original(_app(), db.session(), principal(), document_id)
    return send_file(path, mimetype=mime, as_attachment=True, download_name=name)


@bp.route("/api/v1/meetings/<int:meeting_id>/search")
@requires(Permission.DOCUMENT_READ)
def search(meeting_id: int) -> Any:
    """Search the meeting's documents with or without diacritics: hits with document, page and snippet (<mark>)."""
    _meeting(meeting_id)
    q = request.args.get("q", "")
    return jsonify({"query": q, "hits": documents.search(db.session(), principal(), q)})


@bp.route("/api/v1/documents/<int:document_id>/notes")
@requires(Permission.NOTES_WRITE)
def get_notes(document_id: int) -> Any:
    """The caller's own notes on a document, {page: text}."""
    return jsonify({"notes": documents.notes(db.session(), principal(), document_id)})


@bp.route("/api/v1/documents/<int:document_id>/notes/<int:page>", methods=["PUT"])
@requires(Permission.NOTES_WRITE)
def put_note(document_id: int, page: int) -> Any:
    """Keep the caller's note on a page (empty text removes it)."""
    note = payload.text(json_body(), "text")
    documents.save_note(db.session(), principal(), document_id, page, note)
    return jsonify({"ok": True})


@bp.route("/api/v1/meetings/<int:meeting_id>/notes.txt")
@requires(Permission.NOTES_WRITE)
def export_notes(meeting_id: int) -> Any:
    """Every note of the caller in this meeting, as a text file."""
    _meeting(meeting_id)
    body = documents.export_notes(db.session(), principal())
    return Response(body, mimetype="text/plain; charset=utf-8", headers={
        "Content-Disposition": "attachment; filename=ghi-chu.txt", "Cache-Control": "no-store"})
