"""HTTP API of voting (docs/PROTOCOL.md, "Voting"): drafts, opening, closing, cancelling, re-votes, paper totals,
proxy votes and results. Casting from phones goes over Socket.IO (`cast`)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request

from meeting_server.domain import payload
from meeting_server.domain.permissions import Permission
from meeting_server.extensions import csrf
from meeting_server.realtime import voting as live
from meeting_server.realtime.announce import announce
from meeting_server.services import meetings, voting
from meeting_server.store import db
from meeting_server.store.tables import Meeting, Poll
from meeting_server.web.guards import bearer_token, principal, requires, same_meeting
from meeting_server.web.payload import json_body

bp = Blueprint("voting", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def _csrf_for_cookie_clients() -> None:
    """A browser calling with its cookie must send the CSRF header; a Bearer client cannot be forged that way."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and bearer_token() is None:
        csrf.protect()


def _poll(poll_id: int) -> tuple[Meeting, Poll]:
    who = principal()
    s = db.session()
    p = voting.get(s, poll_id, who.meeting_id)
    if p.state == "draft" and not who.can(Permission.VOTE_MANAGE):
        from meeting_server.domain.errors import NotFound

        raise NotFound("Không tìm thấy cuộc biểu quyết.")
    return meetings.get(s, p.meeting_id), p


def _view(p: Poll) -> dict[str, Any]:
    return voting.view(db.session(), p, principal())


@bp.route("/meetings/<int:meeting_id>/polls")
@requires(Permission.MEETING_READ)
def list_polls(meeting_id: int) -> Any:
    """The meeting's polls (drafts only for those who prepare them)."""
    same_meeting(meeting_id)
    who = principal()
    s = db.session()
    polls = [p for p in voting.polls_of(s, meeting_id) if p.state != "draft" or who.can(Permission.VOTE_MANAGE)]
    return jsonify({"polls": [_view(p) for p in polls]})


@bp.route("/meetings/<int:meeting_id>/polls", methods=["POST"])
@requires(Permission.VOTE_MANAGE)
def create_poll(meeting_id: int) -> Any:
    """A draft poll (clerk, chair): kind, title, agenda_item_id, threshold, seats, candidates, officials."""
    same_meeting(meeting_id)
    s = db.session()
    done = voting.create(s, meetings.get(s, meeting_id), json_body(allow_empty=True), principal().actor)
    announce(done.change)
    return jsonify(_view(done.value)), 201


@bp.route("/polls/<int:poll_id>")
@requires(Permission.MEETING_READ)
def get_poll(poll_id: int) -> Any:
    """Status, progress and, once closed, the result (counts, percentages of N, passed, announcement lines)."""
    _m, p = _poll(poll_id)
    return jsonify(_view(p))


@bp.route("/polls/<int:poll_id>/open", methods=["POST"])
@requires(Permission.VOTE_CONDUCT)
def open_poll(poll_id: int) -> Any:
    """The chair opens a draft, optionally with `countdown` seconds; the presented document leaves the screens
    unless `keep_presentation` is true."""
    m, p = _poll(poll_id)
    body = json_body(allow_empty=True)
    change = voting.open_poll(db.session(), m, p, principal().actor, body.get("countdown"),
                              keep_presentation=bool(payload.flag(body, "keep_presentation")))
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    live.writer(app)  # started now, not by the first ballot
    if p.ends_at is not None:
        live.schedule_close(app, p.id, m.id)
    announce(change)
    return jsonify(_view(p))


@bp.route("/polls/<int:poll_id>/close", methods=["POST"])
@requires(Permission.VOTE_CONDUCT)
def close_poll(poll_id: int) -> Any:
    """The chair closes the poll; the result goes to every screen."""
    m, p = _poll(poll_id)
    announce(voting.close(db.session(), m, p, principal().actor))
    live.back_up_after_close(current_app._get_current_object(), p.id)  # type: ignore[attr-defined]
    return jsonify(_view(p))


@bp.route("/polls/<int:poll_id>/cancel", methods=["POST"])
@requires(Permission.VOTE_CONDUCT)
def cancel_poll(poll_id: int) -> Any:
    """The chair cancels a draft or open poll with a `reason`; its record stays."""
    m, p = _poll(poll_id)
    announce(voting.cancel(db.session(), m, p, json_body(allow_empty=True).get("reason"), principal().actor))
    return jsonify(_view(p))


@bp.route("/polls/<int:poll_id>/revote", methods=["POST"])
@requires(Permission.VOTE_MANAGE)
def revote(poll_id: int) -> Any:
    """A new draft linked to a closed or cancelled poll."""
    m, p = _poll(poll_id)
    done = voting.revote(db.session(), m, p, principal().actor)
    announce(done.change)
    return jsonify(_view(done.value)), 201


@bp.route("/polls/<int:poll_id>/paper", methods=["POST"])
@requires(Permission.VOTE_PAPER)
def paper_totals(poll_id: int) -> Any:
    """The counting committee's paper-ballot totals of a secret poll: issued, returned, invalid, counts/ratings."""
    m, p = _poll(poll_id)
    announce(voting.set_paper(db.session(), m, p, json_body(allow_empty=True), principal().actor))
    return jsonify(_view(p))


@bp.route("/polls/<int:poll_id>/proxy", methods=["POST"])
@requires(Permission.VOTE_PROXY)
def proxy_vote(poll_id: int) -> Any:
    """The secretary records the open vote of a delegate without a device: {participant_id, choice}; marked so."""
    m, p = _poll(poll_id)
    body = json_body(allow_empty=True)
    done = voting.proxy(db.session(), m, p, principal(), body.get("participant_id"), body.get("choice"))
    announce(done.change)
    return jsonify({"ok": True, "progress": done.value})
