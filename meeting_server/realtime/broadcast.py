"""Pushing changes to the screens of a meeting, each role getting only what it may see."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import object_session

from meeting_server.domain.permissions import Permission, Role
from meeting_server.domain.principal import Principal
from meeting_server.realtime import rooms
from meeting_server.services import attendance, snapshot
from meeting_server.store.tables import Meeting, Participant


def _socketio() -> Any:
    from meeting_server.extensions import socketio

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


def meeting_changed(m: Meeting, people: Iterable[int] = ()) -> None:
    """After a change of the heading, agenda, current item or status: a fresh snapshot per role.

    The `state` event carries everything a role may see; personal parts (`me`) are kept by the client from its own
    earlier snapshot, so a single emit per role room suffices. `people` are participants whose own part changed
    too (presenting handed to or taken from them): each then gets their whole `state`, `me` included, in their
    participant room, after their role's (same seq, so it is taken).
    """
    sio = _socketio()
    for role in Role:
        state = snapshot.build(m, Principal(role, m.id))
        state.pop("me", None)
        sio.emit("state", state, to=rooms.role(m.id, role))
    for pid in people:
        p = object_session(m).get(Participant, pid)  # type: ignore[union-attr]
        if p is not None and p.meeting_id == m.id:
            who = Principal(Role(p.role), m.id, p.id, p.full_name)
            sio.emit("state", snapshot.build(m, who), to=rooms.participant(p.id))
