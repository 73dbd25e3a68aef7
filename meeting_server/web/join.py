"""Entering the room: the QR join link, the landing page, language, health."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, jsonify, make_response, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from meeting_server import __version__
from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import DELEGATE_ROLES, Role
from meeting_server.services import attendance, audit, meetings, tokens
from meeting_server.store import db
from meeting_server.store.tables import Participant
from meeting_server.web.guards import current_principal, public, source, too_many_guesses

bp = Blueprint("join", __name__)

HOME = {
    Role.CLERK: "clerk.console",
    Role.CHAIR: "screens.chair",
    Role.SECRETARY: "screens.secretary",
    Role.DELEGATE: "screens.delegate",
    Role.GUEST: "screens.delegate",
    Role.KIOSK: "screens.kiosk",
    Role.DRAFTER: "comments.board",
}


@bp.route("/healthz")
@public
def healthz() -> Any:
    """Liveness for monitors, the front and tests; under eventlet also how the WebSocket frames went out
    (realtime/transport.py `send_frames_directly`).

    While the links watch (realtime/links.py) finds the database away: 503 with `"status": "waiting"`, what it
    waits for, the message a person reads and `Retry-After`; the process is alive and comes back by itself. The
    front keeps such a process in its rotation (front.py: its check accepts 200 and 503): every process shares one
    PostgreSQL, so all wait alike, and a phone is better answered by the server's own page in its language than by
    the front's bare 503. Only the message queue away: 200 with `"waiting": ["message_queue"]` (the routes work)."""
    from flask import current_app

    from meeting_server.extensions import socketio

    body: dict[str, Any] = {"status": "ok", "version": __version__}
    status = 200
    waiting = current_app.extensions.get("links")  # realtime/links.py: alive, but its database or queue is away
    if waiting is not None and waiting.down:
        body["waiting"] = sorted(waiting.down)
        if "database" in waiting.down:
            body["status"] = "waiting"
            body["message"] = _("Máy chủ đang chờ cơ sở dữ liệu, hãy thử lại sau ít giây.")
            status = 503
    frames = getattr(getattr(socketio, "server", None), "_direct_frames", None)
    if frames is not None:
        body["websocket_frames"] = {"direct": frames.direct, "partial": frames.partial, "queued": frames.queued,
                                  "dropped": frames.dropped}
    response = jsonify(body)
    response.status_code = status
    if status == 503:
        from meeting_server.web.errors import RETRY_AFTER_S

        response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


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
    """Opening a card's QR binds this browser to the card (a server-side session; the HttpOnly cookie holds its
    random id) and marks a delegate present."""
    s = db.session()
    try:
        who = tokens.check(s, token, source())
    except tokens.TooManyGuesses as err:
        return too_many_guesses(err)
    except DomainError as err:
        status = 410 if err.code == "token.revoked" else 404
        title = _("Thẻ đã bị thu hồi") if status == 410 else _("Mã không đúng")
        message = (_("Thẻ này đã bị thu hồi. Hãy nhận thẻ mới tại bàn thư ký.") if status == 410
                   else _("Mã QR này không thuộc kỳ họp nào. Hãy kiểm tra lại thẻ hoặc hỏi thư ký kỳ họp."))
        return render_template("message.html", title=title, message=message, status=status), status
    _end_session()  # another card on this browser before: its session ends here
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    # The cookie carries a random session id; the token stays on the server (services/tokens.open_session).
    session["sid"] = tokens.open_session(s, token, source())
    session.permanent = True
    # After the minutes are signed the meeting is a record: a card still opens it, read-only, marking nothing.
    if who.role in DELEGATE_ROLES and who.participant_id is not None and not audit.is_frozen(s, who.meeting_id):
        m = meetings.get(s, who.meeting_id)
        p = s.get(Participant, who.participant_id)
        assert p is not None
        from meeting_server.realtime.announce import announce

        announce(attendance.joined(s, m, p))
    if HOME[who.role] == "screens.delegate":
        return _delegate_here(who)
    return redirect(url_for(HOME[who.role]))


def _delegate_here(who: Any) -> Any:
    """A phone's join link answers with the delegate's page itself, not a redirect to it: over ~150 ms of latency
    a redirect is a round trip before anything can be shown. The token must still not stay in the address bar or
    the history (a phone passed around, a screenshot): the page names its own address (`page_url`, a meta tag) and
    live.js, the page's first script, puts it in place of /j/<token> (history.replaceState, no new entry). Nothing
    in the page carries the token (the language form returns to /delegate); it is not stored (no-store), and no
    Referer carries it anywhere (Referrer-Policy: no-referrer, app.py)."""
    from meeting_server.web.screens import delegate_page

    g.principal = who  # this request's card, just checked (the guards would look it up again)
    resp = make_response(delegate_page(page_url=url_for("screens.delegate")))
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.route("/logout", methods=["POST"])
@public
def logout() -> Any:
    """Unbind this browser (a shared tablet handed to the next person): its session ends on the server, so a copy
    of the cookie stops working too, and its open connections are hung up."""
    _end_session()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("join.index"))


def _end_session() -> None:
    session_id = session.get("sid")
    if isinstance(session_id, str):
        from meeting_server.realtime.registry import disconnect_session

        disconnect_session(tokens.end_session(db.session(), session_id))


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
