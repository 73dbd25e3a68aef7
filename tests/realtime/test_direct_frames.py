"""Broadcast frames written from the emitting green thread (realtime/transport.py `send_frames_directly`).

The sender replaces python-engineio's per-phone queue and writer only while nothing is waiting ahead of a frame, so
what must hold is what a phone sees: every frame whole, in the order sent, the same stream for a phone that stopped
reading as for one that reads, and nobody held up by the phone that stopped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.conftest import ROOT, LiveServer
from tests.realtime.helpers import Screen

SCRIPT = Path(__file__).with_name("direct_frames_script.py")


def run_script(*args: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONWARNINGS="ignore")
    out = subprocess.run([sys.executable, str(SCRIPT), *args], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def test_a_phone_that_stops_reading_holds_up_nobody_and_later_gets_every_frame_whole_and_in_order() -> None:
    r = run_script()
    assert r["installed"] is True
    presented = [json.loads(m[2:])[1]["seq"] for m in r["healthy"] if m.startswith("42")]
    assert presented == list(range(1, 301))
    assert r["healthy"].count("2") == 6  # engineio's pings, queued the stock way, kept in their place
    # The reading phone had all 300 before the stalled one read a byte; by then the stalled one's were waiting in
    # its queue, behind a frame the kernel had taken only part of.
    assert r["healthy_before_stalled_read"] == 300
    assert r["stalled_queue_while_stalled"] > 250
    assert r["partial"] >= 1
    # What the stalled phone finally read is byte for byte the reading phone's stream.
    assert r["stalled"] == r["healthy"]
    assert r["direct"] >= 300 and r["queued"] >= 250
    assert r["dropped"] == 0


def test_a_phone_that_stops_reading_for_too_long_is_hung_up_and_holds_up_nobody() -> None:
    """With the limit lowered to 100 packets waiting (realtime/transport.py MAX_QUEUED, 1024 in the server): the
    phone that stopped reading is hung up once 100 wait for it, its engineio connection ends (a real phone would
    reconnect and get a fresh `state`), and the reading phone still gets all 300 in order."""
    r = run_script("100")
    presented = [json.loads(m[2:])[1]["seq"] for m in r["healthy"] if m.startswith("42")]
    assert presented == list(range(1, 301))
    assert r["dropped"] == 1 and r["stalled_still_known"] is False
    # What it read before the hang-up is the head of the reading phone's stream, whole frames only.
    assert r["stalled"] == r["healthy"][: len(r["stalled"])] and len(r["stalled"]) < len(r["healthy"])


def _frames(srv: LiveServer) -> dict[str, int]:
    return requests.get(srv.url + "/healthz", timeout=10).json()["websocket_frames"]  # type: ignore[no-any-return]


def test_the_live_server_writes_page_turns_directly(live_server: LiveServer) -> None:
    """Through eventlet's real WSGI server and WebSocket handshake, page turns go out the direct way."""
    delegates = [d for d in live_server.links["delegates"] if d["role"] == "delegate"][:3]
    chair = Screen(live_server.url, live_server.token(live_server.links["chair"][0]))
    phones = [Screen(live_server.url, live_server.token(d["url"])) for d in delegates]
    try:
        for s in (chair, *phones):
            s.wait("state")
        clerk = live_server.bearer(live_server.links["clerk"])
        docs = requests.get(f"{live_server.url}/api/v1/meetings/1/documents", headers=clerk,
                            timeout=10).json()["documents"]
        deadline = time.monotonic() + 60  # the demo's documents are still being read when the server starts
        while requests.get(f"{live_server.url}/api/v1/documents/{docs[0]['id']}", headers=clerk,
                           timeout=10).json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
        before = _frames(live_server)
        seqs = []
        for page in (1, 2, 1, 2, 1):
            ack = chair.call("present", {"document_id": docs[0]["id"], "page": page})
            assert ack["ok"], ack
            seqs.append(ack["seq"])
        for phone in phones:
            got = [phone.wait("presented", lambda e, q=q: e["seq"] == q)["page"] for q in seqs]
            assert got == [1, 2, 1, 2, 1]
        after = _frames(live_server)
        assert after["direct"] - before["direct"] >= 5 * 4  # five turns to the chair and three phones
    finally:
        for s in (chair, *phones):
            s.close()
