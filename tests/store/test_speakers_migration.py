"""The speakers' revision on a real SQLite file: it applies, its indexes hold one speaker per meeting, it reverts."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from meeting_server.store.db import MIGRATIONS, upgrade


def _cfg(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url)
    cfg.attributes["configure_logger"] = False
    return cfg


def _seed(db: sqlite3.Connection) -> None:
    db.execute("INSERT INTO meeting (id, council_name, council_level, locality, session_title, term, place,"
               " seated_count, quorum_rule, status, kiosk_token, guest_token, seq, created_at)"
               " VALUES (1, 'HĐND xã X', 'xã', 'X', 'Kỳ họp thứ Nhất', 'khóa I', '', 5, 'two_thirds', 'draft',"
               " 'k', 'g', 0, '2026-11-24 01:00:00')")
    db.execute("INSERT INTO agenda_item (id, meeting_id, position, title, description)"
               " VALUES (1, 1, 1, 'Thảo luận', '')")
    for pid in (1, 2):
        db.execute("INSERT INTO participant (id, meeting_id, position, full_name, title, group_name, role, token,"
                   " token_issued_at) VALUES (?, 1, ?, ?, '', '', 'delegate', ?, '2026-11-24 01:00:00')",
                   (pid, pid, f"Đại biểu {pid}", f"t{pid}"))


def _ask(db: sqlite3.Connection, pid: int, status: str) -> None:
    db.execute("INSERT INTO speak_request (meeting_id, agenda_item_id, participant_id, requested_at, status)"
               " VALUES (1, 1, ?, '2026-11-24 01:05:00', ?)", (pid, status))


def test_revision_applies_guards_and_reverts(tmp_path: Path) -> None:
    path = tmp_path / "m.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    db = sqlite3.connect(path)
    try:
        _seed(db)
        _ask(db, 1, "speaking")
        # A second speaker in the same meeting, or a second open request of one person on one item, is refused by
        # the database itself, whatever a racing writer thought it saw.
        with pytest.raises(sqlite3.IntegrityError):
            _ask(db, 2, "speaking")
        with pytest.raises(sqlite3.IntegrityError):
            _ask(db, 1, "waiting")
        _ask(db, 2, "waiting")
        _ask(db, 2, "withdrawn")
        _ask(db, 2, "withdrawn")  # closed requests may repeat
        db.execute("INSERT INTO speaker_setting (meeting_id, default_limit_s) VALUES (1, 180)")
        db.commit()
    finally:
        db.close()
    command.downgrade(_cfg(url), "0001_initial")
    db = sqlite3.connect(path)
    try:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "speak_request" not in names and "speaker_setting" not in names and "meeting" in names
    finally:
        db.close()
    upgrade(url)  # and forward again
