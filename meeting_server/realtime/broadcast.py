"""Pushing changes to the screens of a meeting, each role getting only what it may see."""

from __future__ import annotations

from typing import Any

from meeting_server.domain.permissions import Permission, Role
from meeting_server.domain.principal import Principal
from meeting_server.realtime import rooms
from meeting_server.services import attendance, snapshot
from meeting_server.store.tables import Meeting


def _socketio() -> Any:
    from meeting_server.app import socketio

    return socketio


def attendance_changed(m: Meeting) -> None:
    """After a join or a clerk's mark: counts to everyone, the named list to roles that may see names."""
    sio = _socketio()
    payload: dict[str, Any] = {"seq": m.seq, "attendance": attendance.summary(m).to_dict()}
    detail = dict(payload, attendees=attendance.roster(m))
    for role in Role:
        who = Principal(role, m.id)
        sio.emit("attendance", detail if who.can(Permission.ATTENDANCE_SEE_NAMES) else payload,
                 to=rooms.role(m.id, role))


def meeting_changed(m: Meeting) -> None:
    """After a change of the heading, agenda, current item or status: a fresh snapshot per role.

    The `state` event carries everything a role may see; personal parts (`me`) are filled in by the client from its
    own earlier snapshot, so a single emit per role room suffices.
    """
    sio = _socketio()
    for role in Role:
        state = snapshot.build(m, Principal(role, m.id))
        state.pop("me", None)
        sio.emit("state", state, to=rooms.role(m.id, role))


def minutes_signing(m: Meeting, state: dict[str, Any]) -> None:
    """After the clerk prepares the minutes or a signature lands: the signing step, to every screen of the meeting
    (the clerk's, the secretary's and the chair's show "Chờ thư ký ký", "Chờ chủ tọa ký", "Đã ký")."""
    public = {k: state[k] for k in ("meeting_id", "version", "status", "stage", "label", "prepared_sha256", "pages",
                                    "current_sha256")}
    public["steps"] = [{k: step[k] for k in ("role", "signer_name", "status", "method", "signed_at")}
                       for step in state["steps"]]
    _socketio().emit("minutes.signing", public, to=rooms.meeting(m.id))
