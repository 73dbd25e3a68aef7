#!/usr/bin/env python3
"""Page-sync fan-out: one `present` reaching 50, 200 and 500 Socket.IO clients, against a bare WebSocket floor.

Clients run in several other processes (one process cannot drive 500 python-socketio clients: shared/perf-floors.md);
all processes are on this machine, so `time.time()` is a shared clock. For each page turn it measures
  emit→recv: from the presenter's emit (its own process) to each client's receipt, and
  ts→recv:   from the server's `ts` in the `presented` payload to each client's receipt.
The floor is a minimal `websockets` broadcast server run in the same session with the same clients and method, at
each level just before our server (both stay up for the whole run): the two figures of a comparison are measured
minutes apart at most, so a stretch of a noisy machine moves both. Each of our rows prints p99 ÷ the floor's p99.
Our server is measured with two kinds of Socket.IO clients in turn: bare-WebSocket clients that speak the
Engine.IO/Socket.IO protocol themselves (they cost what the floor's clients cost, so the figure is the server's),
and the python-socketio library's clients (which on 2 cores spend more CPU decoding than the server spends sending).
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


def steal_pct(before: list[int], after: list[int]) -> float:
    """Share of CPU time the hypervisor gave to other guests between two readings: a virtual machine's noise."""
    delta = [b - a for a, b in zip(before, after, strict=True)]
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


