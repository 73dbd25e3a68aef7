"""Every delegate of the demo meeting taps "Xin phát biểu" in the same instant; how fast are the acks, and when
does the chair's screen show the whole queue?

Run from the worktree root: .venv/bin/python scripts/bench/speakers_burst.py
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.conftest import start_server  # noqa: E402
from tests.realtime.helpers import Screen  # noqa: E402

#: `BASELINE=sync` runs the same burst with `sync` (a full snapshot per tap) for comparison.
EVENT = "sync" if os.environ.get("BASELINE") == "sync" else "speak.request"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        srv = start_server(Path(tmp) / "data")
        try:
            people = [d for d in srv.links["delegates"] if d["role"] in ("delegate", "secretary")]
            chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
            first = chair.wait("state")
            assert chair.call("agenda.set_current", {"item_id": first["agenda"][3]["id"]})["ok"]
            phones = [Screen(srv.url, srv.token(d["url"])) for d in people]
            for p in phones:
                p.wait("state")
            gate = threading.Barrier(len(phones) + 1)
            lat: list[float] = []
            lock = threading.Lock()

            def tap(p: Screen) -> None:
                gate.wait()
                t0 = time.perf_counter()
                res = p.call(EVENT, timeout=30)
                dt = time.perf_counter() - t0
                assert res["ok"], res
                with lock:
                    lat.append(dt)

            threads = [threading.Thread(target=tap, args=(p,)) for p in phones]
            for t in threads:
                t.start()
            gate.wait()
            t0 = time.perf_counter()
            if EVENT == "speak.request":
                chair.wait("speakers", lambda s: len(s["queue"]) == len(phones), timeout=60)
            full = time.perf_counter() - t0
            for t in threads:
                t.join()
            lat.sort()
            p99 = lat[min(len(lat) - 1, int(round(0.99 * len(lat))) - 1)]
            print(f"[{EVENT}] {len(phones)} delegates tapped at once: ack p50 {statistics.median(lat) * 1000:.0f} ms, "
                  f"p99 {p99 * 1000:.0f} ms, max {lat[-1] * 1000:.0f} ms; "
                  f"chair saw the full queue after {full * 1000:.0f} ms")
            for p in [chair, *phones]:
                p.close()
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
