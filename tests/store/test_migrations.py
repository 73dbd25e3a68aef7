"""The schema comes from Alembic; data written by an older revision survives an upgrade to head."""

from __future__ import annotations

from pathlib import Path
from typing import Any

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


def test_every_migration_runs_on_postgresql_from_empty_to_head(pg_cluster: Any) -> None:
    url = pg_cluster.empty_database()
    try:
        db.upgrade(url)
        engine = db.make_engine(url)
        insp = inspect(engine)
        tables = set(insp.get_table_names()) - {"alembic_version"}
        # PostgreSQL's search table (migration 0004) is a plain table with a generated tsvector and a GIN index.
        assert tables == set(Base.metadata.tables) | {"document_page_fts"}
        for name, table in Base.metadata.tables.items():
            assert {c["name"] for c in insp.get_columns(name)} == {c.name for c in table.columns}, name
        assert {c["name"] for c in insp.get_columns("document_page_fts")} == {"folded", "document_id", "page_no",
                                                                               "tsv"}
        with engine.begin() as c:
            assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() == \
                ScriptDirectory.from_config(_cfg("sqlite://")).get_current_head()
            c.execute(text("INSERT INTO document_page_fts (folded, document_id, page_no) "
                           "VALUES ('bien ban ky hop', 1, 2)"))
            assert c.execute(text("SELECT page_no FROM document_page_fts WHERE tsv @@ to_tsquery('simple', :q)"),
                             {"q": "'bien' <-> 'ban':*"}).scalar() == 2
        engine.dispose()
        # and back down to nothing, then up again: the downgrades are PostgreSQL-clean too
        command.downgrade(_cfg(db.normalize_url(url)), "base")
        db.upgrade(url)
    finally:
        pg_cluster.drop(url)


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
