"""Which errors mean "the database is away" (realtime/links.py: every screen is told to wait, every event is
answered `server.waiting`) and which are PostgreSQL answering that one transaction lost (a deadlock, a lock
waited out): those are this transaction's, and the room goes on.

CI's front test of two councils voting at once: one ballot batch was ended by PostgreSQL's deadlock detector, the
error was counted as the database gone, every screen of that process saw the waiting banner for half a second and
the batch's 183 ballots were refused `server.waiting`. Here each error is made for real on a private cluster.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from meeting_server.realtime.links import unreachable
from meeting_server.store import db


def _error(fn: Any) -> BaseException:
    try:
        fn()
    except Exception as exc:
        return exc
    raise AssertionError("no error")


@pytest.fixture
def engine(pg_url: str, tmp_path: Any) -> Any:
    e = db.make_engine(pg_url, tmp_path)
    with e.begin() as c:
        c.execute(text("CREATE TABLE probe (id int PRIMARY KEY, n int)"))
        c.execute(text("INSERT INTO probe VALUES (1, 0), (2, 0)"))
    yield e
    e.dispose()


def test_a_deadlock_is_not_the_database_away(engine: Engine) -> None:
    a, b = engine.connect(), engine.connect()
    try:
        a.begin()
        b.begin()
        a.execute(text("UPDATE probe SET n = n + 1 WHERE id = 1"))
        b.execute(text("UPDATE probe SET n = n + 1 WHERE id = 2"))
        errors: list[BaseException] = []

        def other() -> None:
            try:
                a.execute(text("UPDATE probe SET n = n + 1 WHERE id = 2"))
            except Exception as exc:
                errors.append(exc)

        t = threading.Thread(target=other)
        t.start()
        time.sleep(0.3)
        try:
            b.execute(text("UPDATE probe SET n = n + 1 WHERE id = 1"))
        except Exception as exc:
            errors.append(exc)
        t.join(10)
        assert len(errors) == 1 and "deadlock detected" in str(errors[0]), errors
        assert unreachable(errors[0]) is False
    finally:
        a.close()
        b.close()


def test_a_lock_waited_out_is_not_the_database_away(engine: Engine) -> None:
    holder = engine.connect()
    try:
        holder.begin()
        holder.execute(text("UPDATE probe SET n = n + 1 WHERE id = 1"))
        with engine.connect() as c:
            c.begin()
            c.execute(text("SET LOCAL lock_timeout = '200ms'"))
            exc = _error(lambda: c.execute(text("UPDATE probe SET n = n + 1 WHERE id = 1")))
        assert "lock timeout" in str(exc)
        assert unreachable(exc) is False
    finally:
        holder.close()


def test_a_session_ended_by_the_server_is_the_database_away(engine: Engine) -> None:
    """What `pg_ctl stop -m fast` does to every session (57P01), seen from the session."""
    with engine.connect() as c:
        pid = c.execute(text("SELECT pg_backend_pid()")).scalar()
        with engine.connect() as admin:
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        exc = _error(lambda: c.execute(text("SELECT 1")))
    assert unreachable(exc) is True


def test_no_server_listening_is_the_database_away(tmp_path: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    e = db.make_engine(f"postgresql://nobody@127.0.0.1:{port}/none", tmp_path)
    try:
        exc = _error(lambda: e.connect().close())
        assert unreachable(exc) is True
    finally:
        e.dispose()


def test_a_ballot_batch_ended_by_a_deadlock_is_written_again(pg_url: str, tmp_path: Any) -> None:
    """The ballot writer as PostgreSQL's deadlock victim, on a real server: another session holds the audit chain's
    head and then asks for the meeting's row the writer holds. PostgreSQL ends the writer's batch; it is written
    again (nothing of it had committed), the phone is told "recorded", no screen is told the database is away, and
    the ballot is stored once."""
    from sqlalchemy import create_engine

    from tests.conftest import start_server
    from tests.realtime.voting_kit import delegates, join, make_poll, open_poll, screen

    srv = start_server(tmp_path / "data", database_url=pg_url)
    phone = None
    engine = create_engine(db.normalize_url(pg_url))
    other = engine.connect()
    try:
        d = delegates(srv)[0]
        join(srv, d["url"])
        poll = make_poll(srv)
        open_poll(srv, poll["id"])
        phone = screen(srv, d["url"])
        meeting_id = other.execute(text("SELECT meeting_id FROM poll WHERE id = :p"), {"p": poll["id"]}).scalar()
        other.rollback()
        # This session looks for a deadlock only after 10 s, the writer's after PostgreSQL's 1 s: the writer's
        # batch is the one ended (the retry is what is tested; the other way round is shown by the first tests).
        other.execute(text("SET LOCAL deadlock_timeout = '10s'"))
        other.execute(text("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE"))  # the head, held
        answer: dict[str, Any] = {}
        cast = threading.Thread(target=lambda: answer.update(
            phone.call("cast", {"poll_id": poll["id"], "choice": "for"}, timeout=60)))
        cast.start()
        time.sleep(0.4)  # the writer has locked the meeting's row and waits for the head
        lost = None
        try:
            other.execute(text("UPDATE meeting SET seq = seq WHERE id = :m"), {"m": meeting_id})
        except Exception as exc:  # PostgreSQL chose this session as the victim: the writer goes on
            lost = exc
        other.rollback()
        cast.join(60)
        assert answer.get("ok") is True, answer
        log = srv.log_path.read_text()
        assert "database unreachable" not in log and "waiting for database" not in log
        assert lost is None, lost  # the writer's batch was the victim,
        assert "40P01 (attempt 1), written again" in log, log[-3000:]  # and it was written again
        stored = other.execute(text("SELECT choice FROM open_ballot WHERE poll_id = :p"), {"p": poll["id"]}).all()
        assert [c["option"] for (c,) in stored] == ["for"]
    finally:
        if phone is not None:
            phone.close()
        other.close()
        engine.dispose()
        srv.stop()
