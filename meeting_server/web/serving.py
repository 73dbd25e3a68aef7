"""How the server's HTTP connections are set up: eventlet's protocol with TCP_NODELAY and a lighter header parser.

The appliance start-up (the banner, the address for phones, mDNS) is in `meeting_server/appliance.py`.
"""

from __future__ import annotations

import email.parser
import http.client
import http.server
import logging
import re
import resource
import socket
import types
from typing import Any

log = logging.getLogger(__name__)

#: Bytes read per trip when an unread request body is dropped (eventlet's own: 16 kB).
DISCARD_CHUNK = 1024 * 1024


def http_protocol() -> Any:
    """eventlet's HTTP handler with Nagle's algorithm off on every connection, and a lighter header parser.

    - TCP_NODELAY: eventlet writes a response's headers and body in separate sends; with Nagle on, the last part of
      a page image waits for the phone's delayed ACK (up to 40 ms on Linux) before it leaves, and a small Socket.IO
      frame can wait the same way behind the one before it. Measured with 50 clients on cached pages: p99 ~60 ms
      with Nagle, ~25 ms without.
    - `parse_request` is the standard library's own, with `parse_headers` below in place of the email-package
      parser, which was a fifth of the server's CPU per cached page (py-spy, 50 clients).
    - A body the app did not read (an upload refused by its size or its gate, web/limits.py, answered before its
      body is read) is read and dropped after the answer so that the connection can serve its next request;
      eventlet reads it 16 kB at a time, a trip through the hub each. `DISCARD_CHUNK` at a time costs the loop
      less per MB (scripts/bench/room_loop.py inflight: twelve 1.8 MB /verify uploads, ten refused busy).
    Passed to `socketio.run(..., protocol=...)`, which hands it to `eventlet.wsgi.server`.
    """
    import eventlet.wsgi

    class LargeDiscardInput(eventlet.wsgi.Input):
        def discard(self, buffer_size: int = DISCARD_CHUNK) -> None:
            super().discard(buffer_size)

    class NoDelayHttpProtocol(eventlet.wsgi.HttpProtocol):
        parse_request = _stdlib_parse_request(parse_headers)

        def get_environ(self) -> dict[str, Any]:
            env: dict[str, Any] = super().get_environ()
            env["eventlet.input"].__class__ = LargeDiscardInput  # the same object: only `discard` differs
            return env

        def setup(self) -> None:
            super().setup()
            try:
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass  # not a TCP socket

    return NoDelayHttpProtocol


#: http.client's limits on a header block, kept (it refuses a longer line or more lines the same way).
_MAXLINE = 65536
_MAXHEADERS = 100
#: A header name as RFC 9110 defines it (a token). Anything else is left to the email parser.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def parse_headers(fp: Any, _class: type = http.client.HTTPMessage) -> http.client.HTTPMessage:
    """`http.client.parse_headers` for the requests phones send: the same message, built without the email parser.

    Reads the header block with http.client's limits, then stores each `Name: value` line as the email parser's
    compat32 policy does (value without leading blanks and line end). A block this does not know line by line
    (a folded continuation line, a line without a colon, a name that is not a token) goes to the email parser whole,
    so that every odd request gets exactly the stock answer.
    """
    lines: list[bytes] = []
    while True:
        line = fp.readline(_MAXLINE + 1)
        if len(line) > _MAXLINE:
            raise http.client.LineTooLong("header line")
        lines.append(line)
        if len(lines) > _MAXHEADERS:  # the blank line counts, as in http.client
            raise http.client.HTTPException(f"got more than {_MAXHEADERS} headers")
        if line in (b"\r\n", b"\n", b""):
            lines.pop()
            break
    msg = _class()
    for raw in lines:
        name, colon, value = raw.decode("iso-8859-1").partition(":")
        if not colon or not _TOKEN.fullmatch(name):
            text = b"".join(lines).decode("iso-8859-1")
            return email.parser.Parser(_class=_class).parsestr(text)
        msg.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
    return msg


def _stdlib_parse_request(headers_parser: Any) -> Any:
    """`http.server.BaseHTTPRequestHandler.parse_request`, unchanged, but calling `headers_parser` where it calls
    `http.client.parse_headers` (its request-line checks, limits, errors and Expect handling stay the stdlib's)."""
    base = http.server.BaseHTTPRequestHandler.parse_request

    class Client:
        parse_headers = staticmethod(headers_parser)

        def __getattr__(self, name: str) -> Any:
            return getattr(http.client, name)

    class Http:
        client = Client()

        def __getattr__(self, name: str) -> Any:
            return getattr(http, name)

    return types.FunctionType(base.__code__, dict(base.__globals__, http=Http()), base.__name__,
                              base.__defaults__, base.__closure__)


