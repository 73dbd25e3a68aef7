"""`verify-log` on a long chain checks two halves at once (the second in a child process): it must give exactly
the report of a check in one piece, wherever the chain was changed. The chain is keyed with the data directory's
key, which the child gets through a pipe. On --db=postgresql the chain is in a PostgreSQL database (copied per test
with CREATE DATABASE … TEMPLATE) and the same code reads it through its URL."""

from __future__ import annotations

import json
import secrets
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from meeting_server.domain import audit
from meeting_server.store.audit_log import SPLIT_AT, Source, conninfo, entry_of, load_key, verify_database
from tests.conftest import _cluster, on_postgresql
from tests.db_kit import Peek

N = SPLIT_AT + 5_000


class Chain(NamedTuple):
    """The chain's database (SQLite's file, or a PostgreSQL URL) and the data directory holding its key."""

    db: Source
    data: Path


def connect(db: Source) -> Peek:
    """A connection to a copy (`?` parameters on both databases), committed when its `with` block ends."""
    return Peek(Path(db).parent, None) if isinstance(db, Path) else Peek(Path("."), db)


def insert_rows(db: Source, rows: list[tuple[Any, ...]]) -> None:
    insert = "INSERT INTO audit_event (seq, meeting_id, at, kind, actor, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"
    if isinstance(db, Path):
        with sqlite3.connect(db) as conn:
            conn.executemany(insert, rows)
        conn.close()
    else:
        import psycopg

        with psycopg.connect(conninfo(db)) as pg, pg.cursor() as cur:
            cur.executemany(insert.replace("?", "%s"), rows)


