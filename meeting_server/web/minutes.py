"""Minutes: the clerk's editor with live preview, the signed PDF, archives, and /verify.

Signing is in web/signing.py: the clerk prepares, the signers sign from their own cards. The old one-click
`POST …/minutes/finalize`, which signed for both with the server's keys, is gone (issue #17).
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
)
from flask_babel import gettext as _

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.extensions import csrf
from meeting_server.realtime.announce import announce
from meeting_server.services import archive, integrity, meetings, minutes
from meeting_server.store import db
from meeting_server.store.tables import Meeting
from meeting_server.web.guards import (
    bearer_token,
    principal,
    public,
    requires,
    same_meeting,
)
from meeting_server.web.payload import json_body
from meeting_server.web.uploads import spooled_upload

bp = Blueprint("minutes", __name__)
csrf.exempt(bp)

MAX_VERIFY_BYTES = 50 * 1024 * 1024


@bp.before_request
def _csrf_for_cookie_clients() -> None:
    """Cookie clients send the CSRF token; Bearer clients and the public /verify upload (changes nothing) need not."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and bearer_token() is None \
            and request.endpoint != "minutes.verify_upload":
        csrf.protect()


def _meeting(meeting_id: int) -> Meeting:
    same_meeting(meeting_id)
    return meetings.get(db.session(), meeting_id)


def _pdf(data: bytes, name: str, inline: bool = True) -> Response:
    resp = Response(data, mimetype="application/pdf")
    resp.headers["Content-Disposition"] = f'{"inline" if inline else "attachment"}; filename="{name}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _zip(data: bytes, name: str) -> Response:
    resp = Response(data, mimetype="application/zip")
    resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


# --- the clerk's editor -------------------------------------------------------------------------------------


@bp.route("/clerk/minutes")
@requires(Permission.MINUTES_MANAGE)
def editor() -> Any:
    """The minutes editor: free texts on the left, the PDF pages on the right."""
    s = db.session()
    m = meetings.get(s, principal().meeting_id)
    st = minutes.state(s, m)
    signing = minutes.signing_settings(current_app)["source"]
    return render_template("clerk/minutes.html", page="minutes", meeting=m, minutes_state=st, signing=signing)


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes")
@requires(Permission.MINUTES_MANAGE)
def get_minutes(meeting_id: int) -> Any:
    """The current version's texts, status and the list of versions."""
    return jsonify(minutes.state(db.session(), _meeting(meeting_id)))


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/draft", methods=["PUT"])
@requires(Permission.MINUTES_MANAGE)
def put_draft(meeting_id: int) -> Any:
    """Autosave: `{"changes": {"opening"|"conclusions"|"summaries"|"recipients"|"document_number": …},
    "revision": n}`; answers the new revision."""
    s = db.session()
    m = _meeting(meeting_id)
    body = json_body(allow_empty=True)
    draft = minutes.save_texts(s, m, body.get("changes"), body.get("revision"))
    return jsonify({"revision": draft.revision, "updated_at": draft.updated_at.isoformat()})


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/preview", methods=["POST"])
@requires(Permission.MINUTES_MANAGE)
def post_preview(meeting_id: int) -> Any:
    """Render the current draft in the worker: page images as data URLs (JPEG) at the asked width, and page texts."""
    s = db.session()
    m = _meeting(meeting_id)
    body = json_body(allow_empty=True)
    width = body.get("width", 420)
    if isinstance(width, bool) or not isinstance(width, int):
        raise DomainError("Độ rộng trang không hợp lệ.", "payload.invalid")
    out = minutes.preview(current_app, s, m, width)
    pages = ["data:image/jpeg;base64," + base64.b64encode(p).decode("ascii") for p in out["pages"]]
    return jsonify({"revision": out["revision"], "page_count": len(pages), "pages": pages, "texts": out["texts"]})


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/versions", methods=["POST"])
@requires(Permission.MINUTES_MANAGE)
def post_version(meeting_id: int) -> Any:
    """Start a correction of the signed minutes: a new draft version linked to the signed one."""
    s = db.session()
    m = _meeting(meeting_id)
    note = json_body(allow_empty=True).get("note", "")
    done = minutes.new_version(s, m, principal().actor, note if isinstance(note, str) else "")
    announce(done.change)  # every screen hears of it with the next seq, not as a gap that forces `sync`
    draft = done.value
    return jsonify({"version": draft.version, "status": draft.status}), 201


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes.pdf")
@requires(Permission.MEETING_READ)
def minutes_pdf(meeting_id: int) -> Any:
    """The signed minutes (newest version, or `?version=n`)."""
    s = db.session()
    m = _meeting(meeting_id)
    version = request.args.get("version", type=int)
    draft = minutes.latest_final(s, m.id, version)
    return _pdf(minutes.pdf_bytes(current_app, draft), f"bien-ban-ky-hop-{m.id}-v{draft.version}.pdf")


@bp.route("/api/v1/meetings/<int:meeting_id>/archive.zip")
@requires(Permission.MINUTES_MANAGE)
def archive_zip(meeting_id: int) -> Any:
    """Signed minutes, record JSON, results CSV, documents and the audit log (JSONL)."""
    s = db.session()
    m = _meeting(meeting_id)
    return _zip(archive.archive_zip(current_app, s, m), f"luu-tru-ky-hop-{m.id}.zip")


@bp.route("/api/v1/meetings/<int:meeting_id>/public-export.zip")
@requires(Permission.MINUTES_MANAGE)
def public_export(meeting_id: int) -> Any:
    """Static HTML pages (resolutions, results, signed minutes) for the commune's website."""
    s = db.session()
    m = _meeting(meeting_id)
    return _zip(archive.public_export_zip(current_app, s, m), f"cong-khai-ky-hop-{m.id}.zip")


@bp.route("/api/v1/audit/verify")
@requires(Permission.AUDIT_VERIFY)
def audit_verify() -> Any:
    """Check this server's whole record as verify-log does (the clerk console's check), in a child process."""
    engine = current_app.extensions["db_engine"]
    if engine.url.get_backend_name() == "postgresql":  # the rows in the database, the key and anchors on disk
        url = engine.url.render_as_string(hide_password=False)
        return jsonify(integrity.check_in_child(url, Path(current_app.config["DATA_DIR"])))
    return jsonify(integrity.check_in_child(Path(engine.url.database)))


# --- public verification --------------------------------------------------------------------------------------


@bp.route("/verify")
@public
def verify_page() -> Any:
    """Anyone may drop a PDF here to check its signatures and its record."""
    return render_template("minutes_verify.html", page="verify", report=None)


@bp.route("/verify", methods=["POST"])
@public
def verify_upload() -> Any:
    """Check an uploaded PDF; HTML for the page, JSON for `Accept: application/json`.

    The upload stays in the file it was spooled to (a form's file part, or the raw body copied in large chunks);
    the validator child reads that file itself, so its bytes are never read, pickled or hashed on the loop."""
    f = request.files.get("file")
    upload, size = spooled_upload(f, MAX_VERIFY_BYTES)
    with upload:
        wants_json = request.accept_mimetypes.best == "application/json"
        if not size or size > MAX_VERIFY_BYTES:
            message = _("Hãy chọn một tệp PDF (tối đa 50 MB).")
            if wants_json:
                return jsonify({"error": "verify.no_file", "message": message}), 400
            return render_template("minutes_verify.html", page="verify", report=None, error=message), 400
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        report = minutes.verify(upload, minutes.trust_roots(app), db.session())
    if wants_json:
        return jsonify(report)
    return render_template("minutes_verify.html", page="verify", report=report,
                           filename=(f.filename if f is not None else ""))
