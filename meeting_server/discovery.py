"""Announce the meeting server on the local network with mDNS/DNS-SD (zeroconf).

Phones and laptops that browse `_http._tcp` (`_https._tcp` when the server serves HTTPS) see the room by its
Vietnamese name, and `meeting-<host>.local` resolves to the mini-PC; over HTTPS the TXT record's `name` is the name
the certificate is for, the one to open (the `.local` name is not on the certificate). A server bound to loopback
advertises on loopback only, so tests never send a packet beyond this machine. Nothing here raises to the caller.
"""

from __future__ import annotations

import logging
import re
import socket
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from meeting_server.netaddr import LOOPBACK, is_loopback, is_wildcard

if TYPE_CHECKING:
    from zeroconf import ServiceInfo, Zeroconf

log = logging.getLogger(__name__)

SERVICE_TYPE = "_http._tcp.local."
#: What an HTTPS server (serve --tls-cert) advertises instead (RFC 6763 §7, the DNS-SD service type list).
HTTPS_SERVICE_TYPE = "_https._tcp.local."
MAX_LABEL_BYTES = 63  # RFC 6763 §4.1.1: an instance name is one DNS label


@dataclass(frozen=True)
class AdvertiseStatus:
    """What the advertiser is doing now, in words for the admin page and `doctor`."""

    ok: bool
    state: str  # advertised | no-network | failed | stopped | not-started
    name: str = ""  # full service name, after any "(2)" rename on a conflict
    host: str = ""  # e.g. meeting-minipc.local.
    address: str = ""
    interfaces: tuple[str, ...] = ()
    message_vi: str = ""
    message_en: str = ""


def instance_label(friendly_name: str) -> str:
    """The friendly name cut to one DNS label (63 UTF-8 bytes) without splitting a character."""
    text = unicodedata.normalize("NFC", " ".join(friendly_name.split())) or "Meeting server"
    # A dot inside an instance name is legal but many browsers split on it: keep names dot-free.
    text = text.replace(".", " ").strip()
    while len(text.encode("utf-8")) > MAX_LABEL_BYTES:
        text = text[:-1]
    return text.rstrip()


def host_label(configured: str | None = None, machine: str | None = None) -> str:
    """The `.local` host name: the configured one, else meeting-<this machine's hostname>."""
    if configured:
        raw = configured.strip().lower().removesuffix(".").removesuffix(".local")
    else:
        machine = (machine or socket.gethostname()).split(".")[0].lower()
        raw = machine if machine.startswith("meeting") else f"meeting-{machine}"
    ascii_only = unicodedata.normalize("NFKD", raw.replace("đ", "d")).encode("ascii", "ignore").decode()
    label = re.sub(r"[^a-z0-9-]+", "-", ascii_only).strip("-")[:MAX_LABEL_BYTES].strip("-")
    return f"{label or 'meeting-server'}.local."


def _package_version() -> str:
    try:
        from importlib.metadata import version

        return version("meeting-server")
    except Exception:  # running from a source tree that was never pip-installed
        return "0"


def service_type(https: bool) -> str:
    """The DNS-SD type a server advertises: `_https._tcp` when it serves HTTPS, else `_http._tcp`."""
    return HTTPS_SERVICE_TYPE if https else SERVICE_TYPE


