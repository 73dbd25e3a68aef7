"""The app factory: binds the extension objects of `extensions.py` (Socket.IO, Babel, CSRF) to a new app."""

from __future__ import annotations

import gzip
import logging
import os
from pathlib import Path
from typing import Any

from flask import Flask, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface

from meeting_server.config import ROOT, Config, default_data_dir, load_or_create_secret
from meeting_server.extensions import babel, csrf, socketio

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def select_locale() -> str:
    """Vietnamese first; English when the person chose it (kept in their session)."""
    lang = session.get("lang")
    return lang if lang in ("vi", "en") else "vi"


class SessionCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, which here carries only a random session id (services/tokens.py keeps the session on
    the server), the language and the CSRF nonce: never a join token. Marked Secure when the page came over
    HTTPS (or when SESSION_COOKIE_SECURE says so), so that it is never sent back over the room's plain Wi-Fi."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (has_request_context() and request.is_secure)


def security_headers(host: str) -> dict[str, str]:
    """The headers of every response (the policy on pages only): a Content-Security-Policy that runs only the
    server's own scripts (the templates have no inline script or handler: their JSON blocks are data, which CSP does
    not run) and connects only back to this server (Socket.IO over ws/wss included), no framing by anyone (a kiosk
    page in someone's frame could be clickjacked or shown out of context), no MIME sniffing, and no Referer: a join
    URL carries a card's token, and a page must never hand its own address to another site."""
    csp = "; ".join((
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "font-src 'self'",
        f"connect-src 'self' ws://{host} wss://{host}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))
    return {"Content-Security-Policy": csp, "X-Frame-Options": "DENY", "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer"}


#: A page's HTML (with its `state`) is 5–60 kB and compresses to a third: over ~1 Mbit/s that is 0.1–0.4 s. Level 6
#: costs ~1 ms per 16 kB page on the mini-PC; bigger bodies (an export, a long log) are left as they are, so no
#: request holds the eventlet loop compressing.
PAGE_GZIP_MIN = 1024
PAGE_GZIP_MAX = 512 * 1024


def compress_page(resp: Any) -> Any:
    """gzip an HTML page for a browser that accepts it (static files come precompressed: web/statics.py)."""
    if (resp.mimetype != "text/html" or resp.direct_passthrough or resp.is_streamed
            or "Content-Encoding" in resp.headers or "gzip" not in request.headers.get("Accept-Encoding", "")):
        return resp
    body = resp.get_data()
    if not PAGE_GZIP_MIN <= len(body) <= PAGE_GZIP_MAX:
        return resp
    resp.set_data(gzip.compress(body, 6, mtime=0))
    resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    return resp


def create_app(config: dict[str, Any] | None = None, config_class: type[Config] = Config) -> Flask:
    """Build the app: defaults, config class, the data directory's secret, each extension, blueprints, Socket.IO."""
    app = Flask(
        __name__,
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
    )
    app.session_interface = SessionCookie()
    app.config.from_object(config_class)
    if config:
        app.config.update(config)
    data_dir = Path(app.config.get("DATA_DIR") or default_data_dir()).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    app.config["DATA_DIR"] = data_dir
    app.config.setdefault("DATABASE_URL", f"sqlite:///{data_dir / 'meeting.db'}")
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = load_or_create_secret(data_dir)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(ROOT / "meeting_server" / "translations")

    from meeting_server.store import db

    db.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    csrf.init_app(app)

    from meeting_server.web import register_blueprints

    register_blueprints(app)

    from meeting_server.realtime import links, register_events
    from meeting_server.realtime.frames import CheckedPacket, FrameJSON

    queue = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    watched: dict[str, Any] = {}
    if queue and str(queue).startswith(("redis://", "rediss://")):
        # Flask-SocketIO's own Redis manager, which also says when its listener is cut off (realtime/links.py).
        watched["client_manager"] = links.queue_manager(str(queue), channel="flask-socketio")
    socketio.init_app(
        app,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE"),
        message_queue=queue,
        **watched,
        # Phones on flaky Wi-Fi: notice a dead connection within ~45 s, not the default minutes.
        ping_interval=20,
        ping_timeout=25,
        max_http_buffer_size=1_000_000,
        # Every frame's JSON bounded as HTTP bodies are, and a refused frame answered (realtime/frames.py).
        json=FrameJSON,
        serializer=CheckedPacket,
    )
    register_events(socketio)

    from meeting_server.realtime.transport import send_frames_directly, unmask_at_c_speed, without_websocket_compression
    from meeting_server.services.documents import cache_dir, page_key
    from meeting_server.web.pagefiles import PageFiles
    from meeting_server.web.statics import BUNDLES, StaticFiles

    send_frames_directly(socketio.server)  # under eventlet only (realtime/transport.py says why)
    unmask_at_c_speed(socketio.server)  # likewise: a phone's 1 MB frame no longer holds the loop for 0.8 s
    # In front of Socket.IO: its WebSockets go without compression (realtime/transport.py says why).
    app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]
    # Outermost: cached page images of non-confidential documents are answered before Socket.IO and Flask.
    app.wsgi_app = PageFiles(  # type: ignore[method-assign]
        app.wsgi_app, page_key(app), cache_dir(app), int(app.config.get("DOCUMENT_PAGE_MEMORY_MB", 48)) << 20)
    # Static files likewise, compressed once at start and versioned by content (web/statics.py).
    statics = StaticFiles(app.wsgi_app, ROOT / "static",
                          app.config.get("STATIC_CACHE_DIR") or os.environ.get("MEETING_SERVER_STATIC_CACHE")
                          or data_dir / "static-cache", BUNDLES)
    app.wsgi_app = statics  # type: ignore[method-assign]
    app.extensions["static_files"] = statics

    @app.url_defaults
    def _static_version(endpoint: str, values: dict[str, Any]) -> None:
        # Every template keeps url_for('static', filename=...): the content hash is added here.
        if endpoint == "static" and "v" not in values:
            version = statics.version(values.get("filename", ""))
            if version is not None:
                values["v"] = version

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        from flask_babel import get_locale

        return {"get_locale": get_locale}

    @app.after_request
    def _headers(resp: Any) -> Any:
        for name, value in security_headers(request.host).items():
            # The policy is for pages: a PDF shown by the browser's own viewer (cards, minutes) is left to it.
            if name != "Content-Security-Policy" or resp.mimetype == "text/html":
                resp.headers.setdefault(name, value)
        return compress_page(resp)

    return app
