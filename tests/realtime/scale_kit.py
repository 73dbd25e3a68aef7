"""Several server processes as a deployment past one box runs them: a real redis-server, real HAProxy in front
(its configuration from `meeting-server front-config`'s code), and many phones, each a python-socketio client with
its own source address on loopback (127.1.x.y), so that the front's balancing by address spreads them as it spreads
a room's phones. Used by tests/realtime/test_front.py and scripts/bench/scale_out.py."""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, f"{what} did not start"
            time.sleep(0.05)


def start_redis(work: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """redis-server on loopback, nothing saved (a restart loses nothing the server needs: it keeps no state)."""
    exe = shutil.which("redis-server")
    assert exe, "redis-server is missing: scripts/test installs it (apt package redis-server)"
    port = port or free_port()
    work.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    wait_port(port, proc, "redis-server")
    return proc, port


def start_front(work: Path, port: int, backends: list[int]) -> subprocess.Popen[bytes]:
    """HAProxy in the foreground with the configuration `meeting-server front-config` writes; returns once the
    front answers /healthz through a backend."""
    from meeting_server import front

    exe = shutil.which("haproxy")
    assert exe, "haproxy is missing: scripts/test installs it (apt package haproxy)"
    work.mkdir(parents=True, exist_ok=True)
    cfg = work / "haproxy.cfg"
    cfg.write_text(front.haproxy_config([front.Backend("127.0.0.1", p) for p in backends], port, "127.0.0.1"))
    check = subprocess.run([exe, "-c", "-q", "-f", str(cfg)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with open(work / "haproxy.log", "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen([exe, "-db", "-f", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 20
    while True:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        assert proc.poll() is None and time.monotonic() < deadline, (work / "haproxy.log").read_text()[-2000:]
        time.sleep(0.1)


def source_address(i: int) -> str:
    """The i-th phone's own loopback address (the whole 127/8 is local on Linux)."""
    return f"127.1.{i // 250}.{i % 250 + 1}"


def _brief(event: str, data: Any) -> Any:
    """What a phone keeps of an event: a `state` is large (the roster), the tests need its page and seq."""
    if event == "state" and isinstance(data, dict):
        return {"seq": data.get("seq"), "presented": data.get("presented")}
    return data


class Phones:
    """N python-socketio AsyncClients on one asyncio loop in a thread (threads per client would spend the two cores
    on the GIL), each bound to its own source address, with reconnection on as a phone's page has it (live.js
    reconnects by itself). Every event each phone receives is kept, in order, with its arrival time."""

    def __init__(self, url: str, tokens: list[str], *, first_address: int = 0) -> None:
        self.url = url
        self.tokens = tokens
        self.first_address = first_address
        self.events: list[list[tuple[float, str, Any]]] = [[] for _ in tokens]
        self.connects = [0] * len(tokens)
        self.clients: list[Any] = []
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Any, timeout: float = 300) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    async def _connect_all(self, burst: int) -> None:
        import aiohttp
        import socketio

        for start in range(0, len(self.tokens), burst):
            batch = []
            for i in range(start, min(start + burst, len(self.tokens))):
                conn = aiohttp.TCPConnector(local_addr=(source_address(self.first_address + i), 0), limit=0)
                c = socketio.AsyncClient(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1,
                                         http_session=aiohttp.ClientSession(connector=conn))
                self._listen(c, i)
                self.clients.append(c)
                batch.append(c.connect(self.url, auth={"token": self.tokens[i]}, transports=["websocket"],
                                       wait_timeout=60))
            await asyncio.gather(*batch)

    def _listen(self, c: Any, i: int) -> None:
        async def on_any(event: str, data: Any = None) -> None:
            self.events[i].append((time.time(), event, _brief(event, data)))

        async def on_connect() -> None:
            self.connects[i] += 1

        c.on("*", on_any)
        c.on("connect", on_connect)

    def connect(self, burst: int = 25) -> None:
        self.run(self._connect_all(burst))

    def call_all(self, event: str, datas: list[Any], which: list[int] | None = None,
                 timeout: float = 60) -> list[tuple[int, Any, float, float]]:
        """Each phone (of `which`, default all) emits `event` with its data at once; returns (phone, ack or the
        exception's name, sent at, ms)."""

        async def one(i: int, data: Any) -> tuple[int, Any, float, float]:
            sent = time.time()
            t0 = time.monotonic()
            try:
                ack = await self.clients[i].call(event, data, timeout=timeout)
            except Exception as exc:  # no ack: the process died with it, or the connection is down
                ack = type(exc).__name__
            return i, ack, sent, (time.monotonic() - t0) * 1000

        idx = which if which is not None else list(range(len(self.clients)))

        async def all_of() -> list[tuple[int, Any, float, float]]:
            return list(await asyncio.gather(*(one(i, d) for i, d in zip(idx, datas, strict=True))))

        return list(self.run(all_of(), timeout + 60))

    def received(self, i: int, event: str, pred: Callable[[Any], bool] | None = None,
                 since: float = 0.0) -> list[Any]:
        """What phone `i` received of `event` (matching `pred`), at or after `since` (time.time())."""
        return [d for t, e, d in list(self.events[i]) if t >= since and e == event and (pred is None or pred(d))]

    def wait_all(self, event: str, pred: Callable[[Any], bool] | None = None, timeout: float = 30,
                 which: list[int] | None = None, since: float = 0.0) -> float:
        """Until every phone (of `which`) has received a matching event at or after `since` (time.time(): an event
        of an earlier test on the same phones does not count); returns the latest arrival time."""
        idx = which if which is not None else list(range(len(self.tokens)))
        deadline = time.monotonic() + timeout
        while True:
            missing = [i for i in idx if not self.received(i, event, pred, since)]
            if not missing:
                return max(t for i in idx for t, e, d in list(self.events[i])
                           if t >= since and e == event and (pred is None or pred(d)))
            if time.monotonic() > deadline:
                last = [e for _t, e, _d in self.events[missing[0]]][-8:]
                raise AssertionError(f"{len(missing)} of {len(idx)} phones got no matching {event!r} within "
                                     f"{timeout}s (e.g. phone {missing[0]}, its last events: {last})")
            time.sleep(0.05)

    def connected(self) -> list[bool]:
        return [bool(c.connected) for c in self.clients]

    def close(self) -> None:
        async def down() -> None:
            for c in self.clients:
                c.reconnection = False
            await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)
            await asyncio.gather(*(c.eio.http.close() for c in self.clients if c.eio.http is not None),
                                 return_exceptions=True)

        try:
            self.run(down(), 60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
            if not self._thread.is_alive():
                self.loop.close()  # its self-pipe's two sockets too: left to the collector they warn (an error here)


def another_council(data_dir: Path, database_url: str | None, locality: str, n: int, base: str) -> dict[str, Any]:
    """Another council's meeting on the same deployment (one deployment serving the sessions of many councils,
    issue 20): made as the clerk console's "new meeting" and roster import make it (services.meetings.create and
    services.roster.apply, on the deployment's database, beside the running servers), `n` delegates strong (the
    chair among them; a meeting seats at most 500). Returns its join links, `links --json`'s shape, with
    `base` in the URLs; its delegates are not present until their cards are scanned."""
    from sqlalchemy.orm import Session

    from meeting_server.domain.roster import parse_rows
    from meeting_server.services import links, meetings, roster
    from meeting_server.store import db

    rows = [["STT", "Họ và tên", "Chức vụ", "Tổ đại biểu", "Vai trò"],
            ["1", f"Chủ tọa {locality}", "Chủ tịch HĐND", "Tổ 1", "Chủ tọa"]]
    rows += [[str(i), f"Đại biểu {locality} {i:03d}", "Đại biểu HĐND", f"Tổ {i % 10 + 1}", "Đại biểu"]
             for i in range(2, n + 1)]
    engine = db.make_engine(database_url or db.database_url(data_dir), data_dir)
    try:
        with Session(engine, expire_on_commit=False) as s:
            f = meetings.MeetingFields(council_level="phường", locality=locality, session_title="Kỳ họp thứ Ba",
                                       term="khóa I, nhiệm kỳ 2026 - 2031", place=f"Hội trường phường {locality}",
                                       starts_at=None, seated_count=n)
            m = meetings.create(s, f, "clerk:scale-kit")
            roster.apply(s, m, parse_rows(rows), "clerk:scale-kit")
            s.refresh(m)
            return links.links(m, base)
    finally:
        engine.dispose()
