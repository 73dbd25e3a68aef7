"""Page turns commit without an fsync; everything else keeps SQLite's FULL sync."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.orm import Session

from meeting_server.store import db


def _sync_level(s: Session) -> int:
    return int(s.execute(text("PRAGMA synchronous")).scalar_one())


def test_relaxed_commit_is_stored_and_the_connection_returns_to_full_sync(tmp_path: Path) -> None:
    engine = db.make_engine(db.database_url(tmp_path))
    engine.pool.dispose()
    try:
        with Session(engine) as s:
            s.execute(text("CREATE TABLE turn (page INTEGER)"))
            s.commit()
        with Session(engine) as s:
            assert _sync_level(s) == 2  # FULL
            db.relax_durability(s)
            assert _sync_level(s) == 1  # NORMAL, for this transaction only
            s.execute(text("INSERT INTO turn VALUES (7)"))
            s.commit()
        # The same pooled connection is lent again (one at a time in this test): FULL is back.
        with Session(engine) as s:
            assert _sync_level(s) == 2
            assert s.execute(text("SELECT page FROM turn")).scalar_one() == 7
        # A relaxed session that fails is rolled back and still gives FULL back.
        with Session(engine) as s:
            db.relax_durability(s)
            s.execute(text("INSERT INTO turn VALUES (8)"))
            s.rollback()
        with Session(engine) as s:
            assert _sync_level(s) == 2
            assert s.execute(text("SELECT count(*) FROM turn")).scalar_one() == 1
    finally:
        engine.dispose()
