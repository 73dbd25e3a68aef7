"""Three server processes on one data directory, joined by a real redis-server, behind a real HAProxy configured by
`meeting-server front-config`'s code, with 500 phones, each a python-socketio client with its own address so that
the front's balancing by address spreads them over the three processes, as a room's phones are spread.

What a council relies on past one process: a page turned on one process reaches every phone; 500 ballots cast
through the three are counted once and the result is announced once; a process killed in a vote storm loses no
acknowledged ballot, its phones come back through the front by themselves, and the poll's countdown (that
process's lease) is taken over and still closes the poll, once; Redis restarted in a sitting loses nothing
acknowledged and the broadcasts come back by themselves.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, database_for, start_server
from tests.db_kit import Peek
from tests.realtime.helpers import Screen
from tests.realtime.scale_kit import Phones, free_port, start_front, start_redis
from tests.realtime.test_scale_out import ready_documents
from tests.realtime.voting_kit import tok

N = 500
CHOICES = ("for", "against", "abstain")


def grow(srv: LiveServer, n: int) -> None:
    """Make the meeting n delegates strong (the chair among them), as the clerk's roster import does."""
    clerk = srv.bearer(srv.links["clerk"])
    m = srv.links["meeting_id"]
    r = requests.patch(f"{srv.url}/api/v1/meetings/{m}", json={"seated_count": n}, headers=clerk, timeout=30)
    assert r.status_code == 200, r.text
    rows = [["STT", "Họ và tên", "Chức vụ", "Tổ đại biểu", "Vai trò"],
            ["1", "Chủ tọa Thử Nghiệm", "Chủ tịch HĐND", "Tổ 1", "Chủ tọa"]]
    rows += [[str(i), f"Đại biểu Số {i:03d}", "Đại biểu HĐND", f"Tổ {i % 10 + 1}", "Đại biểu"] for i in range(2, n + 1)]
    r = requests.put(f"{srv.url}/api/v1/meetings/{m}/participants", json={"rows": rows}, headers=clerk, timeout=120)
    assert r.status_code == 200, r.text
    srv.refresh_links()
    assert len(srv.links["delegates"]) == n


