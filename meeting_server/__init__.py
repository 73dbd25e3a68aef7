"""meeting-server: the paperless meeting room of a commune People's Council, on one mini-PC.

This module stays light on purpose: `python -m meeting_server` must be able to monkey-patch with eventlet before
Flask, Socket.IO or any socket is imported. It holds the version and imports nothing of the house, so that any
module may read `__version__`. The factory is `meeting_server.app.create_app`; the Socket.IO object is in
`meeting_server.extensions`.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
