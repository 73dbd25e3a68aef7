"""The front's configuration (`meeting-server front-config`), checked by HAProxy itself; the phone's address behind
a trusted front; Redis's PING for doctor, against a real redis-server."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from meeting_server import front
from meeting_server.cli import main
from tests.realtime.scale_kit import free_port, start_redis


def test_front_config_is_valid_haproxy_with_what_the_room_needs(tmp_path: Path) -> None:
    out = tmp_path / "haproxy.cfg"
    res = CliRunner().invoke(main, ["front-config", "--backend", "127.0.0.1:8081", "--backend", "10.0.0.3:8080",
                                    "--backend", "http://[::1]:8083", "--port", "18080", "--out", str(out)])
    assert res.exit_code == 0, res.output
    text = out.read_text()
    exe = shutil.which("haproxy")
    assert exe, "haproxy is missing: scripts/test installs it (apt package haproxy)"
    check = subprocess.run([exe, "-c", "-f", str(out)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    for line in ("bind 0.0.0.0:18080", "balance source", "hash-type consistent", "timeout tunnel 1h",
                 "option httpchk GET /healthz", "http-check expect rstatus ^(200|503)$", "option forwardfor",
                 "maxconn 5000", "option redispatch 1", "server s1 127.0.0.1:8081 check",
                 "server s2 10.0.0.3:8080 check", "server s3 [::1]:8083 check"):
        assert line in text, line
    assert "shutdown-sessions" not in text  # a slow process taken out keeps its phones (meeting_server/front.py)
    bad = CliRunner().invoke(main, ["front-config", "--backend", "no-port"])
    assert bad.exit_code != 0 and "host:port" in bad.output


def _addr(environ: dict[str, Any]) -> str:
    seen: list[str] = []

    def app(env: dict[str, Any], start: Any) -> list[bytes]:
        seen.append(env["REMOTE_ADDR"])
        return []

    front.trusted_forwarding(app, ["127.0.0.1"])(environ, lambda *_a: None)
    return seen[0]


def test_the_phone_address_is_taken_from_the_trusted_front_only() -> None:
    xff = "HTTP_X_FORWARDED_FOR"
    assert _addr({"REMOTE_ADDR": "127.0.0.1", xff: "1.2.3.4, 10.1.2.3"}) == "10.1.2.3"  # the hop the front added
    assert _addr({"REMOTE_ADDR": "10.9.9.9", xff: "10.1.2.3"}) == "10.9.9.9"  # a phone cannot claim another address
    assert _addr({"REMOTE_ADDR": "127.0.0.1", xff: "not an address"}) == "127.0.0.1"
    assert _addr({"REMOTE_ADDR": "127.0.0.1"}) == "127.0.0.1"
    with pytest.raises(ValueError):
        front.trusted_forwarding(lambda *_a: [], ["front.local"])


def test_redis_ping(tmp_path: Path) -> None:
    proc, port = start_redis(tmp_path / "redis")
    try:
        assert front.redis_ping(f"redis://127.0.0.1:{port}/0") is None
    finally:
        proc.terminate()
        proc.wait(10)
    assert front.redis_ping(f"redis://127.0.0.1:{free_port()}/0") is not None  # nobody there
    assert front.redis_ping("http://127.0.0.1:6379") is not None



def _haproxy_info(exe: str, cfg: Path, sock: Path, nofile: int) -> tuple[dict[str, str], str]:
    """Start HAProxy on `cfg` under a descriptor limit of `nofile` (soft and hard) and read its `show info`;
    ({}, what it said) if it refused to start."""
    import resource
    import socket
    import time

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    proc = subprocess.Popen([exe, "-db", "-f", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            preexec_fn=limit)
    try:
        deadline = time.monotonic() + 20
        while not sock.exists():
            if proc.poll() is not None:
                return {}, proc.stdout.read().decode() if proc.stdout else ""
            assert time.monotonic() < deadline, "haproxy did not start"
            time.sleep(0.05)
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(sock))
            s.sendall(b"show info\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        return dict(line.split(": ", 1) for line in data.decode().splitlines() if ": " in line), ""
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)
        if proc.stdout:
            proc.stdout.close()


def test_the_front_takes_a_councils_phones_or_says_what_it_needs(tmp_path: Path) -> None:
    """front-config's maxconn (5,000; 1,500 phones measured through the front) is HAProxy's when its descriptor
    limit allows it, and HAProxy refuses to start, naming the limit it needs, when not. Left to HAProxy (the
    control), a limit of 1,024 descriptors quietly gives fewer connections than one council's phones."""
    exe = shutil.which("haproxy")
    assert exe, "haproxy is missing: scripts/test installs it (apt package haproxy)"
    backends = [front.Backend("127.0.0.1", free_port())]
    runs = {}
    for name, maxconn, nofile in (("ours", front.MAXCONN, 16384), ("ours, low limit", front.MAXCONN, 1024),
                                  ("left to haproxy, low limit", None, 1024)):
        sock, cfg = tmp_path / f"{len(runs)}.sock", tmp_path / f"{len(runs)}.cfg"
        cfg.write_text(front.haproxy_config(backends, free_port(), "127.0.0.1", maxconn=maxconn,
                                            stats_socket=str(sock)))
        runs[name] = _haproxy_info(exe, cfg, sock, nofile)
    assert int(runs["ours"][0]["Maxconn"]) == front.MAXCONN >= 1500, runs["ours"]
    info, said = runs["ours, low limit"]
    assert not info and "FD limit" in said and "1024" in said, said
    assert int(runs["left to haproxy, low limit"][0]["Maxconn"]) < 1500, runs["left to haproxy, low limit"]
