"""Connecting, the first `state` snapshot, and re-sync after a gap in seq."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import current_app, request, session
from flask_socketio import ConnectionRefusedError, emit, join_room

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.extensions import socketio
from meeting_server.i18n import in_language, localized, translate
from meeting_server.realtime import links, rooms
from meeting_server.realtime.registry import (
    CARD_REVOKED,
    connection_event,
    connection_session,
    remember_token,
    socket_event,
)
from meeting_server.services import devices, meetings, snapshot, tokens
from meeting_server.store import db

log = logging.getLogger(__name__)


@connection_event("connect", authenticates="the join token of auth={'token': …}, else the session id of the cookie, "
                                          "resolved by services.tokens.identify (wrong ones counted per address); "
                                          "refused without a valid card: auth.revoked for a revoked token, "
                                          "auth.session_ended for a session that ended")
def on_connect(auth: dict[str, Any] | None = None) -> bool:
    """A screen connects with `auth={"token": …}` or the session cookie; refused without a valid card, and with
    `{"code": "auth.too_many_attempts"}` after a pause when its address sent too many wrong ones.

    The new client joins its meeting room and its role room and receives a full `state` snapshot, unless it says
    it has that very snapshot already (`auth={"digest": …}`, services/snapshot.digest: a page just loaded); one that
    sees every comment on drafts joins the comments room too (the drafting body's card joins only that one).
    """
    try:
        with _gate(current_app):
            # Back to the loop once inside: a handler that never yields never makes the gate wait, and the loop
            # would again run every connect that arrived in one pass (`_gate`).
            socketio.sleep(0)
            return _connect(auth)
    except _Guessing as guess:  # the pause is taken outside the gate: a guesser holds up no one else's connect
        err = guess.err
    socketio.sleep(float(current_app.config.get("GUESS_PAUSE_SECONDS", 2)))
    raise ConnectionRefusedError(localized(err), {"code": err.code, "message": localized(err)})


class _Guessing(Exception):
    """A wrong credential from an address over the guessing limit: refused after a pause (`on_connect`)."""

    def __init__(self, err: tokens.TooManyGuesses) -> None:
        super().__init__(err.code)
        self.err = err


#: How many connects this process answers at once (`_gate`): enough to overlap PostgreSQL's waits.
CONNECTS_AT_ONCE = 4


def _gate(app: Any) -> threading.BoundedSemaphore:
    """The app's gate for connects (a green semaphore under eventlet, kept on the app, not in this module).

    After a restart, or when a process dies behind the front, hundreds of phones connect within a second; each
    connect handler runs in its own green thread and, on SQLite (whose calls do not yield), runs from start to
    end: every connect whose message arrived in one poll ran in one pass of the loop, their acknowledgements all
    written after the last, and /healthz (the front's check, the monitor's) accepted only after all of them. With
    500 phones whose digest matched (no `state` to write, so no yield at all) every phone got its answer in the same
    40 ms, seconds after the start, and /healthz waited 3.5-5.6 s (scripts/bench/room_loop.py reconnect, load 10-19):
    a live process can look dead to the front in the middle of a take-over (issue #20). Inside the gate each connect
    first yields once (`on_connect`), so at most a few run per pass and the loop polls its sockets between them: a
    /healthz or a page turn waits for a few connects, not for the crowd; the loop's CPU, not the gate, is what
    limits how fast the crowd is served."""
    gate = app.extensions.get("connect_gate")
    if gate is None:
        gate = app.extensions["connect_gate"] = threading.BoundedSemaphore(
            int(app.config.get("CONNECTS_AT_ONCE", CONNECTS_AT_ONCE)))
    return gate


def _connect(auth: dict[str, Any] | None) -> bool:
    token = auth.get("token") if isinstance(auth, dict) else None
    token = token if isinstance(token, str) and token else None
    session_id = None if token else session.get("sid")
    if token is None and not isinstance(session_id, str):
        return False
    try:
        found = tokens.identify(db.session(), tokens.Source.of(current_app.config, request.remote_addr),
                                token=token, session_id=session_id)
    except tokens.TooManyGuesses as err:
        db.session().close()  # the pooled connection goes back first: sleeping guessers must not starve the pool
        raise _Guessing(err) from None
    if found is None:
        _refuse_for_good(token)
        return False
    who = found.who
    if not who.can(Permission.MEETING_READ) and not who.can(Permission.COMMENT_ANSWER):
        return False
    remember_token(request.sid, found.token, session.get("lang"), found.session)  # type: ignore[attr-defined]
    if who.can(Permission.COMMENT_ANSWER):
        join_room(rooms.comments(who.meeting_id))
    if not who.can(Permission.MEETING_READ):
        # The drafting body's card has no live screen of the meeting (no state, no meeting or role room): its
        # comments page only hears `comments`, and may be hung up when the card is revoked or the session ends.
        if found.session is not None:
            join_room(rooms.login(found.session))
        if who.participant_id is not None:
            join_room(rooms.participant(who.participant_id))
        log.info("connected %s sid=%s (comments only)", who.actor, request.sid)  # type: ignore[attr-defined]
        return True
    join_room(rooms.meeting(who.meeting_id))
    join_room(rooms.role(who.meeting_id, who.role))
    if found.session is not None:
        join_room(rooms.login(found.session))
    if who.participant_id is not None:
        join_room(rooms.participant(who.participant_id))
        devices.connected(db.session(), request.sid, who.participant_id)  # type: ignore[attr-defined]
    known = auth.get("digest") if isinstance(auth, dict) else None
    _send_state(who, known if isinstance(known, str) else None)
    if links.waiting(current_app):  # the message queue is away (the database answered this connect)
        emit("waiting", links.of(current_app).payload())
    log.info("connected %s sid=%s", who.actor, request.sid)  # type: ignore[attr-defined]
    return True


def _refuse_for_good(token: str | None) -> None:
    """A credential that will never work again is refused with its own code, so that the page says what to do and
    stops reconnecting instead of "reconnecting…" forever: a revoked card's token (auth.revoked), or a cookie's
    session that ended (logout, the card revoked, a day unused: auth.session_ended). An unknown token just fails."""
    with in_language(current_app._get_current_object(), session.get("lang")):  # type: ignore[attr-defined]
        if token is None:
            message = translate(tokens.ENDED)
            raise ConnectionRefusedError(message, {"code": "auth.session_ended", "message": message})
        try:
            tokens.resolve(db.session(), token)
        except tokens.TokenRevoked:
            message = translate(CARD_REVOKED)
            raise ConnectionRefusedError(message, {"code": "auth.revoked", "message": message}) from None
        except DomainError:
            return


def _send_state(who: Principal, known: str | None = None) -> None:
    """A full `state` to this connection; not when `known` is its digest (the client shows that snapshot)."""
    m = meetings.get(db.session(), who.meeting_id)
    state = snapshot.build(m, who)
    if known is not None and state["digest"] is not None and known == state["digest"]:
        return
    emit("state", state)


@socket_event("sync", requires=Permission.MEETING_READ)
def on_sync(who: Principal, _data: Any) -> dict[str, Any]:
    """Sent by a client that saw a gap in seq (or came back from sleep); answered with a fresh `state`."""
    _send_state(who)
    return {"ok": True}



@connection_event("disconnect", authenticates="nothing to authenticate: it forgets this connection's device row")
def on_disconnect(_reason: Any = None) -> None:
    """A screen went away: its card no longer has a live device on this connection."""
    opened_with = connection_session(request.sid)  # type: ignore[attr-defined]
    devices.disconnected(db.session(), request.sid)  # type: ignore[attr-defined]
    if opened_with is not None:
        tokens.touch(db.session(), opened_with)  # its idle time counts from now


def role_changed(meeting_id: int, participant_id: int, old: str, new: str) -> None:
    """A person's role was changed by the clerk: their open connections (those this process holds) leave the old
    role's room and join the new one, so the broadcasts that follow (announce's per-role `state` and attendance)
    reach them as their new role. Every event they send is checked against the new role anyway (the card is
    resolved again at each one); with several processes the others move theirs at the next reconnect."""
    from meeting_server.domain.permissions import Role

    server = socketio.server
    for sid, _eio in list(server.manager.get_participants("/", rooms.participant(participant_id))):
        server.leave_room(sid, rooms.role(meeting_id, Role(old)), namespace="/")
        server.enter_room(sid, rooms.role(meeting_id, Role(new)), namespace="/")