def q(data: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of the three processes' database: the data directory's SQLite file, or PostgreSQL's on --db=postgresql
    (JSON columns are read as CAST(data AS TEXT), which both answer as text)."""
    with Peek(data, database_for(data)) as db:
        return list(db.execute(sql, args).fetchall())


class Room:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.servers: list[LiveServer] = []
        self.killed: list[LiveServer] = []
        self.front: Any = None
        self.phones: Any = None
        try:
            self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> None:
        work = self.work
        self.data = work / "data"
        self.redis, self.redis_port = start_redis(work / "redis")
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.front_port = free_port()
        self.front_url = f"http://127.0.0.1:{self.front_port}"
        common = ("--message-queue", self.redis_url, "--trusted-proxy", "127.0.0.1", "--public-url", self.front_url)
        a = start_server(self.data, *common)
        self.servers.append(a)
        self.docs = ready_documents(a)
        grow(a, N)
        for _ in range(2):
            self.servers.append(start_server(self.data, "--no-discovery", *common))
        for s in self.servers[1:]:
            s.links = a.links
        self.front = start_front(work / "front", self.front_port, [s.port for s in self.servers])
        self.links = a.links
        with requests.Session() as http:  # every delegate scans their card (through the front): present
            for d in self.links["delegates"]:
                # A delegate's card is answered with the delegate page itself (no redirect: one round trip less);
                # the chair's and the secretary's cards, delegates too, are redirected to their own screens.
                assert http.get(f"{self.front_url}/j/{tok(d['url'])}", timeout=30,
                                allow_redirects=False).status_code in (200, 302, 303)
                http.cookies.clear()
        self.phones = Phones(self.front_url, [tok(d["url"]) for d in self.links["delegates"]])
        self.phones.connect()
        self.participant = [d["participant_id"] for d in self.links["delegates"]]

    def by_pid(self) -> dict[int, list[int]]:
        """Which phones each process holds now (device_session: each process writes its own connections)."""
        index = {p: i for i, p in enumerate(self.participant)}
        out: dict[int, list[int]] = {}
        for pid, participant in q(self.data, "SELECT pid, participant_id FROM device_session"):
            if participant in index:
                out.setdefault(pid, []).append(index[participant])
        return out

    def api(self, srv: LiveServer | str, card: str, method: str, path: str, body: Any = None) -> requests.Response:
        base = srv if isinstance(srv, str) else srv.url
        return requests.request(method, f"{base}/api/v1{path}", json=body, timeout=60,
                                headers={"Authorization": f"Bearer {tok(card)}"})

    def poll(self, via: LiveServer | str, countdown: int) -> dict[str, Any]:
        r = self.api(via, self.links["clerk"], "POST", f"/meetings/{self.links['meeting_id']}/polls",
                     {"kind": "open", "title": "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027"})
        assert r.status_code == 201, r.text
        poll = r.json()
        r = self.api(via, self.links["chair"][0], "POST", f"/polls/{poll['id']}/open", {"countdown": countdown})
        assert r.status_code == 200, r.text
        assert r.json()["progress"]["eligible"] == N
        return dict(r.json())

    def close(self) -> None:
        try:
            if self.phones is not None:
                self.phones.close()
        finally:
            if self.front is not None:
                self.front.terminate()
                self.front.wait(10)
            for s in self.servers:
                s.stop()
            if getattr(self, "redis", None) is not None:
                self.redis.terminate()
                self.redis.wait(10)


@pytest.fixture(scope="module")
def room(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    r = Room(tmp_path_factory.mktemp("front"))
    yield r
    r.close()


def closed_events(room: Room, i: int, poll_id: int) -> list[Any]:
    return room.phones.received(i, "poll", lambda e: e["event"] == "closed" and e["poll"]["id"] == poll_id)


def test_phones_spread_over_three_processes_all_get_a_page_turned_on_any(room: Room) -> None:
    spread = room.by_pid()
    pids = {s.proc.pid for s in room.servers}
    assert set(spread) == pids, spread  # the front spread the phones over all three, by address
    assert sum(len(v) for v in spread.values()) == N
    assert all(len(v) >= N // 10 for v in spread.values()), {k: len(v) for k, v in spread.items()}
    doc = next(d for d in room.docs if d["status"] == "ready" and d["page_count"] >= 3)
    for srv, page in ((room.servers[1], 2), (room.servers[2], 3), (room.servers[0], 1)):
        clerk = Screen(srv.url, tok(room.links["clerk"]))  # the clerk's laptop, on one process directly
        try:
            clerk.wait("state")
            ack = clerk.call("present", {"document_id": doc["id"], "page": page})
            assert ack["ok"] is True, ack
            room.phones.wait_all("presented", lambda e, s=ack["seq"]: e["seq"] == s, timeout=60)
            for i in range(N):
                got = room.phones.received(i, "presented", lambda e, s=ack["seq"]: e["seq"] == s)
                assert len(got) == 1 and (got[0]["document_id"], got[0]["page"]) == (doc["id"], page)
        finally:
            clerk.close()


def test_500_ballots_through_three_processes_counted_once_and_announced_once(room: Room) -> None:
    opened = room.poll(room.servers[1], countdown=30)
    poll_id = opened["id"]
    acks = room.phones.call_all("cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in range(N)])
    refused = [(i, a) for i, a, _s, _ms in acks if not (isinstance(a, dict) and a.get("ok"))]
    assert not refused, refused[:5]
    room.phones.wait_all("poll", lambda e: e["event"] == "closed" and e["poll"]["id"] == poll_id, timeout=90)
    time.sleep(2)  # a second announcement would have arrived by now
    assert all(len(closed_events(room, i, poll_id)) == 1 for i in range(N))
    result = closed_events(room, 0, poll_id)[0]["poll"]["result"]
    expected = {c: sum(1 for i in range(N) if CHOICES[i % 3] == c) for c in CHOICES}
    assert {o["key"]: o["votes"] for o in result["options"]} == expected
    assert q(room.data, "SELECT count(*) FROM open_ballot WHERE poll_id = ?", poll_id) == [(N,)]
    closes = [json.loads(d) | {"actor": a} for a, d in q(room.data, "SELECT actor, CAST(data AS TEXT) FROM audit_event "
                                                             "WHERE kind = 'vote.closed'")]
    mine = [c for c in closes if c["poll_id"] == poll_id]
    assert len(mine) == 1 and mine[0]["actor"] == "countdown", mine
    assert q(room.data, "SELECT count(*) FROM lease WHERE name = ?", f"poll:{poll_id}:countdown") == [(0,)]


def test_a_process_killed_in_a_vote_storm(room: Room) -> None:
    """SIGKILL the process that runs the poll's countdown while 500 phones cast: no acknowledged ballot is lost,
    its phones come back through the front to the two others by themselves (with the current state) and cast again,
    another process takes the countdown over and closes the poll at its deadline, and the result is announced once."""
    countdown = 40
    opened = room.poll(room.front_url, countdown=countdown)
    poll_id = opened["id"]
    owner = q(room.data, "SELECT owner FROM lease WHERE name = ?", f"poll:{poll_id}:countdown")
    assert owner, "the process that opened the poll holds its countdown's lease"
    victim = next(s for s in room.servers if s.proc.pid == int(owner[0][0].split(":")[1]))
    its_phones = room.by_pid()[victim.proc.pid]
    assert its_phones
    out: list[Any] = []
    storm = threading.Thread(target=lambda: out.extend(room.phones.call_all(
        "cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in range(N)], timeout=20)))
    storm.start()
    deadline = time.monotonic() + 60
    while q(room.data, "SELECT count(*) FROM open_ballot WHERE poll_id = ?", poll_id)[0][0] < N // 5:
        assert time.monotonic() < deadline and storm.is_alive()
        time.sleep(0.01)
    os.kill(victim.proc.pid, signal.SIGKILL)
    killed_at = time.time()
    victim.proc.wait(10)
    storm.join(120)
    acked = {i: a for i, a, _s, _ms in out if isinstance(a, dict) and a.get("ok")}
    # Nothing acknowledged is lost: every phone told "recorded" has its ballot stored, with its choice.
    stored = dict(q(room.data, "SELECT participant_id, choice FROM open_ballot WHERE poll_id = ?", poll_id))
    lost = [i for i in acked if room.participant[i] not in stored]
    assert not lost, lost[:5]
    # The victim's phones reconnect by themselves through the front, to the two others, and get the state.
    room.phones.wait_all("state", timeout=90, which=its_phones)  # (each had one at first: the rows below say more)
    deadline = time.monotonic() + 90
    while True:
        now_on = room.by_pid()
        moved = [i for pid, phones in now_on.items() if pid != victim.proc.pid for i in phones]
        if set(its_phones) <= set(moved):
            break
        assert time.monotonic() < deadline, (f"{len(set(its_phones) - set(moved))} of {len(its_phones)} phones not "
                                             f"back; connected now: {sum(room.phones.connected())} of {N}")
        time.sleep(0.2)
    back = [max(t for t, e, _d in room.phones.events[i] if e == "state") for i in its_phones]
    assert min(back) > killed_at  # a fresh state after the kill, from a live process
    # Whoever had no ack casts again (a phone's page offers it) and is recorded by the survivors.
    again = [i for i in range(N) if i not in acked]
    assert again, "the kill cut some ballots short"
    second = room.phones.call_all("cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in again],
                                  which=again)
    assert all(isinstance(a, dict) and a.get("ok") for _i, a, _s, _ms in second), second[:5]
    # Another process took the countdown over and closes the poll at its deadline (late by at most the lease).
    room.phones.wait_all("poll", lambda e: e["event"] == "closed" and e["poll"]["id"] == poll_id,
                         timeout=countdown + 60)
    time.sleep(2)
    assert all(len(closed_events(room, i, poll_id)) == 1 for i in range(N))
    (ends_at, closed_at, closed_by), = q(room.data, "SELECT ends_at, closed_at, closed_by FROM poll WHERE id = ?",
                                         poll_id)
    late = (_ts(closed_at) - _ts(ends_at))
    assert closed_by == "countdown" and 0 <= late < 20, (ends_at, closed_at)
    took = [json.loads(d) for (d,) in q(room.data, "SELECT CAST(data AS TEXT) FROM audit_event "
                                                          "WHERE kind = 'lease.taken_over'")]
    assert [t["from"] for t in took if t["lease"] == f"poll:{poll_id}:countdown"] == [owner[0][0]]
    result = closed_events(room, 0, poll_id)[0]["poll"]["result"]
    expected = {c: sum(1 for i in range(N) if CHOICES[i % 3] == c) for c in CHOICES}
    assert {o["key"]: o["votes"] for o in result["options"]} == expected
    room.servers.remove(victim)
    room.killed.append(victim)
    print(f"\nkilled pid {victim.proc.pid} holding {len(its_phones)} phones; {len(acked)} acked before; "
          f"{len(again)} cast again; closed {late:.2f} s after the deadline")


def test_doctor_checks_the_chain(room: Room) -> None:
    """`doctor --front --backend --message-queue`: the front answers, each live process answers, a dead one is a
    warning (the front sends its phones to the others), Redis answers."""
    args = [sys.executable, "-m", "meeting_server", "doctor", "--json", "--data-dir", str(room.data),
            "--host", "127.0.0.1", "--port", str(room.front_port), "--front", room.front_url,
            "--message-queue", room.redis_url]
    for s in room.servers + room.killed:
        args += ["--backend", f"127.0.0.1:{s.port}"]
    res = subprocess.run(args, capture_output=True, text=True, timeout=120, env=dict(os.environ, PYTHONPATH=str(
        Path(__file__).resolve().parents[2])))
    checks = json.loads(res.stdout)
    chain = [(c["name"], c["level"]) for c in checks if c["name"] in ("front", "backend", "redis")]
    assert chain == [("front", "ok"), *[("backend", "ok")] * len(room.servers),
                     *[("backend", "warn")] * len(room.killed), ("redis", "ok")], chain
    for c in checks:
        if c["name"] == "backend" and c["level"] == "warn":
            assert "does not answer" in c["detail_en"]


def _ts(stored: Any) -> float:
    """A stored UTC time as a timestamp: SQLite answers text, PostgreSQL a datetime."""
    from datetime import UTC, datetime

    when = stored if isinstance(stored, datetime) else datetime.fromisoformat(stored)
    return when.replace(tzinfo=UTC).timestamp()


def test_redis_restarted_in_a_sitting(room: Room) -> None:
    """Redis goes away and comes back: what is acknowledged meanwhile is stored (the database, not Redis, holds
    it), the processes keep serving, and broadcasts reach every phone again by themselves once Redis is back."""
    doc = next(d for d in room.docs if d["status"] == "ready" and d["page_count"] >= 3)
    srv = room.servers[0]
    clerk = Screen(srv.url, tok(room.links["clerk"]))
    try:
        clerk.wait("state")
        room.redis.terminate()
        room.redis.wait(10)
        during = clerk.call("present", {"document_id": doc["id"], "page": 2}, timeout=30)
        assert during["ok"] is True, during  # stored; its broadcast may not go out
        for s in room.servers:
            assert s.proc.poll() is None
            assert requests.get(f"{s.url}/healthz", timeout=10).status_code == 200
        on_it = set(room.by_pid().get(srv.proc.pid, []))
        got = [i for i in range(N) if room.phones.received(i, "presented", lambda e: e["seq"] == during["seq"])]
        got_during = f"{len(got)} of {N} phones ({len(on_it & set(got))} of the {len(on_it)} on the process " \
                     f"that made the change)"
        room.redis, _ = start_redis(room.work / "redis", room.redis_port)
        # Broadcasts resume by themselves: a page turned once Redis is back reaches every phone, on every process.
        deadline = time.monotonic() + 90
        page = 3
        while True:
            ack = clerk.call("present", {"document_id": doc["id"], "page": page}, timeout=30)
            assert ack["ok"] is True
            try:
                room.phones.wait_all("presented", lambda e, s=ack["seq"]: e["seq"] == s, timeout=10)
                break
            except AssertionError:
                assert time.monotonic() < deadline, "broadcasts did not come back within 90 s of Redis's return"
                page = 1 if page == 3 else 3
        # A phone that missed the turn made during the outage sees the gap in seq and asks for a `state` (live.js):
        # the database has the page.
        late = Screen(room.front_url, tok(room.links["delegates"][1]["url"]))
        try:
            assert late.wait("state")["presented"]["page"] == page
        finally:
            late.close()
        print(f"\nRedis down: the page turn was acknowledged; {got_during} got its broadcast")
    finally:
        clerk.close()
