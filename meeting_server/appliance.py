"""The appliance start-up of `serve`: the address phones use, the start-up banner, mDNS and following the address.

Start-up wiring that sits above the skins (it uses the network, the services and the realtime broadcasts), called by
`cli.py serve`; web/serving.py keeps eventlet's HTTP protocol.
"""

from __future__ import annotations

import logging
from pathlib import Path

from flask import Flask

from meeting_server import __version__, discovery, netaddr
from meeting_server.documents import qr
from meeting_server.extensions import socketio
from meeting_server.realtime.announce import announce
from meeting_server.services import links
from meeting_server.store import db

log = logging.getLogger(__name__)


def choose_public_base(host: str, port: int, https: bool = False) -> tuple[str, str]:
    """The base URL phones should use and why (bound host, pinned, default route, Wi-Fi, or no network)."""
    choice = netaddr.current_choice(host, netaddr.pinned_from_env())
    return netaddr.base_url(choice.address, port, "https" if https else "http"), netaddr.describe(choice)[0]


def start_redirect(host: str, port: int, target_base: str) -> str:
    """The plain-HTTP listener of an HTTPS server: every request is sent to the same path on `target_base`
    (tls.redirect_app). Runs as a green thread beside the server; a port it cannot take (port 80 needs
    CAP_NET_BIND_SERVICE) is said in the banner and the server goes on with HTTPS alone."""
    import eventlet
    import eventlet.wsgi

    from meeting_server import tls

    try:
        sock = eventlet.listen((host if not netaddr.is_wildcard(host) else "0.0.0.0", port))
    except OSError as exc:
        log.warning("plain-HTTP redirect on port %s: %s", port, exc)
        return f"không mở được cổng HTTP {port} để chuyển hướng (cannot open plain-HTTP port {port}: {exc.strerror})"

    def run() -> None:
        eventlet.wsgi.server(sock, tls.redirect_app(target_base), log_output=False, socket_timeout=30)

    eventlet.spawn_n(run)
    return f"cổng HTTP {port} chuyển hướng sang {target_base} (plain HTTP on port {port} redirects)"


def start_appliance(app: Flask, host: str, port: int, room_name: str, follow_links: bool = True,
                    https: bool = False, public_name: str | None = None,
                    advertise_port: int | None = None) -> discovery.Advertiser | None:
    """Advertise on mDNS and follow address changes (DHCP): new QR codes and the projector follow.

    An HTTPS server advertises `_https._tcp` with its public name (the certificate's) in the TXT record.

    Both run as green threads; bound to loopback (every test) the advertisement stays on 127.0.0.1. With a name or
    URL given by hand (`follow_links` False) the links keep it; only the mDNS record follows the address.
    `advertise_port`: behind a front (`--public-url http://front:8080`), the port phones use, not this process's.
    """
    if not app.config.get("DISCOVERY", True):
        return None
    initial = netaddr.current_choice(host, netaddr.pinned_from_env())
    adv = discovery.Advertiser(room_name, advertise_port or port, initial.address, bind_host=host, version=__version__,
                               no_network=initial.no_network, https=https, public_name=public_name)

    def advertise() -> None:
        status = adv.start()
        log.info("mDNS: %s", status.message_en)

    def on_change(choice: netaddr.AddressChoice) -> None:
        log.info("address changed to %s (%s)", choice.address, choice.reason)
        adv.update_address(choice.address, choice.no_network)
        if not follow_links:
            return
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
