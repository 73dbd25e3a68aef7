"""Drawing a document's pages ahead reports its progress (`pages_rendered`, a count on the clerk's screen) in commits
of their own that skip the fsync: each runs on the server's loop, ~1.5 ms of fsync on this machine's disk, four times
a second per document. The commit that makes the document ready, and its audit entry, keep the full sync."""

from __future__ import annotations

from typing import Any

from sqlalchemy import event

from meeting_server.store import db
from meeting_server.store.tables import Document
from tests.documents.conftest import VI_SAMPLES
from tests.services.upload_kit import close_lanes, process_upload


def _sync_level(dbapi_conn: Any, dialect: str) -> str:
    """SQLite's `synchronous` (1 NORMAL, 2 FULL) or PostgreSQL's `synchronous_commit`, of this transaction."""
    cur = dbapi_conn.cursor()
    try:
        cur.execute("SHOW synchronous_commit" if dialect == "postgresql" else "PRAGMA synchronous")
        return str(cur.fetchone()[0])
    finally:
        cur.close()


def test_progress_commits_skip_the_fsync_and_ready_keeps_it(app: Any) -> None:
    engine = app.extensions["db_engine"]
    dialect = engine.dialect.name
    relaxed, full = ("off", "on") if dialect == "postgresql" else ("1", "2")
    seen: list[tuple[str, str]] = []  # (what the statement wrote, the sync level it was written under)

    def watch(conn: Any, _cursor: Any, statement: str, *_a: Any) -> None:
        sql = " ".join(statement.split()).lower()
        if sql.startswith("update document set") and "pages_rendered" in sql:
            kind = "ready" if "status" in sql else "progress"
            seen.append((kind, _sync_level(conn.connection.dbapi_connection, dialect)))

    event.listen(engine, "before_cursor_execute", watch)
    try:
        doc_id, said = process_upload(app, VI_SAMPLES[0], "ke-hoach.pdf")
    finally:
        event.remove(engine, "before_cursor_execute", watch)
        close_lanes(app)
    assert said[0] == "ready" and said.count("progress") >= 1, said
    assert ("ready", full) in seen, seen
    progress = [level for kind, level in seen if kind == "progress"]
    assert progress and set(progress) == {relaxed}, seen
    with db.standalone_session(app) as s:  # what the clerk's screen reads: every page drawn, counted and stored
        row = s.get(Document, doc_id)
        assert row is not None and row.status == "ready" and row.pages_rendered == row.page_count > 0
