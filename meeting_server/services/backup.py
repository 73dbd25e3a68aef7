"""Online backups of the SQLite database with SQLite's backup API (never a file copy of a live database).

`backup_now` is called after each poll closes (voting) and after the minutes are signed; it keeps the newest
`BACKUP_KEEP` files (default 20) in <data dir>/backups. `restore` refuses a file that fails
`PRAGMA integrity_check` or is not a meeting-server database, and keeps a backup of what it replaces.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from meeting_server.domain.errors import DomainError

__all__ = ["BackupError", "backup_now", "check_backup", "list_backups", "restore"]

log = logging.getLogger(__name__)
DEFAULT_KEEP = 20
REQUIRED_TABLES = {"meeting", "audit_event", "audit_head", "alembic_version"}


class BackupError(DomainError):
    """A backup cannot be made or used."""

    code = "backup.failed"


def _db_path(app_or_engine: Any) -> tuple[Path, Path, int]:
    """(database file, backups directory, how many to keep) from an app or an engine."""
    engine: Engine | None = None
    keep = DEFAULT_KEEP
    backups: Path | None = None
    if isinstance(app_or_engine, Engine):
        engine = app_or_engine
    else:
        engine = app_or_engine.extensions["db_engine"]
        keep = int(app_or_engine.config.get("BACKUP_KEEP", DEFAULT_KEEP))
        backups = Path(app_or_engine.config["DATA_DIR"]) / "backups"
    if engine.url.get_backend_name() != "sqlite" or not engine.url.database:
        raise BackupError("Sao lưu tự động chỉ dùng cho cơ sở dữ liệu SQLite.", "backup.not_sqlite")
    db = Path(engine.url.database).resolve()
    return db, backups or db.parent / "backups", keep


def backup_now(app_or_engine: Any, reason: str) -> Path:
    """Copy the live database page by page with the backup API into backups/, check it, keep the newest N."""
    db, folder, keep = _db_path(app_or_engine)
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9-]+", "-", reason.lower()).strip("-")[:40] or "manual"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    dest = folder / f"meeting-{stamp}-{slug}.db"
    _call(_backup, db, dest)
    log.info("backup %s written (%s)", dest.name, reason)
    for old in list_backups(folder)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)
    return dest


def _call(fn: Any, *args: Any) -> Any:
    """Run blocking SQLite work in a real thread when under eventlet, so the loop keeps serving."""
    patcher = sys.modules.get("eventlet.patcher")  # only look: importing eventlet here would patch nothing
    if patcher is not None and patcher.is_monkey_patched("thread"):
        from eventlet import tpool

        return tpool.execute(fn, *args)
    return fn(*args)


def _backup(src_path: Path, dest: Path) -> None:
    tmp = dest.with_suffix(".part")
    src = sqlite3.connect(str(src_path), timeout=30)
    try:
        out = sqlite3.connect(str(tmp))
        try:
            src.backup(out)
            out.execute("PRAGMA journal_mode=DELETE")  # a backup is one self-contained file, no -wal beside it
        finally:
            out.close()
    finally:
        src.close()
    problems = check_backup(tmp)
    if problems:
        tmp.unlink(missing_ok=True)
        raise BackupError("Bản sao lưu vừa tạo không qua kiểm tra toàn vẹn: %(problems)s",
                          params={"problems": "; ".join(problems)})
    tmp.replace(dest)


def list_backups(folder: Path) -> list[Path]:
    """Backups in a folder, oldest first (their names sort by time)."""
    return sorted(folder.glob("meeting-*.db")) if folder.is_dir() else []


def check_backup(path: Path) -> list[str]:
    """What is wrong with a backup file (empty when it is sound): integrity_check and the expected tables."""
    if not path.is_file():
        return [f"không có tệp {path}"]
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
            if rows != ["ok"]:
                return [f"PRAGMA integrity_check: {r}" for r in rows[:5]]
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [f"không đọc được tệp: {exc}"]
    missing = REQUIRED_TABLES - tables
    if missing:
        return [f"không phải cơ sở dữ liệu của meeting-server (thiếu bảng {', '.join(sorted(missing))})"]
    return []


def restore(data_dir: Path, backup: Path) -> Path | None:
    """Replace the data directory's database with `backup` (server stopped); return the backup of what was there.

    Refused with a clear message when the backup is damaged; nothing is changed then.
    """
    problems = check_backup(backup)
    if problems:
        raise BackupError("Bản sao lưu bị hỏng, không khôi phục: %(problems)s", "backup.damaged",
                          params={"problems": "; ".join(problems)})
    db = data_dir / "meeting.db"
    saved: Path | None = None
    if db.exists():
        saved = data_dir / "backups" / f"meeting-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%fZ')}-before-restore.db"
        saved.parent.mkdir(parents=True, exist_ok=True)
        _backup(db, saved)
    src = sqlite3.connect(f"file:{backup}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(str(db))
        try:
            # The backup API writes through SQLite, so the live file's WAL and locks stay consistent.
            src.backup(dest)
            dest.execute("PRAGMA journal_mode=WAL")
        finally:
            dest.close()
    finally:
        src.close()
    return saved
