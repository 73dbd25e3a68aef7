"""Durability: acknowledged ballots survive SIGKILL; the countdown holds without its timer; phones learn, after a
restart, that their ballot counted."""

from __future__ import annotations

import gc
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from tests import conftest
from tests.conftest import ROOT, LiveServer
from tests.realtime.helpers import Screen
from tests.realtime.voting_kit import api, chair, join, make_poll, open_poll, screen, tok


# python-socketio's client leaves the sockets of its failed reconnection attempts (server down) to the collector.
@pytest.mark.filterwarnings("ignore::ResourceWarning", "ignore::pytest.PytestUnraisableExceptionWarning")
def test_sigkill_mid_storm_loses_no_acknowledged_ballot(server_factory: Callable[..., LiveServer],
                                                        tmp_path: Any) -> None:
    """30 phones cast at once and then keep changing their open-vote choice; the server is SIGKILLed in the middle.
    After the restart each phone's stored choice is its last acknowledged one (or the one in flight at the kill),
    the poll is still open, and the phones, reconnecting by themselves, learn that their ballot counted."""
    data = tmp_path / "storm"
    srv = server_factory(data_dir=data)
    everyone = srv.links["delegates"]
    assert len(everyone) == 30
    for d in everyone:
        join(srv, d["url"])
    poll = make_poll(srv)
    pid = poll["id"]
    open_poll(srv, pid)
    phones = [screen(srv, d["url"]) for d in everyone]
    choices = ["for", "against", "abstain"]
    sent: dict[int, list[str]] = {i: [] for i in range(30)}
    acked: dict[int, list[str]] = {i: [] for i in range(30)}
    lock = threading.Lock()
    total = [0]
    go = threading.Barrier(len(phones) + 1)
    halfway = threading.Event()

    def vote(i: int) -> None:
        go.wait()
        for n in range(40):
            choice = choices[(i + n) % 3]
            sent[i].append(choice)
            try:
                res = phones[i].call("cast", {"poll_id": pid, "choice": choice}, timeout=5)
            except Exception:  # the server died before answering: this ballot was never promised
                return
            if not res.get("ok"):
                return
            acked[i].append(choice)
            with lock:
                total[0] += 1
                if total[0] >= 150:
                    halfway.set()

    threads = [threading.Thread(target=vote, args=(i,)) for i in range(len(phones))]
    for t in threads:
        t.start()
    go.wait()
    assert halfway.wait(60), "the storm did not get going"
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    for t in threads:
        t.join(15)
    acknowledged = sum(len(a) for a in acked.values())
    assert 150 <= acknowledged < 30 * 40, "the kill must land in the middle of the storm"

    again = server_factory(data_dir=data, port=srv.port)
    got = api(again, chair(again), "GET", f"/polls/{pid}").json()
    assert got["state"] == "open", "the poll must still be open after the restart"
    # Phones reconnect by themselves; their fresh snapshot says their ballot is recorded.
    for i, phone in enumerate(phones):
        if acked[i]:
            st = phone.wait("state", lambda s: str(pid) in s["voting"]["mine"], timeout=30)
            assert st["voting"]["mine"][str(pid)]["voted"] is True
            assert st["voting"]["shown"]["state"] == "open"
    close = api(again, chair(again), "POST", f"/polls/{pid}/close").json()
    stored = {v["participant_id"]: v["choice"] for v in close["voters"]}
    lost = []
    for i, d in enumerate(everyone):
        if not acked[i]:
            continue
        k = len(acked[i])
        allowed = {acked[i][-1]} | ({sent[i][k]} if len(sent[i]) > k else set())
        if stored[d["participant_id"]] not in allowed:
            lost.append((i, acked[i][-1], stored[d["participant_id"]]))
    assert lost == [], f"acknowledged ballots missing after SIGKILL: {lost}"
    print(f"acks before SIGKILL: {acknowledged}; phones with an acknowledged ballot: "
          f"{sum(bool(a) for a in acked.values())}/30; lost: 0")
    for p in phones:
        p.client.disconnect()
    gc.collect()  # the leaked sockets are reported here, under this test's filter, not at the end of the run


def test_countdown_closes_the_poll(server_factory: Callable[..., LiveServer]) -> None:
    srv = server_factory()
    join(srv, srv.links["delegates"][3]["url"])
    kiosk = screen(srv, srv.links["kiosk"])
    try:
        poll = make_poll(srv)
        opened = open_poll(srv, poll["id"], countdown=5)
        assert opened["countdown_seconds"] == 5 and 4000 < opened["ends_in_ms"] <= 5000
        ev = kiosk.wait("poll", lambda e: e["event"] == "closed", timeout=12)
        assert ev["poll"]["closed_by"] == "countdown" and ev["poll"]["result"]["returned"] == 0
    finally:
        kiosk.close()


