"""How Socket.IO's WebSockets are set up and written to under eventlet.

Two measured costs of the stock stack are removed here, both below Flask-SocketIO's `emit`, which stays the only way
the app broadcasts (so a Redis message queue between several server processes works as before):
- `without_websocket_compression`: the permessage-deflate offer is declined before eventlet sees it.
- `send_frames_directly`: a broadcast's frames are written to every phone's socket from the emitting green thread,
  instead of being queued for one writer green thread per phone.
And one cost a phone can impose on the loop: `unmask_at_c_speed` (a phone's frame unmasked one byte at a time).

And one bound the stock stack lacks: a phone that stops reading its socket is hung up (`_hang_up`), when more than
`MAX_QUEUED` packets wait for it, or when engineio has given it up (ping timeout) and its writer is still stuck
behind the unread bytes `CLOSED_GRACE_S` later. Stock engineio queues without bound for it, and once it gives it up
leaves its TCP connection, its two green threads and what they hold open until the kernel gives up (minutes, or
never while the phone's TCP stack still acknowledges).
"""

from __future__ import annotations

import logging
import socket
from typing import Any

log = logging.getLogger(__name__)

#: Packets that may wait for one phone (behind what its socket has not taken) before it is hung up: a page turn is
#: one packet, a `state` one or two; 1024 is many minutes of a sitting, far more than a phone that reads ever has
#: waiting, and at most a few MB for one phone (tests lower it on the sender: `_DirectFrames.max_queued`).
MAX_QUEUED = 1024
#: Seconds a connection engineio has closed (a phone silent past the ping timeout) may take to finish, before its
#: TCP connection is shut down under the green threads stuck on it.
CLOSED_GRACE_S = 5.0


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


def unmask_at_c_speed(sio_server: Any) -> bool:
    """Unmask a phone's WebSocket frames with one big-integer XOR instead of eventlet's loop over every byte.

    RFC 6455 has every client frame masked; eventlet undoes the mask in a Python generator, one byte at a time, on
    the event loop: 0.2 s for a 266 kB frame, 0.8 s for the 1 MB python-engineio accepts (`max_http_buffer_size`),
    during which no phone is answered. Any connected card could send such frames one after another. The same bytes
    come out of `_mask` (tests/realtime/test_frames.py compares them) in about a millisecond per megabyte. Returns
    whether it was installed: under eventlet only (other servers unmask in their own code).
    """
    eio = getattr(sio_server, "eio", None)
    if eio is None or getattr(eio, "async_mode", None) != "eventlet":
        return False
    from eventlet.websocket import RFC6455WebSocket

    stock = RFC6455WebSocket.__dict__["_apply_mask"]
    if getattr(stock, "__func__", None) is not _mask:
        RFC6455WebSocket._stock_apply_mask = stock  # eventlet's own, kept for the test that compares the two
        RFC6455WebSocket._apply_mask = staticmethod(_mask)
    return True


def _mask(data: bytes, mask: Any, length: int | None = None, offset: int = 0) -> bytes:
    """eventlet's `RFC6455WebSocket._apply_mask(data, mask, length, offset)`: the first `length` bytes of `data`
    XORed with the 4-byte `mask`, started at position `offset` of the mask's cycle."""
    n = len(data) if length is None else length
    if n <= 0:
        return b""
    key = bytes(mask[(offset + i) % 4] for i in range(4))
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data[:n], "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def send_frames_directly(sio_server: Any) -> bool:
    """Write each Engine.IO packet straight to the phone's WebSocket when nothing is waiting ahead of it.

    Stock python-engineio puts every packet on a per-phone queue; a writer green thread per phone wakes up (a timer,
    a context switch, a `get` with its own timeout), frames the message and sends it. For one page turn to 500
    phones that is 500 wake-ups, and it was most of the server's CPU in a profile of the fan-out bench; the frame is
    also built 500 times although it is the same bytes for everyone (server frames are not masked).

    Here `python-socketio`'s `_send_eio_packet`, which `emit` calls once per recipient with the same packet, is
    replaced on this server: the frame is built once per packet, and written with one non-blocking `send` while the
    phone's queue is empty and its send lock is free (so nothing queued earlier can be overtaken, and no other green
    thread is in the middle of a frame). If the kernel takes only part of it (a phone that stopped reading), the
    rest is finished by a green thread that keeps the send lock, so the writer's next frame waits behind it. Any
    other case (polling transport, a connection being upgraded or closed, a full buffer, an unknown WebSocket
    object) goes the stock way. Returns whether it was installed: only under eventlet, with the objects it knows.
    """
    eio = getattr(sio_server, "eio", None)
    if eio is None or getattr(eio, "async_mode", None) != "eventlet":
        return False
    base = eio._async.get("websocket")
    if base is None or getattr(sio_server, "_direct_frames", None) is not None:
        return False
    sender = _DirectFrames(sio_server)
    eio._async = dict(eio._async, websocket=_recording(base))  # this server's copy; the module's dict is shared
    sio_server._send_eio_packet = sender
    sio_server._direct_frames = sender
    return True


