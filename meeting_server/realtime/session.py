"""Connecting, the first `state` snapshot, and re-sync after a gap in seq."""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, emit, join_room

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.i18n import in_language, translate
from meeting_server.realtime import rooms
from meeting_server.realtime.registry import CARD_REVOKED, connection_event, remember_token, socket_event
from meeting_server.services import devices, meetings, snapshot, tokens
from meeting_server.store import db

log = logging.getLogger(__name__)


@connection_event("connect", authenticates="the join token of auth={'token': …} or of the session cookie, resolved "
                                          "by services.tokens; refused (False) without a valid card, and with "
                                          "auth.revoked for a revoked one")
def on_connect(auth: dict[str, Any] | None = None) -> bool:
    """A screen connects with `auth={"token": …}` or the session cookie; refused without a valid card.

    The new client joins its meeting room and its role room and receives a full `state` snapshot.
    """
    token = (auth or {}).get("token") if isinstance(auth, dict) else None
    token = token or session.get("tok")
    if not isinstance(token, str):
        return False
    try:
        who = tokens.resolve(db.session(), token)
    except tokens.TokenRevoked:
        # Said apart from an unknown card, so that the page tells its person what to do and stops reconnecting.
        with in_language(current_app._get_current_object(), session.get("lang")):  # type: ignore[attr-defined]
            message = translate(CARD_REVOKED)
        raise ConnectionRefusedError(message, {"code": "auth.revoked"}) from None
    except DomainError:
        return False
    remember_token(request.sid, token, session.get("lang"))  # type: ignore[attr-defined]
    join_room(rooms.meeting(who.meeting_id))
    join_room(rooms.role(who.meeting_id, who.role))
    if who.participant_id is not None:
        join_room(rooms.participant(who.participant_id))
        devices.connected(db.session(), request.sid, who.participant_id)  # type: ignore[attr-defined]
    _send_state(who)
    log.info("connected %s sid=%s", who.actor, request.sid)  # type: ignore[attr-defined]
    return True


def _send_state(who: Principal) -> None:
    m = meetings.get(db.session(), who.meeting_id)
    emit("state", snapshot.build(m, who))


@socket_event("sync", requires=Permission.MEETING_READ)
def on_sync(who: Principal, _data: Any) -> dict[str, Any]:
    """Sent by a client that saw a gap in seq (or came back from sleep); answered with a fresh `state`."""
    _send_state(who)
    return {"ok": True}



@connection_event("disconnect", authenticates="nothing to authenticate: it forgets this connection's device row")
def on_disconnect(_reason: Any = None) -> None:
    """A screen went away: its card no longer has a live device on this connection."""
    devices.disconnected(db.session(), request.sid)  # type: ignore[attr-defined]
