"""Run by test_postgresql_eventlet.py in its own monkey-patched process: a green thread waiting on a PostgreSQL row
lock held by another green thread must leave the loop serving.

argv: the database URL, and "cooperative" (the engine as db.make_engine makes it: store/greenwait.py) or "blocking"
(psycopg's wait_select on the OS's select(), as a C build or an import before monkey_patch would have it: the
control).
Prints one JSON line: how the waiter ended, the ticks of a third green thread while it waited, and whether the
holder committed before the waiter got the row.
"""

import eventlet
import eventlet.event
import eventlet.patcher

eventlet.monkey_patch()

import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

from sqlalchemy import text  # noqa: E402

from meeting_server.store import db  # noqa: E402

HOLD = 1.5  # seconds the holder keeps the row locked, ticking meanwhile like any other green thread


def main() -> None:
    url, mode = sys.argv[1], sys.argv[2]
    engine = db.make_engine(url)
    wait_name = db.cooperative_psycopg()
    if mode == "blocking":
        from psycopg import waiting

        waiting.wait = waiting.wait_select
        waiting.select = eventlet.patcher.original("select")  # wait_select's select.select: the OS's own
        wait_name = "wait_select on the OS's select"
    with engine.begin() as c:
        c.execute(text("CREATE TABLE seat (id integer PRIMARY KEY, holder text)"))
        c.execute(text("INSERT INTO seat VALUES (1, 'nobody')"))
    events: list[tuple[str, float]] = []
    ticks = {"n": 0, "during_wait": 0}
    waiting_now = {"on": False}
    locked = eventlet.event.Event()
    stop = {"done": False}

    def ticker() -> None:
        while not stop["done"]:
            ticks["n"] += 1
            if waiting_now["on"]:
                ticks["during_wait"] += 1
            eventlet.sleep(0.01)

    def holder() -> None:
        with engine.connect() as c:
            c.execute(text("UPDATE seat SET holder = 'first' WHERE id = 1"))
            events.append(("locked", time.monotonic()))
            locked.send()
            eventlet.sleep(HOLD)
            c.commit()
            events.append(("committed", time.monotonic()))

    result: dict[str, object] = {}

    def waiter() -> None:
        locked.wait()
        with engine.connect() as c:
            c.execute(text("SET lock_timeout = '4s'"))  # the control must end, not hang the test
            waiting_now["on"] = True
            try:
                c.execute(text("UPDATE seat SET holder = 'second' WHERE id = 1"))
                c.commit()
                result["waiter"] = "updated"
            except Exception as exc:  # the control: the lock is never released while the OS thread waits
                result["waiter"] = type(getattr(exc, "orig", exc)).__name__
            finally:
                waiting_now["on"] = False
                events.append(("waiter done", time.monotonic()))

    tick = eventlet.spawn(ticker)
    h = eventlet.spawn(holder)
    w = eventlet.spawn(waiter)
    w.wait()
    h.wait()
    stop["done"] = True
    tick.wait()
    with engine.connect() as c:
        final = c.execute(text("SELECT holder FROM seat WHERE id = 1")).scalar()
    order = [name for name, _ in sorted(events, key=lambda e: e[1])]
    print(json.dumps({"wait": wait_name, "waiter": result.get("waiter"), "ticks_during_wait":
                      ticks["during_wait"], "order": order, "final": final}))
    engine.dispose()


main()