def _recording(base: type) -> type:
    """engineio's eventlet WebSocket app, keeping each Engine.IO socket's WebSocket object on it."""

    class RecordingWebSocketWSGI(base):
        def __init__(self, handler: Any, server: Any) -> None:
            owner = getattr(handler, "__self__", None)  # the engineio Socket whose _websocket_handler this is

            def keep(ws: Any) -> Any:
                if owner is not None and _writable_directly(ws):
                    owner.direct_ws = ws
                    _hang_up_when_stuck(owner, ws)
                try:
                    return handler(ws)
                finally:
                    if owner is not None:
                        owner.direct_ws = None
                        owner.ws_done = True

            super().__init__(keep, server)

    return RecordingWebSocketWSGI


def _hang_up(ws: Any, why: str) -> None:
    """Shut the phone's TCP connection down: the green threads blocked on it (a writer in `sendall`, the reader in
    `recv`) wake up with an error or the end of the stream, and engineio closes the connection the usual way (the
    phone, if it still runs, reconnects and gets a fresh `state`)."""
    log.warning("hanging up a phone that does not read its socket (%s)", why)
    try:
        ws.socket.shutdown(socket.SHUT_RDWR)
    except OSError:  # already gone
        pass


def _hang_up_when_stuck(owner: Any, ws: Any) -> None:
    """When engineio closes this connection (its `close`, e.g. at the ping timeout), give its handler
    `CLOSED_GRACE_S` to end, then hang up: a writer stuck behind unread bytes would otherwise never end."""
    close = owner.close

    def closing(*args: Any, **kwargs: Any) -> Any:
        import eventlet

        def later() -> None:
            if not getattr(owner, "ws_done", False):
                _hang_up(ws, "still connected after engineio closed it")

        eventlet.spawn_after(CLOSED_GRACE_S, later)
        owner.close = close  # once
        return close(*args, **kwargs)

    owner.close = closing


def _writable_directly(ws: Any) -> bool:
    """An eventlet RFC 6455 WebSocket with no extension, over a non-blocking socket: the only kind written to here.

    Under HTTPS (`serve --tls-cert`) the connection is eventlet's GreenSSLSocket, which has no plain `fd`: its frames
    go the stock way, through TLS (bytes written to the TCP socket beside TLS would break the stream)."""
    fd = getattr(getattr(ws, "socket", None), "fd", None)
    return (getattr(ws, "version", None) == 13 and not getattr(ws, "extensions", True)
            and hasattr(ws, "_pack_message") and hasattr(ws, "_sendlock")
            and fd is not None and fd.gettimeout() == 0.0)


class _DirectFrames:
    """The replacement for `Server._send_eio_packet` (see `send_frames_directly`)."""

    def __init__(self, sio_server: Any) -> None:
        self.eio = sio_server.eio
        self.stock = sio_server._send_eio_packet  # the bound original: the queued way
        # Counts for /healthz and the tests: frames written here, frames of which the kernel took only a part,
        # and packets that went the queued way.
        self.direct = 0
        self.partial = 0
        self.queued = 0
        self.dropped = 0  # phones hung up because too much waited for them
        self.max_queued = MAX_QUEUED
        self._pkt: Any = None
        self._frame = b""

    def __call__(self, eio_sid: str, pkt: Any) -> None:
        s = self.eio.sockets.get(eio_sid)
        ws = getattr(s, "direct_ws", None)
        if ws is None or s.closed or s.upgrading or not s.upgraded or s.queue.qsize() or ws.websocket_closed:
            return self._queue(eio_sid, pkt)
        if not s.check_ping_timeout():  # as engineio's Socket.send: a phone silent too long is closed, not sent to
            return None
        if pkt is not self._pkt:  # emit hands every recipient the same packet object
            self._pkt, self._frame = pkt, ws._pack_message(pkt.encode())
        frame = self._frame
        lock = ws._sendlock
        if not lock.acquire(blocking=False):
            return self._queue(eio_sid, pkt)
        try:
            sent = ws.socket.fd.send(frame)
        except BlockingIOError:
            sent = 0
        except OSError:
            sent = -1
        if sent == len(frame):
            lock.release()
            self.direct += 1
            return None
        if sent <= 0:  # nothing written: the queued way (the writer will find a closed socket, or wait)
            lock.release()
            return self._queue(eio_sid, pkt)
        import eventlet

        eventlet.spawn_n(_finish, ws, lock, frame[sent:])
        self.direct += 1
        self.partial += 1
        return None

    def _queue(self, eio_sid: str, pkt: Any) -> None:
        """The stock way: engineio's per-phone queue and writer; a phone with `max_queued` packets waiting already
        is hung up instead (it stopped reading: the queue would grow for as long as the sitting lasts)."""
        s = self.eio.sockets.get(eio_sid)
        ws = getattr(s, "direct_ws", None)
        if ws is not None and s.queue.qsize() >= self.max_queued:
            self.dropped += 1
            s.direct_ws = None  # hung up once; what follows goes the stock way until engineio has closed it
            _hang_up(ws, f"{self.max_queued} packets waiting")
            return
        self.queued += 1
        self.stock(eio_sid, pkt)


def _finish(ws: Any, lock: Any, rest: bytes) -> None:
    """The rest of a frame the kernel took only part of, still under the send lock taken for it."""
    try:
        ws.socket.sendall(rest)
    except OSError as exc:  # the phone is gone; its reader will see the close
        log.debug("direct frame: %s", exc)
    finally:
        lock.release()
