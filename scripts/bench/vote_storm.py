#!/usr/bin/env python3
"""Vote storm: N delegates, each on its own Socket.IO connection, cast within the same second.

Starts a real server on a fresh data directory, makes the meeting N delegates strong through the API
(PATCH seated_count, PUT participants), marks them all present through their join links, opens a poll, then
spreads the N connections over several client processes that all cast at one agreed instant. Prints the ack latency
(p50/p99/max), checks that every acknowledged ballot is stored and the tally is exact.

With --kill the server is SIGKILLed as soon as the first ack is in (acks of one group commit leave together, so
some phones have theirs and the rest are on their way), restarted on the same data directory, and the
acknowledged ballots missing after the restart are counted (must be 0).

    .venv/bin/python scripts/bench/vote_storm.py --n 500
    .venv/bin/python scripts/bench/vote_storm.py --n 30
    .venv/bin/python scripts/bench/vote_storm.py --n 500 --kill
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[2]
CHOICES = ("for", "against", "abstain")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env() -> dict[str, str]:
    e = dict(os.environ)
    e["PYTHONPATH"] = str(ROOT) + os.pathsep + e.get("PYTHONPATH", "")
    e.pop("MEETING_SERVER_DATA", None)
    return e


def start(data: Path, port: int, *extra: str, log: str = "server.log") -> subprocess.Popen[bytes]:
    """`python -m meeting_server serve` on loopback (with `extra` arguments); returns once /healthz answers."""
    logf = open(data / log, "ab")  # noqa: SIM115 - the child keeps it
    proc = subprocess.Popen([sys.executable, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--data-dir", str(data), *extra], cwd=ROOT, env=env(), stdout=logf,
                            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {(data / log).read_text()[-2000:]}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def links(data: Path) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-m", "meeting_server", "links", "--json", "--data-dir", str(data)],
                         cwd=ROOT, env=env(), check=True, capture_output=True).stdout
    return dict(json.loads(out))


def tok(url: str) -> str:
    return url.rsplit("/", 1)[1]


def grow(base: str, data: Path, n: int) -> dict[str, Any]:
    """Make the meeting n delegates strong (the chair among them) and mark them all present; returns the links."""
    lk = links(data)
    clerk = {"Authorization": f"Bearer {tok(lk['clerk'])}"}
    m = lk["meeting_id"]
    r = requests.patch(f"{base}/api/v1/meetings/{m}", json={"seated_count": n}, headers=clerk, timeout=60)
    r.raise_for_status()
    rows = [["STT", "Họ và tên", "Chức vụ", "Tổ đại biểu", "Vai trò"]]
    rows.append(["1", "Chủ tọa Thử Nghiệm", "Chủ tịch HĐND", "Tổ 1", "Chủ tọa"])
    rows += [[str(i), f"Đại biểu Số {i:03d}", "Đại biểu HĐND", f"Tổ {i % 10 + 1}", "Đại biểu"] for i in range(2, n + 1)]
    r = requests.put(f"{base}/api/v1/meetings/{m}/participants", json={"rows": rows}, headers=clerk, timeout=300)
    r.raise_for_status()
    lk = links(data)
    assert len(lk["delegates"]) == n, len(lk["delegates"])
    with requests.Session() as s:
        for d in lk["delegates"]:
            s.get(f"{base}/j/{tok(d['url'])}", timeout=30, allow_redirects=False)
            s.cookies.clear()
    return lk


def open_poll(base: str, lk: dict[str, Any], kind: str) -> int:
    """Create a poll of `kind` and have the chair open it; returns its id."""
    clerk = {"Authorization": f"Bearer {tok(lk['clerk'])}"}
    body = {"kind": kind, "title": "Biểu quyết thử tải"}
    r = requests.post(f"{base}/api/v1/meetings/{lk['meeting_id']}/polls", json=body, headers=clerk, timeout=60)
    r.raise_for_status()
    poll_id = int(r.json()["id"])
    chair = {"Authorization": f"Bearer {tok(lk['chair'][0])}"}
    r = requests.post(f"{base}/api/v1/polls/{poll_id}/open", json={}, headers=chair, timeout=60)
    r.raise_for_status()
    return poll_id


def setup(base: str, data: Path, n: int, kind: str) -> tuple[dict[str, Any], int]:
    """Make the meeting n delegates strong, mark them present, create and open a poll; returns (links, poll id)."""
    lk = grow(base, data, n)
    poll_id = open_poll(base, lk, kind)
    chair = {"Authorization": f"Bearer {tok(lk['chair'][0])}"}
    progress = requests.get(f"{base}/api/v1/polls/{poll_id}", headers=chair, timeout=30).json()["progress"]
    assert progress["eligible"] == n, progress
    return lk, poll_id


def client_proc(base: str, jobs: list[tuple[int, str, str]], poll_id: int, ready: Any, go_at: Any, acked: Any,
                out: Any) -> None:
    """One client process: connect its share of delegates, cast at the agreed instant, report (pid, ok, ms, sent).

    asyncio clients, like phones each with its own connection: 125 client threads per process would spend the
    machine's two cores on the GIL and thread switches and measure the clients rather than the server.
    """
    import asyncio

    import socketio

    async def main() -> list[tuple[int, str, bool, float, float, str]]:
        clients = []
        for i in range(0, len(jobs), 25):  # connect in bursts, not all at once
            batch = [socketio.AsyncClient(reconnection=False) for _ in jobs[i:i + 25]]
            await asyncio.gather(*(c.connect(base, auth={"token": token}, transports=["websocket"], wait_timeout=30)
                                   for c, (_pid, token, _choice) in zip(batch, jobs[i:i + 25], strict=True)))
            clients.extend(batch)
        ready.release()
        while go_at.value == 0:
            await asyncio.sleep(0.005)
        # Everyone casts within the same second: start at the agreed wall-clock instant.
        delay = go_at.value - time.time()
        if delay > 0:
            await asyncio.sleep(delay)

        async def one(c: Any, pid: int, choice: str) -> tuple[int, str, bool, float, float, str]:
            sent = time.time()
            t0 = time.monotonic()
            why = ""
            try:
                res = await c.call("cast", {"poll_id": poll_id, "choice": choice}, timeout=60)
                ok = bool(res.get("ok"))
                why = "" if ok else f"refused: {res.get('code')}"
            except Exception as exc:
                ok = False
                why = f"no ack: {type(exc).__name__}"
            ms = (time.monotonic() - t0) * 1000
            if ok:
                with acked.get_lock():
                    acked.value += 1
            return pid, choice, ok, ms, sent, why

        results = await asyncio.gather(*(one(c, pid, choice) for c, (pid, _t, choice) in zip(clients, jobs,
                                                                                             strict=True)))
        await asyncio.gather(*(c.disconnect() for c in clients), return_exceptions=True)
        return list(results)

    out.put(asyncio.run(main()))


def cpu_seconds(pid: int) -> float:
    """User+system CPU time a process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=500, help="delegates (each its own connection)")
    ap.add_argument("--procs", type=int, default=4, help="client processes")
    ap.add_argument("--kill", action="store_true", help="SIGKILL the server mid-storm and count lost ballots")
    ap.add_argument("--kind", default="open", choices=("open", "secret"))
    args = ap.parse_args()

    data = Path(tempfile.mkdtemp(prefix="vote-storm-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start(data, port)
    try:
        lk, poll_id = setup(base, data, args.n, args.kind)
        delegates = lk["delegates"]
        choices = ["yes" if i % 3 else "no" for i in range(args.n)] if args.kind == "secret" else \
            [CHOICES[i % 3] for i in range(args.n)]
        jobs = [(d["participant_id"], tok(d["url"]), choices[i]) for i, d in enumerate(delegates)]
        shares = [jobs[i::args.procs] for i in range(args.procs)]
        ctx = mp.get_context("spawn")
        ready = ctx.Semaphore(0)
        go_at = ctx.Value("d", 0.0)
        acked = ctx.Value("i", 0)
        out = ctx.Queue()
        workers = [ctx.Process(target=client_proc, args=(base, share, poll_id, ready, go_at, acked, out))
                   for share in shares]
        for w in workers:
            w.start()
        for _ in workers:
            ready.acquire()
        cpu0 = cpu_seconds(proc.pid)
        go_at.value = time.time() + 0.5
        killed_at = None
        if args.kill:
            while acked.value < 1:
                time.sleep(0.001)
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            killed_at = acked.value
        server_cpu = float("nan")
        if not args.kill:  # the server's CPU from the go signal to the last ack (before the clients hang up)
            deadline = time.time() + 120
            while acked.value < args.n and time.time() < deadline:
                time.sleep(0.001)
            server_cpu = cpu_seconds(proc.pid) - cpu0
        results: list[tuple[int, str, bool, float, float, str]] = []
        for _ in workers:
            results += out.get(timeout=300)
        for w in workers:
            w.join(30)
        ok = [r for r in results if r[2]]
        lat = [r[3] for r in ok]
        sent = sorted(r[4] for r in results)
        print(f"delegates: {args.n}, client processes: {args.procs}, kind: {args.kind}")
        if lat:
            print(f"acknowledged: {len(ok)}/{args.n}; ack latency p50 {pct(lat, 0.5):.1f} ms, "
                  f"p99 {pct(lat, 0.99):.1f} ms, max {max(lat):.1f} ms")
            failures: dict[str, int] = {}
            for r in results:
                if not r[2]:
                    failures[r[5]] = failures.get(r[5], 0) + 1
            if failures:
                print(f"not acknowledged: {failures}")
            print(f"casts sent within {(sent[-1] - sent[0]) * 1000:.0f} ms; server CPU during the storm "
                  f"{server_cpu * 1000:.0f} ms ({server_cpu * 1000 / args.n:.2f} ms per ballot)")
        if args.kill:
            print(f"SIGKILL after {killed_at} acks; restarting on the same data directory")
            proc = start(data, port)
        chair = {"Authorization": f"Bearer {tok(lk['chair'][0])}"}
        got = requests.get(f"{base}/api/v1/polls/{poll_id}", headers=chair, timeout=30).json()
        print(f"poll state after {'restart' if args.kill else 'storm'}: {got['state']}, "
              f"stored ballots: {got['progress']['voted']}/{got['progress']['eligible']}")
        closed = requests.post(f"{base}/api/v1/polls/{poll_id}/close", headers=chair, timeout=60).json()
        counts = {o["key"]: o["votes"] for o in closed["result"]["options"]}
        if args.kind == "open":
            stored = {v["participant_id"]: v["choice"] for v in closed["voters"]}
            missing = [pid for pid, choice, good, *_ in results if good and stored.get(pid) != choice]
            print(f"acknowledged ballots missing: {len(missing)}")
        else:
            missing = [] if got["progress"]["voted"] >= len(ok) else ["?"] * (len(ok) - got["progress"]["voted"])
            print(f"acknowledged ballots missing (by count): {len(missing)}")
        expected: dict[str, int] = {}
        for _pid, choice, good, *_ in results:
            if good:
                expected[choice] = expected.get(choice, 0) + 1
        exact = all(counts.get(k, 0) >= v for k, v in expected.items()) if args.kill else \
            all(counts.get(k, 0) == expected.get(k, 0) for k in counts)
        print(f"tally: {counts}; from the acks: {expected}; {'exact' if exact else 'WRONG'}")
        if missing or not exact:
            sys.exit(1)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