def test_deadline_passed_while_server_was_down_closes_at_restart(server_factory: Callable[..., LiveServer],
                                                                 tmp_path: Any) -> None:
    data = tmp_path / "deadline"
    srv = server_factory(data_dir=data)
    join(srv, srv.links["delegates"][3]["url"])
    poll = make_poll(srv)
    open_poll(srv, poll["id"], countdown=5)
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    time.sleep(5.2)
    again = server_factory(data_dir=data, port=srv.port)
    got = api(again, chair(again), "GET", f"/polls/{poll['id']}").json()
    assert got["state"] == "closed" and got["closed_by"] == "countdown"
    closed = [d for kind, d in _audit(data) if kind == "vote.closed"]
    assert closed[-1]["poll_id"] == poll["id"] and closed[-1]["closed_at_start"] is True
    assert closed[-1]["deadline"].startswith(time.strftime("%Y-", time.gmtime()))


def _audit(data_dir: Any) -> list[tuple[str, dict[str, Any]]]:
    """The audit log's (kind, data), read from the database file."""
    import json

    from tests.db_kit import Peek

    with Peek(data_dir, conftest.database_for(data_dir)) as conn:
        rows = conn.execute("SELECT kind, CAST(data AS TEXT) FROM audit_event ORDER BY seq").fetchall()
    return [(kind, json.loads(d)) for kind, d in rows]


def _start_without_requests(data_dir: Any, port: int) -> subprocess.Popen[bytes]:
    """`serve` on `port`, waited for by its listening socket alone: not one HTTP request reaches Flask."""
    url = conftest.database_for(data_dir)  # --db=postgresql: the database the first start used
    with open(data_dir / "server.log", "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(data_dir), *(("--database-url", url) if url else ())], cwd=ROOT,
            env=conftest._env(), stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert proc.poll() is None, (data_dir / "server.log").read_text()[-3000:]
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the restarted server did not listen within 30 s")


def test_countdown_rearmed_at_start_without_any_request(server_factory: Callable[..., LiveServer],
                                                        tmp_path: Any) -> None:
    """A poll's countdown runs across a SIGKILL: the restarted server closes it at its deadline although nobody
    made an HTTP request (a kiosk's Socket.IO connection is no Flask request), and it is closed by "countdown",
    not at start."""
    data = tmp_path / "rearm"
    srv = server_factory(data_dir=data)
    join(srv, srv.links["delegates"][3]["url"])
    poll = make_poll(srv)
    opened = open_poll(srv, poll["id"], countdown=12)
    ends_at = time.monotonic() + opened["ends_in_ms"] / 1000
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    proc = _start_without_requests(data, srv.port)
    kiosk = None
    try:
        # The socket listens before the app is loaded (serve binds first): the kiosk retries as live.js does.
        connect_by = time.monotonic() + 30
        while kiosk is None:
            try:
                kiosk = Screen(srv.url, tok(srv.links["kiosk"]))
            except Exception:
                if time.monotonic() > connect_by:
                    raise
                time.sleep(0.5)
        ev = kiosk.wait("poll", lambda e: e["event"] == "closed", timeout=max(1.0, ends_at - time.monotonic()) + 8)
        late = time.monotonic() - ends_at
        assert ev["poll"]["id"] == poll["id"] and ev["poll"]["closed_by"] == "countdown"
        assert -0.5 < late < 6.5, f"closed {late:+.1f} s from its deadline"  # the timer wakes at least every 5 s
        closed = [d for kind, d in _audit(data) if kind == "vote.closed"]
        assert closed[-1]["poll_id"] == poll["id"] and "closed_at_start" not in closed[-1]
    finally:
        if kiosk is not None:
            kiosk.close()
        LiveServer(url=srv.url, data_dir=data, proc=proc, port=srv.port, log_path=data / "server.log").stop()


def test_a_ballot_after_the_stored_deadline_is_refused(app: Any) -> None:
    """No timer at all here (in-process, nothing scheduled): the stored end time alone refuses the ballot."""
    from meeting_server.domain.errors import DomainError
    from meeting_server.domain.permissions import Role
    from meeting_server.domain.principal import Principal
    from meeting_server.services import attendance, meetings, voting
    from meeting_server.store import db

    with app.app_context(), db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        d = next(p for p in m.participants if p.role == "delegate")
        attendance.joined(s, m, d)
        p = voting.create(s, m, {"kind": "open", "title": "Hết giờ"}, "test").value
        voting.open_poll(s, m, p, "test", 5)
        who = Principal(Role.DELEGATE, m.id, d.id, d.full_name)
        assert p.ends_at is not None
        with pytest.raises(DomainError) as err:
            voting.cast(s, voting.Cast(who=who, poll_id=p.id, choice="for"), now=p.ends_at + timedelta(seconds=1))
        assert err.value.code == "vote.time_up" and err.value.message == "Đã hết thời gian biểu quyết."
        s.rollback()
        assert voting.cast(s, voting.Cast(who=who, poll_id=p.id, choice="for"),
                           now=p.ends_at - timedelta(seconds=1)).changed is False
