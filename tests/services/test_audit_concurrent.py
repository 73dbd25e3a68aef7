"""The audit chain's head with two writers at once. On PostgreSQL the ballots' group commit (`audit.record_many`)
read the head, then compare-and-set it: a writer that held the head meanwhile (a document's entry, committed a
moment later) made the whole batch fail with 'conflict', and every ballot in it was answered "not stored" (seen in
CI's PostgreSQL pass, tests/realtime/test_voting.py). The batch now waits for the head as `record` does and appends
after it; the chain stays one line. SQLite lets one writer in at a time, before it reads anything."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from meeting_server.services import audit, unit
from meeting_server.store import audit_log
from meeting_server.store.tables import AuditEvent, Meeting
from tests.services.writer_kit import writer_in_thread


def test_a_batch_appends_after_a_writer_that_held_the_head(engine: Engine, s: Session, m: Meeting,
                                                          tmp_path: Path) -> None:
    if engine.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite: a second writer waits for the file's write lock before it reads the head")
    factory = sessionmaker(engine, expire_on_commit=False)
    first = factory()
    audit.record(first, m.id, "test.first", "test", {})  # holds the head's row, not committed yet
    outcome: dict[str, Any] = {}
    t = writer_in_thread(factory, lambda w: audit.record_many(
        w, [(m.id, "test.batch", "test", {"n": i}) for i in range(3)]), outcome)
    time.sleep(0.5)  # the batch reaches the head while the first writer holds it
    first.commit()
    first.close()
    t.join(30)
    assert outcome == {"ok": True}
    with factory() as check:
        tail = check.execute(select(AuditEvent.seq, AuditEvent.kind).order_by(AuditEvent.seq.desc()).limit(4)).all()
    assert [k for _seq, k in reversed(tail)] == ["test.first", "test.batch", "test.batch", "test.batch"]
    assert [seq for seq, _k in reversed(tail)] == list(range(tail[-1][0], tail[-1][0] + 4))
    report = audit_log.verify_database(engine.url.render_as_string(hide_password=False),
                                       key=audit_log.load_key(tmp_path))
    assert report.ok, report.message


def test_a_secret_close_does_not_wait_for_a_backup_holding_the_ballots(engine: Engine, s: Session) -> None:
    """CI's PostgreSQL pass: a backup's pg_dump (an idle-class child on a busy box, 30 s) held `secret_ballot`
    while a secret poll closed; the close's CLUSTER waited out its 30 s lock timeout and the chair was told the
    database was away. The close now ends the backups' pg_dump after 2 s and clusters."""
    if engine.url.get_backend_name() != "postgresql":
        pytest.skip("PostgreSQL's CLUSTER; SQLite's checkpoint has no such lock")
    import psycopg

    from meeting_server.services import voting

    url = audit_log.conninfo(engine.url.render_as_string(hide_password=False))
    with psycopg.connect(url, application_name=voting.BACKUP_APPLICATION) as child, \
            psycopg.connect(url, application_name=voting.BACKUP_APPLICATION) as dump:
        child.execute("SELECT count(*) FROM secret_ballot")  # the backup child's snapshot, read before pg_dump
        dump.execute("LOCK TABLE secret_ballot IN ACCESS SHARE MODE")  # what pg_dump holds while it copies
        started = time.monotonic()
        voting.checkpoint_after_close(s)
        s.commit()
        took = time.monotonic() - started
        assert took < 15, f"the close waited {took:.1f} s for the backup"
        for ended in (child, dump):  # both connections of the backup were ended
            with pytest.raises(psycopg.OperationalError):
                ended.execute("SELECT 1")


def test_a_use_case_and_a_ballot_batch_take_their_locks_in_one_order(engine: Engine, s: Session, m: Meeting) -> None:
    """A use case appends its audit entry (the chain's head, locked) and its meeting's seq is written at the commit;
    the ballots' group commit locks the meeting's row first (`bump_many`), then the head (`record_many`). On
    PostgreSQL the two orders deadlocked: one of the two was ended. `record` now takes the meeting's row before
    the head, the order of the ballot batch, so the batch waits and both commit."""
    if engine.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite: one writer at a time holds the whole file")
    factory = sessionmaker(engine, expire_on_commit=False)
    case = factory()
    meeting = case.get(Meeting, m.id)
    assert meeting is not None
    audit.record(case, m.id, "test.case", "test", {})  # the use case's entry: the head, locked
    outcome: dict[str, Any] = {}

    def batch(w: Session) -> None:  # the ballot writer's order: the meeting's row, then the head
        unit.bump_many(w, [m.id])
        audit.record_many(w, [(m.id, "test.batch", "test", {})])

    t = writer_in_thread(factory, batch, outcome)
    time.sleep(0.5)
    try:
        unit.bump(meeting)  # the use case's seq, written at its commit
        case.commit()
        outcome["case"] = True
    except Exception as exc:
        outcome["case"] = exc
    finally:
        case.close()
        t.join(30)
    assert outcome == {"ok": True, "case": True}, outcome


def test_two_writers_that_reference_the_meeting_do_not_deadlock_on_its_row(engine: Engine, s: Session,
                                                                           m: Meeting) -> None:
    """Every insert of a row that references the meeting (an audit entry, a document's page) takes PostgreSQL's
    weakest row lock on it (FOR KEY SHARE, the foreign key's check). `record` locking the meeting's row FOR UPDATE,
    the strongest, waited for every such writer, and two writers that had both inserted so deadlocked (seen at once
    in test_pgbackup's servers drawing their demo documents). It takes FOR NO KEY UPDATE, the lock an UPDATE of
    the seq takes, which the foreign keys' locks do not block: the second writer waits for the first, both commit."""
    if engine.url.get_backend_name() != "postgresql":
        pytest.skip("SQLite: one writer at a time holds the whole file")
    factory = sessionmaker(engine, expire_on_commit=False)
    first, second = factory(), factory()
    for w in (first, second):  # each has written a row that references the meeting: its key is share-locked
        w.execute(text("SET LOCAL lock_timeout = '3s'"))
        w.execute(text("SELECT id FROM meeting WHERE id = :m FOR KEY SHARE"), {"m": m.id})
    outcome: dict[str, Any] = {}

    def later() -> threading.Thread:
        return writer_in_thread(lambda: second, lambda w: audit.record(w, m.id, "test.second", "test", {}),
                                outcome, "second")

    t = None
    try:
        audit.record(first, m.id, "test.first", "test", {})  # before the fix: waits for the other's key share
        t = later()
        time.sleep(0.5)
        first.commit()
        outcome["first"] = True
    except Exception as exc:
        outcome["first"] = exc
        first.rollback()
        t = t or later()
    finally:
        if t is not None:
            t.join(30)
        first.close()
        second.close()
    assert outcome == {"first": True, "second": True}, outcome
