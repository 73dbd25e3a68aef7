"""mDNS advertisement on loopback only: register, browse back, withdraw (no packet leaves the machine)."""

import threading
import time
import uuid

from zeroconf import IPVersion, ServiceBrowser, ServiceStateChange, Zeroconf

from meeting_server.discovery import SERVICE_TYPE, Advertiser, browse, host_label, instance_label


class Seen:
    """Collects browser events so the test can wait for one."""

    def __init__(self) -> None:
        self.events: list[tuple[str, ServiceStateChange]] = []
        self.changed = threading.Condition()

    def handler(
        self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange
    ) -> None:
        with self.changed:
            self.events.append((name, state_change))
            self.changed.notify_all()

    def wait_for(self, name: str, state: ServiceStateChange, timeout: float = 8.0) -> bool:
        deadline = time.monotonic() + timeout
        with self.changed:
            while (name, state) not in self.events:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.changed.wait(left)
        return True


def test_register_browse_and_withdraw_on_loopback() -> None:
    room = f"Phòng họp HĐND xã Tân Phú {uuid.uuid4().hex[:6]}"
    adv = Advertiser(
        room, 18080, host_addr="192.168.1.20", bind_host="127.0.0.1", hostname="meeting-test", version="1.2.3"
    )
    status = adv.start()
    try:
        assert status.ok and status.state == "advertised", status
        assert status.interfaces == ("127.0.0.1",) and status.address == "127.0.0.1"
        assert status.name == f"{room}.{SERVICE_TYPE}"
        assert status.host == "meeting-test.local."

        seen = Seen()
        zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
        try:
            browser = ServiceBrowser(zc, SERVICE_TYPE, handlers=[seen.handler])
            assert seen.wait_for(status.name, ServiceStateChange.Added)
            info = zc.get_service_info(SERVICE_TYPE, status.name, timeout=3000)
            assert info is not None
            assert info.port == 18080
            assert info.parsed_addresses() == ["127.0.0.1"]
            assert info.server == "meeting-test.local."
            assert info.properties == {b"path": b"/", b"version": b"1.2.3"}

            adv.stop()
            assert adv.status.state == "stopped"
            assert seen.wait_for(status.name, ServiceStateChange.Removed)
            browser.cancel()
        finally:
            zc.close()
    finally:
        adv.stop()  # a second stop is harmless


def test_no_network_still_starts_on_loopback_and_says_so() -> None:
    adv = Advertiser(f"Room {uuid.uuid4().hex[:6]}", 18081, host_addr="127.0.0.1", bind_host="0.0.0.0")
    try:
        status = adv.start()
        assert status.ok and status.state == "no-network"
        assert status.interfaces == ("127.0.0.1",)
        assert "Không có mạng" in status.message_vi and "No network" in status.message_en
        found = browse(["127.0.0.1"], timeout=8.0, until_name=status.name)
        assert found[status.name]["port"] == 18081
    finally:
        adv.stop()


def test_bad_interface_gives_failed_status_not_an_exception() -> None:
    # 203.0.113.0/24 (TEST-NET-3) is on no interface here, so zeroconf cannot bind to it.
    adv = Advertiser("Room", 18082, host_addr="203.0.113.77", bind_host="203.0.113.77")
    status = adv.start()
    adv.stop()
    assert not status.ok and status.state == "failed"
    assert "mDNS" in status.message_vi


def test_names_fit_dns_labels() -> None:
    long_name = "Phòng họp Hội đồng nhân dân xã Nghĩa Hưng Đông huyện Nghĩa Hưng tỉnh Nam Định"
    label = instance_label(long_name)
    assert len(label.encode()) <= 63 and long_name.startswith(label)
    assert instance_label("  P. Bến  Nghé ") == "P  Bến Nghé"
    assert host_label("Phòng-Họp Đông") == "phong-hop-dong.local."
    assert host_label(None, machine="minipc.lan") == "meeting-minipc.local."
    assert host_label(None, machine="meeting-hdnd") == "meeting-hdnd.local."


CHILD = """
import eventlet
eventlet.monkey_patch()
import json, select, sys, time
from meeting_server.discovery import Advertiser
from meeting_server.netaddr import AddressChoice, AddressWatcher

ticks = []
def ticker():
    while True:
        ticks.append(time.monotonic())
        time.sleep(0.05)  # patched: yields to the hub
eventlet.spawn(ticker)
watcher = AddressWatcher(lambda c: print(json.dumps({"changed": c.address}), flush=True), interval=0.05,
                         probe=lambda: AddressChoice("127.0.0.1", "lo", "bound"))
eventlet.spawn(watcher.run)
adv = Advertiser(sys.argv[1], 18083, "127.0.0.1", bind_host="127.0.0.1")
before = len(ticks)
status = adv.start()
print(json.dumps({"state": status.state, "name": status.name, "ticks_during_start": len(ticks) - before}),
      flush=True)
# Wait the way the server's hub does: green select yields, so zeroconf keeps answering.
# (A plain sys.stdin.readline() would block the whole hub and silence the advertisement.)
while not select.select([sys.stdin], [], [], 0.1)[0]:
    pass
adv.stop()
watcher.stop()
print(json.dumps({"state": adv.status.state}), flush=True)
"""


def test_advertiser_and_watcher_under_eventlet_monkey_patching() -> None:
    """The server process runs eventlet.monkey_patch(); zeroconf must keep answering there."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    room = f"Eventlet room {uuid.uuid4().hex[:6]}"
    with subprocess.Popen(
        [sys.executable, "-W", "ignore", "-c", CHILD, room],
        cwd=root,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            started = json.loads(child.stdout.readline())
            assert started["state"] == "advertised"
            # Registration probes for ~1.7 s; green threads must keep running meanwhile.
            assert started["ticks_during_start"] >= 10
            found = browse(["127.0.0.1"], timeout=8.0, until_name=started["name"])
            assert found[started["name"]]["port"] == 18083
            child.stdin.write("\n")
            child.stdin.flush()
            assert json.loads(child.stdout.readline()) == {"state": "stopped"}
            assert child.wait(10) == 0
        finally:
            child.kill()
