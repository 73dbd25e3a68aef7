"""`socket_event`: registers a handler with the permission it needs, and maps domain errors to failed acks."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, has_app_context, request
from flask_socketio import SocketIO

from meeting_server.domain.errors import N_, DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.faults import disk_fault
from meeting_server.i18n import in_language, translate
from meeting_server.realtime import links
from meeting_server.services import tokens
from meeting_server.store import db

log = logging.getLogger(__name__)

Handler = Callable[..., Any]

#: event name -> (permission or None for public, handler); filled at import, checked by a test.
EVENTS: dict[str, tuple[Permission | None, Handler]] = {}
#: The events bound by `lean_socket_event` (a subset of EVENTS).
LEAN: set[str] = set()
#: The connection events ("connect", "disconnect"): name -> (how it authenticates, handler). They are where a
#: connection's card is first checked (or let go), so no permission can be asked of them; each says instead how it
#: authenticates. tests/realtime/test_registry.py checks that python-socketio has exactly EVENTS and these bound.
CONNECTION: dict[str, tuple[str, Handler]] = {}


def connection_principal() -> Principal | None:
    """The principal of the current Socket.IO connection, re-resolved on every event (services.tokens) so that a
    revoked card, or a logout of the session it was opened with, stops it at once."""
    from meeting_server.extensions import socketio

    try:
        saved = socketio.server.get_session(request.sid)  # type: ignore[attr-defined]
    except KeyError:
        return None
    return tokens.connection_principal(db.session(), saved.get("tok"), saved.get("ses"))


def remember_token(sid: str, token: str, lang: str | None = None, session: str | None = None) -> None:
    """Keep the card token a connection authenticated with (and, when it came with the cookie, its session's hash),
    and the language its person chose, in python-socketio's own per-connection session (lean events run without
    Flask's context, so not in Flask's)."""
    from meeting_server.extensions import socketio

    socketio.server.save_session(sid, {"tok": token, "ses": session, "lang": lang})


def connection_token(sid: str) -> str | None:
    """The token a connection authenticated with (`remember_token`); None once the connection is gone."""
    from meeting_server.extensions import socketio

    try:
        return socketio.server.get_session(sid).get("tok")
    except KeyError:
        return None


def connection_session(sid: str) -> str | None:
    """The session hash a connection opened with the cookie carries (`remember_token`); None otherwise."""
    from meeting_server.extensions import socketio

    try:
        found = socketio.server.get_session(sid).get("ses")
    except KeyError:
        return None
    return found if isinstance(found, str) else None


def connection_language(sid: str | None) -> str | None:
    """The language the connection's person chose when it connected (None: the default, Vietnamese)."""
    from meeting_server.extensions import socketio

    if sid is None:
        return None
    try:
        lang = socketio.server.get_session(sid).get("lang")
    except KeyError:
        return None
    return lang if isinstance(lang, str) else None


def say(sid: str | None, message: str, params: dict[str, object] | None = None) -> str:
    """`message` (a Vietnamese msgid) in the language of the connection's person: what every ack that refuses
    carries. Works with Flask's context (ordinary events) and without it (lean and fast events)."""
    from meeting_server.extensions import socketio

    app = None
    if sid is not None:
        environ = socketio.server.get_environ(sid)
        app = environ.get("flask.app") if environ else None
    with in_language(app, connection_language(sid)):
        return translate(message, params)


def revoked(sid: str) -> dict[str, Any]:
    """The ack for a card that no longer resolves; the connection is hung up right after it (a disconnect before
    the ack would leave the phone guessing)."""
    _disconnect_soon(sid)
    return {"ok": False, "error": say(sid, N_("Thẻ không còn hiệu lực.")), "code": "auth.revoked"}


def forbidden(sid: str | None = None) -> dict[str, Any]:
    """The ack for a role that lacks the event's permission."""
    return {"ok": False, "error": say(sid, N_("Bạn không có quyền thực hiện thao tác này.")), "code": "forbidden"}


def failed(err: DomainError, sid: str | None = None) -> dict[str, Any]:
    """The ack for a refusal with its reason, in the person's language."""
    return {"ok": False, "error": say(sid, err.template, err.params), "code": err.code}


