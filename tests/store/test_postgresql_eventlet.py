"""psycopg 3 under eventlet: a query waiting on a row lock yields to the loop instead of blocking the OS thread.

Why it matters: the server is one OS thread of green threads. If the thread waiting for a row lock blocked in
poll(), the green thread holding the lock could never run to commit, and the whole server would hang (until
lock_timeout). db.cooperative_psycopg makes psycopg wait through eventlet's select; the control run shows the hang
with psycopg's wait on the OS's own selector.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).with_name("pg_eventlet_script.py")
ROOT = Path(__file__).resolve().parents[2]


def _run(url: str, mode: str) -> dict[str, Any]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    env["PYTHONWARNINGS"] = "ignore"  # eventlet announces its deprecation on import
    out = subprocess.run([sys.executable, str(SCRIPT), url, mode], capture_output=True, text=True, timeout=120,
                         env=env, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-3000:]
    report: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return report


def test_a_green_thread_waiting_on_a_row_lock_leaves_the_loop_serving(pg_url: str) -> None:
    report = _run(pg_url, "cooperative")
    assert report["wait"] == "wait_select"
    # The waiter got the row only after the holder committed, and the loop ticked all along (1.5 s at 10 ms:
    # ~150 ticks on an idle machine; a loaded one gives fewer, never none).
    assert report["waiter"] == "updated", report
    assert report["order"] == ["locked", "committed", "waiter done"], report
    assert report["final"] == "second"
    assert report["ticks_during_wait"] >= 20, report


def test_control_an_os_level_wait_hangs_the_loop_until_lock_timeout(pg_url: str) -> None:
    report = _run(pg_url, "blocking")
    # Nothing else ran while the waiter sat in epoll: the holder could not commit, the lock timed out.
    assert report["waiter"] == "LockNotAvailable", report
    assert report["ticks_during_wait"] == 0, report
    assert report["order"] == ["locked", "waiter done", "committed"], report
    assert report["final"] == "first"
