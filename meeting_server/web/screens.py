"""The live screens: delegate (phone first), chair, projector (kiosk)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request

from meeting_server.documents import qr
from meeting_server.domain.permissions import Permission
from meeting_server.services import devices, links, meetings, minutes, snapshot
from meeting_server.store import db
from meeting_server.web.guards import principal, requires

bp = Blueprint("screens", __name__)


def _page(template: str, page: str, **extra: Any) -> Any:
    who = principal()
    s = db.session()
    m = meetings.get(s, who.meeting_id)
    base = links.public_base(s, request.host_url)
    return render_template(template, page=page, state=snapshot.build(m, who), meeting=m,
                           room_url=links.join_url(base, m.guest_token), **extra)


@bp.route("/delegate")
@requires(Permission.MEETING_READ)
def delegate() -> Any:
    """A delegate's (or guest's) screen: agenda, documents, attendance; large type. Its styles and scripts come
    bundled (web/statics.py BUNDLES): a phone on a slow link asks for three files, not fifteen."""
    return delegate_page()


def delegate_page(**extra: Any) -> Any:
    """The delegate's screen for the card of this request (also sent by /j/<token> itself: web/join.py)."""
    return _page("delegate.html", "delegate", bundle="delegate", **extra)


@bp.route("/chair")
@requires(Permission.AGENDA_CONTROL)
def chair() -> Any:
    """The chair's console: quorum, who is present, the agenda to move through."""
    return _page("chair.html", "chair")


@bp.route("/secretary")
@requires(Permission.VOTE_PROXY)
def secretary() -> Any:
    """The session secretary's screen (tablet or laptop): attendance and ballots of those without a phone, the
    counting committee's paper totals, the minutes' free text, and their own ballot."""
    from flask import current_app

    who = principal()
    s = db.session()
    m = meetings.get(s, who.meeting_id)
    base = links.public_base(s, request.host_url)
    return render_template("secretary.html", page="secretary", state=snapshot.build(m, who), meeting=m,
                           room_url=links.join_url(base, m.guest_token), minutes_state=minutes.state(s, m),
                           signing=minutes.signing_settings(current_app)["source"],
                           with_device=sorted(devices.live_among(s, [p.id for p in m.participants])))


@bp.route("/kiosk")
@requires(Permission.MEETING_READ)
def kiosk() -> Any:
    """The projector: title, current item, room QR, live attendance."""
    return _page("kiosk.html", "kiosk")


@bp.route("/room-qr.svg")
@requires(Permission.MEETING_READ)
def room_qr() -> Any:
    """The room QR (guests join read-only), for the projector and the clerk console."""
    who = principal()
    s = db.session()
    m = meetings.get(s, who.meeting_id)
    url = links.join_url(links.public_base(s, request.host_url), m.guest_token)
    return Response(qr.svg(url), mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})
