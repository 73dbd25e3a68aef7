#!/usr/bin/env python3
"""What HTTPS costs the page turn: the same server over plain HTTP and over HTTPS (a test CA made here), with n
python-socketio clients in a child process, the presenter turning pages 120 ms apart, the two servers in turn.

For each turn it records the server's `ts` (in `presented`) to each client's receipt, and prints p50/p99 per mode
and the ratio, plus the server's CPU time per turn and its RSS. Under HTTPS every frame is encrypted once per phone
(TLS has no broadcast), and frames take engineio's per-phone writer (realtime/transport.py writes directly only to
plain sockets).

    .venv/bin/python scripts/bench/tls_fanout.py [--clients 50] [--turns 60]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from scripts.bench.fanout import cpu_s, pct, rss_mb  # noqa: E402
from tests.appliance.tls_kit import make_ca  # noqa: E402
from tests.conftest import _env, free_port  # noqa: E402


def clients(url: str, tokens: list[str], ready: Any, results: Any, stop: Any) -> None:
    import socketio

    async def main() -> None:
        got: list[tuple[int, int, float]] = []
        conns = []

        async def one(tok: str) -> None:
            c = socketio.AsyncClient(reconnection=False, ssl_verify=False)  # the cost, not the trust, is measured

            @c.on("presented")
            async def _p(data: dict[str, Any]) -> None:
                got.append((data["seq"], data["ts"], time.time()))

            await c.connect(url, auth={"token": tok}, transports=["websocket"], wait_timeout=60)
            conns.append(c)

        for i in range(0, len(tokens), 25):
            await asyncio.gather(*(one(t) for t in tokens[i:i + 25]))
        ready.put(len(conns))
        while not stop.is_set():
            await asyncio.sleep(0.05)
        results.put(got)
        await asyncio.gather(*(c.disconnect() for c in conns), return_exceptions=True)

    asyncio.run(main())


def start(data: Path, *extra: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port",
                             str(port), "--data-dir", str(data), *extra], cwd=ROOT, env=_env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, port


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--turns", type=int, default=60)
    args = ap.parse_args()
    import requests
    import socketio
    from sqlalchemy.orm import Session

    from meeting_server.services import links, meetings
    from meeting_server.store import db

    tmp = Path(tempfile.mkdtemp(prefix="tls-fanout-"))
    ca = make_ca(tmp / "ca")
    servers = {}
    for mode, extra in (("http", ()), ("https", ("--tls-cert", str(ca.fullchain), "--tls-key", str(ca.key)))):
        proc, port = start(tmp / mode, *extra)
        url = f"{mode}://127.0.0.1:{port}"
        for _ in range(300):
            try:
                if requests.get(url + "/healthz", timeout=1, verify=False).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        engine = db.make_engine(db.database_url(tmp / mode))
        with Session(engine) as s:
            m = meetings.current(s)
            assert m is not None
            ln = links.links(m, url)
        engine.dispose()
        tokens = [d["url"].rsplit("/", 1)[1] for d in ln["delegates"]]
        tokens = (tokens * (args.clients // len(tokens) + 1))[:args.clients]
        clerk = {"Authorization": "Bearer " + ln["clerk"].rsplit("/", 1)[1]}
        docs = requests.get(f"{url}/api/v1/meetings/1/documents", headers=clerk, timeout=10,
                            verify=False).json()["documents"]
        ready, results, stop = mp.Queue(), mp.Queue(), mp.Event()
        child = mp.Process(target=clients, args=(url, tokens, ready, results, stop))
        child.start()
        ready.get(timeout=300)
        chair = socketio.Client(ssl_verify=False)
        chair.connect(url, auth={"token": ln["chair"][0].rsplit("/", 1)[1]}, transports=["websocket"])
        servers[mode] = {"proc": proc, "url": url, "doc": docs[0]["id"], "chair": chair, "child": child,
                         "results": results, "stop": stop, "cpu": 0.0}
    for turn in range(args.turns):
        for srv in servers.values():
            before = cpu_s(srv["proc"].pid)
            ack = srv["chair"].call("present", {"document_id": srv["doc"], "page": 1 + turn % 2}, timeout=30)
            assert ack["ok"], ack
            time.sleep(0.12)
            srv["cpu"] += cpu_s(srv["proc"].pid) - before
    print(f"{args.clients} python-socketio clients, {args.turns} page turns each, the two servers in turn")
    p99s = {}
    for mode, srv in servers.items():
        srv["stop"].set()
        got = srv["results"].get(timeout=60)
        lat = [recv * 1000 - ts for _, ts, recv in got]
        p99s[mode] = pct(lat, 99)
        print(f"  {mode:5}: ts→recv p50 {pct(lat, 50):6.1f} ms  p99 {pct(lat, 99):6.1f} ms  "
              f"(n={len(lat)}); server CPU {srv['cpu'] / args.turns * 1000:.1f} ms per turn (window of 120 ms), "
              f"RSS {rss_mb(srv['proc'].pid):.0f} MB")
        srv["chair"].disconnect()
        srv["child"].join(30)
        srv["proc"].terminate()
        try:
            srv["proc"].wait(20)
        except subprocess.TimeoutExpired:
            srv["proc"].kill()
            srv["proc"].wait()
    print(f"  p99 https ÷ http: {p99s['https'] / p99s['http']:.2f}")


if __name__ == "__main__":
    main()