def _disk_fault_or_raise(exc: Exception, app: Flask | None = None) -> DomainError:
    """A full or read-only disk, or the database out of reach (realtime/links.py), as its refusal (the ack says what
    happened); anything else goes on up."""
    fault = disk_fault(exc) or links.noticed(app, exc)
    if fault is None:
        raise exc
    log.error("event refused: %s (%s)", fault.code, exc)
    return fault


def waiting(sid: str | None) -> dict[str, Any]:
    """The ack of every event while this process cannot reach its database or its message queue: nothing done."""
    return failed(links.ServerWaiting(links.WAITING), sid)


def _app_of(sid: str | None) -> Flask | None:
    from meeting_server.extensions import socketio

    if has_app_context():
        return current_app._get_current_object()  # type: ignore[attr-defined]
    environ = socketio.server.get_environ(sid) if sid is not None else None
    return environ.get("flask.app") if environ else None


#: What a page whose card was revoked shows, and stops reconnecting (the `revoked` event, the refused connect).
CARD_REVOKED = N_("Thẻ của bạn đã bị thu hồi. Hãy gặp thư ký để nhận thẻ mới.")

#: What every ack says when a handler raised something other than a refusal (a fault of the server or its disk).
SERVER_ERROR = N_("Máy chủ gặp lỗi khi thực hiện thao tác này. Hãy thử lại; nếu vẫn lỗi, hãy báo cho thư ký.")


def server_error(name: str, sid: str | None) -> dict[str, Any]:
    """The ack of an event whose handler raised an unexpected exception: the phone is answered (a button waiting
    for its ack would otherwise wait forever), and the traceback goes to the server's log. Called from within the
    `except` block, so `log.exception` has the traceback."""
    log.exception("Socket.IO event %r failed (sid=%s)", name, sid)
    try:
        text = say(sid, SERVER_ERROR)
    except Exception:  # the failure may be in what `say` needs (the connection's session): answer in Vietnamese
        log.exception("Socket.IO event %r: the error message could not be translated", name)
        text = SERVER_ERROR
    return {"ok": False, "code": "server.error", "error": text, "message": text}


def socket_event(name: str, *, requires: Permission | None) -> Callable[[Handler], Handler]:
    """Declare a Socket.IO event: who may send it; its return value is the ack."""

    def deco(fn: Handler) -> Handler:
        _check_new(name)

        @functools.wraps(fn)
        def wrapped(data: Any = None) -> Any:
            app = current_app._get_current_object()  # type: ignore[attr-defined]
            if links.waiting(app):
                return waiting(request.sid)  # type: ignore[attr-defined]
            who = connection_principal()
            if who is None:
                return revoked(request.sid)  # type: ignore[attr-defined]
            if requires is not None and not who.can(requires):
                return forbidden(request.sid)  # type: ignore[attr-defined]
            try:
                return fn(who, data)
            except DomainError as err:
                return failed(err, request.sid)  # type: ignore[attr-defined]
            except Exception as exc:
                return failed(_disk_fault_or_raise(exc, app), request.sid)  # type: ignore[attr-defined]

        EVENTS[name] = (requires, _declared(wrapped, name, requires))
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
        _check_new(name)
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
            from meeting_server.extensions import socketio

            environ = socketio.server.get_environ(sid)
            if not environ or not token:  # the connection is already gone, or never had a card
                return revoked(sid)
            app = environ["flask.app"]
            if links.waiting(app):
                return waiting(sid)
            with db.raw_connection(app) as conn:
                try:
                    who = tokens.resolve_on(conn, token)
                except DomainError:
                    return revoked(sid)
                if not who.can(requires):
                    return forbidden(sid)
                try:
                    return fn(app, conn, who, data)
                except DomainError as err:  # the connection's return to the pool rolls back what the handler began
                    return failed(err, sid)
                except Exception as exc:
                    return failed(_disk_fault_or_raise(exc, app), sid)

        return lean_socket_event(name, requires=requires)(checked)

    return deco


