"""The extension objects (Socket.IO, CSRF, Babel): created here unbound, bound to the app in `app.create_app`.

A leaf module: it imports nothing of the house, so the skins (web/, realtime/) and the start-up (cli.py,
appliance.py) take the objects from here without importing the app factory, which imports them.
"""

from __future__ import annotations

from flask_babel import Babel
from flask_socketio import SocketIO
from flask_wtf import CSRFProtect

__all__ = ["babel", "csrf", "socketio"]

socketio = SocketIO()
babel = Babel()
csrf = CSRFProtect()
