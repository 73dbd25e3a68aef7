"""Two server processes on one data directory, joined by Flask-SocketIO's Redis message queue (`serve
--message-queue`): what one process broadcasts reaches the screens connected to the other, and without the queue it
does not; an unfinished upload is taken up by one process only. A real redis-server on loopback (scripts/test
installs it), real servers, real Socket.IO clients."""

from __future__ import annotations

import json
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, database_for, free_port, start_server
from tests.db_kit import Peek
from tests.realtime.helpers import Screen
from tests.realtime.voting_kit import api, chair, clerk, delegates, join, make_poll, screen, tok


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    exe = shutil.which("redis-server")
    assert exe, "redis-server is missing: scripts/test installs it (apt package redis-server)"
    port = free_port()
    work = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen([exe, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
                             "--dir", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)


def ready_documents(srv: LiveServer) -> list[dict[str, Any]]:
    """The demo documents once the process has processed them all."""
    deadline = time.monotonic() + 60
    while True:
        docs = requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=srv.bearer(srv.links["clerk"]),
                            timeout=10).json()["documents"]
        if all(d["status"] != "processing" for d in docs):
            return list(docs)
        assert time.monotonic() < deadline, docs
        time.sleep(0.1)


def pair(data: Path, *extra: str) -> tuple[LiveServer, LiveServer, list[dict[str, Any]]]:
    """Process A (seeds the demo, advertises), then process B on the same data directory."""
    a = start_server(data, *extra)
    docs = ready_documents(a)
    b = start_server(data, "--no-discovery", *extra)
    a.links = b.links  # B recorded its own address as the base of the links: both serve every card
    return a, b, docs


@pytest.fixture(scope="module")
def joined(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[tuple[LiveServer, LiveServer,
                                                                                         list[dict[str, Any]]]]:
    a, b, docs = pair(tmp_path_factory.mktemp("scale"), "--message-queue", redis_url)
    yield a, b, docs
    b.stop()
    a.stop()


def test_a_page_turned_on_one_process_reaches_screens_on_both(joined: tuple[LiveServer, LiveServer,
                                                                            list[dict[str, Any]]]) -> None:
    a, b, docs = joined
    doc = next(d for d in docs if d["status"] == "ready" and d["page_count"] >= 3)
    d0, d1 = delegates(a)[:2]
    presenter = screen(a, chair(a))  # the chair's screen is on A
    phone_a = screen(a, d0["url"])
    phone_b = screen(b, d1["url"])  # a delegate's phone and the projector on B
    kiosk_b = screen(b, b.links["kiosk"])
    try:
        ack = presenter.call("present", {"document_id": doc["id"], "page": 3})
        assert ack["ok"] is True, ack
        for s in (phone_a, phone_b, kiosk_b):
            ev = s.wait("presented", lambda e: e["seq"] == ack["seq"])
            assert (ev["document_id"], ev["page"]) == (doc["id"], 3)
        # The other way round, and a screen that connects to B afterwards gets the page in its snapshot.
        back = phone_b.call("present", {"document_id": doc["id"], "page": 1})
        assert back["ok"] is False and back["code"] == "document.not_presenter"  # B checks who may, as A does
        clerk_b = screen(b, clerk(b))
        ack2 = clerk_b.call("present", {"document_id": doc["id"], "page": 2})
        assert ack2["ok"] is True and ack2["seq"] > ack["seq"]  # one sequence for the meeting, in the database
        assert presenter.wait("presented", lambda e: e["seq"] == ack2["seq"])["page"] == 2
        assert phone_a.wait("presented", lambda e: e["seq"] == ack2["seq"])["page"] == 2
        late = Screen(b.url, tok(d0["url"]))
        try:
            assert late.wait("state")["presented"] == {"document_id": doc["id"], "page": 2}
        finally:
            late.close()
        clerk_b.call("present", {"document_id": None})
        clerk_b.close()
    finally:
        for s in (presenter, phone_a, phone_b, kiosk_b):
            s.close()


def test_ballots_cast_on_one_process_are_counted_and_announced_on_the_other(
        joined: tuple[LiveServer, LiveServer, list[dict[str, Any]]]) -> None:
    a, b, _ = joined
    voters = delegates(a)[2:8]
    join(a, chair(a))
    for d in voters:
        join(b, d["url"])
    kiosk_a = screen(a, a.links["kiosk"])
    phones_b = [screen(b, d["url"]) for d in voters]
    try:
        poll = make_poll(a)
        opened = api(b, chair(b), "POST", f"/polls/{poll['id']}/open")  # opened through B's HTTP
        assert opened.status_code == 200, opened.text
        assert kiosk_a.wait("poll", lambda e: e["event"] == "opened")["poll"]["id"] == poll["id"]
        for i, phone in enumerate(phones_b):
            res = phone.call("cast", {"poll_id": poll["id"], "choice": "for" if i < 5 else "against"})
            assert res == {"ok": True, "poll_id": poll["id"], "changed": False}
        prog = kiosk_a.wait("poll.progress", lambda e: e["voted"] == len(voters))
        assert prog["eligible"] == opened.json()["progress"]["eligible"]
        closed = api(a, chair(a), "POST", f"/polls/{poll['id']}/close")
        assert closed.status_code == 200, closed.text
        res = closed.json()["result"]
        assert [(o["key"], o["votes"]) for o in res["options"]] == [("for", 5), ("against", 1), ("abstain", 0)]
        for phone in phones_b:  # announced on B's phones as A closed it
            assert phone.wait("poll", lambda e: e["event"] == "closed")["poll"]["result"]["lines"] == res["lines"]
    finally:
        kiosk_a.close()
        for s in phones_b:
            s.close()


def test_without_the_queue_the_other_process_hears_nothing(tmp_path: Path) -> None:
    """The control: the same two processes without --message-queue share the database but not the broadcast."""
    a, b, docs = pair(tmp_path / "data")
    try:
        doc = next(d for d in docs if d["status"] == "ready")
        presenter, phone_a, phone_b = screen(a, chair(a)), screen(a, delegates(a)[0]["url"]), screen(b, delegates(a)[
            1]["url"])
        try:
            ack = presenter.call("present", {"document_id": doc["id"], "page": 1})
            assert ack["ok"] is True
            phone_a.wait("presented", lambda e: e["seq"] == ack["seq"])
            with pytest.raises(AssertionError, match="no 'presented'"):
                phone_b.wait("presented", timeout=1.5)
            # Only a new snapshot shows B's phone the page: the database is shared, the broadcast is not.
            assert phone_b.call("sync")["ok"] is True
            assert phone_b.wait("state")["presented"] == {"document_id": doc["id"], "page": 1}
        finally:
            for s in (presenter, phone_a, phone_b):
                s.close()
    finally:
        b.stop()
        a.stop()


def _ready_events(data: Path, doc_id: int) -> int:
    with Peek(data, database_for(data)) as db:
        rows = db.execute("SELECT CAST(data AS TEXT) FROM audit_event WHERE kind = 'document.ready'").fetchall()
    return sum(json.loads(r[0])["document_id"] == doc_id for r in rows)


def _lease(data: Path, name: str, owner: str, expires_in: float) -> None:
    """Write a lease row as another server process holding it would (tables as stored: naive UTC)."""
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC).replace(tzinfo=None)
    with closing(sqlite3.connect(data / "meeting.db")) as db, db:
        db.execute("INSERT OR REPLACE INTO lease (name, owner, expires_at, taken_at) VALUES (?, ?, ?, ?)",
                   (name, owner, str(now + timedelta(seconds=expires_in)), str(now)))


