#!/usr/bin/env python3
"""Several processes behind the front: three `serve --message-queue` processes on one data directory, a real
redis-server and HAProxy (`meeting-server front-config`'s configuration), against one process and the bare WebSocket
floor, all in the same run.

A meeting seats at most 500 delegates (services/meetings.py; a city's HĐND, the largest, has about 100): past 500
phones the fan-out's cards are shared by several connections (as fanout.py does), and past 500 delegates the vote
storm is several councils' meetings of at most 500 sitting at once on the same three processes (`--n 1500`: three
meetings of 500), the case of one deployment serving the sessions of many councils (issue 20). Raising the seat cap
to make one meeting of 1,500 would measure a council that does not exist; three meetings of 500 also load what many
councils share (the one ballot writer per process, whose group commits take every meeting's ballots together, the
meeting rows whose seqs each commit moves, the countdowns, the rooms).

1. Page-turn fan-out to N phones (default 1,500): fanout.py's bare Engine.IO/Socket.IO clients (`raw`, which cost
   what the floor's clients cost) and its floor (a minimal `websockets` broadcast server), its `run_level`: the
   floor, one process, and the three behind the front, turn by turn, 120 ms apart, so the three series share the
   same seconds of the machine. Through the front each client process binds its sockets to its own loopback
   addresses (127.x.y.z), so that HAProxy's `balance source` spreads them as it spreads a room's phones.
2. Vote storm through the front: first one meeting of min(N, 500) delegates alone, then N delegates in meetings of
   at most 500 (three at N = 1,500), every delegate of every meeting casting on their own meeting's open poll at one
   agreed instant (the client processes each hold phones of every meeting); ack p50/p99/max over all of them and per
   meeting, and per meeting stored = acknowledged: the participants whose ballot the database holds for that poll
   (read once every ack is in) are exactly those acknowledged. Also the three servers' CPU from the go until every
   client process has reported.
3. SIGKILL of one of the three while N phones (python-socketio clients, reconnection on) are connected through the
   front: the time until every phone it held has reconnected through the front and received a fresh `state`.

    .venv/bin/python scripts/bench/scale_out.py [--n 1500] [--turns 100] [--skip fanout,storm,kill]

All on this machine: the clients, the servers, Redis and HAProxy share its cores (the report says how many and
the load average), so the three-process figures show the cost of the extra hop and of Redis, not the gain of more
boxes.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import multiprocessing as mp
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import fanout  # noqa: E402  (scripts/bench/fanout.py: the floor, the bare clients, run_level)
import requests  # noqa: E402
import vote_storm  # noqa: E402  (scripts/bench/vote_storm.py: the server, the meeting's set-up)
from vote_storm import CHOICES, grow, tok  # noqa: E402

from tests.realtime.scale_kit import another_council, free_port, start_front, start_redis  # noqa: E402


def serve(data: Path, port: int, *extra: str) -> Any:
    """One server process on `data` (its log: server-<port>.log there)."""
    return vote_storm.start(data, port, *extra, log=f"server-{port}.log")

def ready_document(base: str, lk: dict[str, Any]) -> dict[str, Any]:
    """A demo document once it is processed."""
    deadline = time.time() + 300
    while True:
        docs = requests.get(f"{base}/api/v1/meetings/{lk['meeting_id']}/documents", timeout=30,
                            headers={"Authorization": "Bearer " + tok(lk["clerk"])}).json()["documents"]
        ready = [d for d in docs if d["status"] == "ready" and d["page_count"] >= 3]
        if ready:
            return dict(ready[0])
        if time.time() > deadline:
            raise SystemExit(f"no document ready at {base}: {docs}")
        time.sleep(0.5)


# --- clients bound to their own loopback addresses -----------------------------------------------------------


def _bind_sources(first: int) -> None:
    """In this client process, every new TCP connection leaves from its own loopback address (127.<first>.y.z)."""
    import socket

    real = socket.create_connection
    counter = [0]

    def create_connection(address: Any, timeout: Any = socket._GLOBAL_DEFAULT_TIMEOUT,  # type: ignore[attr-defined]
                          source_address: Any = None, **kw: Any) -> Any:
        k = counter[0]
        counter[0] += 1
        return real(address, timeout, source_address or (f"127.{first}.{k // 250}.{k % 250 + 1}", 0), **kw)

    socket.create_connection = create_connection  # type: ignore[assignment]
    fanout.socket.create_connection = create_connection  # type: ignore[attr-defined]


def front_raw_clients(url: str, tokens: list[str], ready: Any, results: Any, stop: Any) -> None:
    """fanout.py's bare Socket.IO clients, each from its own address (the front balances by address)."""
    _bind_sources(2 + os.getpid() % 200)
    fanout.raw_sio_clients(url, tokens, ready, results, stop)


