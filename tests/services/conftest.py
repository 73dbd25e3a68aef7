"""Services on a real SQLite file, migrated by the application's own Alembic code, with the demo meeting; no app,
no server. `stored` reads through a connection of its own, so a test sees what was committed, not the session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from meeting_server.services import demo, meetings
from meeting_server.store import db
from meeting_server.store.tables import Meeting


@pytest.fixture
def engine(tmp_path: Path, database_url: str | None) -> Iterator[Engine]:
    """SQLite in the temporary directory, or with --db=postgresql a fresh PostgreSQL database (tests/pg_kit.py)."""
    url = database_url or db.database_url(tmp_path)
    db.upgrade(url)
    engine = db.make_engine(url, tmp_path)
    yield engine
    engine.dispose()


@pytest.fixture
def s(engine: Engine) -> Iterator[Session]:
    """A session as a request has one (expire_on_commit=False, as store/db.py makes them), on the demo meeting."""
    factory = sessionmaker(engine, expire_on_commit=False)
    with factory() as setup:
        demo.seed(setup)
    with factory() as session:
        yield session


@pytest.fixture
def m(s: Session) -> Meeting:
    found = meetings.current(s)
    assert found is not None
    return found


@pytest.fixture
def stored(engine: Engine) -> Callable[[str], Any]:
    """One value as committed: stored("SELECT seq FROM meeting WHERE id = 1")."""

    def read(sql: str) -> Any:
        with engine.connect() as conn:
            return conn.execute(text(sql)).scalar()

    return read
