"""How Socket.IO's WebSockets are set up, at the WSGI level (before eventlet's WebSocket handler sees them)."""

from __future__ import annotations

from typing import Any


def without_websocket_compression(wsgi_app: Any) -> Any:
    """Decline the permessage-deflate extension that every browser offers on its Socket.IO WebSocket.

    eventlet accepts it whenever it is offered; the server then keeps a zlib compressor per phone (~150 kB each:
    75 MB at 500 phones, measured) and compresses every broadcast once per phone. The room's messages are small and
    its Wi-Fi is local, so compression costs more than it saves. Removing the offer before eventlet sees it is what
    RFC 6455 lets a server do: the connection simply goes on without the extension.
    """

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO", "").startswith("/socket.io/"):
            environ.pop("HTTP_SEC_WEBSOCKET_EXTENSIONS", None)
        return wsgi_app(environ, start_response)

    return app
