"""Reading a live server's database from a test as a person at the database would: SQLite's file in the data
directory, or the PostgreSQL database the server was started on (pytest --db=postgresql). SQL is written once,
with SQLite's `?` parameters; on PostgreSQL they become psycopg's `%s`."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Any


class Peek:
    """A connection that commits what it did when the `with` block ends (as `with sqlite3.connect(...)` does)."""

    def __init__(self, data_dir: Path, database_url: str | None = None, timeout: float = 30) -> None:
        self.pg = bool(database_url)
        if database_url:
            import psycopg

            from meeting_server.store import db

            self.conn: Any = psycopg.connect(db.normalize_url(database_url).replace("+psycopg", ""))
        else:
            self.conn = sqlite3.connect(str(Path(data_dir) / "meeting.db"), timeout=timeout)

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s") if self.pg else sql, params)

    def commit(self) -> None:
        self.conn.commit()

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Peek:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
                 ) -> None:
        if kind is None:
            self.conn.commit()
        else:
            self.conn.rollback()
        self.conn.close()


def peek(srv: Any, timeout: float = 30) -> Peek:
    """The database of a `LiveServer` (tests/conftest.py)."""
    return Peek(srv.data_dir, srv.database_url, timeout)
