"""Online backups of the SQLite database with SQLite's backup API (never a file copy of a live database).

`backup_now` is called after each poll closes (voting) and after the minutes are signed; it keeps the newest
`BACKUP_KEEP` files (default 20) in <data dir>/backups. A copy taken while a secret poll is open gets that poll's
ballots with fresh random keys, written in a fresh random order, and is vacuumed: nothing in it follows the order of
casting (docs/SECRECY.md). Each backup is recorded in the audit log.

`restore` refuses a file that fails `PRAGMA integrity_check` or is not a meeting-server database, refuses while a
server holds the data directory (`hold_server_lock`), checks the backup's record as `verify-log` does (keyed chain,
checkpoints, signed minutes, derived state) before replacing anything, and asks for `allow_rollback` when the backup
ends before a checkpoint (a poll closed, minutes signed) of the current record. It keeps a backup of what it
replaces and records itself in the restored database.

On PostgreSQL the same entry points (`backup_now` with the app, `restore` with `database_url`) use pg_dump and
pg_restore instead (services/pgbackup.py): the same folder and retention, the same checks before anything is
replaced.
"""

from __future__ import annotations

import fcntl
import logging
import re
import secrets
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from random import SystemRandom
from typing import IO, Any

from sqlalchemy.engine import Engine

from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError
from meeting_server.domain.voting import PollKind
from meeting_server.store import audit_log

__all__ = ["BackupError", "Restored", "backup_now", "check_backup", "hold_server_lock", "list_backups", "restore"]

SERVER_LOCK = "server.lock"

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


def automatic(app: Any) -> bool:
    """Whether the server backs its database up by itself (after a close, after signing): on both databases (on
    PostgreSQL with pg_dump, services/pgbackup.py)."""
    return bool(app.extensions["db_engine"].url.get_backend_name() in ("sqlite", "postgresql"))


def backup_soon(app: Any, reason: str) -> None:
    """The backup after the minutes are signed: on SQLite at once (a page copy in a real thread, well under a
    second); on PostgreSQL in a thread of its own (a green thread under eventlet), so the signer's request does not
    wait for pg_dump, an idle-class child that a busy box runs last. A failure is logged, never raised: the signed
    minutes stand."""
    if app.extensions["db_engine"].url.get_backend_name() != "postgresql":
        backup_now(app, reason)
        return

    def run() -> None:
        try:
            backup_now(app, reason)
        except Exception:
            log.exception("backup after %s failed", reason)

    threading.Thread(target=run, name=f"backup-{reason}", daemon=True).start()


def _name(folder: Path, reason: str, suffix: str) -> Path:
    slug = re.sub(r"[^a-z0-9-]+", "-", reason.lower()).strip("-")[:40] or "manual"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return folder / f"meeting-{stamp}-{slug}{suffix}"


def _rotate(folder: Path, keep: int) -> None:
    for old in list_backups(folder)[:-keep] if keep > 0 else []:
        old.unlink(missing_ok=True)


def backup_now(app_or_engine: Any, reason: str) -> Path:
    """Copy the live database page by page with the backup API into backups/, check it, keep the newest N. On
    PostgreSQL (an app): a pg_dump in a background child into the same folder, with the same retention."""
    engine = app_or_engine if isinstance(app_or_engine, Engine) else app_or_engine.extensions["db_engine"]
    if engine.url.get_backend_name() == "postgresql" and not isinstance(app_or_engine, Engine):
        from meeting_server.services import pgbackup

        folder = Path(app_or_engine.config["DATA_DIR"]) / "backups"
        keep = int(app_or_engine.config.get("BACKUP_KEEP", DEFAULT_KEEP))
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        dest = pgbackup.backup(url, Path(app_or_engine.config["DATA_DIR"]), _name(folder, reason, ".dump"),
                               reason)
        log.info("backup %s written (%s)", dest.name, reason)
        _rotate(folder, keep)
        return dest
    db, folder, keep = _db_path(app_or_engine)
    folder.mkdir(parents=True, exist_ok=True)
    dest = _name(folder, reason, ".db")
    _call(_backup, db, dest)
    log.info("backup %s written (%s)", dest.name, reason)
    _rotate(folder, keep)
    try:
        _call(_record_backup, db, dest, reason)
    except (sqlite3.Error, DomainError, OSError):  # the copy is made; a busy log must not undo it
        log.exception("backup %s could not be recorded in the audit log", dest.name)
    return dest


