"""One server process holds more phones than eventlet's default of 1,024 connections at once (web/serving.py,
`connection_limit`).

A phone's WebSocket holds one of eventlet's connection green threads for as long as it stays. Left at eventlet's
default, the 1,025th connection waited in the kernel's queue until some phone left: a phone connecting then, and
every HTTP request (its page images, the front's /healthz), got no answer at all (scale_out.py: one process with
1,500 phones delivered under a third of the page turns, the phones in the queue missing their pings meanwhile).
The server is started with the soft descriptor limit at 1,024 (systemd's default for a unit that says nothing),
the hard one above it, as a box has them: it must raise the soft limit itself, or `accept` runs out of descriptors.
"""

from __future__ import annotations

import base64
import os
import resource
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
import socketio

from tests.conftest import LiveServer

HELD = 1100  # past eventlet's 1,024 and past the soft limit the server starts with


@contextmanager
def descriptor_limit(soft: int) -> Iterator[None]:
    """This process's soft descriptor limit lowered to `soft` while a child is started (it inherits it)."""
    old = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, old[1]))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, old)


def engineio_websocket(port: int) -> socket.socket:
    """An Engine.IO WebSocket, open and silent (a phone between two events): the upgrade answered and the open
    packet read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=30)
    key = base64.b64encode(os.urandom(16)).decode()
    s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
               "Sec-WebSocket-Version: 13\r\n\r\n").encode())
    got = b""
    while b'"sid"' not in got:  # the 101 and then Engine.IO's open packet, 0{"sid": …}
        chunk = s.recv(4096)
        assert chunk, got
        got += chunk
    assert got.startswith(b"HTTP/1.1 101"), got[:80]
    return s


def test_one_process_serves_past_1024_connections(server_factory: Callable[..., LiveServer]) -> None:
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < HELD + 400:
        pytest.skip(f"the hard descriptor limit here ({hard}) is below what the test holds")
    with descriptor_limit(1024):
        srv = server_factory()
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < HELD + 100:  # this process holds them too
        resource.setrlimit(resource.RLIMIT_NOFILE, (HELD + 400, hard))
    held = []
    try:
        for _ in range(HELD):
            held.append(engineio_websocket(srv.port))
        t0 = time.monotonic()
        assert requests.get(srv.url + "/healthz", timeout=10).ok  # before: no answer while 1,024 were held
        assert time.monotonic() - t0 < 5
        phone = socketio.Client(reconnection=False)
        states: list[dict[str, object]] = []
        phone.on("state", states.append)
        token = srv.links["delegates"][0]["url"].rsplit("/", 1)[1]
        phone.connect(srv.url, auth={"token": token}, transports=["websocket"], wait_timeout=10)
        deadline = time.monotonic() + 10
        while not states and time.monotonic() < deadline:
            time.sleep(0.05)
        phone.disconnect()
        assert states, "the phone past 1,100 connections got no state"
        pid_limits = Path(f"/proc/{srv.proc.pid}/limits").read_text()
        soft = int(next(ln for ln in pid_limits.splitlines() if ln.startswith("Max open files")).split()[3])
        assert soft > 1024, pid_limits
        assert "serving at most" in srv.log_path.read_text()
    finally:
        for s in held:
            s.close()
