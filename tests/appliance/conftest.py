"""Shared helpers: free ports and a tiny /healthz server standing in for meeting-server."""

import http.server
import json
import socket
import threading
from collections.abc import Iterator

import pytest


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HealthzHandler(http.server.BaseHTTPRequestHandler):
    """Answers /healthz like meeting-server does; 404 elsewhere."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        ok = self.path == "/healthz"
        body = json.dumps({"status": "ok"} if ok else {"error": "not found"}).encode()
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class HealthzServer:
    """Start and stop a /healthz server on a given port."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> None:
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), HealthzHandler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


@pytest.fixture
def healthz_server() -> Iterator[int]:
    """A running /healthz server; yields its port."""
    server = HealthzServer(free_port())
    server.start()
    yield server.port
    server.stop()


@pytest.fixture
def healthz_later() -> Iterator[HealthzServer]:
    """A /healthz server on a reserved port that the test starts when it wants."""
    server = HealthzServer(free_port())
    yield server
    server.stop()
