"""The schema comes from Alembic; data written by an older revision survives an upgrade to head."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from meeting_server.store import db
from meeting_server.store.tables import Base


def _cfg(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def test_migrations_build_exactly_the_tables_the_code_declares(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    db.upgrade(url)
    insp = inspect(create_engine(url))
    # The FTS5 search index is a virtual table (and its shadow tables) that only the migration declares.
    tables = {t for t in insp.get_table_names() if "_fts" not in t} - {"alembic_version"}
    assert tables == set(Base.metadata.tables)
    for name, table in Base.metadata.tables.items():
        assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in table.columns}, name


def test_one_linear_history() -> None:
    script = ScriptDirectory.from_config(_cfg("sqlite://"))
    assert len(script.get_heads()) == 1


def test_data_from_the_first_revision_survives_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    command.upgrade(_cfg(url), "0001_initial")
    eng = create_engine(url)
    with eng.begin() as c:
        c.execute(text(
            "INSERT INTO meeting (id, council_name, council_level, locality, session_title, term, place, "
            "seated_count, quorum_rule, status, kiosk_token, guest_token, seq, created_at) VALUES "
            "(1, 'Hội đồng nhân dân xã A', 'xã', 'A', 'Kỳ họp thứ Nhất', 'khóa I', '', 15, 'two_thirds', 'draft', "
            "'k', 'g', 3, '2026-01-01 00:00:00')"))
    db.upgrade(url)
    with eng.connect() as c:
        assert c.execute(text("SELECT session_title, seq FROM meeting")).one() == ("Kỳ họp thứ Nhất", 3)


def test_wal_and_full_sync(tmp_path: Path) -> None:
    eng = db.make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    with eng.connect() as c:
        assert c.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert c.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert c.execute(text("PRAGMA foreign_keys")).scalar() == 1
