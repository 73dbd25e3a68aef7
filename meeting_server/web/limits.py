"""What a request may send, checked before its body is read: a size limit per route, and a cap on how many
expensive uploads (each one a child process) run at once.

- Size: every route has a limit (`limit_for`); a request whose Content-Length is over it is answered 413 at once,
  before anything (CSRF included) reads the body. A chunked body has no Content-Length: `CappedInput` lets
  Werkzeug read it and stops it at the first byte over the same limit (413 again).
- Concurrency: a route in `GATES` runs at most N at a time; the next gets 503 "the server is busy" with
  Retry-After, not a queue of processes. The count is **per server process** (a semaphore in `app.extensions`):
  several server processes sharing the database multiply it. It holds no data, only how many run here now.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, g, has_request_context, make_response, request
from flask_babel import gettext as _
from werkzeug.exceptions import RequestEntityTooLarge

from meeting_server.domain import payload

__all__ = ["CappedInput", "init_app", "limit_for"]

KB = 1024
MB = 1024 * KB
#: Room for the multipart envelope and the small form fields beside a file.
FORM_OVERHEAD = 256 * KB
#: A JSON or form body of any other route (a title, a draft, a PIN): far more than a real one.
DEFAULT_BODY_BYTES = 1 * MB
#: Seconds a refused caller is told to wait (an upload check takes a few seconds).
RETRY_AFTER_S = 5


@dataclass(frozen=True)
class Gate:
    """At most `limit` requests of one route at once in this process; `config` names the setting that overrides."""

    config: str
    limit: int


#: Routes whose request starts a child process or holds a large file: how many may run at once (per process).
GATES: dict[str, Gate] = {
    "minutes.verify_upload": Gate("VERIFY_CONCURRENCY", 2),  # public: a fresh validator process each
    "signing.post_upload": Gate("SIGNATURE_UPLOAD_CONCURRENCY", 2),  # a checker process each
    "documents.upload": Gate("DOCUMENT_UPLOAD_CONCURRENCY", 3),  # up to 100 MB each to disk
    "clerk.roster_preview": Gate("ROSTER_CONCURRENCY", 2),
    "api.put_participants": Gate("ROSTER_CONCURRENCY", 2),
}


def limit_for(app: Flask, endpoint: str | None) -> int:
    """The largest body (bytes) the route accepts."""
    from meeting_server.services import documents
    from meeting_server.web.minutes import MAX_VERIFY_BYTES
    from meeting_server.web.signing import MAX_UPLOAD_BYTES

    c = app.config
    roster = int(c["IMPORT_MAX_BYTES"])
    limits = {
        "documents.upload": documents.limits(app).max_upload_bytes + FORM_OVERHEAD,
        "minutes.verify_upload": MAX_VERIFY_BYTES + FORM_OVERHEAD,
        "signing.post_upload": MAX_UPLOAD_BYTES + FORM_OVERHEAD,
        "clerk.roster_preview": roster + FORM_OVERHEAD,
        "api.put_participants": roster + FORM_OVERHEAD,
        # The previewed table comes back as a form field: a list's cells, as JSON, with its quoting.
        "clerk.roster_import": 4 * roster + FORM_OVERHEAD,
    }
    if endpoint in limits:
        return limits[endpoint]
    if has_request_context() and request.is_json:
        return payload.MAX_JSON_BYTES  # the one JSON limit (domain/payload.py), said in its own words below
    return int(c.get("MAX_BODY_BYTES", DEFAULT_BODY_BYTES))


def _refuse_too_large(size: int | None, limit: int) -> Any:
    """413, in the words of the body's kind: a JSON body gets domain/payload's message (its size and the JSON
    limit), an upload or a form the route's limit."""
    from meeting_server.web.errors import localized, render_error

    if request.is_json and size is not None:
        err = payload.too_large(size, limit)
        return render_error(413, localized(err), err.code)
    if request.is_json:  # a chunked body stopped at the limit: its whole size is not known
        return render_error(413, _too_large_message(limit), "payload.too_large")
    return render_error(413, _too_large_message(limit), "upload.too_large")


def _too_large_message(limit: int) -> str:
    if limit >= MB:
        return _("Dữ liệu gửi lên quá lớn: thao tác này nhận tối đa %(size)s MB. Hãy chọn tệp nhỏ hơn.",
                 size=limit // MB)
    return _("Dữ liệu gửi lên quá lớn: thao tác này nhận tối đa %(size)s kB.", size=max(1, limit // KB))


def _semaphores(app: Flask) -> dict[str, threading.BoundedSemaphore]:
    return app.extensions["upload_gates"]


def _before() -> Any:
    """Refuse an oversized body before it is read, then take the route's place in its gate (or refuse)."""
    from meeting_server.web.errors import render_error

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    limit = limit_for(app, request.endpoint)
    if request.content_length is not None and request.content_length > limit:
        return _refuse_too_large(request.content_length, limit)
    request.max_content_length = limit + 1  # Werkzeug's own cap, one byte behind CappedInput's 413
    if request.environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        request.environ["wsgi.input"] = CappedInput(request.environ["wsgi.input"], limit)
        request.environ["wsgi.input_terminated"] = True
    gate = GATES.get(request.endpoint or "")
    if gate is not None:
        sem = _semaphores(app)[request.endpoint or ""]
        if not sem.acquire(blocking=False):
            resp = make_response(render_error(503, _("Máy chủ đang bận, hãy thử lại sau."), "server.busy"))
            resp.headers["Retry-After"] = str(RETRY_AFTER_S)
            return resp
        g.upload_gate = sem
    return None


def _release(_exc: BaseException | None) -> None:
    sem = g.pop("upload_gate", None)
    if sem is not None:
        sem.release()


class CappedInput:
    """A chunked request body that raises 413 at its first byte over the route's limit.

    eventlet decodes a chunked body and ends its stream at the last chunk, but does not set
    `wsgi.input_terminated`; without it Werkzeug reads a body without Content-Length as empty. With it, Werkzeug's
    own cap stops quietly at the limit (a truncated body); this one refuses instead.
    """

    def __init__(self, stream: Any, limit: int) -> None:
        self.stream = stream
        self.left = limit

    def _count(self, data: bytes) -> bytes:
        self.left -= len(data)
        if self.left < 0:
            raise RequestEntityTooLarge()
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.left + 1
        return self._count(self.stream.read(min(size, self.left + 1)))

    def readline(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = self.left + 1
        return self._count(self.stream.readline(min(size, self.left + 1)))


def init_app(app: Flask) -> None:
    """Install the checks first among the app's before-request functions (before CSRF reads a form)."""
    app.extensions["upload_gates"] = {
        endpoint: threading.BoundedSemaphore(max(1, int(app.config.get(gate.config, gate.limit))))
        for endpoint, gate in GATES.items()
    }
    # Routes that share a setting share their gate (the two roster imports).
    shared: dict[str, threading.BoundedSemaphore] = {}
    for endpoint, gate in GATES.items():
        app.extensions["upload_gates"][endpoint] = shared.setdefault(gate.config,
                                                                     app.extensions["upload_gates"][endpoint])
    app.before_request_funcs.setdefault(None, []).insert(0, _before)
    app.teardown_request(_release)

    @app.errorhandler(RequestEntityTooLarge)
    def _too_large(err: RequestEntityTooLarge) -> Any:
        return _refuse_too_large(None, limit_for(app, request.endpoint))
