"""Two processes on one data directory joined by a real redis-server, with real Socket.IO screens: while Redis is
away each process says so to its own screens (the `waiting` event) and answers every event `server.waiting` in
the person's language, changing nothing; once Redis is back the screens are told so and a page turned on one
process reaches the screens on the other again (realtime/links.py). The same with 500 phones, HAProxy, and
PostgreSQL restarted too: tests/realtime/test_front.py."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer
from tests.realtime.scale_kit import start_redis
from tests.realtime.test_scale_out import pair
from tests.realtime.voting_kit import chair, delegates, screen

WAITING_VI = "Đang chờ máy chủ của phòng họp. Thao tác chưa được thực hiện; hãy thử lại khi thông báo này tắt."


class Joined:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.redis, self.port = start_redis(work / "redis")
        url = f"redis://127.0.0.1:{self.port}/0"
        self.a, self.b, self.docs = pair(work / "data", "--message-queue", url)

    def stop_redis(self) -> None:
        self.redis.terminate()
        self.redis.wait(10)

    def start_redis(self) -> None:
        self.redis, _ = start_redis(self.work / "redis", self.port)

    def close(self) -> None:
        for s in (self.b, self.a):
            s.stop()
        self.redis.terminate()
        self.redis.wait(10)


@pytest.fixture
def joined(tmp_path: Path) -> Iterator[Joined]:
    j = Joined(tmp_path)
    yield j
    j.close()


def _wait_health(srv: LiveServer, pred: Any, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        body = requests.get(f"{srv.url}/healthz", timeout=10).json()
        if pred(body):
            return dict(body)
        assert time.monotonic() < deadline, body
        time.sleep(0.2)


def test_redis_away_the_screens_are_told_and_events_wait(joined: Joined) -> None:
    a, b = joined.a, joined.b
    doc = next(d for d in joined.docs if d["status"] == "ready" and d["page_count"] >= 3)
    d0 = delegates(a)[0]
    presenter = screen(a, chair(a))  # the chair's laptop on A, a delegate's phone on B
    phone_b = screen(b, d0["url"])
    try:
        assert requests.get(f"{a.url}/healthz", timeout=10).json().get("waiting") is None
        joined.stop_redis()
        # Each process tells its own screens, naming what it waits for; /healthz says it too (the process lives).
        for s in (presenter, phone_b):
            assert s.wait("waiting", lambda e: e["waiting"], timeout=30) == {"waiting": True,
                                                                             "what": ["message_queue"]}
        assert _wait_health(b, lambda h: "waiting" in h)["waiting"] == ["message_queue"]
        # Every event is answered "waiting", in the person's language, and changes nothing.
        during = presenter.call("present", {"document_id": doc["id"], "page": 2}, timeout=30)
        assert during == {"ok": False, "code": "server.waiting", "error": WAITING_VI}, during
        assert phone_b.call("sync", timeout=30)["code"] == "server.waiting"
        # A screen connecting meanwhile (the database answers it) hears at once that the server waits.
        late = screen(b, delegates(a)[1]["url"])
        try:
            assert late.wait("waiting", timeout=10)["waiting"] is True
        finally:
            late.close()
        joined.start_redis()
        for s in (presenter, phone_b):
            assert s.wait("waiting", lambda e: not e["waiting"], timeout=60) == {"waiting": False, "what": []}
        _wait_health(a, lambda h: "waiting" not in h)
        # Back: a page turned on A reaches the phone on B, and nothing of the refused turn happened.
        ack = presenter.call("present", {"document_id": doc["id"], "page": 3}, timeout=30)
        assert ack["ok"] is True, ack
        got = phone_b.wait("presented", lambda e: e["seq"] == ack["seq"], timeout=30)
        assert got["page"] == 3
        assert not [d for e, d in phone_b.seen if e == "presented" and d.get("page") == 2]
    finally:
        presenter.close()
        phone_b.close()
