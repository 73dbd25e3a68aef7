"""Run by test_direct_frames.py in its own process (eventlet monkey-patched, as the server runs).

Real python-socketio and python-engineio server objects, engineio's own WebSocket handler and writer, eventlet's
RFC 6455 WebSocket, over real TCP connections on loopback; `send_frames_directly` installed. One phone reads, one
has stopped reading (tiny buffers). 300 broadcasts (every third of 30 kB, the others of 1 kB) and engineio's pings
go to both. Prints one JSON line: what each phone received (parsed from the raw bytes), in what order, and the
sender's counts.
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

import socketio  # noqa: E402
from engineio import packet as eio_packet  # noqa: E402
from engineio.socket import Socket  # noqa: E402
from eventlet.websocket import RFC6455WebSocket  # noqa: E402

from meeting_server.realtime.transport import send_frames_directly  # noqa: E402

N = 300


def parse(buf: bytearray) -> list[str]:
    """Complete unmasked server frames at the head of buf (consumed), as text."""
    out = []
    while len(buf) >= 2:
        assert buf[0] == 0x81, f"not a final text frame: {buf[0]:#x}"
        n, head = buf[1] & 0x7F, 2
        if n == 126:
            if len(buf) < 4:
                break
            n, head = int.from_bytes(buf[2:4], "big"), 4
        elif n == 127:
            if len(buf) < 10:
                break
            n, head = int.from_bytes(buf[2:10], "big"), 10
        if len(buf) < head + n:
            break
        out.append(bytes(buf[head:head + n]).decode())
        del buf[:head + n]
    return out


def phone(server: socketio.Server, sid: str, small: bool) -> socket.socket:
    """A connected, upgraded Engine.IO socket on engineio's own handler; returns the phone's end."""
    listener = socket.create_server(("127.0.0.1", 0))
    theirs = socket.socket()
    if small:  # before connecting, so that the window is small from the start
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    theirs.connect(listener.getsockname())
    ours, _addr = listener.accept()
    listener.close()
    if small:
        ours.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
    ws = RFC6455WebSocket(ours, {}, version=13)
    s = Socket(server.eio, sid)
    server.eio.sockets[sid] = s
    s.direct_ws = ws  # what the recording WebSocket app does for a real connection
    eventlet.spawn(s._websocket_handler, ws)
    eventlet.sleep(0)
    return theirs


def reader(sock: socket.socket, got: list[str], want: int) -> None:
    buf = bytearray()
    while sum(m.startswith("4") for m in got) < want:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
        got.extend(parse(buf))


def main() -> None:
    server = socketio.Server(async_mode="eventlet")
    installed = send_frames_directly(server)
    limit = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    if limit:  # a phone with more than `limit` packets waiting is hung up
        server._direct_frames.max_queued = limit
    healthy = phone(server, "healthy", small=False)
    stalled = phone(server, "stalled", small=True)
    got_healthy: list[str] = []
    got_stalled: list[str] = []
    r1 = eventlet.spawn(reader, healthy, got_healthy, N)
    for i in range(N):
        pad = "x" * (1000 if i % 3 else 30000)
        pkt = eio_packet.Packet(eio_packet.MESSAGE, f'2["presented",{{"seq":{i + 1},"pad":"{pad}"}}]')
        for sid in ("healthy", "stalled"):
            server._send_eio_packet(sid, pkt)  # what Manager.emit calls for each recipient
        if i % 50 == 25:
            for sid in ("healthy", "stalled"):
                if sid in server.eio.sockets:  # not once the stalled phone is hung up
                    server.eio.sockets[sid].send(eio_packet.Packet(eio_packet.PING))  # engineio's own, queued
        eventlet.sleep(0)
    with eventlet.Timeout(20, False):
        r1.wait()
    healthy_before_stalled_read = sum(m.startswith("4") for m in got_healthy)
    stalled_socket = server.eio.sockets.get("stalled")
    stalled_queue = stalled_socket.queue.qsize() if stalled_socket is not None else -1
    eventlet.sleep(0.5)  # a hung-up phone's engineio connection ends
    r2 = eventlet.spawn(reader, stalled, got_stalled, N)
    with eventlet.Timeout(20, False):
        r2.wait()
    frames = server._direct_frames
    print(json.dumps({
        "installed": installed,
        "healthy_before_stalled_read": healthy_before_stalled_read,
        "stalled_queue_while_stalled": stalled_queue,
        "healthy": got_healthy,
        "stalled": got_stalled,
        "direct": frames.direct,
        "partial": frames.partial,
        "queued": frames.queued,
        "dropped": frames.dropped,
        "stalled_still_known": "stalled" in server.eio.sockets,
    }))


main()
