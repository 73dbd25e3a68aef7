"""meeting-server: the paperless meeting room of a commune People's Council, on one mini-PC.

This module stays light on purpose: `python -m meeting_server` must be able to monkey-patch with eventlet before
Flask, Socket.IO or any socket is imported. The factory and the Socket.IO object live in `meeting_server.app`.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["__version__", "create_app", "socketio"]


def __getattr__(name: str) -> Any:
    if name in ("create_app", "socketio"):
        from meeting_server import app

        return getattr(app, name)
    raise AttributeError(name)