def _check_local_address(address: str) -> None:
    """Raise OSError unless `address` belongs to this machine.

    Zeroconf's constructor leaks its port-5353 socket when an interface address is wrong, so the
    address is tried on a throw-away socket first.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((address, 0))


@dataclass
class Advertiser:
    """Registers one `_http._tcp` service (`_https._tcp` with `https`); `start`, `update_address` and `stop` never
    raise.

    `start()` blocks about 1.7 s while zeroconf probes for name conflicts; under eventlet call it
    from `socketio.start_background_task`.
    """

    name: str
    port: int
    host_addr: str
    bind_host: str = "0.0.0.0"
    hostname: str | None = None
    version: str | None = None
    path: str = "/"
    no_network: bool = False
    https: bool = False
    public_name: str | None = None  # the certificate's name (serve --public-name), in the TXT record as `name`
    _zc: Zeroconf | None = field(default=None, init=False, repr=False)
    _info: ServiceInfo | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    status: AdvertiseStatus = field(default_factory=lambda: AdvertiseStatus(False, "not-started"), init=False)

    def _plan(self) -> tuple[str, list[str], bool]:
        """Address to announce, interfaces to use, and whether the network is missing."""
        if is_loopback(self.bind_host):
            return LOOPBACK, [LOOPBACK], False
        if not is_wildcard(self.bind_host):
            return self.bind_host, [self.bind_host], False
        if self.no_network or is_loopback(self.host_addr):
            # Still announce on loopback so a local browser or `doctor` can see the server.
            return LOOPBACK, [LOOPBACK], True
        return self.host_addr, [self.host_addr], False

    def start(self) -> AdvertiseStatus:
        """Register the service and return the status (failed, never an exception)."""
        with self._lock:
            self.status = self._start_locked()
            return self.status

    def _start_locked(self) -> AdvertiseStatus:
        from zeroconf import IPVersion, ServiceInfo, Zeroconf

        address, interfaces, no_network = self._plan()
        host = host_label(self.hostname)
        label = instance_label(self.name)
        kind = service_type(self.https)
        full_name = f"{label}.{kind}"
        zc = None
        try:
            for interface in interfaces:
                _check_local_address(interface)
            zc = Zeroconf(interfaces=interfaces, ip_version=IPVersion.V4Only)
            properties = {"path": self.path, "version": self.version or _package_version()}
            if self.public_name:
                properties["name"] = self.public_name
            info = ServiceInfo(
                kind,
                full_name,
                port=self.port,
                properties=properties,
                server=host,
                addresses=[socket.inet_aton(address)],
            )
            # Two mini-PCs on one network: the second becomes "Name (2)" instead of failing.
            zc.register_service(info, allow_name_change=True)
        except Exception as exc:
            log.warning("mDNS advertisement failed on %s: %s", interfaces, exc)
            if zc is not None:
                try:
                    zc.close()
                except Exception:
                    pass
            return AdvertiseStatus(
                False,
                "failed",
                full_name,
                host,
                address,
                tuple(interfaces),
                f"Không quảng bá được tên mạng (mDNS) trên {', '.join(interfaces)}: {exc}",
                f"Could not advertise via mDNS on {', '.join(interfaces)}: {exc}",
            )
        self._zc, self._info = zc, info
        log.info("advertising %s at %s:%s as %s", info.name, address, self.port, host)
        if no_network:
            return AdvertiseStatus(
                True,
                "no-network",
                info.name,
                host,
                address,
                tuple(interfaces),
                "Không có mạng: chỉ quảng bá trên máy này (127.0.0.1); điện thoại chưa kết nối được.",
                "No network: advertised on this machine only (127.0.0.1); phones cannot connect yet.",
            )
        return AdvertiseStatus(
            True,
            "advertised",
            info.name,
            host,
            address,
            tuple(interfaces),
            f"Đã quảng bá “{label}” tại {host.rstrip('.')} ({address}:{self.port}).",
            f"Advertised “{label}” as {host.rstrip('.')} ({address}:{self.port}).",
        )

    def _stop_locked(self) -> None:
        zc, info = self._zc, self._info
        self._zc = self._info = None
        if zc is None:
            return
        try:
            if info is not None:
                zc.unregister_service(info)  # sends the goodbye packets (TTL 0)
        except Exception as exc:
            log.warning("mDNS withdrawal failed: %s", exc)
        try:
            zc.close()
        except Exception as exc:
            log.warning("closing zeroconf failed: %s", exc)

    def update_address(self, host_addr: str, no_network: bool = False) -> AdvertiseStatus:
        """Re-announce at a new address (after DHCP); a bound server keeps its address."""
        with self._lock:
            if host_addr == self.host_addr and no_network == self.no_network and self._zc is not None:
                return self.status
            self.host_addr, self.no_network = host_addr, no_network
            if not is_wildcard(self.bind_host) and self._zc is not None:
                return self.status
            self._stop_locked()
            self.status = self._start_locked()
            return self.status

    def stop(self) -> None:
        """Withdraw the service and close the sockets; safe to call twice."""
        with self._lock:
            self._stop_locked()
            self.status = replace(
                self.status,
                ok=False,
                state="stopped",
                message_vi="Đã ngừng quảng bá.",
                message_en="Advertisement withdrawn.",
            )


def browse(
    interfaces: Sequence[str] = (LOOPBACK,),
    timeout: float = 3.0,
    service_type: str = SERVICE_TYPE,
    until_name: str | None = None,
) -> dict[str, dict[str, object]]:
    """Services of a type seen within `timeout` seconds: name → {port, addresses, server, properties}.

    Returns early once `until_name` is seen. Used by `doctor` to check that the advertisement can be
    heard; not for use under eventlet (zeroconf's blocking lookups refuse to run there).
    """
    from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

    found: dict[str, dict[str, object]] = {}
    names: set[str] = set()
    wanted = threading.Event()

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change is ServiceStateChange.Removed:
            names.discard(name)
        else:
            names.add(name)
            if until_name is not None and name.lower() == until_name.lower():
                wanted.set()

    zc = Zeroconf(interfaces=list(interfaces), ip_version=IPVersion.V4Only)
    try:
        browser = ServiceBrowser(zc, service_type, handlers=[on_change])
        wanted.wait(timeout)
        browser.cancel()
        for name in sorted(names):
            info = zc.get_service_info(service_type, name, timeout=1000)
            if info is None:
                continue
            found[name] = {
                "port": info.port,
                "addresses": info.parsed_addresses(),
                "server": info.server,
                "properties": {
                    k.decode(): (v.decode() if v is not None else None) for k, v in info.properties.items()
                },
            }
    finally:
        zc.close()
    return found


__all__ = ["HTTPS_SERVICE_TYPE", "SERVICE_TYPE", "AdvertiseStatus", "Advertiser", "browse", "host_label",
           "instance_label", "service_type"]
