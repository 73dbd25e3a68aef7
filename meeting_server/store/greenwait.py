"""psycopg 3's wait functions for an eventlet process: the green thread running a query waits for its connection's
socket in eventlet's hub, and nothing of that wait outlives it.

psycopg never blocks inside libpq: a query is a generator that yields what it waits for (`Wait.R`, `Wait.W` or
`Wait.RW`, with the socket's fd: `wait_conn`'s generator yields the pair, the fd may change while connecting) and
is sent back what became ready (`Ready.R`/`Ready.W`, or `Ready.NONE` when the wait timed out, after which it simply
asks again). `db.cooperative_psycopg` puts `wait` and `wait_conn` below in place of psycopg's own.

Why not eventlet's green `select.select` (what psycopg's `wait_select` calls): for `Wait.RW` it registers a reader
and a writer on the fd, each of whose callbacks switches into the waiting green thread. The hub gathers the
callbacks of one poll before it calls any, so when the fd is readable and writable at once (every round of a
pipelined `executemany`, i.e. the ballot writer's UPDATE of many rows; and always when PostgreSQL cuts the
connection: IN|OUT|HUP) the first callback wakes the thread, which removes both listeners and goes on, and the
second is called anyway, switching `([], [fd], [])` into whatever that thread waits in next: after a cut connection,
an eventlet queue's `get` (the ballot writer's). tests/store/test_postgresql_eventlet.py reproduces it with a
PostgreSQL restart (a few such values in 9 s of 30 green threads) and shows none with these functions.

Here a one-direction wait is `eventlet.hubs.trampoline`: one listener, removed in its `finally` whatever happens,
its timeout cancelled. `Wait.RW`, which trampoline cannot do, registers both listeners itself with callbacks that
switch at most once and never after the wait has returned.
"""

from __future__ import annotations

import os
from time import monotonic
from typing import Any, TypeVar

from eventlet.hubs import get_hub, trampoline
from greenlet import getcurrent
from psycopg import errors as e
from psycopg.waiting import Ready, Wait

RV = TypeVar("RV")

_R, _W, _RW = Wait.R, Wait.W, Wait.RW
_NONE, _READY_R, _READY_W = Ready.NONE, Ready.R, Ready.W


class _Elapsed(Exception):
    """A wait's slice ran out (thrown into the waiting green thread by trampoline's timer; never escapes)."""


def wait(gen: Any, fileno: int, interval: float = 0.0, timeout: float | None = None) -> Any:
    """psycopg's `waiting.wait`: consume `gen`, waiting on `fileno` in the hub; its return value.

    `interval`: wake up at least this often (psycopg passes 0.1 s) and tell the generator nothing is ready, as
    psycopg's own functions do; `timeout`: raise psycopg's `_WaitTimeout` once this much time has passed."""
    deadline = None if timeout is None else monotonic() + timeout
    try:
        s = next(gen)
        while True:
            ready = _wait_fd(fileno, s, _slice(interval, deadline))
            if not ready:
                _check_fd_open(fileno)
            s = gen.send(ready)
            if deadline is not None and monotonic() >= deadline:
                raise e._WaitTimeout("wait timeout expired")
    except StopIteration as done:
        return done.value


def wait_conn(gen: Any, interval: float = 0.0, timeout: float | None = None) -> Any:
    """psycopg's `waiting.wait_conn`: as `wait`, the fd given by the generator with each wait (connecting may
    change it)."""
    deadline = None if timeout is None else monotonic() + timeout
    try:
        fileno, s = next(gen)
        while True:
            ready = _wait_fd(fileno, s, _slice(interval, deadline))
            fileno, s = gen.send(ready)
            if deadline is not None and monotonic() >= deadline:
                raise e._WaitTimeout("wait timeout expired")
    except StopIteration as done:
        return done.value


def _slice(interval: float, deadline: float | None) -> float | None:
    """How long this wait may last: the interval (none when 0), not past the deadline."""
    t = interval if interval and interval > 0 else None
    if deadline is not None:
        left = max(0.0, deadline - monotonic())
        t = left if t is None else min(t, left)
    return t


def _wait_fd(fileno: int, s: int, timeout: float | None) -> int:
    """Wait until `fileno` is ready as `s` asks or `timeout` passes; what is ready (`Ready.NONE` on timeout)."""
    try:
        if s == _R or s == _W:
            try:
                trampoline(fileno, read=s == _R, write=s == _W, timeout=timeout, timeout_exc=_Elapsed)
            except _Elapsed:
                return _NONE
            return _READY_R if s == _R else _READY_W
        if s == _RW:
            return _wait_either(fileno, timeout)
    except OSError as exc:  # eventlet's IOClosed, or the hub refusing a closed fd
        raise e.OperationalError("connection socket closed") from exc
    raise e.InternalError(f"bad poll status: {s}")


def _wait_either(fileno: int, timeout: float | None) -> int:
    """Readable or writable, whichever comes first: two listeners whose callbacks switch into this green thread
    at most once, and not at all once this wait has returned (the hub may still call one it gathered before)."""
    hub = get_hub()
    current = getcurrent()
    if hub.greenlet is current:
        raise RuntimeError("do not call blocking functions from the mainloop")
    over = False

    def wake(value: int) -> Any:
        def callback(*_args: Any) -> None:
            nonlocal over
            if not over:
                over = True
                current.switch(value)
        return callback

    def throw(exc: BaseException) -> None:
        nonlocal over
        if not over:
            over = True
            current.throw(exc)

    timer = None if timeout is None else hub.schedule_call_global(timeout, wake(_NONE))
    listeners = []
    try:
        listeners.append(hub.add(hub.READ, fileno, wake(_READY_R), throw, None))
        listeners.append(hub.add(hub.WRITE, fileno, wake(_READY_W), throw, None))
        ready: int = hub.switch()
        return ready
    finally:
        over = True
        for listener in listeners:
            hub.remove(listener)
        if timer is not None:
            timer.cancel()


def _check_fd_open(fileno: int) -> None:
    """A wait that ended with nothing ready on a socket that is gone: the connection is lost (as psycopg checks)."""
    try:
        os.fstat(fileno)
    except OSError as exc:
        raise e.OperationalError("connection socket closed") from exc
