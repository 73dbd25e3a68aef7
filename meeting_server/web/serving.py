"""What `serve` prints, the address it puts in QR codes, and how its HTTP connections are set up."""

from __future__ import annotations

import email.parser
import http.client
import http.server
import logging
import re
import socket
import types
from pathlib import Path
from typing import Any

from flask import Flask

from meeting_server import __version__, discovery, netaddr
from meeting_server.documents import qr

log = logging.getLogger(__name__)


def choose_public_base(host: str, port: int) -> tuple[str, str]:
    """The base URL phones should use and why (bound host, pinned, default route, Wi-Fi, or no network)."""
    choice = netaddr.current_choice(host, netaddr.pinned_from_env())
    return netaddr.base_url(choice.address, port), netaddr.describe(choice)[0]


def start_appliance(app: Flask, host: str, port: int, room_name: str) -> discovery.Advertiser | None:
    """Advertise on mDNS and follow address changes (DHCP): new QR codes and the projector follow.

    Both run as green threads; bound to loopback (every test) the advertisement stays on 127.0.0.1.
    """
    from meeting_server.app import socketio
    from meeting_server.realtime.announce import announce
    from meeting_server.services import links
    from meeting_server.store import db

    if not app.config.get("DISCOVERY", True):
        return None
    initial = netaddr.current_choice(host, netaddr.pinned_from_env())
    adv = discovery.Advertiser(room_name, port, initial.address, bind_host=host, version=__version__,
                               no_network=initial.no_network)

    def advertise() -> None:
        status = adv.start()
        log.info("mDNS: %s", status.message_en)

    def on_change(choice: netaddr.AddressChoice) -> None:
        log.info("address changed to %s (%s)", choice.address, choice.reason)
        adv.update_address(choice.address, choice.no_network)
        with app.app_context(), db.standalone_session(app) as s:
            announce(links.follow_address(s, netaddr.base_url(choice.address, port)))

    socketio.start_background_task(advertise)
    if netaddr.is_wildcard(host):
        watcher = netaddr.AddressWatcher(on_change, interval=10.0, initial=initial)
        socketio.start_background_task(watcher.run)
    return adv


def banner(base: str, why: str, clerk_url: str | None, data_dir: Path) -> str:
    """The short start-up banner: address, a QR for the clerk's phone, the clerk link, the data directory."""
    lines = [
        "",
        "  meeting-server — Phòng họp không giấy HĐND",
        f"  Địa chỉ cho điện thoại (address for phones): {base}",
        f"  ({why})",
        f"  Dữ liệu (data directory): {data_dir}",
    ]
    if clerk_url:
        lines += [f"  Trang văn phòng (clerk console): {clerk_url}",
                  "  Quét mã này bằng điện thoại của văn phòng (scan with the clerk's phone):", "",
                  qr.terminal(clerk_url), ""]
    return "\n".join(lines)


def http_protocol() -> Any:
    """eventlet's HTTP handler with Nagle's algorithm off on every connection, and a lighter header parser.

    - TCP_NODELAY: eventlet writes a response's headers and body in separate sends; with Nagle on, the last part of
      a page image waits for the phone's delayed ACK (up to 40 ms on Linux) before it leaves, and a small Socket.IO
      frame can wait the same way behind the one before it. Measured with 50 clients on cached pages: p99 ~60 ms
      with Nagle, ~25 ms without.
    - `parse_request` is the standard library's own, with `parse_headers` below in place of the email-package
      parser, which was a fifth of the server's CPU per cached page (py-spy, 50 clients).
    Passed to `socketio.run(..., protocol=...)`, which hands it to `eventlet.wsgi.server`.
    """
    import eventlet.wsgi

    class NoDelayHttpProtocol(eventlet.wsgi.HttpProtocol):  # type: ignore[misc]
        parse_request = _stdlib_parse_request(parse_headers)

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
            return email.parser.Parser(_class=_class).parsestr(text)  # type: ignore[return-value]
        msg.set_raw(name, value.lstrip(" \t").rstrip("\r\n"))
    return msg  # type: ignore[no-any-return]


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
