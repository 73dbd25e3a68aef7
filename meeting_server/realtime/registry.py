"""`socket_event`: registers a handler with the permission it needs, and maps domain errors to failed acks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import request
from flask_socketio import SocketIO

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.web.guards import resolve_principal

log = logging.getLogger(__name__)

Handler = Callable[..., Any]

#: event name -> (permission or None for public, handler); filled at import, checked by a test.
EVENTS: dict[str, tuple[Permission | None, Handler]] = {}
#: The events bound by `lean_socket_event` (a subset of EVENTS).
LEAN: set[str] = set()


def connection_principal() -> Principal | None:
    """The principal of the current Socket.IO connection, re-resolved from its token on every event so that a
    revoked card stops working at once."""
    return resolve_principal(connection_token(request.sid))  # type: ignore[attr-defined]


def remember_token(sid: str, token: str) -> None:
    """Keep the token a connection authenticated with, in python-socketio's own per-connection session (lean
    events run without Flask's context, so not in Flask's)."""
    from meeting_server.app import socketio

    socketio.server.save_session(sid, {"tok": token})


def connection_token(sid: str) -> str | None:
    """The token a connection authenticated with (`remember_token`); None once the connection is gone."""
    from meeting_server.app import socketio

    try:
        return socketio.server.get_session(sid).get("tok")  # type: ignore[no-any-return]
    except KeyError:
        return None


def revoked(sid: str) -> dict[str, Any]:
    """The ack for a card that no longer resolves; the connection is hung up right after it (a disconnect before
    the ack would leave the phone guessing)."""
    _disconnect_soon(sid)
    return {"ok": False, "error": "Thẻ không còn hiệu lực.", "code": "auth.revoked"}


def forbidden() -> dict[str, Any]:
    """The ack for a role that lacks the event's permission."""
    return {"ok": False, "error": "Bạn không có quyền thực hiện thao tác này.", "code": "forbidden"}


def failed(err: DomainError) -> dict[str, Any]:
    """The ack for a refusal with its reason."""
    return {"ok": False, "error": err.message, "code": err.code}


def socket_event(name: str, *, requires: Permission | None) -> Callable[[Handler], Handler]:
    """Declare a Socket.IO event: who may send it; its return value is the ack."""

    def deco(fn: Handler) -> Handler:
        if name in EVENTS:
            raise RuntimeError(f"Socket.IO event {name!r} registered twice")

        @functools.wraps(fn)
        def wrapped(data: Any = None) -> Any:
            who = connection_principal()
            if who is None:
                return revoked(request.sid)  # type: ignore[attr-defined]
            if requires is not None and not who.can(requires):
                return forbidden()
            try:
                return fn(who, data)
            except DomainError as err:
                return failed(err)

        EVENTS[name] = (requires, wrapped)
        return wrapped

    return deco


def lean_socket_event(name: str, *, requires: Permission) -> Callable[[Handler], Handler]:
    """Declare a hot event that skips Flask's request context (~0.15 ms) and the per-event token lookup.

    The handler is called as `fn(sid, token, data)` straight from python-socketio, in its own green thread, and
    must itself refuse a token that does not resolve or lacks `requires`, with the same acks as `socket_event`
    (`cast` does it for a whole batch of ballots in one query: realtime/voting.py). Only for events that 500 phones
    send within one second.
    """

    def deco(fn: Handler) -> Handler:
        if name in EVENTS:
            raise RuntimeError(f"Socket.IO event {name!r} registered twice")
        EVENTS[name] = (requires, fn)
        LEAN.add(name)
        return fn

    return deco


def fast_socket_event(name: str, *, requires: Permission) -> Callable[[Handler], Handler]:
    """Declare an event on the room's critical path (a page turn) that skips Flask's request context but, unlike
    a batched lean event, checks the card itself, one event at a time, with the same acks as `socket_event`.

    The handler is called as `fn(app, conn, who, data)`: the Flask app, a pooled DBAPI connection of its own
    (store.prepared; the use case it calls commits, services.documents.turn, and what it did not commit is rolled
    back after it), and the principal, already checked for `requires`. A page turn is the one moment every
    screen waits on the server; Flask's request context and the ORM Session, taken cold after the loop slept, cost
    more than the turn's SQL itself (scripts/bench/fanout.py). A handler that needs the ORM opens a session itself
    (db.standalone_session).
    """

    def deco(fn: Handler) -> Handler:
        @functools.wraps(fn)
        def checked(sid: str, token: str | None, data: Any) -> Any:
            from meeting_server.app import socketio
            from meeting_server.services import tokens
            from meeting_server.store import db

            environ = socketio.server.get_environ(sid)
            if not environ or not token:  # the connection is already gone, or never had a card
                return revoked(sid)
            app = environ["flask.app"]
            with db.raw_connection(app) as conn:
                try:
                    who = tokens.resolve_on(conn, token)
                except DomainError:
                    return revoked(sid)
                if not who.can(requires):
                    return forbidden()
                try:
                    return fn(app, conn, who, data)
                except DomainError as err:  # the connection's return to the pool rolls back what the handler began
                    return failed(err)

        return lean_socket_event(name, requires=requires)(checked)

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
    """Bind every declared event to the SocketIO object (lean ones straight to python-socketio)."""
    for name, (_perm, handler) in EVENTS.items():
        if name in LEAN:
            socketio.server.on(name, _lean_binding(handler), namespace="/")
        else:
            socketio.on_event(name, handler)


def _lean_binding(handler: Handler) -> Handler:
    def bound(sid: str, data: Any = None) -> Any:
        return handler(sid, connection_token(sid), data)

    return bound
