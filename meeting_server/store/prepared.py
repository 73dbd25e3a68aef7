"""Prebuilt statements run on the DBAPI connection itself: the hot paths (a page turn, the card check of every
request and event) without SQLAlchemy's per-execution work.

A page turn comes after the loop slept for a while, with the CPU's caches cold. Measured on this 2-core VM with
120 ms between turns (median, one turn's reads and writes, `scripts/bench/fanout.py` for the whole picture): the
ORM Session with prebuilt Core statements took ~1.4 ms; the same SQL on the DBAPI cursor of a pooled connection
took ~0.45 ms. The difference is the Session's transaction bookkeeping, the statement cache keys and the result
objects, each paid again cold on every turn.

A `Prepared` is a Core statement, compiled once per dialect by SQLAlchemy (so the SQL stays portable: SQLite's qmark
parameters, PostgreSQL's pyformat), executed with plain values (int, str, bool, None) and no type processing either
way: rows come back as the driver's tuples. Columns whose types need processing (dates, JSON) do not belong here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler


@dataclass(frozen=True)
class DBConn:
    """A DBAPI connection with its dialect and its pool record's `info` (db.relax_durability marks it there)."""

    dbapi: Any
    dialect: Dialect
    info: dict[Any, Any]

    def commit(self) -> None:
        self.dbapi.commit()


class Prepared:
    """One Core statement, compiled lazily for each dialect it meets."""

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._compiled: dict[str, tuple[str, tuple[str, ...] | None, dict[str, Any]]] = {}

    def _sql(self, dialect: Dialect) -> tuple[str, tuple[str, ...] | None, dict[str, Any]]:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.stmt.compile(dialect=dialect)
            assert isinstance(compiled, SQLCompiler)
            names = tuple(compiled.positiontup or ()) if dialect.positional else None
            # The statement's own values (the 1 of `seq + 1`): bound like any parameter, given at compile time.
            fixed = {name: b.value for b, name in compiled.bind_names.items() if not b.required}
            found = self._compiled[dialect.name] = (compiled.string, names, fixed)
        return found

    def _execute(self, conn: DBConn, params: dict[str, Any]) -> Any:
        sql, names, fixed = self._sql(conn.dialect)
        if fixed:
            params = {**fixed, **params}
        cur = conn.dbapi.cursor()
        try:
            cur.execute(sql, tuple(params[n] for n in names) if names is not None else params)
        except BaseException:
            cur.close()
            raise
        return cur

    def rows(self, conn: DBConn, **params: Any) -> list[tuple[Any, ...]]:
        """Execute and fetch every row (a RETURNING included, so the statement is done before a commit)."""
        cur = self._execute(conn, params)
        try:
            return list(cur.fetchall()) if cur.description is not None else []
        finally:
            cur.close()

    def first(self, conn: DBConn, **params: Any) -> tuple[Any, ...] | None:
        rows = self.rows(conn, **params)
        return rows[0] if rows else None

    def run(self, conn: DBConn, **params: Any) -> int:
        """Execute a write; the number of rows it changed."""
        cur = self._execute(conn, params)
        try:
            return int(cur.rowcount)
        finally:
            cur.close()