def children(pid: int) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                stat = (p / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
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


def _bare_clients(open_one: Any, on_frame: Any, items: list[Any], ready: Any, results: Any, stop: Any) -> None:
    """Bare WebSocket clients in this process: `open_one(item)` opens one (in bursts of 25), `on_frame(ws, msg)`
    returns (seq, ts) for a `presented` frame or None; records (seq, ts, receipt time) until `stop`."""

    async def main() -> None:
        got: list[tuple[int, int, float]] = []

        async def reader(ws: Any) -> None:
            try:
                async for msg in ws:
                    t = time.time()
                    seen = await on_frame(ws, msg)
                    if seen is not None:
                        got.append((*seen, t))
            except Exception:
                pass

        conns = []
        for i in range(0, len(items), 25):  # connect in bursts, not all at once
            conns.extend(await asyncio.gather(*(open_one(x) for x in items[i:i + 25])))
        tasks = [asyncio.create_task(reader(ws)) for ws in conns]
        ready.put(len(conns))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        results.put(got)
        for ws in conns:
            await ws.close()
        for t in tasks:
            t.cancel()

    asyncio.run(main())


def raw_sio_clients(url: str, tokens: list[str], ready: Any, results: Any, stop: Any) -> None:
    """The same Socket.IO clients without the python-socketio library: Engine.IO 4 / Socket.IO 5 spoken over a bare
    WebSocket (open, CONNECT with the token, answer pings, timestamp each frame as it arrives).

    Phones each have their own CPU; on this 2-core machine, 500 python-socketio clients spend more CPU decoding than
    the server spends sending, and their queueing lands in the figure. These clients cost what the floor's cost.
    """
    import websockets

    ws_url = url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"

    async def open_one(tok: str) -> Any:
        ws = await websockets.connect(ws_url, max_queue=None)
        opening = await ws.recv()
        assert opening.startswith("0"), opening
        await ws.send("40" + json.dumps({"token": tok}))
        while True:  # the server's `state` may come before the CONNECT reply
            msg = await ws.recv()
            if msg.startswith("40"):
                return ws
            if msg.startswith("44"):
                raise SystemExit(f"refused: {msg}")

    async def on_frame(ws: Any, msg: str) -> tuple[int, int] | None:
        if msg == "2":
            await ws.send("3")  # Engine.IO's ping
        elif msg.startswith('42["presented"'):
            d = json.loads(msg[2:])[1]
            return d["seq"], d["ts"]
        return None

    _bare_clients(open_one, on_frame, tokens, ready, results, stop)


def ws_clients(url: str, n: int, ready: Any, results: Any, stop: Any) -> None:
    """The floor's clients: n bare WebSocket connections recording (seq, ts, recv)."""
    import websockets

    async def open_one(_i: int) -> Any:
        return await websockets.connect(url, max_queue=None)

    async def on_frame(_ws: Any, msg: str) -> tuple[int, int]:
        d = json.loads(msg)
        return d["seq"], d["ts"]

    _bare_clients(open_one, on_frame, list(range(n)), ready, results, stop)


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


def run_level(kind: str, url: str, n: int, turns: int, tokens: list[str], present: Any) -> dict[str, Any]:
    """Connect n clients over several processes, turn `turns` pages, gather latencies."""
    ctx = mp.get_context("spawn")
    ready, results, stop = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = []
    k = spread(n)
    per = [n // k + (1 if i < n % k else 0) for i in range(k)]
    offset = 0
    for count in per:
        if kind in ("sio", "raw"):
            toks = [tokens[(offset + j) % len(tokens)] for j in range(count)]
            target = sio_clients if kind == "sio" else raw_sio_clients
            p = ctx.Process(target=target, args=(url, toks, ready, results, stop))
        else:
            p = ctx.Process(target=ws_clients, args=(url, count, ready, results, stop))
        offset += count
        p.start()
        procs.append(p)
    connected = sum(ready.get(timeout=180) for _ in procs)
    time.sleep(1.0)
    emitted: dict[int, float] = {}
    rss = present.rss()
    marks = [cpu_times()]  # one reading between turns: each turn's window ends where the next one's begins
    stolen: dict[int, int] = {}  # clock ticks the hypervisor took from this machine during each turn's 120 ms
    for i in range(turns):
        seq, t_emit = present.turn(i)
        emitted[seq] = t_emit
        time.sleep(0.12)
        marks.append(cpu_times())
        stolen[seq] = marks[-1][7] - marks[-2][7]
    steal = steal_pct(marks[0], marks[-1])
    time.sleep(1.0)
    stop.set()
    got: list[tuple[int, int, float]] = []
    for _ in procs:
        got.extend(results.get(timeout=60))
    for p in procs:
        p.join(30)
    warm = sorted(emitted)[3:]  # the first turns warm caches up
    e2r = [(recv - emitted[seq]) * 1000 for seq, _ts, recv in got if seq in warm]
    t2r = [recv * 1000 - ts for seq, ts, recv in got if seq in warm]
    calm = {seq for seq in warm if stolen[seq] == 0}
    e2r_calm = [(recv - emitted[seq]) * 1000 for seq, _ts, recv in got if seq in calm]
    expected = connected * len(warm)
    return {"n": n, "connected": connected, "received": len(e2r), "expected": expected,
            "p50": pct(e2r, 50), "p99": pct(e2r, 99), "max": max(e2r) if e2r else float("nan"),
            "ts_p50": pct(t2r, 50), "ts_p99": pct(t2r, 99), "rss": rss, "steal": steal,
            "calm_turns": len(calm), "calm_p99": pct(e2r_calm, 99)}


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
    presenter (`WsPresenter`) with the protocol on top, so that the two presenters cost the same."""

    def __init__(self, url: str, token: str, document_id: int, pages: int, pid: int) -> None:
        from websockets.sync.client import connect

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ws = connect(url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket",
                              ping_interval=None)
        assert self.ws.recv().startswith("0")
        self.ws.send("40" + json.dumps({"token": token}))
        while not str(self.ws.recv()).startswith("40"):
            pass
        self.document_id, self.pages, self.pid, self.acks = document_id, pages, pid, 0

    def turn(self, i: int) -> tuple[int, float]:
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
        self.ws.close()


class WsPresenter:
    def __init__(self, url: str, pid: int) -> None:
        from websockets.sync.client import connect

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ws = connect(url, ping_interval=None)
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
                        print(f"websockets floor: {n} clients", file=sys.stderr, flush=True)
                        fp = WsPresenter(f"ws://127.0.0.1:{port}", fs.pid or 0)
                        floor = run_level("ws", f"ws://127.0.0.1:{port}", n, args.turns, [], fp)
                        fp.close()
                        rows.append(("websockets floor", floor))
                        print(f"  p50 {floor['p50']:.1f} / p99 {floor['p99']:.1f} / max {floor['max']:.1f} ms",
                              file=sys.stderr, flush=True)
                        for kind in kinds:
                            label = "raw Socket.IO clients" if kind == "raw" else "python-socketio clients"
                            print(f"meeting-server gc.freeze={freeze}: {n} {label}", file=sys.stderr, flush=True)
                            # Each kind of client with the presenter of its kind (the floor's: a bare WebSocket).
                            presenter = RawPresenter if kind == "raw" else SioPresenter
                            pres = presenter(url, chair, doc_id, args.pages, proc.pid)
                            res = run_level(kind, url, n, args.turns, tokens, pres)
                            res["workers_rss"] = children_rss_mb(proc.pid)
                            res["workers"] = len(children(proc.pid))
                            res["tree_pss"] = tree_pss_mb(proc.pid)
                            res["vs_floor"] = res["p99"] / floor["p99"]
                            rows.append((f"meeting-server, {label}, gc.freeze={'on' if freeze else 'off'}", res))
                            print(f"  p50 {res['p50']:.1f} / p99 {res['p99']:.1f} / max {res['max']:.1f} ms, "
                                  f"RSS {res['rss']:.0f} MB", file=sys.stderr, flush=True)
                            pres.close()
                finally:
                    stop_server(proc)
    finally:
        fs.terminate()

    print()
    print(f"Page-sync fan-out, {args.turns} page turns per level (first 3 dropped), clients in "
          f"{'/'.join(str(spread(n)) for n in levels)} processes, loopback, {os.cpu_count()} cores")
    print("| stack | clients | received/expected | emit→recv p50 | p99 | p99 ÷ floor's | max | server ts→recv p50 | "
          "p99 | CPU steal | turns without steal: p99 | server RSS |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for name, r in rows:
        extra = ""
        if "workers_rss" in r:
            workers = f"{r['workers']} render worker" + ("" if r["workers"] == 1 else "s")
            extra = f" (+{r['workers_rss']:.0f} MB in {workers}; PSS of all {r['tree_pss']:.0f} MB)"
        ratio = f"{r['vs_floor']:.2f}×" if "vs_floor" in r else ""
        print(f"| {name} | {r['n']} | {r['received']}/{r['expected']} | {r['p50']:.1f} ms | {r['p99']:.1f} ms | "
              f"{ratio} | {r['max']:.1f} ms | {r['ts_p50']:.1f} ms | {r['ts_p99']:.1f} ms | {r['steal']:.1f}% | "
              f"{r['calm_turns']}: {r['calm_p99']:.1f} ms | {r['rss']:.0f} MB{extra} |")
    print(f"\nRSS measured with all clients connected and a {args.pages}-page document ingested. Render workers past "
          "the first stop after DOCUMENT_WORKER_IDLE_S (120 s) without work; --settle waits for that before the "
          "first level.")


if __name__ == "__main__":
    main()
