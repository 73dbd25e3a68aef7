"""The address printed in QR codes for several interface layouts a mini-PC can have."""

import threading
import time
from pathlib import Path

import pytest

from meeting_server.netaddr import (
    AddressChoice,
    AddressWatcher,
    Iface,
    base_url,
    choose,
    choose_address,
    current_choice,
    default_route_interface,
    list_interfaces,
)

LO = Iface("lo", ("127.0.0.1",))
ETH = Iface("enp1s0", ("192.168.1.20",))
WIFI = Iface("wlp2s0", ("10.42.0.1",))
DOCKER = [
    Iface("docker0", ("172.17.0.1",)),
    Iface("br-3f2a9c", ("172.18.0.1",)),
    Iface("veth12ab", ("169.254.3.3",)),
    Iface("virbr0", ("192.168.122.1",)),
]


def test_ethernet_with_default_route_wins_over_wifi() -> None:
    choice = choose([LO, WIFI, ETH], "enp1s0")
    assert (choice.address, choice.iface, choice.reason) == ("192.168.1.20", "enp1s0", "default-route")
    assert not choice.no_network


def test_default_route_on_wifi_is_followed() -> None:
    assert choose([LO, ETH, WIFI], "wlp2s0").address == "10.42.0.1"


def test_wifi_only_without_default_route_is_used() -> None:
    # An offline hotspot: NetworkManager gives wlan0 10.42.0.1 and there is no gateway.
    choice = choose([LO, WIFI], None)
    assert (choice.address, choice.reason) == ("10.42.0.1", "wifi")


def test_wifi_is_preferred_to_other_interfaces_without_default_route() -> None:
    assert choose([LO, ETH, WIFI], None).address == "10.42.0.1"


def test_container_bridges_and_veths_are_ignored() -> None:
    assert choose([LO, *DOCKER, ETH], None).address == "192.168.1.20"
    # Even when a bridge carries the default route (a badly set up VM), phones cannot reach it.
    assert choose([LO, *DOCKER, ETH], "docker0").address == "192.168.1.20"


def test_link_local_address_is_ignored() -> None:
    # DHCP failed on eth0: it has only 169.254.x.y; the Wi-Fi address is the one to publish.
    eth = Iface("eth0", ("169.254.10.20",))
    assert choose([LO, eth, WIFI], "eth0").address == "10.42.0.1"
    assert choose([LO, eth], "eth0").reason == "no-network"


def test_link_local_first_then_real_address_on_one_interface() -> None:
    assert choose([Iface("eth0", ("169.254.1.1", "192.168.5.9"))], None).address == "192.168.5.9"


def test_down_interface_is_skipped() -> None:
    assert choose([LO, Iface("eth0", ("192.168.1.20",), up=False), WIFI], "eth0").address == "10.42.0.1"


def test_pinned_interface_overrides_default_route() -> None:
    choice = choose([LO, ETH, WIFI], "enp1s0", pinned="wlp2s0")
    assert (choice.address, choice.reason) == ("10.42.0.1", "pinned-iface")


def test_pinned_interface_without_address_falls_back_and_says_so() -> None:
    choice = choose([LO, ETH], "enp1s0", pinned="wlan0")
    assert choice.address == "192.168.1.20"
    assert "wlan0" in choice.note


def test_pinned_address_is_used_as_is() -> None:
    choice = choose([LO, ETH], "enp1s0", pinned="192.168.1.20")
    assert (choice.address, choice.iface, choice.reason) == ("192.168.1.20", "enp1s0", "pinned-address")
    absent = choose([LO, ETH], "enp1s0", pinned="10.0.0.5")
    assert absent.address == "10.0.0.5" and "no interface" in absent.note


def test_no_network_at_all_gives_loopback_and_flag() -> None:
    for layout in ([], [LO], [LO, *DOCKER]):
        choice = choose(layout, None)
        assert choice.address == "127.0.0.1"
        assert choice.no_network
    assert choose_address([LO], None) == "127.0.0.1"


def test_bound_host_is_the_address() -> None:
    assert choose([LO, ETH], "enp1s0", bind_host="127.0.0.1") == AddressChoice("127.0.0.1", None, "bound")
    assert choose_address([LO, ETH], "enp1s0", bind_host="localhost") == "127.0.0.1"
    assert choose_address([LO, ETH, WIFI], "enp1s0", bind_host="10.42.0.1") == "10.42.0.1"
    assert choose_address([LO, ETH], "enp1s0", bind_host="0.0.0.0") == "192.168.1.20"
    assert current_choice("127.0.0.1").address == "127.0.0.1"


def test_wired_interfaces_rank_before_unknown_names() -> None:
    assert choose([Iface("usb0", ("10.1.1.1",)), Iface("eth1", ("10.2.2.2",))], None).address == "10.2.2.2"


def test_base_url() -> None:
    assert base_url("192.168.1.20", 8080) == "http://192.168.1.20:8080"
    assert base_url("10.42.0.1", 80) == "http://10.42.0.1"


def test_default_route_is_read_from_proc_route_format(tmp_path: Path) -> None:
    table = tmp_path / "route"
    table.write_text(
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        "wlp2s0\t00000000\t0100A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0\n"
        "enp1s0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
        "enp1s0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
    )
    assert default_route_interface(table) == "enp1s0"
    (tmp_path / "empty").write_text("Iface\tDestination\n")
    assert default_route_interface(tmp_path / "empty") is None
    assert default_route_interface(tmp_path / "missing") is None


def test_this_machine_lists_loopback() -> None:
    names = {i.name: i for i in list_interfaces()}
    assert "127.0.0.1" in names["lo"].ipv4
    assert isinstance(current_choice("0.0.0.0").address, str)


def test_watcher_calls_back_when_address_changes() -> None:
    answers = iter(["192.168.1.20", "192.168.1.20", "192.168.1.77", "192.168.1.77"])
    seen: list[str] = []
    done = threading.Event()

    def probe() -> AddressChoice:
        try:
            return AddressChoice(next(answers), "eth0", "default-route")
        except StopIteration:
            done.set()
            return AddressChoice("192.168.1.77", "eth0", "default-route")

    watcher = AddressWatcher(lambda c: seen.append(c.address), interval=0.01, probe=probe)
    watcher.start_thread()
    assert done.wait(5)
    watcher.stop()
    assert seen == ["192.168.1.77"]


def test_watcher_survives_a_failing_probe_and_stops() -> None:
    calls = []

    def probe() -> AddressChoice:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("netlink busy")
        return AddressChoice("10.0.0.1", "eth0", "default-route")

    watcher = AddressWatcher(lambda c: None, interval=0.01, probe=probe)
    thread = watcher.start_thread()
    deadline = time.monotonic() + 5
    while len(calls) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    watcher.stop()
    thread.join(2)
    assert len(calls) >= 4 and not thread.is_alive()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_loopback_hosts(host: str) -> None:
    from meeting_server.netaddr import is_loopback

    assert is_loopback(host)
