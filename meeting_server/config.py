"""Configuration classes; the data directory and its secret key live outside the code."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

#: The repository root: templates/, static/ and the demo data sit beside the package (the server runs from its
#: checkout, as scripts/serve and scripts/install-minipc install it).
ROOT = Path(__file__).resolve().parent.parent


def default_data_dir() -> Path:
    """The data directory: MEETING_SERVER_DATA, else ./instance in the current directory."""
    return Path(os.environ.get("MEETING_SERVER_DATA") or Path.cwd() / "instance").resolve()


def load_or_create_secret(data_dir: Path) -> str:
    """The cookie-signing key, created once per data directory so sessions survive restarts."""
    path = data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    # Written with 0600 so other local users cannot forge join sessions.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key


class Config:
    """Defaults shared by every configuration."""

    TESTING = False
    BABEL_DEFAULT_LOCALE = "vi"
    BABEL_DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"
    LANGUAGES = ("vi", "en")
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    SESSION_COOKIE_NAME = "ms_session"
    # How long the browser keeps the cookie; the session itself ends earlier on the server (SESSION_IDLE_SECONDS,
    # logout, a revoked card).
    PERMANENT_SESSION_LIFETIME = 60 * 60 * 24 * 14
    WTF_CSRF_TIME_LIMIT = None
    # Over HTTPS Flask-WTF also wants a same-site Referer on every form; pages send none (Referrer-Policy:
    # no-referrer, since a join URL carries a token), so that check would refuse every form. The CSRF token and the
    # SameSite=Lax cookie are the protection.
    WTF_CSRF_SSL_STRICT = False
    MAX_CONTENT_LENGTH = 110 * 1024 * 1024
    #: Largest delegate list file accepted by the import (a real one is a few kB).
    IMPORT_MAX_BYTES = 2 * 1024 * 1024
    #: Wrong credentials (a join token on /j/, a Bearer header or a Socket.IO connect, a session id) allowed per
    #: source address per minute; past it a wrong one is refused with 429 after a pause, a right one still passes.
    JOIN_FAILURES_PER_MINUTE = 10
    #: Seconds a refused guess waits before its 429 (a green thread sleeps; the loop goes on).
    GUESS_PAUSE_SECONDS = 2.0
    #: A browser session (login_session) unused this long (no request, no connection open) ends: the card is
    #: scanned again. An open Socket.IO connection counts as use; its idle time starts when it closes. A day: a
    #: projector or a phone connected from morning to evening must still reconnect after a Wi-Fi blip (the server
    #: may see the new connection before it has noticed the old one close); logout and revocation end a session
    #: at once whatever this says.
    SESSION_IDLE_SECONDS = 24 * 3600
    #: Advertise on mDNS and follow address changes (the tests' in-process apps turn it off).
    DISCOVERY = True
    SOCKETIO_MESSAGE_QUEUE: str | None = None
    #: Where the compressed copies of static/ are kept (web/statics.py), named by content hash, so any number of
    #: servers may share one; else $MEETING_SERVER_STATIC_CACHE (the tests share one across their servers), else
    #: the data directory's static-cache/.
    STATIC_CACHE_DIR: str | None = None
