"""The one owner of the database engine: SQLite in WAL mode by default, migrations by Alembic."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from meeting_server.store import audit_log
from meeting_server.store.prepared import DBConn

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(data_dir: Path) -> str:
    """SQLite file inside the data directory."""
    return f"sqlite:///{data_dir / 'meeting.db'}"


def make_engine(url: str) -> Engine:
    """An engine whose SQLite connections use WAL and FULL sync.

    SQLite is chosen on purpose for one box: WAL lets readers go on while a ballot commits, and
    synchronous=FULL makes every acknowledged commit survive a power cut (a mini-PC has no UPS).
    """
    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):

        db_file = engine.url.database or ""
        data_dir = Path(db_file).resolve().parent if db_file and db_file != ":memory:" else None

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
            if data_dir is not None:
                # The audit chain's key lives beside the database file, never in it (services.audit reads it here).
                record.info[AUDIT_KEY] = audit_log.load_key(data_dir)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        @event.listens_for(engine, "checkin")
        def _full_sync_again(dbapi_conn: Any, record: Any) -> None:
            # A connection lent to `commit_without_fsync` goes back to the pool with FULL sync restored.
            if dbapi_conn is not None and record is not None and record.info.pop(_RELAXED, False):
                dbapi_conn.execute("PRAGMA synchronous=FULL")

    return engine


_RELAXED = "meeting_server.relaxed_sync"
#: Where a pooled connection keeps the audit chain's key (`domain.audit.ChainKey` or None).
AUDIT_KEY = "meeting_server.audit_key"


def relax_durability(s: Session | DBConn) -> None:
    """Let this session's (or raw connection's) next commit skip the fsync: for writes that decide nothing (a page
    turn).

    Called before the transaction's first write (SQLite refuses to change the level inside one). In WAL mode a
    commit with synchronous=NORMAL is still atomic and in order; a power cut can lose only the newest such commits,
    and the next FULL commit (any ballot, mark or change) makes them durable too. A page turn costs ~1.5 ms of
    fsync on this machine's disk and 0.5-2 ms on a mini-PC's SSD, paid before the page reaches any screen.
    The connection gets FULL back when it returns to the pool. SQLite only: elsewhere it does nothing.
    """
    conn = dbapi(s) if isinstance(s, Session) else s
    if conn.dialect.name != "sqlite":
        return
    conn.dbapi.execute("PRAGMA synchronous=NORMAL")
    conn.info[_RELAXED] = True


def dbapi(s: Session) -> DBConn:
    """The DBAPI connection under a session's transaction, for `Prepared` statements that belong to it."""
    conn = s.connection()
    return DBConn(conn.connection.dbapi_connection, conn.dialect, conn.connection.info)


@contextmanager
def raw_connection(app: Flask) -> Iterator[DBConn]:
    """A pooled DBAPI connection without a Session, for the room's hot path (a page turn): the caller commits;
    whatever it did not commit is rolled back when the connection returns to the pool."""
    engine: Engine = app.extensions["db_engine"]
    fairy = engine.raw_connection()
    try:
        yield DBConn(fairy.dbapi_connection, engine.dialect, fairy.info)
    finally:
        fairy.close()


#: A migration script's `revision = "…"` or `down_revision = "…"` / `None` line, as Alembic's template writes it.
_REVISION_LINE = re.compile(r"""^(revision|down_revision)\s*=\s*(?:(['"])([^'"]+)\2|None)\s*(?:#.*)?$""", re.M)


def head_revisions() -> frozenset[str] | None:
    """The newest revision(s) of the migration scripts, read from their `revision`/`down_revision` lines without
    importing Alembic (a quarter of the server's start-up imports); None when a script says it otherwise (a merge's
    tuple): then only Alembic can tell."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (MIGRATIONS / "versions").glob("[!_]*.py"):
        found = {m.group(1): m.group(3) for m in _REVISION_LINE.finditer(script.read_text(encoding="utf-8"))}
        if not found.get("revision") or "down_revision" not in found:
            return None
        revisions.add(found["revision"])
        if found["down_revision"]:
            parents.add(found["down_revision"])
    return frozenset(revisions - parents) or None


def at_head(url: str) -> bool:
    """Whether the database's `alembic_version` names exactly the scripts' head(s): nothing to migrate."""
    heads = head_revisions()
    if heads is None:
        return False
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            stamped = {row[0] for row in conn.execute(text("SELECT version_num FROM alembic_version"))}
    except SQLAlchemyError:  # no such table yet (a new database): Alembic creates it
        return False
    finally:
        engine.dispose()
    return stamped == heads


def upgrade(url: str) -> None:
    """Bring the schema to the newest Alembic revision (data from older versions is kept). A database already
    there is left alone without importing Alembic (`at_head`): the server's start is that much shorter."""
    if at_head(url):
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def init_app(app: Flask) -> None:
    """Create the engine for the app, migrate, and close each request's session at teardown."""
    url = app.config["DATABASE_URL"]
    engine = make_engine(url)
    upgrade(url)
    if engine.url.get_backend_name() == "sqlite" and engine.url.database and engine.url.database != ":memory:":
        db_file = Path(engine.url.database).resolve()
        audit_log.ensure_key(db_file.parent, db_file)  # before the first pooled connection reads it
    app.extensions["db_engine"] = engine
    app.extensions["db_sessionmaker"] = sessionmaker(engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)


def session() -> Session:
    """The session of the current request or Socket.IO event, opened lazily."""
    if "db" not in g:
        g.db = current_app.extensions["db_sessionmaker"]()
    return g.db


@contextmanager
def standalone_session(app: Flask) -> Iterator[Session]:
    """A session outside any request, for background tasks and CLI commands."""
    s: Session = app.extensions["db_sessionmaker"]()
    try:
        yield s
    finally:
        s.close()


def _close_session(_exc: BaseException | None) -> None:
    db = g.pop("db", None)
    if db is not None:
        db.close()
