"""Entering the room: the QR join link, the landing page, language, health."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from meeting_server import __version__
from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import DELEGATE_ROLES, Role
from meeting_server.services import attendance, audit, meetings, tokens
from meeting_server.store import db
from meeting_server.store.tables import Participant
from meeting_server.web.errors import render_error
from meeting_server.web.guards import current_principal, public

bp = Blueprint("join", __name__)

HOME = {
    Role.CLERK: "clerk.console",
    Role.CHAIR: "screens.chair",
    Role.SECRETARY: "screens.delegate",
    Role.DELEGATE: "screens.delegate",
    Role.GUEST: "screens.delegate",
    Role.KIOSK: "screens.kiosk",
}


@bp.route("/healthz")
@public
def healthz() -> Any:
    """Liveness for monitors and tests; under eventlet also how the WebSocket frames went out
    (realtime/transport.py `send_frames_directly`)."""
    from meeting_server.extensions import socketio

    body: dict[str, Any] = {"status": "ok", "version": __version__}
    frames = getattr(getattr(socketio, "server", None), "_direct_frames", None)
    if frames is not None:
        body["websocket_frames"] = {"direct": frames.direct, "partial": frames.partial, "queued": frames.queued,
                                  "dropped": frames.dropped}
    return jsonify(body)


@bp.route("/")
@public
def index() -> Any:
    """Home of whoever holds a card; otherwise how to get in."""
    who = current_principal()
    if who is not None:
        return redirect(url_for(HOME[who.role]))
    return render_template("landing.html")


@bp.route("/j/<token>")
@public
def join(token: str) -> Any:
    """Opening a card's QR binds this browser to the card (signed HttpOnly cookie) and marks a delegate present."""
    s = db.session()
    address = request.remote_addr or "?"
    limit = current_app.config["JOIN_FAILURES_PER_MINUTE"]
    if tokens.failures(s, address) >= limit:
        # Slow down guessing without holding a worker: the green thread sleeps, the loop goes on.
        time.sleep(2)
        return render_error(429)
    try:
        who = tokens.resolve(s, token)
    except DomainError as err:
        tokens.note_failure(s, address)
        status = 410 if err.code == "token.revoked" else 404
        title = _("Thẻ đã bị thu hồi") if status == 410 else _("Mã không đúng")
        message = (_("Thẻ này đã bị thu hồi. Hãy nhận thẻ mới tại bàn thư ký.") if status == 410
                   else _("Mã QR này không thuộc kỳ họp nào. Hãy kiểm tra lại thẻ hoặc hỏi thư ký kỳ họp."))
        return render_template("message.html", title=title, message=message, status=status), status
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    session["tok"] = token
    session.permanent = True
    # After the minutes are signed the meeting is a record: a card still opens it, read-only, marking nothing.
    if who.role in DELEGATE_ROLES and who.participant_id is not None and not audit.is_frozen(s, who.meeting_id):
        m = meetings.get(s, who.meeting_id)
        p = s.get(Participant, who.participant_id)
        assert p is not None
        from meeting_server.realtime.announce import announce

        announce(attendance.joined(s, m, p))
    return redirect(url_for(HOME[who.role]))


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    """Unbind this browser (a shared tablet handed to the next person)."""
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("join.index"))


@bp.route("/lang/<code>", methods=["POST"])
@public
def set_language(code: str) -> Any:
    """Switch between Vietnamese and English for this browser."""
    if code in ("vi", "en"):
        session["lang"] = code
    target = request.form.get("next") or url_for("join.index")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("join.index")
    return redirect(target)
