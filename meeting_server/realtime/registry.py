"""`socket_event`: registers a handler with the permission it needs, and maps domain errors to failed acks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import request, session
from flask_socketio import SocketIO

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.web.guards import resolve_principal

log = logging.getLogger(__name__)

Handler = Callable[..., Any]

#: event name -> (permission or None for public, handler); filled at import, checked by a test.
EVENTS: dict[str, tuple[Permission | None, Handler]] = {}


def connection_principal() -> Principal | None:
    """The principal of the current Socket.IO connection, re-resolved from its token on every event so that a
    revoked card stops working at once. The token sits in the connection's server-side session (set on connect)."""
    return resolve_principal(session.get("sio_tok"))


def socket_event(name: str, *, requires: Permission | None) -> Callable[[Handler], Handler]:
    """Declare a Socket.IO event: who may send it; its return value is the ack."""

    def deco(fn: Handler) -> Handler:
        if name in EVENTS:
            raise RuntimeError(f"Socket.IO event {name!r} registered twice")

        @functools.wraps(fn)
        def wrapped(data: Any = None) -> Any:
            who = connection_principal()
            if who is None:
                # Answer first, then hang up: a disconnect before the ack would leave the phone guessing.
                _disconnect_soon(request.sid)  # type: ignore[attr-defined]
                return {"ok": False, "error": "Thẻ không còn hiệu lực.", "code": "auth.revoked"}
            if requires is not None and not who.can(requires):
                return {"ok": False, "error": "Bạn không có quyền thực hiện thao tác này.", "code": "forbidden"}
            try:
                return fn(who, data)
            except DomainError as err:
                return {"ok": False, "error": err.message, "code": err.code}

        EVENTS[name] = (requires, wrapped)
        return wrapped

    return deco


def _disconnect_soon(sid: str) -> None:
    from meeting_server.app import socketio

    def later() -> None:
        socketio.sleep(0.2)
        socketio.server.disconnect(sid)

    socketio.start_background_task(later)


def disconnect_participant(participant_id: int) -> None:
    """Hang up every connection of a card that was just revoked (those this process holds; with several
    processes the others refuse its next event, since every event re-checks the token)."""
    from meeting_server.app import socketio
    from meeting_server.realtime import rooms

    room = rooms.participant(participant_id)
    sids = [sid for sid, _eio in socketio.server.manager.get_participants("/", room)]
    for sid in sids:
        socketio.server.emit("revoked", {}, to=sid)
        socketio.server.disconnect(sid)


def register(socketio: SocketIO) -> None:
    """Bind every declared event to the SocketIO object."""
    for name, (_perm, handler) in EVENTS.items():
        socketio.on_event(name, handler)
