"""The address that phones, QR codes and the projector should use to reach this mini-PC.

`list_interfaces` and `default_route_interface` read the machine; `choose` is pure and decides.
`AddressWatcher` re-checks now and then so that a DHCP change moves the QR codes along.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"

# An interface name or an IPv4 address that overrides the automatic choice (for instance the
# hotspot's wlan0 when the Ethernet port faces an office network the phones cannot reach).
PIN_ENV = "MEETING_SERVER_ADDRESS"

# Virtual interfaces whose addresses no phone in the room can reach: container bridges and veth
# pairs, VM host-only networks and VPN tunnels. "br-" (Docker's per-network bridges) is listed but
# not "br0", which on a mini-PC is more likely a real LAN bridge.
IGNORED_PREFIXES = (
    "lo",
    "docker",
    "veth",
    "br-",
    "virbr",
    "vboxnet",
    "vmnet",
    "podman",
    "cni",
    "flannel",
    "cali",
    "tailscale",
    "zt",
    "wg",
    "tun",
    "tap",
    "ifb",
    "dummy",
)
WIFI_PREFIXES = ("wl",)
WIRED_PREFIXES = ("en", "eth")
WILDCARD_HOSTS = ("", "0.0.0.0", "::", "*")


@dataclass(frozen=True)
class Iface:
    """One network interface with its IPv4 addresses, as the machine reports it."""

    name: str
    ipv4: tuple[str, ...]
    up: bool = True


@dataclass(frozen=True)
class AddressChoice:
    """The chosen address, the interface it belongs to and why it was chosen."""

    address: str
    iface: str | None
    reason: str  # bound | pinned-address | pinned-iface | default-route | wifi | other | no-network
    note: str = ""  # e.g. a pinned interface that had no address and was passed over

    @property
    def no_network(self) -> bool:
        """True when no usable interface exists and phones cannot reach the server."""
        return self.reason == "no-network"


def is_wildcard(host: str | None) -> bool:
    """True for a bind host that means every interface (0.0.0.0, ::, empty)."""
    return host is None or host.strip() in WILDCARD_HOSTS


def is_loopback(host: str | None) -> bool:
    """True for 127.x.y.z, ::1 and localhost."""
    if host is None:
        return False
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip()).is_loopback
    except ValueError:
        return False


def _ipv4(text: str) -> ipaddress.IPv4Address | None:
    try:
        return ipaddress.IPv4Address(text.strip())
    except ValueError:
        return None


def usable_address(iface: Iface) -> str | None:
    """The first IPv4 address of an up, non-virtual interface that a phone could reach."""
    if not iface.up or iface.name.startswith(IGNORED_PREFIXES):
        return None
    for text in iface.ipv4:
        addr = _ipv4(text)
        # 169.254/16 is what an interface gives itself when DHCP failed: useless to phones.
        if addr is None or addr.is_loopback or addr.is_link_local or addr.is_unspecified:
            continue
        return str(addr)
    return None


def _rank(iface: Iface) -> tuple[int, str]:
    """Wired before anything else unknown, then by name, so the choice is stable."""
    return (0 if iface.name.startswith(WIRED_PREFIXES) else 1, iface.name)


def choose(
    ifaces: Iterable[Iface],
    default_route_iface: str | None,
    pinned: str | None = None,
    bind_host: str | None = None,
) -> AddressChoice:
    """Decide the address to publish: bound host, pin, default route, Wi-Fi, any other, loopback."""
    if bind_host is not None and not is_wildcard(bind_host):
        # A server bound to one address can be reached only there (127.0.0.1 in every test).
        host = "127.0.0.1" if bind_host.strip().lower() == "localhost" else bind_host.strip()
        return AddressChoice(host, None, "bound")
    ifaces = list(ifaces)
    by_name = {i.name: i for i in ifaces}
    note = ""
    if pinned and pinned.strip():
        pin = pinned.strip()
        if _ipv4(pin) is not None:
            owner = next((i.name for i in ifaces if pin in i.ipv4), None)
            return AddressChoice(
                pin, owner, "pinned-address", "" if owner else f"{pin} is on no interface now"
            )
        pinned_iface = by_name.get(pin)
        addr = usable_address(Iface(pin, pinned_iface.ipv4, pinned_iface.up)) if pinned_iface else None
        if addr:
            return AddressChoice(addr, pin, "pinned-iface")
        note = f"pinned interface {pin} has no usable address"
    if default_route_iface and default_route_iface in by_name:
        addr = usable_address(by_name[default_route_iface])
        if addr:
            return AddressChoice(addr, default_route_iface, "default-route", note)
    for iface in sorted(ifaces, key=lambda i: i.name):
        if iface.name.startswith(WIFI_PREFIXES):
            addr = usable_address(iface)
            if addr:
                return AddressChoice(addr, iface.name, "wifi", note)
    for iface in sorted(ifaces, key=_rank):
        addr = usable_address(iface)
        if addr:
            return AddressChoice(addr, iface.name, "other", note)
    return AddressChoice(LOOPBACK, None, "no-network", note)


def choose_address(
    ifaces: Iterable[Iface],
    default_route_iface: str | None,
    pinned: str | None = None,
    bind_host: str | None = None,
) -> str:
    """The address alone; see `choose` for the reason and the no-network flag."""
    return choose(ifaces, default_route_iface, pinned, bind_host).address


def base_url(address: str, port: int, scheme: str = "http") -> str:
    """The URL prefix for links and QR codes, e.g. http://192.168.1.20:8080."""
    default = {"http": 80, "https": 443}.get(scheme)
    host = f"[{address}]" if ":" in address else address
    return f"{scheme}://{host}" if port == default else f"{scheme}://{host}:{port}"


