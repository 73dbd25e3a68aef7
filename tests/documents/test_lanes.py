"""Which worker draws what: a page somebody asked for is drawn by the render pool's workers (SCHED_BATCH, nice 5:
a fair share of the CPU, a delegate is waiting), every page drawn ahead after an upload by a worker at nice 19
(services/documents.ahead_pool), which gives the core back to the server's loop at once when a page turn or a
ballot wakes it. Read from the real server's worker processes."""

from __future__ import annotations

import os
import time
from pathlib import Path

import requests

from tests.conftest import LiveServer

WORKER = "meeting_server.documents.worker"


def _workers(server_pid: int) -> list[tuple[int, int, int]]:
    """(pid, scheduling policy, niceness) of the server's document workers."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            if int(stat[stat.rindex(")") + 2:].split()[1]) != server_pid or WORKER not in cmd:
                continue
            pid = int(entry.name)
            found.append((pid, os.sched_getscheduler(pid), os.getpriority(os.PRIO_PROCESS, pid)))
        except (OSError, ValueError):
            continue
    return found


def test_pages_drawn_ahead_come_from_a_worker_at_the_lowest_niceness(live_server: LiveServer) -> None:
    srv = live_server
    clerk = srv.bearer(srv.links["clerk"])
    docs = [d for d in srv.documents_ready() if d["status"] == "ready"]
    assert docs
    deadline = time.monotonic() + 120
    for d in docs:  # every page drawn ahead at phone width (the progress the clerk sees)
        while True:
            j = requests.get(f"{srv.url}/api/v1/documents/{d['id']}", headers=clerk, timeout=10).json()
            if j["pages_rendered"] >= j["page_count"]:
                break
            assert time.monotonic() < deadline, j
            time.sleep(0.2)
    cache = srv.data_dir / "documents" / "cache"
    assert sum(1 for _ in cache.rglob("*.webp")) >= sum(int(d["page_count"]) for d in docs)
    workers = _workers(srv.proc.pid)
    ahead = [w for w in workers if w[2] == 19]
    render = [w for w in workers if w[2] == 5]
    # The lane that drew ahead is alive (it stops after 2 idle minutes) at nice 19; the render pool's at nice 5.
    # Both batch-class: never the idle class, which a busy box can starve of any CPU at all.
    assert len(ahead) == 1 and render and len(ahead) + len(render) == len(workers), workers
    assert all(w[1] == os.SCHED_BATCH for w in workers), workers
