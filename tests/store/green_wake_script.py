"""Run by test_postgresql_eventlet.py in its own monkey-patched process: does any green thread ever receive a value
nobody sent it (a stale wake-up of a wait on a PostgreSQL socket)?

argv[1] "socketpair": one wait for Wait.RW on a socket readable and writable at once, then an eventlet queue's
`get` that nothing is put into. argv[2]: "greenwait" (store/greenwait.py, what the server uses) or "select"
(psycopg's wait_select on eventlet's green select, what it used before: the control).

argv[1] "restart": argv[2] the database URL, argv[3] the mode as above. Workers write a batch of rows with one
executemany (psycopg pipelines it: it waits for Wait.RW, as the ballot writer's UPDATE of many rows does), then
wait on their own eventlet queue for 10 ms, which nobody ever puts into; others wait in `pg_sleep`, others on an
eventlet queue only. It prints "running", then runs until stdin says "stop" (the test restarts PostgreSQL in
between), and prints one JSON line: the values received from nowhere, the batches acknowledged per worker (and
how many rows each ended with), the errors met.
"""

import eventlet

eventlet.monkey_patch()

import json  # noqa: E402
import queue  # noqa: E402
import selectors  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from psycopg import waiting  # noqa: E402
from sqlalchemy import text  # noqa: E402

from meeting_server.store import db, greenwait  # noqa: E402

PSYCOPG_WAIT_CONN = waiting.wait_conn
WORKERS = 24
ROWS = 40  # rows per batch, one executemany
SLEEPERS = 6
IDLE = 6


def socketpair(mode: str) -> None:
    fn = greenwait.wait if mode == "greenwait" else waiting.wait_select
    a, b = socket.socketpair()
    b.send(b"x")  # `a` is now readable and writable at once

    def query() -> object:
        return (yield waiting.Wait.RW)

    def run() -> dict[str, object]:
        q: queue.Queue[object] = queue.Queue()
        ready = fn(query(), a.fileno(), interval=0.1)
        try:
            got = q.get(timeout=0.5)
            return {"ready": int(ready), "stray": [repr(got)]}
        except queue.Empty:
            return {"ready": int(ready), "stray": []}

    print(json.dumps(eventlet.spawn(run).wait()))


def restart(url: str, mode: str) -> None:
    engine = db.make_engine(url)
    if mode == "select":  # the control: psycopg's waits on eventlet's green select, as before greenwait
        waiting.wait = waiting.wait_select
        waiting.wait_conn = PSYCOPG_WAIT_CONN
        waiting.DefaultSelector = selectors.DefaultSelector  # type: ignore[misc]
    with engine.begin() as c:
        c.execute(text("DROP TABLE IF EXISTS seat"))
        c.execute(text("CREATE TABLE seat (id integer PRIMARY KEY, n integer NOT NULL)"))
        c.execute(text(f"INSERT INTO seat SELECT g, 0 FROM generate_series(1, {WORKERS * ROWS}) g"))
    stray: list[str] = []
    acked = [0] * WORKERS
    errors: dict[str, int] = {}
    after_stop: dict[str, int] = {"batches": 0}
    stop = {"now": False, "restarted": False}

    def note(exc: BaseException) -> None:
        name = type(getattr(exc, "orig", exc)).__name__
        errors[name] = errors.get(name, 0) + 1

    def worker(k: int) -> None:
        q: queue.Queue[object] = queue.Queue()
        rows = [{"i": k * ROWS + j + 1} for j in range(ROWS)]
        while not stop["now"]:
            try:
                with engine.begin() as c:
                    c.execute(text("UPDATE seat SET n = n + 1 WHERE id = :i"), rows)
                acked[k] += 1
                if stop["restarted"]:
                    after_stop["batches"] += 1
                pause = 0.01
            except Exception as exc:
                note(exc)
                pause = 0.05
            try:  # (also the pause after an error: a wake-up from nowhere lands in the first wait that follows)
                stray.append(repr(q.get(timeout=pause)))
            except queue.Empty:
                pass

    def sleeper() -> None:
        while not stop["now"]:
            try:
                with engine.connect() as c:
                    c.execute(text("SELECT pg_sleep(0.2)"))
            except Exception as exc:
                note(exc)
                eventlet.sleep(0.05)

    def idle() -> None:
        q: queue.Queue[object] = queue.Queue()
        while not stop["now"]:
            try:
                stray.append(repr(q.get(timeout=0.05)))
            except queue.Empty:
                pass

    threads = ([eventlet.spawn(worker, k) for k in range(WORKERS)] + [eventlet.spawn(sleeper) for _ in range(SLEEPERS)]
               + [eventlet.spawn(idle) for _ in range(IDLE)])
    eventlet.sleep(0.5)
    print("running", flush=True)
    for line in sys.stdin:  # the test: "restarted" once PostgreSQL is back, "stop" to finish
        if line.strip() == "restarted":
            stop["restarted"] = True
        if line.strip() == "stop":
            break
    deadline = time.monotonic() + 10
    while not after_stop["batches"] and time.monotonic() < deadline:
        eventlet.sleep(0.1)
    stop["now"] = True
    for t in threads:
        t.wait()
    with engine.connect() as c:
        stored = [int(r[0]) for r in c.execute(text(
            f"SELECT sum(n) FROM seat GROUP BY (id - 1) / {ROWS} ORDER BY (id - 1) / {ROWS}"))]
    engine.dispose()
    print(json.dumps({"wait": db.cooperative_psycopg() if mode != "select" else "wait_select", "stray": stray,
                      "acked": acked, "stored": [s // ROWS for s in stored], "errors": errors,
                      "after_restart": after_stop["batches"]}))


if sys.argv[1] == "socketpair":
    socketpair(sys.argv[2])
else:
    restart(sys.argv[2], sys.argv[3])