def _record_backup(db: Path, dest: Path, reason: str) -> None:
    with sqlite3.connect(f"file:{dest}?mode=ro", uri=True) as conn:
        row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    conn.close()
    audit_log.append_raw(db, audit_log.load_key(db.parent), None, "backup.made", "system:backup",
                         {"file": dest.name, "reason": reason, "audit_seq": row[0] if row else 0,
                          "audit_head": row[1] if row else audit.GENESIS})


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
            _unlink_open_secret_ballots(out)
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


def _unlink_open_secret_ballots(conn: sqlite3.Connection) -> int:
    """In a fresh copy: give the ballots of every open secret poll new random keys, write them in a fresh random
    order with secure_delete on, then VACUUM, so that neither the keys, nor the order of the rows, nor the bytes of
    the file follow the live database's layout, which still holds the order of casting until the poll closes
    (docs/SECRECY.md). Returns how many ballots were rewritten."""
    secret_kinds = [str(k) for k in PollKind if k.is_secret]
    polls = [r[0] for r in conn.execute(
        f"SELECT id FROM poll WHERE state = 'open' AND kind IN ({','.join('?' * len(secret_kinds))})", secret_kinds)]
    if not polls:
        return 0
    marks = ",".join("?" * len(polls))
    conn.execute("PRAGMA secure_delete=ON")
    rows = conn.execute(f"SELECT poll_id, choice FROM secret_ballot WHERE poll_id IN ({marks})", polls).fetchall()
    SystemRandom().shuffle(rows)
    with conn:
        conn.execute(f"DELETE FROM secret_ballot WHERE poll_id IN ({marks})", polls)
        conn.executemany("INSERT INTO secret_ballot (key, poll_id, choice) VALUES (?, ?, ?)",
                         [(secrets.token_hex(16), poll_id, choice) for poll_id, choice in rows])
    conn.execute("VACUUM")  # a new file: no freed page or cell keeps a byte of the old layout
    return len(rows)


def list_backups(folder: Path) -> list[Path]:
    """Backups in a folder (SQLite's `.db`, PostgreSQL's `.dump`), oldest first (their names sort by time)."""
    if not folder.is_dir():
        return []
    return sorted([*folder.glob("meeting-*.db"), *folder.glob("meeting-*.dump")], key=lambda p: p.name)


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


def hold_server_lock(data_dir: Path) -> IO[bytes]:
    """Take the server's shared lock on <data>/server.lock for the process's lifetime (several server processes may
    share a data directory; `restore` needs it exclusively). Keep the returned file open."""
    data_dir.mkdir(parents=True, exist_ok=True)
    f = open(data_dir / SERVER_LOCK, "ab")  # noqa: SIM115  (held until the process ends)
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        raise BackupError("Đang khôi phục dữ liệu: máy chủ chưa thể khởi động.", "backup.restoring") from None
    return f


@dataclass
class Restored:
    """What a restore did: the copy of what it replaced, what it rolled back past, and the check of the backup."""

    saved: Path | None
    check: Any
    rolled_back: list[audit.Checkpoint] = field(default_factory=list)
    saved_database: str | None = None  # PostgreSQL: the database renamed aside