@pytest.fixture(scope="module")
def chain_db(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Chain:
    """A database made by the app's migrations, holding N chained events written with the server's definition."""
    from meeting_server.app import create_app

    data = tmp_path_factory.mktemp("chain")
    url = _cluster().fresh_database() if on_postgresql(request.config) else None
    app = create_app({"DATA_DIR": data, "SOCKETIO_ASYNC_MODE": "threading", "DISCOVERY": False,
                      **({"DATABASE_URL": url} if url else {})})
    app.extensions["db_engine"].dispose()  # no connection left: the database is copied as a template
    key = load_key(data)
    assert key is not None and key.from_seq == 1
    rows: list[tuple[Any, ...]] = []
    prev = audit.GENESIS
    t0 = datetime(2026, 7, 15, 0, 30, tzinfo=UTC)
    for i in range(1, N + 1):
        at = (t0 + timedelta(milliseconds=50 * i)).isoformat(timespec="microseconds")
        data_ = {"poll_id": i // 30, "participant_id": i % 30, "note": "Tán thành"}
        prev = audit.next_hash(prev, entry_of(1, at, "vote.cast", f"delegate:{i % 30}", data_), key.secret)
        rows.append((i, 1, at, "vote.cast", f"delegate:{i % 30}", json.dumps(data_), prev))
    db: Source = url if url else data / "meeting.db"
    with connect(db) as conn:
        conn.execute("DELETE FROM audit_event")
        conn.execute("DELETE FROM audit_head")
    insert_rows(db, rows)
    with connect(db) as conn:
        conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (N, prev))
    return Chain(db, data)


def copy(src: Chain, tmp_path: Path) -> Source:
    if not isinstance(src.db, Path):
        name = f"chain_{secrets.token_hex(4)}"
        _cluster().admin(f"CREATE DATABASE {name} TEMPLATE {src.db.split('/')[3].split('?')[0]}")
        url: str = _cluster().url(name)
        return url
    dest = tmp_path / "meeting.db"
    shutil.copy(src.db, dest)  # the source is closed: a plain copy is safe here
    return dest


def rehash_from(db: Source, seq: int) -> None:
    """What someone who can edit the file but not read the key does: change an entry and re-derive the chain from
    it on with plain SHA-256, then set the head."""
    with connect(db) as conn:
        prev = conn.execute("SELECT hash FROM audit_event WHERE seq = ?", (seq - 1,)).fetchone()[0]
        conn.execute("UPDATE audit_event SET actor = 'delegate:99' WHERE seq = ?", (seq,))
        rows = conn.execute("SELECT seq, meeting_id, at, kind, actor, CAST(data AS TEXT) FROM audit_event "
                            "WHERE seq >= ? ORDER BY seq", (seq,)).fetchall()
        for s, mid, at, kind, actor, data in rows:
            prev = audit.next_hash(prev, entry_of(mid, at, kind, actor, json.loads(data)))
            conn.execute("UPDATE audit_event SET hash = ? WHERE seq = ?", (prev, s))
        conn.execute("UPDATE audit_head SET hash = ? WHERE id = 1", (prev,))


@pytest.mark.parametrize(("sql", "seq", "kind"), [
    ("", None, None),
    ("UPDATE audit_event SET actor = 'delegate:99' WHERE seq = 3", 3, "changed"),
    (f"UPDATE audit_event SET data = '{{}}' WHERE seq = {N // 2}", N // 2, "changed"),
    (f"UPDATE audit_event SET data = '{{}}' WHERE seq = {N // 2 + 1}", N // 2 + 1, "changed"),
    (f"UPDATE audit_event SET kind = 'x' WHERE seq = {N - 10}", N - 10, "changed"),
    (f"DELETE FROM audit_event WHERE seq = {N - 100}", N - 100, "removed"),
    (f"DELETE FROM audit_event WHERE seq = {N}", N, "removed"),
    (f"UPDATE audit_event SET hash = (SELECT hash FROM audit_event WHERE seq = 7) WHERE seq = {N // 2}", N // 2,
     "changed"),
])
def test_halves_agree_with_one_piece(chain_db: Chain, tmp_path: Path, sql: str, seq: int | None,
                                     kind: str | None) -> None:
    db = copy(chain_db, tmp_path)
    if sql:
        with connect(db) as conn:
            conn.execute(sql)
    key = load_key(chain_db.data)
    split = verify_database(db, key=key)
    whole = verify_database(db, key=key, split=False)
    assert (split.ok, split.first_break) == (whole.ok, whole.first_break)
    if seq is None:
        assert split.ok and split.count == whole.count == N and split.head == whole.head
    else:
        assert not split.ok and split.first_break is not None
        assert (split.first_break.seq, split.first_break.kind) == (seq, kind)


@pytest.mark.parametrize("seq", [3, N // 2 + 7])
def test_a_chain_rehashed_without_the_key_is_caught_in_either_half(chain_db: Chain, tmp_path: Path, seq: int) -> None:
    db = copy(chain_db, tmp_path)
    rehash_from(db, seq)
    key = load_key(chain_db.data)
    for report in (verify_database(db, key=key), verify_database(db, key=key, split=False)):
        assert not report.ok and report.first_break is not None
        assert (report.first_break.seq, report.first_break.kind) == (seq, "changed")


def test_a_chain_from_before_the_key_keeps_verifying_after_the_upgrade(tmp_path: Path, database_url: str | None
                                                                      ) -> None:
    """A data directory of a version without the key: its plain links stay, the key is made at the next start
    with keyed links from the next seq, and re-hashing an old link is caught at the first keyed one."""
    import subprocess
    import sys

    from meeting_server.app import create_app
    from meeting_server.services import audit as audit_service
    from meeting_server.store import db as store_db
    from tests.conftest import ROOT, _env

    data = tmp_path / "old"
    config = {"DATA_DIR": data, "SOCKETIO_ASYNC_MODE": "threading", "DISCOVERY": False,
              **({"DATABASE_URL": database_url} if database_url else {})}
    create_app(config).extensions["db_engine"].dispose()
    (data / "audit.key").unlink()  # as the older version left it: no key
    db: Source = database_url if database_url else data / "meeting.db"
    prev = audit.GENESIS
    with connect(db) as conn:
        for i in range(1, 6):
            at = f"2026-07-15T00:0{i}:00.000000+00:00"
            prev = audit.next_hash(prev, entry_of(None, at, "old.event", "clerk:1", {"i": i}))
            conn.execute("INSERT INTO audit_event (seq, meeting_id, at, kind, actor, data, hash) VALUES "
                         "(?, NULL, ?, 'old.event', 'clerk:1', ?, ?)", (i, at, json.dumps({"i": i}), prev))
        conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 5, ?)", (prev,))
    app = create_app(config)
    key = load_key(data)
    assert key is not None and key.from_seq == 6
    with store_db.standalone_session(app) as s:
        audit_service.record(s, None, "new.event", "clerk:1", {"i": 6})
        s.commit()
    app.extensions["db_engine"].dispose()

    def verify_log() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "meeting_server", "verify-log", "--data-dir", str(data),
                               "--no-record", *(("--database-url", database_url) if database_url else ())],
                              capture_output=True, text=True, cwd=ROOT, env=_env(), timeout=120)

    out = verify_log()
    assert out.returncode == 0 and "6 bản ghi" in out.stdout, out.stdout + out.stderr
    rehash_from(db, 3)
    out = verify_log()
    assert out.returncode == 1 and "Bản ghi số 6 đã bị sửa" in out.stdout, out.stdout


def test_entries_with_tabs_backslashes_and_newlines_verify_and_an_edit_is_caught(tmp_path: Path,
                                                                                database_url: str | None) -> None:
    """PostgreSQL's rows come through COPY's text format, which escapes these: read back, every link holds."""
    from meeting_server.app import create_app

    data = tmp_path / "odd"
    create_app({"DATA_DIR": data, "SOCKETIO_ASYNC_MODE": "threading", "DISCOVERY": False,
                **({"DATABASE_URL": database_url} if database_url else {})}).extensions["db_engine"].dispose()
    key = load_key(data)
    assert key is not None
    db: Source = database_url if database_url else data / "meeting.db"
    prev, rows = audit.GENESIS, []
    for i, odd in enumerate(["a\tb", "c\\d\\\\", "e\nf\r\ng", "\b\f\v \\N", "Tán thành\t\\t"], 1):
        at = f"2026-07-15T00:0{i}:00.000000+00:00"
        payload = {"note": odd, "i": i}
        prev = audit.next_hash(prev, entry_of(None, at, "odd\tkind", f"clerk:\\{i}", payload), key.secret)
        rows.append((i, None, at, "odd\tkind", f"clerk:\\{i}", json.dumps(payload, ensure_ascii=False), prev))
    with connect(db) as conn:
        conn.execute("DELETE FROM audit_event")
        conn.execute("DELETE FROM audit_head")
    insert_rows(db, rows)
    with connect(db) as conn:
        conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 5, ?)", (prev,))
    report = verify_database(db, key=key)
    assert report.ok and report.count == 5 and report.head == prev, report.message
    with connect(db) as conn:
        conn.execute("UPDATE audit_event SET actor = 'clerk:\\\\3' WHERE seq = 3")
    report = verify_database(db, key=key)
    assert not report.ok and report.first_break is not None
    assert (report.first_break.seq, report.first_break.kind) == (3, "changed")
