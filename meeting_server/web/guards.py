"""Who is asking, and may they: the declaration every route carries."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, current_app, g, make_response, request, session

from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.i18n import localized
from meeting_server.services import tokens
from meeting_server.store import db

F = TypeVar("F", bound=Callable[..., Any])


def bearer_token() -> str | None:
    """The join token of an `Authorization: Bearer …` header, if any."""
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def source() -> tokens.Source:
    """Where this request comes from, and the limits that apply (services/tokens.py counts wrong credentials)."""
    return tokens.Source.of(current_app.config, request.remote_addr)


def too_many_guesses(err: tokens.TooManyGuesses) -> Any:
    """429 after a pause: a guesser's next try waits, without holding the loop (the green thread sleeps)."""
    from meeting_server.web.errors import render_error

    db.session().close()  # the pooled connection goes back first: sleeping guessers must not starve the pool
    time.sleep(float(current_app.config.get("GUESS_PAUSE_SECONDS", 2)))
    return make_response(render_error(429, localized(err), err.code))


def current_principal() -> Principal | None:
    """From the Bearer header, else the session cookie's session id (services/tokens.identify, the one place);
    checked against the database on every request, so a revoked card or a closed session stops at once. A wrong
    credential from an address that guessed too often ends the request with 429."""
    if "principal" not in g:
        g.principal = None
        bearer = bearer_token()
        session_id = None if bearer else session.get("sid")
        try:
            found = tokens.identify(db.session(), source(), token=bearer, session_id=session_id)
        except tokens.TooManyGuesses as err:
            abort(too_many_guesses(err))
        if found is None and session_id:
            session.pop("sid", None)  # ended: the browser stops presenting it (and being counted for it)
        g.principal = found.who if found is not None else None
    return g.principal


def requires(permission: Permission) -> Callable[[F], F]:
    """Route decorator: 401 without a valid card, 403 when the role lacks the permission."""

    def deco(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            who = current_principal()
            if who is None:
                abort(401)
            if not who.can(permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_permission = permission  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return deco


def public(view: F) -> F:
    """Route decorator that says, explicitly, that anyone may call the route."""
    view.required_permission = None  # type: ignore[attr-defined]
    return view


def signed_url(view: F) -> F:
    """Route decorator for a capability URL: no card is asked for, because holding a URL the server signed is the
    authorization (it is handed only to cards allowed to see what it names); the view checks the signature."""
    view.required_permission = None  # type: ignore[attr-defined]
    view.authorized_by = "signed URL"  # type: ignore[attr-defined]
    return view


def principal() -> Principal:
    """The principal of a route guarded by `requires` (never None there)."""
    who = current_principal()
    if who is None:
        abort(401)
    return who


def same_meeting(meeting_id: int) -> None:
    """Object check: a card only reaches its own meeting; others look like they do not exist."""
    if principal().meeting_id != meeting_id:
        abort(404)