def rollback_past(backup: Path, data_dir: Path) -> tuple[list[audit.Checkpoint], list[str]]:
    """The checkpoints of the current record that `backup` ends before (a rollback), and those it contradicts (a
    different history: same seq, other hash)."""
    from meeting_server.services import integrity as audit_service

    key = audit_log.load_key(data_dir)
    log_, pdfs = audit_service.anchors_of(data_dir, key)
    with sqlite3.connect(f"file:{backup}?mode=ro", uri=True) as conn:
        last = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
        hashes = dict(conn.execute("SELECT seq, hash FROM audit_event").fetchall())
    conn.close()
    ahead = [cp for cp in log_.current + pdfs if cp.seq > last]
    contradicted = [f"{cp.source} ({cp.event}, bản ghi số {cp.seq})" for cp in log_.current + pdfs
                    if cp.seq <= last and hashes.get(cp.seq) != cp.head]
    return ahead, contradicted


def restore(data_dir: Path, backup: Path, *, allow_rollback: bool = False, actor: str = "cli:restore",
            database_url: str | None = None) -> Restored:
    """Replace the data directory's database with `backup` (server stopped); return what was done. With
    `database_url` (PostgreSQL): the database there with a pg_dump file, checked the same way
    (services/pgbackup.py); `Restored.saved` is then the name of the database renamed aside.

    Refused with a clear message, and nothing changed, when: the backup is damaged; a server holds the data
    directory; the backup's record does not verify against this data directory's key and anchors (a changed entry,
    a forged ballot, an edited result); it rolls back past a checkpoint or signed minutes without `allow_rollback`.
    """
    from meeting_server.services import integrity as audit_service

    if database_url:
        return _restore_pg(data_dir, backup, allow_rollback, actor, database_url, audit_service)
    problems = check_backup(backup)
    if problems:
        raise BackupError("Bản sao lưu bị hỏng, không khôi phục: %(problems)s", "backup.damaged",
                          params={"problems": "; ".join(problems)})
    with _no_server(data_dir):
        return _restore_locked(data_dir, backup, allow_rollback, actor, audit_service)


@contextmanager
def _no_server(data_dir: Path) -> Iterator[None]:
    """Hold the data directory's server lock while restoring: refused while a server runs on it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / SERVER_LOCK, "ab") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError("Máy chủ đang chạy trên thư mục dữ liệu này: hãy dừng máy chủ trước khi khôi phục.",
                              "backup.server_running") from None
        yield


def _restore_pg(data_dir: Path, backup: Path, allow_rollback: bool, actor: str, url: str,
                audit_service: Any) -> Restored:
    from meeting_server.services import pgbackup

    with _no_server(data_dir):
        done = pgbackup.restore(data_dir, url, backup, allow_rollback=allow_rollback, actor=actor,
                                audit_service=audit_service)
    return Restored(None, done.check, done.rolled_back, saved_database=done.saved)


def _restore_locked(data_dir: Path, backup: Path, allow_rollback: bool, actor: str, audit_service: Any) -> Restored:
    key = audit_log.load_key(data_dir)
    log_ = audit_log.read_checkpoints(data_dir, key)
    ahead, contradicted = rollback_past(backup, data_dir)
    chain = audit_log.verify_database(backup, key=key, checkpoints=audit_log.CheckpointLog([], log_.signed, log_.bad))
    derived = audit_service.derived_problems(backup)
    check = audit_service.RecordCheck(chain, tuple(derived), len(log_.current))
    audit_service.refuse_unless_sound(chain, derived, contradicted, ahead, allow_rollback, BackupError)
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
    if key is not None and ahead:
        # A new epoch of checkpoints starts at the restored head: the ones rolled past stay in the log, signed.
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        conn.close()
        audit_log.append_checkpoint(data_dir, key, None, row[0] if row else 0, row[1] if row else audit.GENESIS,
                                    audit.ROLLBACK_EVENT)
    audit_log.append_raw(db, key, None, "backup.restored", actor, {
        "file": backup.name, "saved": saved.name if saved else None,
        "rolled_back_past": [{"seq": cp.seq, "event": cp.event, "source": cp.source} for cp in ahead]})
    return Restored(saved, check, ahead)
