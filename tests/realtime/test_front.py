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
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, on_postgresql, start_server
from tests.realtime.helpers import Screen
from tests.realtime.scale_kit import Phones, another_council, free_port, start_front, start_redis
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


def q(where: Path | str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    """Rows of the shared database as the test sees them: the data directory's SQLite file, or a PostgreSQL URL
    (the same SQL with `?` placeholders; timestamps come back as text on both)."""
    if isinstance(where, Path):
        with closing(sqlite3.connect(where / "meeting.db", timeout=30)) as db:
            return db.execute(sql, args).fetchall()
    import psycopg

    with psycopg.connect(where.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as c:
        rows = c.execute(sql.replace("?", "%s"), args).fetchall()  # type: ignore[arg-type]
    return [tuple(v.isoformat(" ") if hasattr(v, "isoformat") else json.dumps(v) if isinstance(v, dict | list) else v
                  for v in row) for row in rows]


class Room:
    """The deployment: on SQLite (one data directory's file, shared by the three) or on PostgreSQL (a database of
    the run's private cluster, tests/pg_kit.py, given to the three with --database-url)."""

    def __init__(self, work: Path, database_url: str | None = None) -> None:
        self.work = work
        self.database_url = database_url
        self.db: Path | str = database_url or work / "data"
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
        a = start_server(self.data, *common, database_url=self.database_url)
        if a.database_url:  # --db=postgresql: start_server gave the data directory a database of the cluster
            self.database_url = self.db = a.database_url
        self.servers.append(a)
        self.docs = ready_documents(a)
        grow(a, N)
        for _ in range(2):
            self.servers.append(start_server(self.data, "--no-discovery", *common, database_url=self.database_url))
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
        for pid, participant in q(self.db, "SELECT pid, participant_id FROM device_session"):
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

    def storm(self, poll_id: int, timeout: float) -> tuple[threading.Thread, list[Any]]:
        """Every phone casts at once, in a thread; returns once a fifth of the ballots are stored (the moment the
        tests break something), with the thread and the list its acks land in."""
        out: list[Any] = []
        storm = threading.Thread(target=lambda: out.extend(self.phones.call_all(
            "cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in range(N)], timeout=timeout)))
        storm.start()
        deadline = time.monotonic() + 60
        while q(self.db, "SELECT count(*) FROM open_ballot WHERE poll_id = ?", poll_id)[0][0] < N // 5:
            assert time.monotonic() < deadline and storm.is_alive()
            time.sleep(0.01)
        return storm, out

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
def room(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Room]:
    """The three processes on the run's database: SQLite's file, or with --db=postgresql (scripts/test's second
    pass) a fresh database of the private cluster."""
    url = request.getfixturevalue("pg_cluster").fresh_database() if on_postgresql(request.config) else None
    r = Room(tmp_path_factory.mktemp("front"), url)
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
    assert q(room.db, "SELECT count(*) FROM open_ballot WHERE poll_id = ?", poll_id) == [(N,)]
    closes = [json.loads(d) | {"actor": a} for a, d in q(room.db, "SELECT actor, data FROM audit_event "
                                                             "WHERE kind = 'vote.closed'")]
    mine = [c for c in closes if c["poll_id"] == poll_id]
    assert len(mine) == 1 and mine[0]["actor"] == "countdown", mine
    assert q(room.db, "SELECT count(*) FROM lease WHERE name = ?", f"poll:{poll_id}:countdown") == [(0,)]


def test_two_councils_voting_at_once_each_count_their_own(room: Room) -> None:
    """One deployment serving the sessions of two councils at once (issue 20): another council's meeting, its
    phones spread over the same three processes, votes at the same instant as the room's 500, both polls closed by
    their countdowns. Each poll counts its own delegates' ballots only, each result is announced once, to its own
    meeting's phones only, and a delegate naming the other meeting's poll is told it does not exist
    (services.voting.get; tests/services/test_ballots_across_meetings.py for the batch that mixed them up)."""
    nb = 150
    other = another_council(room.data, room.database_url, "Hòa Bình", nb, room.front_url)
    with requests.Session() as http:  # its delegates scan their cards, through the same front
        for d in other["delegates"]:
            assert http.get(f"{room.front_url}/j/{tok(d['url'])}", timeout=30,
                            allow_redirects=False).status_code in (200, 302, 303)
            http.cookies.clear()
    phones_b = Phones(room.front_url, [tok(d["url"]) for d in other["delegates"]], first_address=N)
    try:
        phones_b.connect()
        mine = {pid for pid, p in q(room.db, "SELECT pid, participant_id FROM device_session")
                if p in {d["participant_id"] for d in other["delegates"]}}
        assert len(mine) >= 2, mine  # the front spread the other council's phones over the processes too
        poll_a = room.poll(room.servers[0], countdown=25)["id"]
        r = room.api(room.front_url, other["clerk"], "POST", f"/meetings/{other['meeting_id']}/polls",
                     {"kind": "open", "title": "Thông qua Nghị quyết về chỉnh trang đô thị phường Hòa Bình"})
        assert r.status_code == 201, r.text
        poll_b = r.json()["id"]
        r = room.api(room.front_url, other["chair"][0], "POST", f"/polls/{poll_b}/open", {"countdown": 25})
        assert r.status_code == 200 and r.json()["progress"]["eligible"] == nb, r.text
        crossing = list(range(20))  # of the other council's phones, also naming the room's poll
        out: dict[str, list[Any]] = {}

        def cast(name: str, phones: Phones, poll_id: int, which: list[int]) -> None:
            out[name] = phones.call_all("cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in which],
                                        which=which)

        storms = [threading.Thread(target=cast, args=("a", room.phones, poll_a, list(range(N)))),
                  threading.Thread(target=cast, args=("b", phones_b, poll_b, list(range(nb)))),
                  threading.Thread(target=cast, args=("x", phones_b, poll_a, crossing))]
        for t in storms:
            t.start()
        for t in storms:
            t.join(180)
        for name in ("a", "b"):
            refused = [(i, a) for i, a, _s, _ms in out[name] if not (isinstance(a, dict) and a.get("ok"))]
            assert not refused, (name, refused[:5])
        assert all(isinstance(a, dict) and a.get("code") == "not_found" for _i, a, _s, _ms in out["x"]), out["x"][:5]
        # Both countdowns close their own poll; each meeting's phones hear their own result once, never the other's.
        for phones, own in ((room.phones, poll_a), (phones_b, poll_b)):
            phones.wait_all("poll", lambda e, p=own: e["event"] == "closed" and e["poll"]["id"] == p, timeout=90)
        time.sleep(2)  # a second announcement, or one to the wrong meeting, would have arrived by now
        for phones, n, own, foreign in ((room.phones, N, poll_a, poll_b), (phones_b, nb, poll_b, poll_a)):
            for i in range(n):
                assert len(phones.received(i, "poll", lambda e, p=own: e["event"] == "closed"
                                           and e["poll"]["id"] == p)) == 1
                assert not phones.received(i, "poll", lambda e, p=foreign: (e["poll"] or {}).get("id") == p)
                assert not phones.received(i, "poll.progress", lambda e, p=foreign: e["poll_id"] == p)
            result = phones.received(0, "poll", lambda e, p=own: e["event"] == "closed" and e["poll"]["id"] == p)
            expected = {c: sum(1 for i in range(n) if CHOICES[i % 3] == c) for c in CHOICES}
            assert {o["key"]: o["votes"] for o in result[0]["poll"]["result"]["options"]} == expected
        # Stored = acknowledged, each meeting's own delegates only.
        for own, people in ((poll_a, room.participant), (poll_b, [d["participant_id"] for d in other["delegates"]])):
            stored = [p for (p,) in q(room.db, "SELECT participant_id FROM open_ballot WHERE poll_id = ?", own)]
            assert sorted(stored) == sorted(people)
        closes = [json.loads(d) | {"actor": a} for a, d in q(room.db, "SELECT actor, data FROM audit_event "
                                                                 "WHERE kind = 'vote.closed'")]
        for own in (poll_a, poll_b):
            assert [c["actor"] for c in closes if c["poll_id"] == own] == ["countdown"]
    finally:
        phones_b.close()


def test_a_process_killed_in_a_vote_storm(room: Room) -> None:
    """SIGKILL the process that runs the poll's countdown while 500 phones cast: no acknowledged ballot is lost,
    its phones come back through the front to the two others by themselves (with the current state) and cast again,
    another process takes the countdown over and closes the poll at its deadline, and the result is announced once."""
    countdown = 40
    opened = room.poll(room.front_url, countdown=countdown)
    poll_id = opened["id"]
    owner = q(room.db, "SELECT owner FROM lease WHERE name = ?", f"poll:{poll_id}:countdown")
    assert owner, "the process that opened the poll holds its countdown's lease"
    victim = next(s for s in room.servers if s.proc.pid == int(owner[0][0].split(":")[1]))
    its_phones = room.by_pid()[victim.proc.pid]
    assert its_phones
    storm, out = room.storm(poll_id, timeout=20)
    os.kill(victim.proc.pid, signal.SIGKILL)
    killed_at = time.time()
    victim.proc.wait(10)
    room.servers.remove(victim)  # at once: the tests after this one use the two that live, whatever this one finds
    room.killed.append(victim)
    storm.join(120)
    acked = {i: a for i, a, _s, _ms in out if isinstance(a, dict) and a.get("ok")}
    # Nothing acknowledged is lost: every phone told "recorded" has its ballot stored, with its choice.
    stored = dict(q(room.db, "SELECT participant_id, choice FROM open_ballot WHERE poll_id = ?", poll_id))
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
    # (The kill lands at the storm's start; on a quick run every ballot may be acknowledged before it, and then
    # there is nothing to cast again: the countdown's take-over below is still checked.)
    again = [i for i in range(N) if i not in acked]
    print(f"ballots cut short by the kill: {len(again)} of {N}")
    if again:
        second = room.phones.call_all("cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in again],
                                      which=again)
        assert all(isinstance(a, dict) and a.get("ok") for _i, a, _s, _ms in second), second[:5]
    # Another process took the countdown over and closes the poll at its deadline (late by at most the lease).
    room.phones.wait_all("poll", lambda e: e["event"] == "closed" and e["poll"]["id"] == poll_id,
                         timeout=countdown + 60)
    time.sleep(2)
    assert all(len(closed_events(room, i, poll_id)) == 1 for i in range(N))
    (ends_at, closed_at, closed_by), = q(room.db, "SELECT ends_at, closed_at, closed_by FROM poll WHERE id = ?",
                                         poll_id)
    late = (_ts(closed_at) - _ts(ends_at))
    assert closed_by == "countdown" and 0 <= late < 20, (ends_at, closed_at)
    took = [json.loads(d) for (d,) in q(room.db, "SELECT data FROM audit_event WHERE kind = 'lease.taken_over'")]
    assert [t["from"] for t in took if t["lease"] == f"poll:{poll_id}:countdown"] == [owner[0][0]]
    result = closed_events(room, 0, poll_id)[0]["poll"]["result"]
    expected = {c: sum(1 for i in range(N) if CHOICES[i % 3] == c) for c in CHOICES}
    assert {o["key"]: o["votes"] for o in result["options"]} == expected
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


def _ts(text: str) -> float:
    from datetime import UTC, datetime

    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _outage_in_a_vote_storm(room: Room, what: str, stop: Callable[[], None], start: Callable[[], None]) -> str:
    """`what` ("message_queue" or "database") goes away while 500 phones cast and comes back: every screen is told
    it waits (the `waiting` event live.js shows as its banner), every event meanwhile is answered `server.waiting`
    and changes nothing, every acknowledged ballot is stored, and once it is back the screens are told so, the
    ballots not acknowledged are cast again and recorded, a page turn reaches every phone on every process, and
    the result is announced once."""
    doc = next(d for d in room.docs if d["status"] == "ready" and d["page_count"] >= 3)
    clerk = Screen(room.servers[0].url, tok(room.links["clerk"]))  # the clerk's laptop, on one process directly
    try:
        clerk.wait("state")
        poll_id = room.poll(room.front_url, countdown=900)["id"]  # closed by the chair below, after the outage
        closed = False
        storm, out = room.storm(poll_id, timeout=30)
        stopped_at = time.time()  # the phones' events are stamped so; earlier tests' `waiting` events do not count
        stop()
        stopped = time.monotonic()
        storm.join(120)
        # Every screen, on every process, hears that its server waits (what it waits for named).
        room.phones.wait_all("waiting", lambda e: e["waiting"] is True and what in e["what"], timeout=60,
                             since=stopped_at)
        told_in = time.monotonic() - stopped
        clerk.wait("waiting", lambda e: e["waiting"] is True, timeout=30)
        if what == "database":
            # /healthz says each process waits (503); the front keeps them in its rotation all the same (its
            # check accepts 200 and 503, meeting_server/front.py): past its 2 failed checks (2 s), /healthz through
            # it is still a server's own answer, not HAProxy's "no server is available".
            time.sleep(max(0.0, 3.0 - (time.monotonic() - stopped)))
            h = requests.get(room.front_url + "/healthz", timeout=10)
            assert h.status_code == 503 and h.json()["status"] == "waiting", h.text[:300]
        # Meanwhile nothing is pretended: a page turn is refused with the reason, in Vietnamese.
        during = clerk.call("present", {"document_id": doc["id"], "page": 2}, timeout=30)
        assert during["ok"] is False and during["code"] == "server.waiting", during
        assert during["error"].startswith("Đang chờ máy chủ"), during
        # (Redis going away cuts no ballot short when the storm ended before the watch noticed: they were stored.)
        refused = [a for _i, a, _s, _ms in out if not (isinstance(a, dict) and a.get("ok"))]
        codes = {a.get("code") if isinstance(a, dict) else a for a in refused}
        assert codes <= {"server.waiting"}, codes  # never "recorded" for a ballot not committed
        # Every phone changing its ballot meanwhile is refused the same way, and nothing changes (checked below).
        meanwhile = room.phones.call_all("cast", [{"poll_id": poll_id, "choice": CHOICES[(i + 1) % 3]}
                                                  for i in range(N)], timeout=30)
        assert all(isinstance(a, dict) and a.get("code") == "server.waiting" for _i, a, _s, _ms in meanwhile), \
            [a for _i, a, _s, _ms in meanwhile if not (isinstance(a, dict) and a.get("code") == "server.waiting")][:5]
        started_at = time.time()
        start()
        started = time.monotonic()
        # Told it is back: by this outage's end, not the `waiting: false` of the Redis test before it on the same
        # phones (CI: a phone whose process was not back yet was sent its ballot again and answered server.waiting).
        room.phones.wait_all("waiting", lambda e: e["waiting"] is False, timeout=90, since=started_at)
        back_in = time.monotonic() - started
        clerk.wait("waiting", lambda e: e["waiting"] is False, timeout=30)
        # Nothing acknowledged is lost: every phone told "recorded" has its ballot stored, with its choice.
        acked = {i for i, a, _s, _ms in out if isinstance(a, dict) and a.get("ok")}
        stored = dict(q(room.db, "SELECT participant_id, choice FROM open_ballot WHERE poll_id = ?", poll_id))
        assert not [i for i in acked if room.participant[i] not in stored]  # (their choices: the result below)
        again = [i for i in range(N) if i not in acked]
        second = room.phones.call_all("cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in again],
                                      which=again)
        # "vote.busy" is a truthful "not recorded, send again" (the phone's page says so): right after PostgreSQL
        # came back one ballot of 331 waited out the writer's 30 s on a connection of the old server. Sent again,
        # as the delegate would, it must be recorded.
        busy = [i for i, a, _s, _ms in second if isinstance(a, dict) and a.get("code") == "vote.busy"]
        if busy:
            print(f"\n{len(busy)} ballot(s) answered vote.busy after the outage: sent again")
            second = [r for r in second if r[0] not in busy] + room.phones.call_all(
                "cast", [{"poll_id": poll_id, "choice": CHOICES[i % 3]} for i in busy], which=busy)
        assert all(isinstance(a, dict) and a.get("ok") for _i, a, _s, _ms in second), second[:5]
        # A page turned once it is back reaches every phone, on every process, once.
        ack = clerk.call("present", {"document_id": doc["id"], "page": 3}, timeout=30)
        assert ack["ok"] is True, ack
        room.phones.wait_all("presented", lambda e, s=ack["seq"]: e["seq"] == s, timeout=60)
        # The chair closes the poll: every ballot counted once, the result announced once to every phone.
        r = room.api(room.front_url, room.links["chair"][0], "POST", f"/polls/{poll_id}/close")
        assert r.status_code == 200, r.text
        closed = True
        room.phones.wait_all("poll", lambda e: e["event"] == "closed" and e["poll"]["id"] == poll_id, timeout=60)
        time.sleep(2)
        assert all(len(closed_events(room, i, poll_id)) == 1 for i in range(N))
        result = closed_events(room, 0, poll_id)[0]["poll"]["result"]
        expected = {c: sum(1 for i in range(N) if CHOICES[i % 3] == c) for c in CHOICES}
        assert {o["key"]: o["votes"] for o in result["options"]} == expected
        return (f"{len(acked)} ballots acked before, {len(refused)} answered server.waiting; every phone told in "
                f"{told_in:.1f} s, told it is back {back_in:.1f} s after the restart")
    finally:
        clerk.close()
        if "poll_id" in locals() and not closed:  # a failure above must not leave the next test a poll open
            room.api(room.front_url, room.links["chair"][0], "POST", f"/polls/{poll_id}/close")


def test_redis_restarted_in_a_sitting(room: Room) -> None:
    """Redis goes away in a vote storm and comes back (the database, not Redis, holds what was acknowledged)."""

    def stop() -> None:
        room.redis.terminate()
        room.redis.wait(10)

    def start() -> None:
        room.redis, _ = start_redis(room.work / "redis", room.redis_port)

    print("\nRedis restarted: " + _outage_in_a_vote_storm(room, "message_queue", stop, start))
    for s in room.servers:
        assert s.proc.poll() is None


def test_postgresql_restarted_in_a_sitting(room: Room, request: pytest.FixtureRequest) -> None:
    """PostgreSQL restarted (`pg_ctl stop -m fast`, then start) in a vote storm: the sessions are cut under the
    three processes; they wait, say so, and resume by themselves."""
    if not on_postgresql(request.config):
        pytest.skip("SQLite's file has no server to restart: runs in the --db=postgresql pass (scripts/test)")
    cluster = request.getfixturevalue("pg_cluster")
    print("\nPostgreSQL restarted: " + _outage_in_a_vote_storm(room, "database", cluster.pause, cluster.resume))
    for s in room.servers:
        assert s.proc.poll() is None
