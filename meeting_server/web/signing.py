"""Signing the minutes: the clerk prepares, then each signer signs from their own card (services/signing.py).

Every signing route requires `minutes.can_sign` (the chair and the secretary hold it, the clerk does not) and the
service checks that the card is the signer of that step, and that the secretary has signed before the chair.
Each landed step is announced to the meeting room as `minutes.signing` (docs/PROTOCOL.md).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.domain.permissions import Permission
from meeting_server.extensions import csrf
from meeting_server.realtime.announce import announce
from meeting_server.services import meetings, signing
from meeting_server.services.unit import Change
from meeting_server.store import db
from meeting_server.store.tables import Meeting
from meeting_server.web.guards import bearer_token, principal, requires, same_meeting
from meeting_server.web.payload import json_body

bp = Blueprint("signing", __name__)
csrf.exempt(bp)

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
ROLES = tuple(role for role, _f, _w in signing.STEPS)


@bp.before_request
def _csrf_for_cookie_clients() -> None:
    """Cookie clients (the screens) send the CSRF token; Bearer clients need not."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and bearer_token() is None:
        csrf.protect()


def _meeting(meeting_id: int) -> Meeting:
    same_meeting(meeting_id)
    return meetings.get(db.session(), meeting_id)


def _role(role: str) -> str:
    if role not in ROLES:
        raise NotFound("Không có bước ký này.")
    return role


def _answer(m: Meeting, change: Change, status: int = 200) -> Any:
    """Announce the step to every screen of the meeting, and answer the signing state."""
    announce(change)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    st = signing.state(app, db.session(), m)
    return jsonify(dict(st, label=_(st["label"]))), status


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/prepare", methods=["POST"])
@requires(Permission.MINUTES_MANAGE)
def post_prepare(meeting_id: int) -> Any:
    """Freeze the meeting and make the prepared PDF (PDF/A, the record attached) that the signers will sign."""
    m = _meeting(meeting_id)
    change = signing.prepare(current_app._get_current_object(), db.session(), m, principal().actor)  # type: ignore[attr-defined]
    return _answer(m, change)


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/prepare/cancel", methods=["POST"])
@requires(Permission.MINUTES_MANAGE)
def post_prepare_cancel(meeting_id: int) -> Any:
    """Back to the draft before the chair signs; any secretary's signature is discarded."""
    m = _meeting(meeting_id)
    change = signing.cancel(current_app._get_current_object(), db.session(), m, principal().actor)  # type: ignore[attr-defined]
    return _answer(m, change)


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/signing")
@requires(Permission.MEETING_READ)
def get_signing(meeting_id: int) -> Any:
    """The step ("Chờ thư ký ký", "Chờ chủ tọa ký", "Đã ký"), the prepared file's hash and pages, each signature."""
    m = _meeting(meeting_id)
    st = signing.state(current_app._get_current_object(), db.session(), m)  # type: ignore[attr-defined]
    return jsonify(dict(st, label=_(st["label"])))


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/signing/document.pdf")
@requires(Permission.MEETING_READ)
def signing_document(meeting_id: int) -> Any:
    """The PDF the next signer signs (to read before signing, or to sign on one's own computer)."""
    m = _meeting(meeting_id)
    draft, pdf = signing.current_pdf(current_app._get_current_object(), db.session(), m)  # type: ignore[attr-defined]
    resp = Response(pdf, mimetype="application/pdf")
    inline = "inline" if request.args.get("download") is None else "attachment"
    resp.headers["Content-Disposition"] = f'{inline}; filename="bien-ban-ky-hop-{m.id}-v{draft.version}-cho-ky.pdf"'
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/signatures/<role>/key", methods=["POST"])
@requires(Permission.MINUTES_SIGN)
def post_key(meeting_id: int, role: str) -> Any:
    """First use of the key on this box: `{"pin": "…", "pin_again": "…"}` chosen by the signer."""
    m = _meeting(meeting_id)
    body = json_body()
    if body.get("pin") != body.get("pin_again"):
        raise DomainError("Hai lần nhập mã PIN không giống nhau.", "signer.pin_mismatch")
    change = signing.set_pin(current_app._get_current_object(), db.session(), m, principal(),  # type: ignore[attr-defined]
                    _role(role), body.get("pin"))
    return _answer(m, change, 201)


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/signatures/<role>", methods=["POST"])
@requires(Permission.MINUTES_SIGN)
def post_signature(meeting_id: int, role: str) -> Any:
    """Sign: `{"method": "pin"|"token", "pin": "…", "pdf_sha256": "<the SHA-256 shown in the confirmation>"}`."""
    m = _meeting(meeting_id)
    body = json_body()
    change = signing.sign_with_key(current_app._get_current_object(), db.session(), m, principal(),  # type: ignore[attr-defined]
                          _role(role), body.get("method"), body.get("pin"), body.get("pdf_sha256"))
    return _answer(m, change)


@bp.route("/api/v1/meetings/<int:meeting_id>/minutes/signatures/<role>/upload", methods=["POST"])
@requires(Permission.MINUTES_SIGN)
def post_upload(meeting_id: int, role: str) -> Any:
    """The signer's externally signed PDF: a form file `file`, or the PDF as the request body."""
    m = _meeting(meeting_id)
    f = request.files.get("file")
    data = f.read(MAX_UPLOAD_BYTES + 1) if f is not None else request.get_data()[: MAX_UPLOAD_BYTES + 1]
    if not data or len(data) > MAX_UPLOAD_BYTES:
        raise DomainError("Hãy chọn một tệp PDF (tối đa 50 MB).", "verify.no_file")
    change = signing.accept_upload(current_app._get_current_object(), db.session(), m, principal(),  # type: ignore[attr-defined]
                          _role(role), data)
    return _answer(m, change)


@bp.route("/sign")
@requires(Permission.MINUTES_SIGN)
def sign_page() -> Any:
    """The signer's screen: what to sign (pages, SHA-256, version), the steps, and the three ways to sign."""
    who = principal()
    s = db.session()
    m = meetings.get(s, who.meeting_id)
    st = signing.state(current_app._get_current_object(), s, m)  # type: ignore[attr-defined]
    return render_template("sign.html", page="sign", meeting=m, signing_state=st, me=who.role.value,
                           labels={k: _(v) for k, v in signing.LABELS.items()})
