#!/usr/bin/env python3
"""What holds the server's eventlet loop: `serve` run under a loop-lag probe (a diagnosis tool for the benches).

    python scripts/bench/loopprobe.py OUT.json serve --host … --port … --data-dir …
    .venv/bin/python scripts/bench/room_loop.py inflight --probe /tmp/probe.json

A green thread ticks every millisecond; an OS thread of its own (not green) looks at the ticks every 0.5 ms, and
while the last tick is more than `THRESHOLD_MS` old (the loop is held: a green thread runs without yielding, or
the process waits for a CPU or in a system call) it samples the main thread's stack (`sys._current_frames()`:
under eventlet, the frame of the green thread running now) and the main thread's schedstat (/proc: time on a CPU,
time waiting in the run queue). The CPU and run-queue time between two held samples is put on the later sample's
stack, so `cpu_ms_by_*` says what our code (and the libraries under it) cost the loop, apart from the time the
loop only waited for a core that other processes had (`runq_ms`).

At SIGUSR1 it writes what it saw since the previous one to OUT.<n>.json (n = 0, 1, …: a bench's phases) and starts
afresh; at SIGTERM (the benches stop the server so) it writes OUT.json: the ticks' overshoot histogram, the held
time in all (CPU, run queue, the rest blocked), the CPU by function of meeting_server (inclusive, and by the
outermost one: the route or event that started the work), every episode of at least `EPISODE_MS` and the stacks
that held the loop the longest.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", message="\\s*Eventlet is deprecated", category=Warning)

import eventlet  # noqa: E402

eventlet.monkey_patch()

from eventlet import patcher  # noqa: E402

_thread = patcher.original("_thread")
_time = patcher.original("time")

#: Held for longer than this: sampled. `LOOPPROBE_THRESHOLD_MS=0` samples always (a plain sampling profile of
#: the loop's CPU, every episode left out), for work done in many small slices.
THRESHOLD_MS = float(os.environ.get("LOOPPROBE_THRESHOLD_MS", "3"))
EPISODE_MS = 5.0
SAMPLE_S = 0.0005
ROOT = str(Path(__file__).resolve().parents[2])


def _sched(tid: int) -> tuple[float, float]:
    """(ms on a CPU, ms waiting for one in the run queue) of a thread so far (/proc's schedstat, in ns)."""
    on, wait, _slices = Path(f"/proc/self/task/{tid}/schedstat").read_text().split()
    return int(on) / 1e6, int(wait) / 1e6


def _stack(frame: Any, depth: int = 40) -> tuple[str, ...]:
    out = []
    while frame is not None and len(out) < depth:
        code = frame.f_code
        fn = code.co_filename.replace(ROOT + "/", "")
        if "site-packages/" in fn:
            fn = fn.split("site-packages/", 1)[1]
        out.append(f"{fn}:{frame.f_lineno} {code.co_name}")
        frame = frame.f_back
    return tuple(out)


class Probe:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.last_tick = _time.monotonic()
        self.overshoot: Counter[int] = Counter()  # ms bucket -> ticks
        self.stacks: Counter[tuple[str, ...]] = Counter()  # stack -> samples (each SAMPLE_S)
        self.episodes: list[dict[str, Any]] = []
        self.main_ident = _thread.get_ident()
        self.main_tid = os.getpid()
        self.held = {"ms": 0.0, "cpu_ms": 0.0, "runq_ms": 0.0}  # all episodes together
        self.cpu: Counter[tuple[str, ...]] = Counter()  # stack -> ms on a CPU while held (between samples)
        self.runq: Counter[tuple[str, ...]] = Counter()  # stack -> ms in the run queue while held
        self.lock = _thread.allocate_lock()  # a real lock: the watcher is an OS thread

    def tick(self) -> None:
        while True:
            t0 = _time.monotonic()
            self.last_tick = t0
            eventlet.sleep(0.001)
            over = (_time.monotonic() - t0) * 1000 - 1.0
            self.overshoot[min(200, int(over))] += 1

    def watch(self) -> None:
        ep: dict[str, Any] | None = None
        ep_stacks: Counter[tuple[str, ...]] = Counter()
        last: tuple[float, float] | None = None  # the loop thread's schedstat at the previous held sample
        while True:
            _time.sleep(SAMPLE_S)
            now = _time.monotonic()
            held = (now - self.last_tick) * 1000
            if held > THRESHOLD_MS:
                frame = sys._current_frames().get(self.main_ident)
                st = _stack(frame) if frame is not None else ("?",)
                sched = _sched(self.main_tid)
                with self.lock:
                    self.stacks[st] += 1
                    if last is not None:  # what the loop did since the previous sample, put on this stack
                        self.cpu[st] += sched[0] - last[0]
                        self.runq[st] += sched[1] - last[1]
                last = sched
                if ep is None and THRESHOLD_MS > 0:
                    ep = {"start": self.last_tick, "sched0": sched}
                    ep_stacks = Counter()
                if ep is not None:
                    ep_stacks[st] += 1
            elif ep is not None:
                last = None
                dur = (now - ep["start"]) * 1000
                on, wait = _sched(self.main_tid)
                cpu, runq = on - ep["sched0"][0], wait - ep["sched0"][1]
                with self.lock:
                    self.held["ms"] += dur
                    self.held["cpu_ms"] += cpu
                    self.held["runq_ms"] += runq
                if dur >= EPISODE_MS:
                    top = ep_stacks.most_common(3)
                    with self.lock:
                        self.episodes.append({"at": round(ep["start"], 3), "ms": round(dur, 1), "cpu_ms": round(cpu, 1),
                                              "runq_ms": round(runq, 1),
                                              "samples": sum(ep_stacks.values()),
                                              "top": [{"n": n, "stack": list(s[:25])} for s, n in top]})
                ep = None

    def reset(self) -> None:
        with self.lock:
            self.overshoot, self.stacks, self.episodes = Counter(), Counter(), []
            self.held = {"ms": 0.0, "cpu_ms": 0.0, "runq_ms": 0.0}
            self.cpu, self.runq = Counter(), Counter()

    def dump(self, out: Path | None = None) -> None:
        with self.lock:
            stacks, episodes, overshoot = Counter(self.stacks), list(self.episodes), Counter(self.overshoot)
            held = {k: round(v, 1) for k, v in self.held.items()}
            cpu, runq = Counter(self.cpu), Counter(self.runq)
        total = sum(stacks.values()) or 1
        # Own-frame view: the innermost frame of the house (meeting_server/) and the innermost frame at all.
        house: Counter[str] = Counter()
        inner: Counter[str] = Counter()
        for st, n in stacks.items():
            inner[st[0] if st else "?"] += n
            mine = next((f for f in st if f.startswith("meeting_server/")), "(none of ours)")
            house[mine] += n
        # CPU the loop spent while held, by function of the house (each function once per stack: inclusive), and
        # by the outermost function of the house (what started the work: a route, an event, a green thread).
        incl: Counter[str] = Counter()
        entry: Counter[str] = Counter()
        for st, ms in cpu.items():
            ours = [f.split(":", 1)[0] + " " + f.split(" ", 1)[1] for f in st if f.startswith("meeting_server/")]
            for f in set(ours):
                incl[f] += ms
            entry[ours[-1] if ours else "(none of ours)"] += ms
        data = {
            "sample_ms": SAMPLE_S * 1000,
            "overshoot_ms_histogram": dict(sorted(overshoot.items())),
            "held_samples": total,
            # Every time the loop was held over THRESHOLD_MS: how long in all, how much of it the loop's thread ran
            # on a CPU (our code, or the libraries'), how much it waited in the run queue (other processes had the
            # cores); the rest it was blocked in a system call.
            "held": held,
            "cpu_ms_by_house_function_inclusive": [(k, round(v, 1)) for k, v in incl.most_common(50)],
            "cpu_ms_by_outermost_house_function": [(k, round(v, 1)) for k, v in entry.most_common(30)],
            "cpu_ms_by_stack": [{"cpu_ms": round(v, 1), "runq_ms": round(runq[k], 1), "stack": list(k[:30])}
                                for k, v in cpu.most_common(40)],
            "by_innermost_frame": inner.most_common(40),
            "by_innermost_house_frame": house.most_common(40),
            "top_stacks": [{"n": n, "stack": list(s[:30])} for s, n in stacks.most_common(30)],
            "episodes": sorted(episodes, key=lambda e: -e["ms"])[:200],
            "episode_count": len(episodes),
        }
        (out or self.out).write_text(json.dumps(data, indent=1))


def main() -> None:
    out = Path(sys.argv[1])
    sys.argv = [sys.argv[0], *sys.argv[2:]]
    sys.setswitchinterval(0.0005)  # the watcher thread gets the GIL soon even while the loop runs Python
    probe = Probe(out)
    eventlet.spawn(probe.tick)
    _thread.start_new_thread(probe.watch, ())
    previous = signal.getsignal(signal.SIGTERM)

    def on_term(signum: int, frame: Any) -> None:
        probe.dump()
        if callable(previous):
            previous(signum, frame)
        else:
            raise SystemExit(0)

    signal.signal(signal.SIGTERM, on_term)
    phases = [0]

    def on_usr1(signum: int, frame: Any) -> None:  # a phase of the bench ends: write it apart, start afresh
        probe.dump(out.with_suffix(f".{phases[0]}.json"))
        phases[0] += 1
        probe.reset()

    signal.signal(signal.SIGUSR1, on_usr1)
    from meeting_server.cli import main as cli_main

    try:
        cli_main()
    finally:
        probe.dump()


if __name__ == "__main__":
    main()
