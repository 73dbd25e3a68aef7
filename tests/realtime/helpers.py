"""A real python-socketio client that records what it receives, for tests against a live server."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
import socketio


class Screen:
    """One connected device: its received events, in order, and a way to wait for one."""

    def __init__(self, url: str, token: str | None = None, cookies: str | None = None,
                 **client_options: Any) -> None:
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.seen: list[tuple[str, Any]] = []
        # client_options: e.g. http_session=<requests.Session with verify=<CA file>> for a server on HTTPS.
        self.client = socketio.Client(reconnection=True, reconnection_delay=0.2, reconnection_delay_max=1,
                                      **client_options)
        self.client.on("*", self._any)
        headers = {"Cookie": cookies} if cookies else None
        self.client.connect(url, auth={"token": token} if token else None, headers=headers,
                            transports=["websocket"], wait_timeout=10)

    def _any(self, event: str, data: Any = None) -> None:
        self.events.put((event, data))

    def wait(self, event: str, pred: Any = None, timeout: float = 10) -> Any:
        """The next `event` (matching `pred`), skipping others; fails after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {event!r} within {timeout}s; seen {[e for e, _ in self.seen]}")
            try:
                name, data = self.events.get(timeout=left)
            except queue.Empty:
                continue
            self.seen.append((name, data))
            if name == event and (pred is None or pred(data)):
                return data

    def call(self, event: str, data: Any = None, timeout: float = 10) -> Any:
        """Emit with an acknowledgement and return it."""
        return self.client.call(event, data, timeout=timeout)

    def close(self) -> None:
        self.client.disconnect()


class HealthPoller(threading.Thread):
    """Polls /healthz every `every` seconds and keeps each answer's latency (None for a failure)."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.every = every
        self.latencies: list[float | None] = []
        self.stop = threading.Event()

    def run(self) -> None:
        s = requests.Session()
        while not self.stop.is_set():
            t = time.perf_counter()
            try:
                ok = s.get(self.url + "/healthz", timeout=5).status_code == 200
                self.latencies.append(time.perf_counter() - t if ok else None)
            except requests.RequestException:
                self.latencies.append(None)
            time.sleep(self.every)


class HealthzWatch:
    """Polls `/healthz` from a thread while something else happens, and keeps the worst latency (COMMON: the
    room's loop must answer within 100 ms throughout)."""

    def __init__(self, url: str, every: float = 0.05) -> None:
        import threading

        import requests

        self.worst = 0.0
        self.failures = 0
        self.times: list[float] = []
        self._stop = threading.Event()
        self._session = requests.Session()

        def run() -> None:
            self._session.get(url + "/healthz", timeout=5)  # the connection is opened outside what is measured
            self._ready.set()
            while not self._stop.is_set():
                t0 = time.perf_counter()
                try:
                    ok = self._session.get(url + "/healthz", timeout=5).status_code == 200
                except requests.RequestException:
                    ok = False
                self.times.append(time.perf_counter() - t0)
                self.worst = max(self.worst, self.times[-1])
                self.failures += not ok
                self._stop.wait(every)

        self._ready = threading.Event()
        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        self._ready.wait(10)

    def stop(self) -> float:
        """Stop polling; the worst latency in seconds."""
        self._stop.set()
        self._thread.join(10)
        self._session.close()
        return self.worst


@contextmanager
def meeting_writes_fail(data_dir: Any) -> Iterator[None]:
    """A real fault of the database under a running server: every write to the `meeting` row fails with an
    unexpected (non-domain) error, as a damaged or failing disk would, through a trigger added by another SQLite
    connection (the server's connections see the schema change at their next statement). Removed on leaving."""
    from tests.conftest import database_for
    from tests.db_kit import Peek

    url = database_for(data_dir)
    db = Peek(data_dir, url)
    try:
        if url:  # PostgreSQL: the same fault as a trigger function
            db.execute("CREATE FUNCTION test_fault() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                       "RAISE EXCEPTION 'injected fault: the meeting row cannot be written'; END $$")
            db.execute("CREATE TRIGGER test_fault BEFORE UPDATE ON meeting FOR EACH ROW EXECUTE FUNCTION test_fault()")
        else:
            db.execute("CREATE TRIGGER test_fault BEFORE UPDATE ON meeting BEGIN "
                       "SELECT RAISE(ABORT, 'injected fault: the meeting row cannot be written'); END")
        db.commit()
        yield
    finally:
        db.execute("DROP TRIGGER IF EXISTS test_fault" + (" ON meeting" if url else ""))
        if url:
            db.execute("DROP FUNCTION IF EXISTS test_fault()")
        db.commit()
        db.close()