def storm_proc(base: str, jobs: list[tuple[int, int, str, str]], polls: dict[int, int], first: int, ready: Any,
               go_at: Any, out: Any) -> None:
    """python-socketio clients through the front, each from its own address; each casts on its own meeting's poll
    at the agreed instant. `jobs`: (meeting, participant id, token, choice); reports (meeting, participant id,
    acknowledged, ms)."""
    import aiohttp
    import socketio

    async def main() -> list[tuple[int, int, bool, float]]:
        clients = []
        for i in range(0, len(jobs), 25):
            batch = []
            for k in range(i, min(i + 25, len(jobs))):
                conn = aiohttp.TCPConnector(local_addr=(f"127.{first}.{k // 250}.{k % 250 + 1}", 0), limit=0)
                batch.append(socketio.AsyncClient(reconnection=False,
                                                  http_session=aiohttp.ClientSession(connector=conn)))
            await asyncio.gather(*(c.connect(base, auth={"token": t}, transports=["websocket"], wait_timeout=60)
                                   for c, (_m, _p, t, _c) in zip(batch, jobs[i:i + 25], strict=True)))
            clients.extend(batch)
        ready.release()
        while go_at.value == 0:
            await asyncio.sleep(0.005)
        await asyncio.sleep(max(0.0, go_at.value - time.time()))

        async def one(c: Any, meeting: int, pid: int, choice: str) -> tuple[int, int, bool, float]:
            t0 = time.monotonic()
            try:
                ack = await c.call("cast", {"poll_id": polls[meeting], "choice": choice}, timeout=60)
                ok = bool(ack.get("ok"))
            except Exception:
                ok = False
            return meeting, pid, ok, (time.monotonic() - t0) * 1000

        res = await asyncio.gather(*(one(c, m, p, ch) for c, (m, p, _t, ch) in zip(clients, jobs, strict=True)))
        for c in clients:
            await c.disconnect()
            await c.eio.http.close()
        return list(res)

    out.put(asyncio.run(main()))


