"""Prebuilt statements on the DBAPI connection (store.prepared): the page turn's path without a Session commits,
rolls back and gives FULL sync back like a Session does, and joins a Session's transaction when it runs in one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import Column, Integer, MetaData, String, Table, bindparam, select, text, update
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from meeting_server.store import db
from meeting_server.store.prepared import Prepared

meta = MetaData()
counter = Table("counter", meta, Column("id", Integer, primary_key=True), Column("seq", Integer),
                Column("label", String(20)))
NEXT = Prepared(update(counter).where(counter.c.id == bindparam("i")).values(seq=counter.c.seq + 1)
                .returning(counter.c.seq))
LABEL = Prepared(update(counter).where(counter.c.id == bindparam("i")).values(label=bindparam("label")))
ROW = Prepared(select(counter.c.seq, counter.c.label).where(counter.c.id == bindparam("i")))


@pytest.fixture
def app(tmp_path: Path, database_url: str | None) -> Iterator[Flask]:
    engine = db.make_engine(database_url or db.database_url(tmp_path))
    meta.create_all(engine)
    with engine.begin() as c:
        c.execute(counter.insert(), [{"id": 1, "seq": 10, "label": "a"}, {"id": 2, "seq": 20, "label": "b"}])
    app = Flask(__name__)
    app.extensions["db_engine"] = engine
    try:
        yield app
    finally:
        engine.dispose()


def _seq(app: Flask, i: int) -> int:
    with Session(app.extensions["db_engine"]) as s:
        return int(s.execute(select(counter.c.seq).where(counter.c.id == i)).scalar_one())


def test_a_committed_turn_is_stored_with_the_statements_own_values(app: Flask) -> None:
    with db.raw_connection(app) as conn:
        assert NEXT.rows(conn, i=1) == [(11,)]  # `seq + 1`: the statement's own 1 is bound too
        assert LABEL.run(conn, i=2, label="Trang 3") == 1
        assert LABEL.run(conn, i=99, label="none") == 0
        conn.commit()
    assert _seq(app, 1) == 11
    with db.raw_connection(app) as conn:
        assert ROW.first(conn, i=2) == (20, "Trang 3")
        assert ROW.first(conn, i=99) is None


def test_what_is_not_committed_is_rolled_back_when_the_connection_goes_back(app: Flask) -> None:
    with pytest.raises(RuntimeError):
        with db.raw_connection(app) as conn:
            NEXT.rows(conn, i=1)
            raise RuntimeError("the handler failed")
    with db.raw_connection(app) as conn:
        NEXT.rows(conn, i=1)  # and no commit
    assert _seq(app, 1) == 10


def test_a_relaxed_raw_connection_returns_to_full_sync(app: Flask) -> None:
    engine = app.extensions["db_engine"]
    engine.pool.dispose()
    pg = engine.dialect.name == "postgresql"
    # SQLite: PRAGMA synchronous NORMAL (1) then FULL (2); PostgreSQL: synchronous_commit off for that transaction.
    level = "SHOW synchronous_commit" if pg else "PRAGMA synchronous"
    with db.raw_connection(app) as conn:
        db.relax_durability(conn)
        assert conn.dbapi.execute(level).fetchone()[0] == ("off" if pg else 1)
        NEXT.rows(conn, i=1)
        conn.commit()
    # One connection lent at a time here: the same one comes back, with FULL (SQLite) or on (PostgreSQL).
    with db.raw_connection(app) as conn:
        assert conn.dbapi.execute(level).fetchone()[0] == ("on" if pg else 2)
    assert _seq(app, 1) == 11


def test_in_a_session_the_statements_share_its_transaction(app: Flask) -> None:
    engine = app.extensions["db_engine"]
    with Session(engine) as s:
        s.execute(text("UPDATE counter SET label = 'orm' WHERE id = 1"))
        assert NEXT.rows(db.dbapi(s), i=1) == [(11,)]
        assert ROW.first(db.dbapi(s), i=1) == (11, "orm")  # sees the Session's own write
        s.rollback()
    assert _seq(app, 1) == 10
    with Session(engine) as s:
        NEXT.rows(db.dbapi(s), i=2)
        s.execute(text("UPDATE counter SET label = 'orm' WHERE id = 2"))
        s.commit()
    with db.raw_connection(app) as conn:
        assert ROW.first(conn, i=2) == (21, "orm")


def test_the_sql_is_compiled_for_the_engines_dialect() -> None:
    """PostgreSQL gets its own parameter style from the same statement (no server here: the compiled text)."""
    sql, names, fixed = NEXT._sql(postgresql.psycopg.dialect())
    assert "%(i)s" in sql and "RETURNING counter.seq" in sql
    assert names is None and list(fixed.values()) == [1]
