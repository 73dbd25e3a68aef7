"""Socket.IO layer: thin handlers over the services, broadcasting only through rooms."""

from __future__ import annotations

from flask_socketio import SocketIO

__all__ = ["register_events"]


def register_events(socketio: SocketIO) -> None:
    """Import every event module (they declare their events at import) and bind them."""
    from meeting_server.realtime import events, registry

    events.load()
    registry.register(socketio)