def _check_new(name: str) -> None:
    if name in EVENTS:
        raise RuntimeError(f"Socket.IO event {name!r} registered twice")
    if name in ("connect", "disconnect"):
        raise ValueError(f"{name!r} is a connection event; declare it with connection_event")


def connection_event(name: str, *, authenticates: str) -> Callable[[Handler], Handler]:
    """Declare the handler of a connection event, "connect" or "disconnect", and say how it authenticates.

    Unlike `socket_event`, the handler is bound as it is: on "connect" it is what resolves the card (and refuses the
    connection without one), so it cannot be behind a permission check.
    """
    if name not in ("connect", "disconnect"):
        raise ValueError(f"{name!r} is not a connection event; declare it with socket_event")

    def deco(fn: Handler) -> Handler:
        if name in CONNECTION:
            raise RuntimeError(f"Socket.IO event {name!r} registered twice")
        CONNECTION[name] = (authenticates, _declared(fn, name, None))
        return fn

    return deco


def _declared(fn: Handler, name: str, requires: Permission | None) -> Handler:
    """Mark a function the registry binds, with its event and permission, for the check of what is bound (Flask-
    SocketIO's binding copies these attributes onto its own wrapper, with functools.wraps)."""
    fn.socket_event = name  # type: ignore[attr-defined]
    fn.required_permission = requires  # type: ignore[attr-defined]
    return fn


def _disconnect_soon(sid: str) -> None:
    from meeting_server.extensions import socketio

    def later() -> None:
        socketio.sleep(0.2)
        socketio.server.disconnect(sid)

    socketio.start_background_task(later)


def disconnect_participant(participant_id: int) -> None:
    """Hang up every connection of a card that was just revoked (those this process holds; with several
    processes the others refuse its next event, since every event re-checks the token)."""
    from meeting_server.extensions import socketio
    from meeting_server.realtime import rooms

    room = rooms.participant(participant_id)
    sids = [sid for sid, _eio in socketio.server.manager.get_participants("/", room)]
    for sid in sids:
        socketio.server.emit("revoked", {"code": "auth.revoked", "message": say(sid, CARD_REVOKED)}, to=sid)
        socketio.server.disconnect(sid)


def disconnect_session(session: str) -> None:
    """Hang up every connection opened with a session that just ended (logout), those this process holds; with
    several processes the others refuse its next ordinary event, which re-checks the session. The two hot paths
    (`cast`, `present`) check the card, not the session: revoking the card ends them everywhere."""
    from meeting_server.extensions import socketio
    from meeting_server.realtime import rooms

    room = rooms.login(session)
    for sid in [sid for sid, _eio in socketio.server.manager.get_participants("/", room)]:
        socketio.server.disconnect(sid)


def register(socketio: SocketIO) -> None:
    """Bind every declared event to the SocketIO object (lean ones straight to python-socketio), and the
    connection events. Nothing else binds a Socket.IO handler (tests/realtime/test_registry.py).

    Every event answers: whatever its handler raises beyond a refusal becomes the `server_error` ack, here in one
    place for all three kinds of event."""
    for name, (_how, handler) in CONNECTION.items():
        socketio.on_event(name, handler)
    for name, (perm, handler) in EVENTS.items():
        if name in LEAN:
            socketio.server.on(name, _declared(_lean_binding(name, handler), name, perm), namespace="/")
        else:
            socketio.on_event(name, _declared(_answering(name, handler), name, perm))


def _answering(name: str, handler: Handler) -> Handler:
    @functools.wraps(handler)
    def bound(*args: Any) -> Any:
        try:
            return handler(*args)
        except Exception as exc:
            sid = getattr(request, "sid", None)
            if links.noticed(_app_of(sid), exc) is not None:  # the database went away under the event
                return waiting(sid)
            return server_error(name, sid)

    return bound


def _lean_binding(name: str, handler: Handler) -> Handler:
    def bound(sid: str, data: Any = None) -> Any:
        try:
            if links.waiting(_app_of(sid)):
                return waiting(sid)
            return handler(sid, connection_token(sid), data)
        except Exception as exc:
            if links.noticed(_app_of(sid), exc) is not None:  # the database went away under the event
                return waiting(sid)
            return server_error(name, sid)

    return bound
