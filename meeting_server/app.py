"""The app factory: binds the extension objects of `extensions.py` (Socket.IO, Babel, CSRF) to a new app."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, request, session

from meeting_server.config import ROOT, Config, default_data_dir, load_or_create_secret
from meeting_server.extensions import babel, csrf, socketio

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def select_locale() -> str:
    """Vietnamese first; English when the person chose it (kept in their session)."""
    lang = session.get("lang")
    return lang if lang in ("vi", "en") else "vi"


def create_app(config: dict[str, Any] | None = None, config_class: type[Config] = Config) -> Flask:
    """Build the app: defaults, config class, the data directory's secret, each extension, blueprints, Socket.IO."""
    app = Flask(
        __name__,
        static_folder=str(ROOT / "static"),
        template_folder=str(ROOT / "templates"),
    )
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

    from meeting_server.realtime import register_events
    from meeting_server.realtime.frames import CheckedPacket, FrameJSON

    socketio.init_app(
        app,
        async_mode=app.config.get("SOCKETIO_ASYNC_MODE"),
        message_queue=app.config.get("SOCKETIO_MESSAGE_QUEUE"),
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

    send_frames_directly(socketio.server)  # under eventlet only (realtime/transport.py says why)
    unmask_at_c_speed(socketio.server)  # likewise: a phone's 1 MB frame no longer holds the loop for 0.8 s
    # In front of Socket.IO: its WebSockets go without compression (realtime/transport.py says why).
    app.wsgi_app = without_websocket_compression(app.wsgi_app)  # type: ignore[method-assign]
    # Outermost: cached page images of non-confidential documents are answered before Socket.IO and Flask.
    app.wsgi_app = PageFiles(  # type: ignore[method-assign]
        app.wsgi_app, page_key(app), cache_dir(app), int(app.config.get("DOCUMENT_PAGE_MEMORY_MB", 48)) << 20)

    @app.context_processor
    def _template_globals() -> dict[str, Any]:
        from flask_babel import get_locale

        return {"get_locale": get_locale}

    @app.after_request
    def _headers(resp: Any) -> Any:
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if request.endpoint != "screens.kiosk":
            resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        return resp

    return app