def _audit(data: Path, kind: str) -> list[dict[str, Any]]:
    with closing(sqlite3.connect(data / "meeting.db")) as db:
        return [json.loads(r[0]) for r in db.execute("SELECT data FROM audit_event WHERE kind = ? ORDER BY seq",
                                                     (kind,))]


@pytest.mark.sqlite_only("plants an expired lease of another box with sqlite3 on the shared file")
def test_an_upload_left_unfinished_is_taken_up_by_one_process_only(tmp_path: Path) -> None:
    """A server stopped while it processed an upload leaves it `processing`; the next start takes it up, unless
    another live process (here or on another box) is processing it: it holds the document's lease. Once that
    process stops renewing its lease (it died), a running process takes the upload over within seconds."""
    data = tmp_path / "data"
    a = start_server(data)
    doc_id = next(d for d in ready_documents(a) if d["status"] == "ready")["id"]
    a.stop()
    assert _ready_events(data, doc_id) == 1
    with Peek(data, database_for(data)) as db:  # as a stop in the middle of processing leaves it
        db.execute("UPDATE document SET status = 'processing', pages_rendered = 0 WHERE id = ?", (doc_id,))
    # Another live process holds the lease (and would renew it): this test writes its row for a minute.
    _lease(data, f"document:{doc_id}", "other-box:4242:feedf00d", 60)
    b = start_server(data)
    try:
        time.sleep(3)
        d = requests.get(f"{b.url}/api/v1/documents/{doc_id}", headers=b.bearer(b.links["clerk"]),
                         timeout=10).json()
        assert d["status"] == "processing"  # left to the process that holds the lease
        assert f"document {doc_id}: another server process is processing it" in b.log_path.read_text()
        assert _ready_events(data, doc_id) == 1
        # That process dies: its lease runs out (as if it had stopped renewing 1 s ago). B's heartbeat takes over.
        _lease(data, f"document:{doc_id}", "other-box:4242:feedf00d", -1)
        deadline = time.monotonic() + 60
        while requests.get(f"{b.url}/api/v1/documents/{doc_id}", headers=b.bearer(b.links["clerk"]),
                           timeout=10).json()["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        b.stop()
    assert _ready_events(data, doc_id) == 2  # processed once more, by B alone
    took = [e for e in _audit(data, "lease.taken_over") if e["lease"] == f"document:{doc_id}"]
    assert len(took) == 1 and took[0]["from"] == "other-box:4242:feedf00d", took
    with closing(sqlite3.connect(data / "meeting.db")) as db:  # B released it when done, and gave all back at stop
        assert db.execute("SELECT count(*) FROM lease").fetchone()[0] == 0