def vote_storm_of(ctx: Any, front_url: str, councils: list[dict[str, Any]], db_file: Path,
                  servers: list[Any]) -> dict[str, Any]:
    """Every delegate of every meeting in `councils` casts on their own meeting's open poll at one agreed instant,
    through the front; the acks, and what the database stored for each poll (read once the acks are in)."""
    polls = {k: vote_storm.open_poll(front_url, lk, "open") for k, lk in enumerate(councils)}
    per = [[(k, d["participant_id"], tok(d["url"]), CHOICES[i % 3]) for i, d in enumerate(lk["delegates"])]
           for k, lk in enumerate(councils)]
    jobs = [j for group in itertools.zip_longest(*per) for j in group if j is not None]  # meetings interleaved
    n = max(3, (len(jobs) + 249) // 250)
    ready, go_at, out = ctx.Semaphore(0), ctx.Value("d", 0.0), ctx.Queue()
    ps = [ctx.Process(target=storm_proc, args=(front_url, jobs[j::n], polls, 10 + j, ready, go_at, out))
          for j in range(n)]
    for p in ps:
        p.start()
    for _ in ps:
        ready.acquire(timeout=600)
    cpu0 = sum(fanout.cpu_s(p.pid) for p in servers)
    load_at = load()
    go_at.value = time.time() + 1.0
    res = [x for _ in ps for x in out.get(timeout=600)]
    cpu = sum(fanout.cpu_s(p.pid) for p in servers) - cpu0
    for p in ps:
        p.join(30)
    with closing(sqlite3.connect(db_file, timeout=30)) as db:
        stored = {k: {pid for (pid,) in db.execute("SELECT participant_id FROM open_ballot WHERE poll_id = ?",
                                                    (poll,))} for k, poll in polls.items()}
    for k, lk in enumerate(councils):
        chair = {"Authorization": "Bearer " + tok(lk["chair"][0])}
        requests.post(f"{front_url}/api/v1/polls/{polls[k]}/close", headers=chair, timeout=60).raise_for_status()
    return {"results": res, "stored": stored, "load": load_at, "cpu": cpu, "polls": polls}


def storm_lines(title: str, storm: dict[str, Any], councils: list[dict[str, Any]]) -> list[str]:
    """The report of one storm: all its delegates, then each meeting (acks and stored = acknowledged)."""

    def row(name: str, res: list[tuple[int, int, bool, float]], stored: set[int] | None) -> str:
        acked = [ms for _m, _p, ok, ms in res if ok]
        acked_ids = {(m, p) for m, p, ok, _ms in res if ok}
        if stored is None:
            stored_n = sum(len(v) for v in storm["stored"].values())
            exact = all({p for m, p in acked_ids if m == k} == storm["stored"][k] for k in storm["stored"])
        else:
            stored_n = len(stored)
            exact = {p for _m, p in acked_ids} == stored
        return (f"| {name} | {len(res)} | {len(acked)} | {stored_n} | {'yes' if exact else 'NO'} | "
                f"{fanout.pct(acked, 50):.0f} | {fanout.pct(acked, 99):.0f} | "
                f"{max(acked) if acked else float('nan'):.0f} |")

    res = storm["results"]
    lines = [f"\n{title} ({storm['load']} at the go; the three servers spent {storm['cpu']:.1f} s of CPU from the go "
             "until every client process had reported, its hang-ups included)",
             "| delegates | cast | acknowledged | stored | stored = acknowledged | ack p50 ms | p99 ms | max ms |",
             "|---|---|---|---|---|---|---|---|"]
    if len(councils) > 1:
        lines.append(row(f"all {len(res)}, {len(councils)} meetings", res, None))
    for k, lk in enumerate(councils):
        lines.append(row(f"meeting {lk['meeting_id']} ({len(lk['delegates'])})",
                         [r for r in res if r[0] == k], storm["stored"][k]))
    return lines


def kill_proc(base: str, tokens: list[str], first: int, ready: Any, killed_at: Any, out: Any) -> None:
    """Phones with reconnection on, with live.js's delays; after the kill, report for each phone that lost its
    connection the times from the kill until it saw the connection drop and until its next `state` (back, with the
    current state): (lost, back) in seconds, inf where it never happened."""
    import aiohttp
    import socketio
    from room_loop import live_js_backoff  # the pages' own reconnection delays (static/js/live.js)

    first_delay, max_delay, jitter = live_js_backoff()

    async def main() -> list[tuple[float, float]]:
        clients = []
        lost: dict[int, float] = {}
        back: dict[int, float] = {}

        def hooks(c: Any, i: int) -> None:
            async def on_disconnect(*_a: Any) -> None:
                lost.setdefault(i, time.time())

            async def on_state(_d: Any) -> None:
                if i in lost and i not in back:
                    back[i] = time.time()

            c.on("disconnect", on_disconnect)
            c.on("state", on_state)

        for i in range(0, len(tokens), 25):
            batch = []
            for k in range(i, min(i + 25, len(tokens))):
                conn = aiohttp.TCPConnector(local_addr=(f"127.{first}.{k // 250}.{k % 250 + 1}", 0), limit=0)
                c = socketio.AsyncClient(reconnection=True, reconnection_delay=first_delay,
                                         reconnection_delay_max=max_delay, randomization_factor=jitter,
                                         http_session=aiohttp.ClientSession(connector=conn))
                hooks(c, k)
                batch.append(c)
            await asyncio.gather(*(c.connect(base, auth={"token": t}, transports=["websocket"], wait_timeout=60)
                                   for c, t in zip(batch, tokens[i:i + 25], strict=True)))
            clients.extend(batch)
        ready.release()
        while killed_at.value == 0:
            await asyncio.sleep(0.01)
        deadline = time.time() + 120
        await asyncio.sleep(3)  # the front's checks take the dead process out within ~2 s
        while time.time() < deadline and (len(back) < len(lost)):
            await asyncio.sleep(0.1)
        t0, inf = killed_at.value, float("inf")
        result = [(lost[i] - t0, back.get(i, inf) - t0)
                  for i in dict(lost)]  # before our own disconnects
        for c in clients:
            c.reconnection = False
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
        await asyncio.gather(*(c.eio.http.close() for c in clients), return_exceptions=True)
        return result

    out.put(asyncio.run(main()))


def load() -> str:
    """The load averages now (the box is shared: every figure is printed beside them)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} / {five:.1f} over 1 / 5 min"


def shares(n: int, k: int) -> list[tuple[int, int]]:
    sizes = [n // k + (1 if i < n % k else 0) for i in range(k)]
    out, start = [], 0
    for s in sizes:
        out.append((start, start + s))
        start += s
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--turns", type=int, default=100)
    ap.add_argument("--skip", default="", help="comma-separated: fanout, storm, kill")
    args = ap.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    ctx = mp.get_context("spawn")
    load0 = os.getloadavg()
    report: list[str] = []
    with tempfile.TemporaryDirectory(prefix="scale-out-") as tmp:
        work = Path(tmp)
        redis, rport = start_redis(work / "redis")
        mq = f"redis://127.0.0.1:{rport}/0"
        fport = free_port()
        front_url = f"http://127.0.0.1:{fport}"
        data3, data1 = work / "three", work / "one"
        data3.mkdir()
        data1.mkdir()
        common = ("--message-queue", mq, "--trusted-proxy", "127.0.0.1", "--public-url", front_url)
        ports = [free_port() for _ in range(3)]
        procs = [serve(data3, ports[0], *common)]
        seats = min(args.n, 500)  # a council seats at most 500 (services/meetings.py); beyond, cards are shared
        lk = grow(f"http://127.0.0.1:{ports[0]}", data3, seats)
        procs += [serve(data3, p, "--no-discovery", *common) for p in ports[1:]]
        front = start_front(work / "front", fport, ports)
        one_port = free_port()
        one = serve(data1, one_port)
        floor_port = free_port()
        floor = ctx.Process(target=fanout.floor_server, args=(floor_port,), daemon=True)
        floor.start()
        try:
            if "fanout" not in skip:
                # The same meeting for the single process: its own data directory with the demo and N delegates.
                lk1 = grow(f"http://127.0.0.1:{one_port}", data1, seats)
                d3 = ready_document(front_url, lk)
                d1 = ready_document(f"http://127.0.0.1:{one_port}", lk1)
                tokens3 = [tok(d["url"]) for d in lk["delegates"]]
                tokens1 = [tok(d["url"]) for d in lk1["delegates"]]
                floor_url = f"ws://127.0.0.1:{floor_port}"
                # The single process's clients and presenter: fanout's own; the front's: bound to their addresses.
                series = [("ws", floor_url, fanout.WsPresenter(floor_url, floor.pid or 0)),
                          ("raw", f"http://127.0.0.1:{one_port}",
                           fanout.RawPresenter(f"http://127.0.0.1:{one_port}", tok(lk1["clerk"]), d1["id"],
                                               d1["page_count"], one.pid)),
                          ("front", front_url,
                           fanout.RawPresenter(f"http://127.0.0.1:{ports[1]}", tok(lk["clerk"]), d3["id"],
                                               d3["page_count"], procs[1].pid))]
                original = fanout.Clients.__init__

                def init(self: Any, kind: str, url: str, n: int, tokens: list[str]) -> None:
                    if kind == "front":
                        fanout.raw_sio_clients, saved = front_raw_clients, fanout.raw_sio_clients  # type: ignore
                        try:
                            original(self, "raw", url, n, tokens3)
                        finally:
                            fanout.raw_sio_clients = saved
                    else:
                        original(self, kind, url, n, tokens1 if kind == "raw" else tokens)

                fanout.Clients.__init__ = init  # type: ignore[method-assign]
                print(f"fan-out: {args.n} clients each, {args.turns} turns", file=sys.stderr, flush=True)
                rows = fanout.run_level(args.n, args.turns, tokens1, series)
                for (_k, _u, pres) in series:
                    pres.close()
                report.append(f"\nPage-turn fan-out, {args.n} clients per stack, {args.turns} turns each "
                              f"(first 3 dropped), interleaved 120 ms apart; emit→recv in ms ({load()})")
                report.append("| stack | received/expected | p50 | p99 | p99 ÷ floor | max | steal | clients' CPU "
                              "per frame |")
                report.append("|---|---|---|---|---|---|---|---|")
                for name, r in zip(("websockets floor", "one process", "three processes behind HAProxy + Redis"),
                                   rows, strict=True):
                    report.append(f"| {name} | {r['received']}/{r['expected']} | {r['p50']:.1f} | {r['p99']:.1f} | "
                                  f"{r['p99'] / rows[0]['p99']:.2f}× | {r['max']:.1f} | {r['steal']:.1f}% | "
                                  f"{r['client_us']:.0f} µs |")
                print("\n".join(report), file=sys.stderr, flush=True)

            if "storm" not in skip:
                # Past 500 delegates: more meetings of at most 500 (see the docstring), sitting at once.
                sizes = [min(500, args.n - 500 * k) for k in range((args.n + 499) // 500)]
                councils = [lk]
                for k, size in enumerate(sizes[1:], start=2):
                    other = another_council(data3, None, f"Số {k}", size, front_url)
                    with requests.Session() as http:  # its delegates scan their cards: present
                        for d in other["delegates"]:
                            http.get(f"{front_url}/j/{tok(d['url'])}", timeout=30, allow_redirects=False)
                            http.cookies.clear()
                    councils.append(other)
                alone = vote_storm_of(ctx, front_url, councils[:1], data3 / "meeting.db", procs)
                report += storm_lines(f"Vote storm through the front: one meeting of {len(lk['delegates'])} alone",
                                      alone, councils[:1])
                print("\n".join(report[-4:]), file=sys.stderr, flush=True)
                if len(councils) > 1:
                    together = vote_storm_of(ctx, front_url, councils, data3 / "meeting.db", procs)
                    report += storm_lines(f"Vote storm through the front: {len(councils)} meetings "
                                          f"({sum(sizes)} delegates) casting at the same instant", together, councils)
                    print("\n".join(report[-(4 + len(councils)):]), file=sys.stderr, flush=True)

            if "kill" not in skip:
                cards = [tok(d["url"]) for d in lk["delegates"]]
                tokens3 = [cards[i % len(cards)] for i in range(args.n)]  # past 500, a card on several phones
                k = max(3, (args.n + 249) // 250)
                ready, killed_at, out = ctx.Semaphore(0), ctx.Value("d", 0.0), ctx.Queue()
                ps = [ctx.Process(target=kill_proc, args=(front_url, tokens3[a:b], 40 + j, ready, killed_at, out))
                      for j, (a, b) in enumerate(shares(args.n, k))]
                for p in ps:
                    p.start()
                for _ in ps:
                    ready.acquire(timeout=600)
                time.sleep(2)
                victim = procs[2]
                os.kill(victim.pid, signal.SIGKILL)
                killed_at.value = time.time()
                times = [x for _ in ps for x in out.get(timeout=600)]
                lost_s, back = [x for x, _b in times], [b for _l, b in times]
                for p in ps:
                    p.join(30)
                from room_loop import live_js_backoff

                first_delay, max_delay, jitter = live_js_backoff()
                report.append(f"\nSIGKILL of one of three with {args.n} phones connected through the front ({load()}; "
                              f"the phones' reconnection delay {first_delay:.2f} s ± {jitter:.0%}, at most "
                              f"{max_delay:.1f} s, as live.js): "
                              f"{len(back)} phones lost their connection; back with a fresh state: p50 "
                              f"{fanout.pct(back, 50):.2f} s, p99 {fanout.pct(back, 99):.2f} s, all "
                              f"{max(back) if back else float('nan'):.2f} s after the kill "
                              f"({sum(1 for b in back if b == float('inf'))} not back within 120 s); "
                              f"where the time goes: connection seen closed p50 {fanout.pct(lost_s, 50):.2f} / "
                              f"max {max(lost_s, default=float('nan')):.2f} s, the state received p50 "
                              f"{fanout.pct(back, 50):.2f} / max {max(back, default=float('nan')):.2f} s")
                print(report[-1], file=sys.stderr, flush=True)
        finally:
            floor.terminate()
            front.terminate()
            for p in [*procs, one]:
                if p.poll() is None:
                    p.terminate()
                    try:
                        p.wait(60)
                    except subprocess.TimeoutExpired:  # seen once after the SIGKILL run at load 17: report anyway
                        print(f"server {p.pid} still running 60 s after SIGTERM: killed", file=sys.stderr)
                        p.kill()
                        p.wait(10)
            redis.terminate()
    print(f"\n{os.cpu_count()} cores; load average at start {load0[0]:.1f}, at end {os.getloadavg()[0]:.1f}; "
          "clients, three servers, one server, the floor, Redis and HAProxy all on this machine")
    print("\n".join(report))


if __name__ == "__main__":
    main()
