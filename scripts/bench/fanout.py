#!/usr/bin/env python3
"""Page-sync fan-out: one `present` reaching 50, 200 and 500 Socket.IO clients, against a bare WebSocket floor.

Clients run in several other processes (one process cannot drive 500 python-socketio clients: shared/perf-floors.md);
all processes are on this machine, so `time.time()` is a shared clock. For each page turn it measures
  emit→recv: from the presenter's emit (its own process) to each client's receipt, and
  ts→recv:   from the server's `ts` in the `presented` payload to each client's receipt.
The floor is a minimal `websockets` broadcast server run in the same session with the same kind of clients, the
same method and the same turns: at each level both servers have their n clients connected, and the page turns go
to the floor and to our server in turn, 120 ms apart, so that the two series share the same seconds of the machine
(a burst of steal lands on both alike). Each of our rows prints p99 ÷ the floor's p99.
Our server is measured with two kinds of Socket.IO clients: bare-WebSocket clients that speak the
Engine.IO/Socket.IO protocol themselves (they cost what the floor's clients cost, so the figure is the server's),
and the python-socketio library's clients (which on 2 cores spend more CPU decoding than the server spends sending).
The bare clients (`BareSocket`) read every socket through one epoll and leave parsing until the run is over: the
simulated phones share the 2 cores with the server, and what they spend per frame is taken from it. Each row prints
the CPU the clients and the server spent per frame sent to one client.
Also prints the server's RSS with the clients connected and a 300-page document ingested; the server is not
restarted between levels, so a later level's RSS includes what the earlier ones left (run `--levels 500` alone
for the figure at 500).

A single stall of the machine delays a whole turn: with 60 turns the p99 is the worst turn, with the default 300
it is the third worst. Compare runs made side by side, and repeat.

This machine is a virtual one: the hypervisor takes CPU time for other guests ("steal", /proc/stat), in bursts
that hold a whole turn up for either server. Each row prints the share stolen while it ran and, beside the p99 of all
turns, the p99 of the turns during which no clock tick was stolen (a turn's window is its 120 ms up to the next).

The presenter is of the same kind as the clients: a bare synchronous WebSocket for the floor, the same speaking
Socket.IO for the raw clients, python-socketio's client for python-socketio's clients.

    .venv/bin/python scripts/bench/fanout.py [--levels 50,200,500] [--turns 300] [--gc on] [--clients both]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cpu_times() -> list[int]:
    """The machine's CPU time counters (/proc/stat's first line: user nice system idle iowait irq softirq steal)."""
    return [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]


def steal_pct(delta: list[int]) -> float:
    """Share of CPU time the hypervisor gave to other guests in a `cpu_times()` difference: a virtual machine's
    noise."""
    return 100.0 * delta[7] / max(1, sum(delta))


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    return v[min(len(v) - 1, int(round(q / 100 * (len(v) - 1))))]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def proc_stat(pid: int) -> list[str]:
    """/proc/<pid>/stat's fields after the command name (state, ppid, …: field 3 of proc(5) is index 0)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_s(pid: int) -> float:
    """CPU time (user + system) a process has used so far, in seconds."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children(pid: int) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if int(proc_stat(int(p.name))[1]) == pid:
                    found.append(int(p.name))
            except (OSError, ValueError, IndexError):
                pass
    return found


def children_rss_mb(pid: int) -> float:
    return sum(rss_mb(c) for c in children(pid))


def pss_mb(pid: int) -> float:
    """Proportional set size: shared pages (the libraries the render workers share) counted once across processes."""
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        if line.startswith("Pss:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def tree_pss_mb(pid: int) -> float:
    """The server with its render workers, each shared page counted once."""
    return pss_mb(pid) + sum(pss_mb(c) for c in children(pid))


# --- client processes --------------------------------------------------------------------------------------------


def sio_clients(url: str, tokens: list[str], ready: Any, results: Any, stop: Any) -> None:
    """Connect len(tokens) Socket.IO clients (asyncio) and record (seq, ts, recv) of every `presented`."""
    import socketio

    async def main() -> None:
        got: list[tuple[int, int, float]] = []
        clients = []

        async def one(tok: str) -> None:
            c = socketio.AsyncClient(reconnection=False)

            @c.on("presented")
            async def _p(data: dict[str, Any]) -> None:
                got.append((data["seq"], data["ts"], time.time()))

            await c.connect(url, auth={"token": tok}, transports=["websocket"], wait_timeout=60)
            clients.append(c)

        for i in range(0, len(tokens), 25):  # connect in bursts, not all at once
            await asyncio.gather(*(one(t) for t in tokens[i:i + 25]))
        ready.put(len(clients))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        results.put(got)
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)

    asyncio.run(main())


class BareSocket:
    """One client WebSocket (RFC 6455) on a plain socket, offering permessage-deflate (RFC 7692) as browsers do
    (the floor accepts it; our server declines it, realtime/transport.py).

    The bench's simulated phones share the 2 cores with the server: every microsecond a client spends on a frame
    is taken from the server and lands in the figure, which a real phone with its own CPU never does. This client
    does the least a phone's socket must: read the bytes, inflate them, answer pings. asyncio's `websockets`
    client spent 57 µs of CPU per received frame (100 clients of the floor, 2026-11-24), 28 ms for one turn at 500
    clients; these spent 13–39 µs (the bench's "CPU per frame" column, nine runs on 2026-11-24).
    """

    def __init__(self, url: str) -> None:
        import base64
        import zlib
        from urllib.parse import urlsplit

        u = urlsplit(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = base64.b64encode(os.urandom(16)).decode()
        path = u.path + ("?" + u.query if u.query else "")
        self.sock.sendall((f"GET {path or '/'} HTTP/1.1\r\nHost: {u.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n").encode())
        buf = b""
        while b"\r\n\r\n" not in buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed during the handshake")
            buf += chunk
        head, self.buf = buf.split(b"\r\n\r\n", 1)
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.split(b"\r\n", 1)[0].decode())
        # Used only if the server accepted permessage-deflate (RSV1 set on a message): one window for the
        # connection, which is right with or without context takeover.
        self.inflater = zlib.decompressobj(-15)
        self.compressed = False  # whether the message being read is compressed (RSV1 of its first frame)
        self.parts: list[bytes] = []
        self.pending: list[bytes] = []

    def send(self, payload: bytes, opcode: int = 1) -> None:
        """One masked, uncompressed frame (a client may always send uncompressed: RFC 7692 §6)."""
        mask = os.urandom(4)
        n = len(payload)
        head = bytes([0x80 | opcode]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(head + mask + body)

    def messages(self, data: bytes) -> list[bytes]:
        """Feed received bytes; return the complete data messages, answer pings, raise on close."""
        buf = self.buf + data if self.buf else data
        out = []
        while len(buf) >= 2:
            b0, n, pos = buf[0], buf[1] & 0x7F, 2
            if n == 126:
                if len(buf) < 4:
                    break
                n, pos = int.from_bytes(buf[2:4], "big"), 4
            elif n == 127:
                if len(buf) < 10:
                    break
                n, pos = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < pos + n:
                break
            payload, buf = buf[pos:pos + n], buf[pos + n:]
            opcode = b0 & 0x0F
            if opcode == 9:
                self.send(payload, 0xA)
            elif opcode == 8:
                raise ConnectionError("closed by the server")
            elif opcode in (0, 1, 2):
                if opcode:
                    self.compressed = bool(b0 & 0x40)
                self.parts.append(payload)
                if b0 & 0x80:  # FIN: the message is complete
                    msg = b"".join(self.parts)
                    self.parts = []
                    if self.compressed:
                        msg = self.inflater.decompress(msg + b"\x00\x00\xff\xff")
                    out.append(msg)
        self.buf = buf
        return out

    def recv(self) -> bytes:
        """Block until one data message (while a protocol on top opens; not used while measuring)."""
        if not self.pending and self.buf:  # the 101 reply may have brought the first frames with it
            self.pending.extend(self.messages(b""))
        while not self.pending:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.pending.extend(self.messages(data))
        return self.pending.pop(0)

    def close(self) -> None:
        try:
            self.send((1000).to_bytes(2, "big"), 8)
        except OSError:
            pass
        self.sock.close()


def _bare_clients(open_one: Any, keep: Any, parse: Any, items: list[Any], ready: Any, results: Any,
                  stop: Any) -> None:
    """Bare WebSocket clients in this process, read through one epoll: `open_one(item)` opens one `BareSocket`,
    `keep(sock, msg)` answers what must be answered and says whether to record the message, `parse(msg)` gives
    its (seq, ts) once the run is over. Records (seq, ts, receipt time) until `stop`.

    The receipt time is read when epoll reports the socket readable, before the bytes are taken, and the JSON is
    parsed once the run is over: a client read late in a turn waits only for the reads before it (a few µs each).
    """
    import select

    ep = select.epoll()
    by_fd: dict[int, BareSocket] = {}
    seen: list[tuple[float, bytes]] = []
    now = time.time

    def drain(timeout: float) -> None:
        for fd, _ev in ep.poll(timeout):
            c = by_fd[fd]
            t = now()
            try:
                data = c.sock.recv(65536)
                if not data:
                    raise ConnectionError("closed")
                for msg in c.messages(data):
                    if keep(c, msg):
                        seen.append((t, msg))
            except BlockingIOError:
                continue
            except OSError:
                ep.unregister(fd)
                del by_fd[fd]

    conns = []
    for item in items:
        c = open_one(item)
        c.pending.clear()  # what came before the client was open (the `state` snapshot) is not measured
        c.sock.setblocking(False)
        ep.register(c.sock.fileno(), select.EPOLLIN)
        by_fd[c.sock.fileno()] = c
        conns.append(c)
        drain(0)  # what the earlier clients were sent meanwhile (attendance), so that no buffer fills
    seen.clear()
    ready.put(len(conns))
    while not stop.is_set():
        drain(0.05)
    results.put([(*parse(msg), t) for t, msg in seen])
    for c in conns:
        c.close()


def raw_sio_clients(url: str, tokens: list[str], ready: Any, results: Any, stop: Any) -> None:
    """The same Socket.IO clients without the python-socketio library: Engine.IO 4 / Socket.IO 5 spoken over a
    `BareSocket` (open, CONNECT with the token, answer pings, timestamp each frame as it arrives).

    Phones each have their own CPU; on this 2-core machine, 500 python-socketio clients spend more CPU decoding than
    the server spends sending, and their queueing lands in the figure. These clients cost what the floor's cost.
    """
    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    def open_one(tok: str) -> BareSocket:
        ws = BareSocket(ws_url)
        opening = ws.recv()
        assert opening.startswith(b"0"), opening
        ws.send(b"40" + json.dumps({"token": tok}).encode())
        while True:  # the server's `state` may come before the CONNECT reply
            msg = ws.recv()
            if msg.startswith(b"40"):
                return ws
            if msg.startswith(b"44"):
                raise SystemExit(f"refused: {msg!r}")

    def keep(ws: BareSocket, msg: bytes) -> bool:
        if msg == b"2":
            ws.send(b"3")  # Engine.IO's ping
            return False
        return msg.startswith(b'42["presented"')

    def parse(msg: bytes) -> tuple[int, int]:
        d = json.loads(msg[2:])[1]
        return d["seq"], d["ts"]

    _bare_clients(open_one, keep, parse, tokens, ready, results, stop)


def ws_clients(url: str, n: int, ready: Any, results: Any, stop: Any) -> None:
    """The floor's clients: n `BareSocket`s recording (seq, ts, recv)."""

    def parse(msg: bytes) -> tuple[int, int]:
        d = json.loads(msg)
        return d["seq"], d["ts"]

    _bare_clients(lambda _i: BareSocket(url), lambda _ws, _msg: True, parse, list(range(n)), ready, results, stop)


def floor_server(port: int) -> None:
    """A minimal websockets broadcast server: whatever the presenter sends goes to everyone, with a ts."""
    import websockets

    clients: set[Any] = set()

    async def handler(ws: Any) -> None:
        clients.add(ws)
        try:
            async for msg in ws:
                d = json.loads(msg)
                d["ts"] = int(time.time() * 1000)
                websockets.broadcast(clients, json.dumps(d))
        finally:
            clients.discard(ws)

    async def main() -> None:
        async with websockets.serve(handler, "127.0.0.1", port, max_queue=None):
            await asyncio.Future()

    asyncio.run(main())


def spread(n: int) -> int:
    """Client processes for n clients: about 100 per process, at least 2."""
    return max(2, (n + 99) // 100)


class Clients:
    """n clients of one kind ("ws": the floor's, "raw" or "sio": Socket.IO) connected to one server, spread over
    several processes; `finish()` stops them and gathers every (seq, ts, receipt time) they recorded."""

    def __init__(self, kind: str, url: str, n: int, tokens: list[str]) -> None:
        ctx = mp.get_context("spawn")
        self.ready, self.results, self.stop = ctx.Queue(), ctx.Queue(), ctx.Event()
        self.procs = []
        k = spread(n)
        offset = 0
        for count in [n // k + (1 if i < n % k else 0) for i in range(k)]:
            if kind in ("sio", "raw"):
                toks = [tokens[(offset + j) % len(tokens)] for j in range(count)]
                target = sio_clients if kind == "sio" else raw_sio_clients
                p = ctx.Process(target=target, args=(url, toks, self.ready, self.results, self.stop))
            else:
                p = ctx.Process(target=ws_clients, args=(url, count, self.ready, self.results, self.stop))
            offset += count
            p.start()
            self.procs.append(p)
        self.connected = 0

    def wait_ready(self) -> None:
        self.connected = sum(self.ready.get(timeout=180) for _ in self.procs)

    def cpu(self) -> float:
        return sum(cpu_s(p.pid or 0) for p in self.procs)

    def finish(self) -> list[tuple[int, int, float]]:
        self.stop.set()
        got: list[tuple[int, int, float]] = []
        for _ in self.procs:
            got.extend(self.results.get(timeout=60))
        for p in self.procs:
            p.join(30)
        return got


def run_level(n: int, turns: int, tokens: list[str], series: list[tuple[str, str, Any]]) -> list[dict[str, Any]]:
    """Connect n clients to each server of `series` ((kind, url, presenter) each), then turn `turns` pages on each,
    one server after the other turn by turn, 120 ms apart; gather each server's latencies.

    Interleaving puts the floor and our server in the same seconds of the machine: a burst of steal or of another
    process's work lands on both series alike, where measuring one server's minute and then the other's let it
    land on one only (a ratio of 3.6× on 2026-11-24 came from such a minute)."""
    groups = [Clients(kind, url, n, tokens) for kind, url, _p in series]
    for g in groups:
        g.wait_ready()
    time.sleep(1.0)
    rss = [p.rss() for _k, _u, p in series]
    spent = [(g.cpu(), cpu_s(p.pid)) for g, (_k, _u, p) in zip(groups, series, strict=True)]
    emitted: list[dict[int, float]] = [{} for _ in series]
    stolen: list[dict[int, int]] = [{} for _ in series]  # ticks the hypervisor took during each turn's 120 ms
    machine = [[0] * 8 for _ in series]  # each series' share of /proc/stat, summed over its turns' windows
    last = cpu_times()
    for i in range(turns):
        for k, (_kind, _url, present) in enumerate(series):
            seq, t_emit = present.turn(i)
            emitted[k][seq] = t_emit
            time.sleep(0.12)
            now = cpu_times()
            delta = [b - a for a, b in zip(last, now, strict=True)]
            machine[k] = [x + d for x, d in zip(machine[k], delta, strict=True)]
            stolen[k][seq] = delta[7]
            last = now
    time.sleep(1.0)
    out = []
    for k, (g, (_kind, _url, present)) in enumerate(zip(groups, series, strict=True)):
        frames = max(1, g.connected * turns)  # CPU per frame sent to one client, in µs, clients and server
        client_us = 1e6 * (g.cpu() - spent[k][0]) / frames
        server_us = 1e6 * (cpu_s(present.pid) - spent[k][1]) / frames
        got = g.finish()
        warm = sorted(emitted[k])[3:]  # the first turns warm caches up
        e2r = [(recv - emitted[k][seq]) * 1000 for seq, _ts, recv in got if seq in warm]
        t2r = [recv * 1000 - ts for seq, ts, recv in got if seq in warm]
        calm = {seq for seq in warm if stolen[k][seq] == 0}
        e2r_calm = [(recv - emitted[k][seq]) * 1000 for seq, _ts, recv in got if seq in calm]
        out.append({"n": n, "connected": g.connected, "received": len(e2r), "expected": g.connected * len(warm),
                    "p50": pct(e2r, 50), "p99": pct(e2r, 99), "max": max(e2r) if e2r else float("nan"),
                    "ts_p50": pct(t2r, 50), "ts_p99": pct(t2r, 99), "rss": rss[k],
                    "steal": steal_pct(machine[k]),
                    "calm_turns": len(calm), "calm_p99": pct(e2r_calm, 99), "client_us": client_us,
                    "server_us": server_us})
    return out


class SioPresenter:
    """The chair's phone: emits `present` and waits for its ack."""

    def __init__(self, url: str, token: str, document_id: int, pages: int, pid: int) -> None:
        import socketio

        self.c = socketio.Client(reconnection=False)
        self.c.connect(url, auth={"token": token}, transports=["websocket"], wait_timeout=30)
        self.document_id, self.pages, self.pid = document_id, pages, pid

    def turn(self, i: int) -> tuple[int, float]:
        t = time.time()
        ack = self.c.call("present", {"document_id": self.document_id, "page": 1 + i % self.pages}, timeout=30)
        assert ack.get("ok"), ack
        return int(ack["seq"]), t

    def rss(self) -> float:
        return rss_mb(self.pid)

    def close(self) -> None:
        self.c.disconnect()


class RawPresenter:
    """The chair's screen speaking Engine.IO 4 / Socket.IO 5 over a bare synchronous WebSocket: the floor's
    presenter (`WsPresenter`) with the protocol on top, so that the two presenters cost the same.

    It connects at its first turn, once every client is connected: it reads (and answers Engine.IO's pings) only
    during a turn, and the server closes a connection that leaves a ping unanswered for ping_interval +
    ping_timeout (45 s, app.py). At 1,500 clients per stack the clients took about 3 minutes to connect, and a
    presenter connected before them was closed meanwhile ("1011 internal error" at its first turn)."""

    def __init__(self, url: str, token: str, document_id: int, pages: int, pid: int) -> None:
        self.url, self.token = url, token
        self.document_id, self.pages, self.pid, self.acks = document_id, pages, pid, 0
        self.ws: Any = None

    def _connect(self) -> Any:
        from websockets.sync.client import connect

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ws = connect(self.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
                         ping_interval=None)
        assert str(ws.recv()).startswith("0")
        ws.send("40" + json.dumps({"token": self.token}))
        while not str(ws.recv()).startswith("40"):
            pass
        return ws

    def turn(self, i: int) -> tuple[int, float]:
        if self.ws is None:
            self.ws = self._connect()
        self.acks += 1
        head = f"43{self.acks}["
        t = time.time()
        self.ws.send(f"42{self.acks}" + json.dumps(["present", {"document_id": self.document_id,
                                                               "page": 1 + i % self.pages}]))
        while True:
            msg = str(self.ws.recv(timeout=30))
            if msg == "2":
                self.ws.send("3")  # Engine.IO's ping
            elif msg.startswith(head):
                ack = json.loads(msg[len(head) - 1:])[0]
                assert ack.get("ok"), ack
                return int(ack["seq"]), t

    def rss(self) -> float:
        return rss_mb(self.pid)

    def close(self) -> None:
        if self.ws is not None:
            self.ws.close()


class WsPresenter:
    def __init__(self, url: str, pid: int) -> None:
        from websockets.sync.client import connect

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ws = connect(url, ping_interval=None, max_queue=None)  # it reads nothing: keep pings answered
        self.pid = pid

    def turn(self, i: int) -> tuple[int, float]:
        t = time.time()
        self.ws.send(json.dumps({"document_id": 1, "page": 1 + i % 5, "seq": i + 1}))
        return i + 1, t

    def rss(self) -> float:
        return rss_mb(self.pid)

    def close(self) -> None:
        self.ws.close()


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM, as systemd stops it; say how long it took, and kill it past 60 s."""
    t_stop = time.monotonic()
    proc.terminate()
    try:
        proc.wait(60)
        print(f"server stopped {time.monotonic() - t_stop:.1f} s after SIGTERM", file=sys.stderr)
    except subprocess.TimeoutExpired:
        print("server still running 60 s after SIGTERM: killed", file=sys.stderr)
        proc.kill()
        proc.wait(10)


def make_pdf(path: Path, pages: int) -> None:
    import pymupdf

    doc = pymupdf.open()
    for i in range(pages):
        page = doc.new_page()
        page.insert_text((72, 100), f"Trang {i + 1}: báo cáo kinh tế - xã hội, đại biểu HĐND xã", fontsize=14)
        for line in range(40):
            page.insert_text((72, 130 + line * 16), f"Dòng {line + 1} của trang {i + 1}: nội dung thử nghiệm.")
    doc.save(path)


def start_server(data: Path, gc_freeze: bool) -> tuple[subprocess.Popen[bytes], str]:
    import requests

    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(ROOT), MEETING_GC_FREEZE="1" if gc_freeze else "0")
    log = open(data / "server.log", "ab")
    proc = subprocess.Popen([PY, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--data-dir", str(data)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if requests.get(url + "/healthz", timeout=1).ok:
                return proc, url
        except requests.RequestException:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def prepare(url: str, data: Path, pages: int) -> tuple[dict[str, Any], int]:
    """Upload a `pages`-page PDF as the clerk and wait until it is ready; the join links."""
    import requests

    links = json.loads(subprocess.check_output([PY, "-m", "meeting_server", "links", "--json", "--data-dir",
                                                str(data)], cwd=ROOT, env=dict(os.environ, PYTHONPATH=str(ROOT))))
    clerk = {"Authorization": "Bearer " + links["clerk"].rsplit("/", 1)[1]}
    pdf = data / f"big-{pages}.pdf"
    make_pdf(pdf, pages)
    with open(pdf, "rb") as f:
        r = requests.post(url + "/api/v1/meetings/1/documents", headers=clerk, files={"file": (pdf.name, f)})
    r.raise_for_status()
    doc_id = r.json()["id"]
    while True:  # ready, and every page drawn ahead of time (rendering would compete for the 2 cores)
        d = requests.get(f"{url}/api/v1/documents/{doc_id}", headers=clerk).json()
        if d["status"] == "failed":
            raise SystemExit(d)
        if d["status"] == "ready" and d["pages_rendered"] >= d["page_count"]:
            break
        time.sleep(0.2)
    # The large width is drawn after the phone width: wait for it too.
    cache = data / "documents" / "cache"
    while not any(len(list(p.glob("*-w1600.webp"))) >= pages for p in cache.glob("*/*")):
        time.sleep(0.5)
    time.sleep(2.0)
    return links, doc_id


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--levels", default="50,200,500")
    ap.add_argument("--turns", type=int, default=300)
    ap.add_argument("--gc", choices=["on", "off", "both", "both-reversed"], default="both",
                    help="gc.freeze() in the server (both: on then off; both-reversed: off then on)")
    ap.add_argument("--pages", type=int, default=300)
    ap.add_argument("--settle", type=float, default=0.0,
                    help="seconds to wait after the document is drawn, before the first level (e.g. 130: idle "
                         "render workers stop, as they do in a meeting)")
    ap.add_argument("--clients", choices=["raw", "python-socketio", "both"], default="both",
                    help="Socket.IO clients: bare-WebSocket protocol clients (cost like the floor's), the "
                         "python-socketio library's, or both in turn")
    args = ap.parse_args()
    # websockets' sync client warns on every call when not used as a context manager; the presenters live longer.
    warnings.filterwarnings("ignore", "connect\\(\\) must be used as a context manager", DeprecationWarning)
    levels = [int(x) for x in args.levels.split(",")]
    rows: list[tuple[str, dict[str, Any]]] = []

    # The floor runs beside our server, level by level, just before ours at the same level: a machine that is
    # noisier for a few minutes then moves both figures of a comparison, not one.
    port = free_port()
    ctx = mp.get_context("spawn")
    fs = ctx.Process(target=floor_server, args=(port,), daemon=True)
    fs.start()

    orders = {"both": [True, False], "both-reversed": [False, True], "on": [True], "off": [False]}
    try:
        for freeze in orders[args.gc]:
            with tempfile.TemporaryDirectory(prefix="fanout-") as tmp:
                data = Path(tmp)
                proc, url = start_server(data, freeze)
                try:
                    links, doc_id = prepare(url, data, args.pages)
                    time.sleep(args.settle)
                    tokens = [d["url"].rsplit("/", 1)[1] for d in links["delegates"]]
                    chair = links["chair"][0].rsplit("/", 1)[1]
                    kinds = {"raw": ["raw"], "python-socketio": ["sio"], "both": ["raw", "sio"]}[args.clients]
                    for n in levels:
                        # Each kind of client with the presenter of its kind (the floor's: a bare WebSocket).
                        labels = ["websockets floor"]
                        floor_url = f"ws://127.0.0.1:{port}"
                        series: list[tuple[str, str, Any]] = [("ws", floor_url, WsPresenter(floor_url, fs.pid or 0))]
                        for kind in kinds:
                            label = "raw Socket.IO clients" if kind == "raw" else "python-socketio clients"
                            labels.append(f"meeting-server, {label}, gc.freeze={'on' if freeze else 'off'}")
                            presenter = RawPresenter if kind == "raw" else SioPresenter
                            series.append((kind, url, presenter(url, chair, doc_id, args.pages, proc.pid)))
                        print(f"{n} clients each: {', '.join(labels)}, turn by turn", file=sys.stderr, flush=True)
                        results = run_level(n, args.turns, tokens, series)
                        floor = results[0]
                        for label, res in zip(labels, results, strict=True):
                            if res is not floor:
                                res["workers_rss"] = children_rss_mb(proc.pid)
                                res["workers"] = len(children(proc.pid))
                                res["tree_pss"] = tree_pss_mb(proc.pid)
                                res["vs_floor"] = res["p99"] / floor["p99"]
                            rows.append((label, res))
                            print(f"  {label}: p50 {res['p50']:.1f} / p99 {res['p99']:.1f} / max {res['max']:.1f} ms, "
                                  f"steal {res['steal']:.1f}%", file=sys.stderr, flush=True)
                        for _kind, _url, pres in series:
                            pres.close()
                finally:
                    stop_server(proc)
    finally:
        fs.terminate()

    print()
    print(f"Page-sync fan-out, {args.turns} page turns per server and level (first 3 dropped), the servers' turns "
          f"interleaved, clients in {'/'.join(str(spread(n)) for n in levels)} processes per server, loopback, "
          f"{os.cpu_count()} cores")
    print("| stack | clients | received/expected | emit→recv p50 | p99 | p99 ÷ floor's | max | server ts→recv p50 | "
          "p99 | CPU steal | turns without steal: p99 | CPU per frame: clients / server | server RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        extra = ""
        if "workers_rss" in r:
            workers = f"{r['workers']} render worker" + ("" if r["workers"] == 1 else "s")
            extra = f" (+{r['workers_rss']:.0f} MB in {workers}; PSS of all {r['tree_pss']:.0f} MB)"
        ratio = f"{r['vs_floor']:.2f}×" if "vs_floor" in r else ""
        print(f"| {name} | {r['n']} | {r['received']}/{r['expected']} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | "
              f"{ratio} | {r['max']:.1f} ms | {r['ts_p50']:.1f} ms | {r['ts_p99']:.1f} ms | {r['steal']:.1f}% | "
              f"{r['calm_turns']}: {r['calm_p99']:.1f} ms | {r['client_us']:.0f} / {r['server_us']:.0f} µs | "
              f"{r['rss']:.0f} MB{extra} |")
    print(f"\nRSS measured with all clients connected and a {args.pages}-page document ingested. Render workers past "
          "the first stop after DOCUMENT_WORKER_IDLE_S (120 s) without work; --settle waits for that before the "
          "first level.")


if __name__ == "__main__":
    main()
