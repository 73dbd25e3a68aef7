"""Live controls of the sitting sent over Socket.IO by the chair's screen."""

from __future__ import annotations

from typing import Any

from meeting_server.domain import payload
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.realtime.announce import announce
from meeting_server.realtime.registry import socket_event
from meeting_server.services import meetings
from meeting_server.store import db


def load() -> None:
    """Importing this module declared its events; other feature modules are imported here too."""
    from meeting_server.realtime import documents, frames, questions, session, speakers, voting  # noqa: F401


@socket_event("agenda.set_current", requires=Permission.AGENDA_CONTROL)
def on_set_current(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair (or clerk) to move the sitting to an agenda item: {item_id, keep_presentation?}; every
    screen gets the new `state` (the presented document gone from it unless kept)."""
    fields = payload.fields(data, empty_ok=True)
    item_id = payload.integer(fields, "item_id", allow_none=True)
    keep = bool(payload.flag(fields, "keep_presentation"))
    s = db.session()
    change = meetings.set_current_item(s, meetings.get(s, who.meeting_id), item_id, who.actor,
                                       keep_presentation=keep)
    announce(change)
    return {"ok": True, "seq": change.seq}


@socket_event("meeting.set_status", requires=Permission.AGENDA_CONTROL)
def on_set_status(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair to open (khai mạc) or end (bế mạc) the sitting: {status, below_quorum_ok?}. Opening below
    the quorum is refused with the counts (`meeting.below_quorum`) until the chair confirms it."""
    fields = payload.fields(data, empty_ok=True)
    status, below_quorum_ok = fields.get("status"), bool(payload.flag(fields, "below_quorum_ok"))
    if not isinstance(status, str):
        raise payload.invalid()
    s = db.session()
    change = meetings.set_status(s, meetings.get(s, who.meeting_id), status, who.actor,
                                 below_quorum_ok=below_quorum_ok)
    announce(change)
    return {"ok": True, "seq": change.seq}