#: Connections the kernel completes and holds for the server before it accepts them. eventlet's default (50) is
#: far below a room: after a restart every phone tries again within a second or two, and a connection past the
#: queue is dropped and tried again by the phone's kernel only a second later (SYN retransmission).
LISTEN_BACKLOG = 1024


def listen(host: str, port: int) -> Any:
    """The server's listening socket (green), taken first thing at start.

    Bound before the application is imported and built: a phone that tries again while the server starts (after a
    restart, every phone at once) is connected and waits in the kernel's queue for its answer instead of being
    refused and waiting out its own backoff. Nothing is accepted before `serve`, so nothing is served before
    start-up ends (the polls' countdowns re-armed, interrupted signings recovered)."""
    import eventlet
    import eventlet.green.socket

    addresses = eventlet.green.socket.getaddrinfo(host, port)
    if not addresses:
        raise OSError(f"cannot resolve {host}")
    return eventlet.listen(addresses[0][4], addresses[0][0], backlog=LISTEN_BACKLOG)


def serve(sock: Any, app: Any, ssl_args: dict[str, Any]) -> None:
    """Serve `app` on the socket from `listen` as Flask-SocketIO's `socketio.run` does under eventlet (the socket
    wrapped by `eventlet.wrap_ssl` with `ssl_args` for HTTPS; each connection's TLS handshake then runs in that
    connection's own green thread, not in the accept loop), with `http_protocol`'s handler."""
    import eventlet
    import eventlet.wsgi

    if ssl_args:
        sock = eventlet.wrap_ssl(sock, server_side=True, **ssl_args)
    limit = connection_limit()
    log.info("serving at most %d connections at once (descriptor limit %d)", limit,
             resource.getrlimit(resource.RLIMIT_NOFILE)[0])
    eventlet.wsgi.server(sock, app, log_output=False, protocol=http_protocol(), custom_pool=_connection_pool(limit))


#: Descriptors kept back from the connections for the rest of the process: the database's (SQLite's file, its WAL
#: and shared memory, per pooled connection; or PostgreSQL's sockets), the render and minutes workers' pipes, Redis,
#: the log, the mDNS sockets, a page image's file while it is sent. An idle server holds 27.
SPARE_DESCRIPTORS = 256
#: Never more than this many descriptors asked for, whatever the hard limit says (it may be a million).
MAX_DESCRIPTORS = 65536


def connection_limit() -> int:
    """How many connections (a phone's WebSocket, an HTTP request) this process serves at once: its descriptor limit,
    raised first from the soft limit to the hard one, less `SPARE_DESCRIPTORS`.

    Each connection holds one green thread of eventlet's WSGI server and one descriptor, and a WebSocket holds both
    for as long as the phone stays. Left to itself eventlet serves 1024 connections at once (`max_size`): the
    1,025th phone, and every HTTP request after it (page images, /healthz), waited in the kernel's queue until some
    phone left (scripts/bench/scale_out.py at 1,500 phones on one process; tests/web/test_many_connections.py).
    Past the descriptor limit instead, connections are cut: with a soft limit of 1024 the 996th WebSocket and every
    request after it were reset (measured). So the soft limit is raised and the pool sized to fill before the
    descriptors run out: a connection past it waits in the kernel's queue (`LISTEN_BACKLOG`) until one ends.
    Raising the soft limit to the hard one is what a program that needs many descriptors is expected to do itself
    (systemd leaves the soft limit at 1024 unless the unit says otherwise; deploy/meeting-server.service sets 8192)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_DESCRIPTORS if hard == resource.RLIM_INFINITY else min(hard, MAX_DESCRIPTORS)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):  # a container may refuse it: serve what the soft limit allows
            log.warning("could not raise the descriptor limit from %d to %d", soft, wanted)
    if soft == resource.RLIM_INFINITY:
        soft = MAX_DESCRIPTORS
    limit = max(64, soft - SPARE_DESCRIPTORS)
    if limit < 1000:
        log.warning("the descriptor limit (%d) lets this process serve only %d phones and requests at once; raise "
                    "it (LimitNOFILE= in the systemd unit, ulimit -n)", soft, limit)
    return limit


def _connection_pool(size: int) -> Any:
    """eventlet's pool of connection green threads, of `size`, saying in the log when it is full (a connection then
    waits in the kernel's queue until one ends), at most once a minute."""
    import time

    import eventlet

    class Connections(eventlet.GreenPool):
        said = 0.0

        def spawn(self, *args: Any, **kwargs: Any) -> Any:
            if self.free() == 0 and time.monotonic() - self.said > 60:
                self.said = time.monotonic()
                log.warning("%d connections open, the most this process serves at once: new ones wait until "
                            "one ends (serving.connection_limit)", size)
            return super().spawn(*args, **kwargs)

    return Connections(size)
