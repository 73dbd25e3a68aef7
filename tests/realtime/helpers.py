"""A real python-socketio client that records what it receives, for tests against a live server."""

from __future__ import annotations

import queue
import time
from typing import Any

import socketio


class Screen:
    """One connected device: its received events, in order, and a way to wait for one."""

    def __init__(self, url: str, token: str | None = None, cookies: str | None = None,
                 **client_options: Any) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        # client_options: e.g. http_session=<requests.Session with verify=<CA file>> for a server on HTTPS.
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1,
                                      **client_options)
        self.client.on("*", self._any)
        headers = {"Cookie": cookies} if cookies else None
        self.client.connect(url, auth={"token": token} if token else None, headers=headers,
                            transports=["websocket"], wait_timeout=10)

    def _any(self, event: str, data: Any = None) -> None:
        self.events.put((event, data))

    def wait(self, event: str, pred: Any = None, timeout: float = 10) -> Any:
        """The next `event` (matching `pred`), skipping others; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {event!r} within {timeout}s; seen {[e for e, _ in self.seen]}")
            try:
                name, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append((name, data))
            if name == event and (pred is None or pred(data)):
                return data

    def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        """Emit with an acknowledgement and return it."""
        return self.client.call(event, data, timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()
