"""Run by test_eventlet.py in its own process: a pool under eventlet must never stall the event loop.

Prints one JSON line: the longest gap between 10 ms ticks of a green thread while the pool inspected
and rendered pages, how many pages were rendered, and whether the timeout path was taken.

A gap has two causes: the loop was blocked (what we test), or the process waited for a CPU because the
machine is busy (what we must not blame on the code). Linux counts the second in /proc/thread-self/schedstat
(time on the run queue), so the script reports each gap with that time taken out, as well as raw.
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from meeting_server.documents import IngestError, Limits, Priority, RenderPool, pre_render_document  # noqa: E402


def run_queue_wait() -> float:
    """Seconds this thread has spent waiting for a CPU (0 where Linux does not say)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return 0.0


def main() -> None:
    samples = [Path(p) for p in sys.argv[1:]]
    gaps: list[float] = []
    blocked: list[float] = []
    running = True

    def ticker() -> None:
        last, last_wait = time.monotonic(), run_queue_wait()
        while running:
            eventlet.sleep(0.01)
            now, wait = time.monotonic(), run_queue_wait()
            gaps.append(now - last)
            blocked.append(now - last - (wait - last_wait))
            last, last_wait = now, wait

    tick_thread = eventlet.spawn(ticker)
    eventlet.sleep(0.05)
    rendered = 0
    timeout_code = None
    with RenderPool(tempfile.mkdtemp(), size=2, limits=Limits(render_timeout_s=0.05)) as fast_fail:
        # A job far longer than its limit: the kill and respawn must be as cooperative as the rest.
        info = fast_fail.inspect(samples[0])
        try:
            fast_fail.render(info.pdf_path, info.content_hash, 0, 4000, fmt="webp")
        except IngestError as error:
            timeout_code = error.code
    with RenderPool(tempfile.mkdtemp(), size=2) as pool:
        infos = [pool.inspect(path) for path in samples]
        # Renders waited on from several green threads at once, as many phones asking would.
        pile = eventlet.GreenPile()
        for info in infos:
            pile.spawn(
                pre_render_document, pool, info.pdf_path, info.content_hash, info.page_count, (720, 1600), fmt="jpeg"
            )
        pile.spawn(pool.render, infos[0].pdf_path, infos[0].content_hash, 1, 720, fmt="jpeg", priority=Priority.HIGH)
        for result in pile:
            rendered += result.rendered if hasattr(result, "rendered") else 1
    running = False
    tick_thread.wait()
    print(
        json.dumps(
            {
                "max_gap_ms": round(max(gaps) * 1000, 1),
                "max_blocked_ms": round(max(blocked) * 1000, 1),
                "ticks": len(gaps),
                "rendered": rendered,
                "timeout_code": timeout_code,
            }
        )
    )


if __name__ == "__main__":
    main()