# --- boundary: read the machine -------------------------------------------------------------


def _operstate_up(name: str, sys_class_net: Path) -> bool:
    try:
        state = (sys_class_net / name / "operstate").read_text().strip()
    except OSError:
        return True  # no sysfs (not Linux, or a container without it): trust getifaddrs
    # "unknown" is what lo and many tun/ppp drivers report while working.
    return state in ("up", "unknown")


def list_interfaces(sys_class_net: Path = Path("/sys/class/net")) -> list[Iface]:
    """The machine's interfaces with their IPv4 addresses (via ifaddr) and up state (via sysfs)."""
    import ifaddr  # zeroconf depends on it; imported here so the pure part needs nothing

    result = []
    for adapter in ifaddr.get_adapters():
        name = adapter.nice_name or adapter.name
        ipv4 = tuple(ip.ip for ip in adapter.ips if isinstance(ip.ip, str))
        result.append(Iface(name, ipv4, _operstate_up(name, sys_class_net)))
    return result


def default_route_interface(route_table: Path = Path("/proc/net/route")) -> str | None:
    """The interface of the IPv4 default route with the lowest metric, from /proc/net/route."""
    try:
        lines = route_table.read_text().splitlines()[1:]
    except OSError:
        return None
    best: tuple[int, str] | None = None
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        name, destination, flags, metric, mask = fields[0], fields[1], fields[3], fields[6], fields[7]
        try:
            up = int(flags, 16) & 0x1  # RTF_UP
            metric_value = int(metric)
        except ValueError:
            continue
        if destination == "00000000" and mask == "00000000" and up:
            if best is None or metric_value < best[0]:
                best = (metric_value, name)
    return best[1] if best else None


def pinned_from_env() -> str | None:
    """The pin from MEETING_SERVER_ADDRESS (interface name or IPv4 address), if set."""
    return os.environ.get(PIN_ENV) or None


def current_choice(bind_host: str | None = "0.0.0.0", pinned: str | None = None) -> AddressChoice:
    """Read the machine now and choose; never raises (falls back to loopback on errors)."""
    if not is_wildcard(bind_host):
        return choose([], None, None, bind_host)
    try:
        return choose(list_interfaces(), default_route_interface(), pinned, bind_host)
    except Exception as exc:  # a broken netlink must not stop the server from starting
        log.warning("could not list network interfaces: %s", exc)
        return AddressChoice(LOOPBACK, None, "no-network", f"interface listing failed: {exc}")


class AddressWatcher:
    """Calls `on_change(new_choice)` whenever the chosen address changes (DHCP renewals, cable moves).

    `run()` loops with `time.sleep`, which eventlet patches, so it can run as a green thread via
    `socketio.start_background_task(watcher.run)` or as a plain thread via `start_thread()`.
    """

    def __init__(
        self,
        on_change: Callable[[AddressChoice], None],
        interval: float = 10.0,
        probe: Callable[[], AddressChoice] | None = None,
        initial: AddressChoice | None = None,
    ) -> None:
        self.on_change = on_change
        self.interval = interval
        self.probe = probe or current_choice
        self.current = initial
        self._stopped = False
        self._thread: threading.Thread | None = None

    def check_once(self) -> AddressChoice:
        """Probe once and call on_change if the address differs from the last one seen."""
        choice = self.probe()
        previous = self.current
        self.current = choice
        if previous is not None and previous.address != choice.address:
            log.info("address changed from %s to %s (%s)", previous.address, choice.address, choice.reason)
            try:
                self.on_change(choice)
            except Exception:
                log.exception("address change callback failed")
        return choice

    def run(self) -> None:
        """Loop until stop(); a failing probe is logged and retried on the next round."""
        if self.current is None:
            self.current = self.probe()
        while not self._stopped:
            # Look time.sleep up at call time so eventlet's patched version is used.
            time.sleep(self.interval)
            if self._stopped:
                break
            try:
                self.check_once()
            except Exception:
                log.exception("address check failed")

    def start_thread(self) -> threading.Thread:
        """Run in a daemon thread (a green thread when eventlet has patched threading)."""
        self._thread = threading.Thread(target=self.run, name="address-watcher", daemon=True)
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        """Ask the loop to end after its current sleep."""
        self._stopped = True


def describe(choice: AddressChoice) -> tuple[str, str]:
    """Vietnamese and English one-line explanations of a choice, for doctor and the admin page."""
    where = f" ({choice.iface})" if choice.iface else ""
    texts = {
        "bound": ("máy chủ chỉ nghe trên địa chỉ này", "the server listens on this address only"),
        "pinned-address": ("địa chỉ được cố định trong cấu hình", "address pinned in the settings"),
        "pinned-iface": ("card mạng được cố định trong cấu hình", "interface pinned in the settings"),
        "default-route": ("card mạng có tuyến mặc định", "interface of the default route"),
        "wifi": ("card Wi-Fi", "Wi-Fi interface"),
        "other": ("card mạng đang hoạt động", "an active interface"),
        "no-network": ("không có mạng: điện thoại không kết nối được", "no network: phones cannot connect"),
    }
    vi, en = texts.get(choice.reason, (choice.reason, choice.reason))
    note = f"; {choice.note}" if choice.note else ""
    return f"{choice.address}{where}: {vi}{note}", f"{choice.address}{where}: {en}{note}"


__all__ = [
    "AddressChoice",
    "AddressWatcher",
    "Iface",
    "PIN_ENV",
    "base_url",
    "choose",
    "choose_address",
    "current_choice",
    "default_route_interface",
    "describe",
    "is_loopback",
    "is_wildcard",
    "list_interfaces",
    "pinned_from_env",
]
