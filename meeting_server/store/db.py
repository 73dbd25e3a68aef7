"""The one owner of the database engine: SQLite in WAL mode by default, PostgreSQL (psycopg 3) when
`DATABASE_URL` / `serve --database-url` names one; migrations by Alembic on both.
"""

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

from meeting_server.faults import causes
from meeting_server.store import audit_log
from meeting_server.store.prepared import DBConn

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def database_url(data_dir: Path) -> str:
    """SQLite file inside the data directory."""
    return f"sqlite:///{data_dir / 'meeting.db'}"


def normalize_url(url: str) -> str:
    """`postgresql://…` (what people write, and what libpq tools take) as SQLAlchemy's psycopg 3 dialect; SQLite
    URLs unchanged."""
    for prefix in ("postgresql://", "postgres://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def is_postgresql(url: str) -> bool:
    return normalize_url(url).startswith("postgresql")


def cooperative_psycopg() -> str:
    """Make psycopg 3 wait for the server through eventlet's hub when the process is monkey-patched; the name of
    the wait function in use.

    psycopg 3 never blocks inside libpq: every query is a generator that sends without blocking and yields when
    the socket must become readable or writable, and `psycopg.waiting.wait` (`wait_conn` for connecting) waits on
    the socket. Which function `wait` is gets decided when psycopg is imported (psycopg/waiting.py): `wait_c` (C,
    a blocking poll() in the OS thread) when the C extension is there and *gevent* has not patched select (it
    does not know eventlet); otherwise `wait_select`, `wait_poll`… on the select module. A row lock held by another
    green thread of the same process would then block the OS thread (or, on eventlet's green select, leave a
    stray wake-up behind: store/greenwait.py says how), the holder never runs again, and the whole server hangs.
    So under eventlet this sets `wait` and `wait_conn` to store/greenwait.py's, which wait in eventlet's hub,
    whatever the import order was. tests/store/test_postgresql_eventlet.py proves it with a row lock and with a
    PostgreSQL restart under green threads waiting on queues."""
    import eventlet.patcher
    from psycopg import waiting

    if not eventlet.patcher.is_monkey_patched("select"):
        return str(getattr(waiting.wait, "__name__", waiting.wait))
    from meeting_server.store import greenwait

    waiting.wait = greenwait.wait
    waiting.wait_conn = greenwait.wait_conn
    return "greenwait"


#: SQLSTATEs of a transaction PostgreSQL ended so that it can be run again as it was: deadlock_detected and
#: serialization_failure (its documentation asks the application to retry).
RETRY_STATES = frozenset({"40P01", "40001"})
#: lock_not_available: a statement waited out `lock_timeout`.
LOCK_TIMEOUT_STATE = "55P03"


def sqlstate(exc: BaseException | None) -> str | None:
    """The SQLSTATE PostgreSQL answered with, from `exc` or what it was raised from; None for anything else."""
    for e in causes(exc):
        state = getattr(e, "sqlstate", None)
        if isinstance(state, str):
            return state
    return None


def make_engine(url: str, data_dir: Path | None = None) -> Engine:
    """An engine whose SQLite connections use WAL and FULL sync, or a PostgreSQL engine (psycopg 3).

    SQLite is chosen on purpose for one box: WAL lets readers go on while a ballot commits, and
    synchronous=FULL makes every acknowledged commit survive a power cut (a mini-PC has no UPS).
    PostgreSQL's counterpart is its default, synchronous_commit=on (set explicitly on each connection: a commit
    returns once its WAL record is flushed). The audit chain's key is read from `data_dir` on both (for SQLite the
    directory of the file unless given).
    """
    url = normalize_url(url)
    if url.startswith("postgresql"):
        cooperative_psycopg()
        engine = create_engine(url, pool_pre_ping=True)

        @event.listens_for(engine, "connect")
        def _pg_settings(dbapi_conn: Any, record: Any) -> None:
            if data_dir is not None:
                record.info[AUDIT_KEY] = audit_log.load_key(data_dir)
                record.info[DATA_DIR] = data_dir
            with dbapi_conn.cursor() as cur:
                cur.execute("SET synchronous_commit = on")
                # A statement waiting on a lock (a ballot behind a closing poll) gives up as SQLite's busy_timeout.
                cur.execute("SET lock_timeout = '30s'")
                cur.execute("SET TIME ZONE 'UTC'")
            dbapi_conn.commit()

        return engine
    engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
    if url.startswith("sqlite"):

        db_file = engine.url.database or ""
        if data_dir is None:
            data_dir = Path(db_file).resolve().parent if db_file and db_file != ":memory:" else None

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, record: Any) -> None:
            if data_dir is not None:
                # The audit chain's key lives beside the database file, never in it (services.audit reads it here).
                record.info[AUDIT_KEY] = audit_log.load_key(data_dir)
                record.info[DATA_DIR] = data_dir
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
#: Where a pooled connection keeps its data directory (audit checkpoints, the key), on either database.
DATA_DIR = "meeting_server.data_dir"


def relax_durability(s: Session | DBConn) -> None:
    """Let this session's (or raw connection's) next commit skip the fsync: for writes that decide nothing (a page
    turn).

    Called before the transaction's first write (SQLite refuses to change the level inside one). In WAL mode a
    commit with synchronous=NORMAL is still atomic and in order; a power cut can lose only the newest such commits,
    and the next FULL commit (any ballot, mark or change) makes them durable too. A page turn costs ~1.5 ms of
    fsync on this machine's disk and 0.5-2 ms on a mini-PC's SSD, paid before the page reaches any screen.
    The connection gets FULL back when it returns to the pool.

    PostgreSQL's counterpart: `SET LOCAL synchronous_commit = off` for this transaction only. Its commit returns
    before its WAL record is flushed; commits stay atomic and in order, a crash of the server may lose only the
    newest such commits (at most ~3 × wal_writer_delay), and any later synchronous commit flushes them too.
    """
    conn = dbapi(s) if isinstance(s, Session) else s
    if conn.dialect.name == "postgresql":
        with conn.dbapi.cursor() as cur:
            cur.execute("SET LOCAL synchronous_commit = off")
        return
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
    url = normalize_url(url)
    if url.startswith("postgresql"):
        cooperative_psycopg()
    if at_head(url):
        return
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def init_app(app: Flask) -> None:
    """Create the engine for the app, migrate, and close each request's session at teardown."""
    url = normalize_url(app.config["DATABASE_URL"])
    data_dir = Path(app.config["DATA_DIR"]) if app.config.get("DATA_DIR") else None
    if url.startswith("postgresql"):
        upgrade(url)
        engine = make_engine(url, data_dir)
        if data_dir is not None:  # the key lives in the data directory on PostgreSQL too, never in the database
            with engine.connect() as c:
                head = c.execute(text("SELECT max(seq) FROM audit_event")).scalar()
            engine.dispose()  # the connection above was made before the key existed
            audit_log.ensure_key(data_dir, None, int(head or 0))
    else:
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
