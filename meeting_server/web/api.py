"""The JSON API under /api/v1 (session cookie or `Authorization: Bearer <join token>`), described by OpenAPI 3."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _

from meeting_server import __version__
from meeting_server.domain import payload, timefmt
from meeting_server.domain.errors import N_, DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.domain.roster import parse_rows
from meeting_server.extensions import csrf
from meeting_server.i18n import translate
from meeting_server.realtime.announce import announce
from meeting_server.services import attendance, meetings, roster, snapshot
from meeting_server.store import db
from meeting_server.store.tables import Meeting
from meeting_server.web.guards import bearer_token, principal, public, requires, same_meeting
from meeting_server.web.payload import json_body

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)


@bp.before_request
def _csrf_for_cookie_clients() -> None:
    """A browser calling with its cookie must send the CSRF header; a Bearer client cannot be forged that way."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and bearer_token() is None:
        csrf.protect()


def _meeting(meeting_id: int) -> Meeting:
    same_meeting(meeting_id)
    return meetings.get(db.session(), meeting_id)


@bp.route("/meetings")
@requires(Permission.MEETING_READ)
def list_meetings() -> Any:
    """The meetings this card belongs to (one)."""
    m = meetings.get(db.session(), principal().meeting_id)
    return jsonify({"meetings": [snapshot.meeting_public(m)]})


@bp.route("/meetings/<int:meeting_id>")
@requires(Permission.MEETING_READ)
def get_meeting(meeting_id: int) -> Any:
    """One meeting's heading and live summary."""
    m = _meeting(meeting_id)
    return jsonify(dict(snapshot.meeting_public(m), current_item_id=m.current_item_id,
                        attendance=attendance.summary(m).to_dict(), seq=m.seq))


@bp.route("/meetings/<int:meeting_id>", methods=["PATCH"])
@requires(Permission.MEETING_MANAGE)
def patch_meeting(meeting_id: int) -> Any:
    """Change a meeting's details (clerk); fields not given stay as they are."""
    s = db.session()
    m = _meeting(meeting_id)
    body = json_body()
    starts = body.get("starts_at", m.starts_at.isoformat() if m.starts_at else None)
    if starts is not None:
        starts = payload.text(body, "starts_at", starts)
    try:
        starts_at = datetime.fromisoformat(starts) if starts else None
    except ValueError as exc:
        raise DomainError("Thời gian không hợp lệ.", "payload.invalid") from exc
    if starts_at is not None and starts_at.tzinfo is None:
        starts_at = starts_at.replace(tzinfo=timefmt.VN)
    f = meetings.MeetingFields(
        council_level=payload.text(body, "council_level", m.council_level),
        locality=payload.text(body, "locality", m.locality),
        session_title=payload.text(body, "session_title", m.session_title),
        term=payload.text(body, "term", m.term),
        place=payload.text(body, "place", m.place),
        starts_at=starts_at,
        seated_count=payload.integer(body, "seated_count", default=m.seated_count) or 0,
        quorum_rule=payload.text(body, "quorum_rule", m.quorum_rule),
    )
    announce(meetings.update(s, m, f, principal().actor))
    return jsonify(snapshot.meeting_public(m))


@bp.route("/meetings/<int:meeting_id>/agenda")
@requires(Permission.MEETING_READ)
def get_agenda(meeting_id: int) -> Any:
    """The agenda in order and the current item."""
    m = _meeting(meeting_id)
    return jsonify({"items": snapshot.agenda(m), "current_item_id": m.current_item_id})


@bp.route("/meetings/<int:meeting_id>/agenda", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
def post_agenda_item(meeting_id: int) -> Any:
    """Append an agenda item (clerk)."""
    s = db.session()
    m = _meeting(meeting_id)
    body = json_body()
    done = meetings.add_item(s, m, payload.text(body, "title", ""), payload.text(body, "description", ""),
                             principal().actor)
    announce(done.change)
    item = done.value
    return jsonify({"id": item.id, "position": item.position, "title": item.title}), 201


@bp.route("/meetings/<int:meeting_id>/participants")
@requires(Permission.PARTICIPANTS_SEE)
def get_participants(meeting_id: int) -> Any:
    """Who is on the list, with roles (never their join tokens)."""
    m = _meeting(meeting_id)
    return jsonify({"participants": [
        {"id": p.id, "position": p.position, "name": p.full_name, "title": p.title, "group": p.group_name,
         "role": p.role} for p in m.participants if p.role != "clerk"]})


@bp.route("/meetings/<int:meeting_id>/participants", methods=["PUT"])
@requires(Permission.MEETING_MANAGE)
def put_participants(meeting_id: int) -> Any:
    """Replace the list from a CSV/XLSX body (or JSON `{"rows": [[header...], [...]]}`); all or nothing."""
    s = db.session()
    m = _meeting(meeting_id)
    if request.is_json:
        preview = parse_rows(roster.table_of(json_body().get("rows"), N_("`rows` phải là một bảng.")))
    else:

        max_bytes = current_app.config["IMPORT_MAX_BYTES"]
        preview = parse_rows(roster.read_table(request.stream.read(max_bytes + 1), "", max_bytes))
    if not preview.ok:
        return jsonify({"error": "roster.invalid", "message": _("Danh sách có lỗi; chưa nhập gì."),
                        "problems": [{"line": p.line, "message": translate(p.template, p.params)}
                                     for p in preview.problems]}), 422
    done = roster.apply(s, m, preview, principal().actor)
    announce(done.change)
    result = done.value
    return jsonify({"added": result.added, "kept": result.kept, "removed": result.removed})


@bp.route("/meetings/<int:meeting_id>/attendance")
@requires(Permission.MEETING_READ)
def get_attendance(meeting_id: int) -> Any:
    """Counts and quorum for everyone; the named list for roles that may see names."""
    m = _meeting(meeting_id)
    out: dict[str, Any] = {"summary": attendance.summary(m).to_dict()}
    if principal().can(Permission.ATTENDANCE_SEE_NAMES):
        out["attendees"] = attendance.roster(m)
    return jsonify(out)


@bp.route("/meetings/<int:meeting_id>/attendance/<int:pid>", methods=["POST"])
@requires(Permission.ATTENDANCE_MANAGE)
def post_attendance(meeting_id: int, pid: int) -> Any:
    """Mark someone `present`, `absent` (with `reason`) or `left` (clerk, secretary)."""
    s = db.session()
    m = _meeting(meeting_id)
    body = json_body()
    done = attendance.mark(s, m, pid, payload.text(body, "status", ""), payload.text(body, "reason", ""),
                           payload.flag(body, "late", default=None), principal().actor)
    announce(done.change)
    return jsonify({"summary": attendance.summary(m).to_dict()})


@bp.route("/openapi.json")
@public
def openapi() -> Any:
    """The OpenAPI 3 description of this API."""
    from meeting_server.web.openapi import document

    return jsonify(document(__version__, current_app))
