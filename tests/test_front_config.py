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
                 "option httpchk GET /healthz", "on-marked-down shutdown-sessions", "option forwardfor",
                 "server s1 127.0.0.1:8081 check", "server s2 10.0.0.3:8080 check", "server s3 [::1]:8083 check"):
        assert line in text, line
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
