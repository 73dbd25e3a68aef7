"""Online backups with SQLite's backup API, rotation, and restore that refuses damaged files (real files, real CLI)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.services import backup
from tests.conftest import ROOT, _env


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meeting_server", *args], check=False, capture_output=True,
                          text=True, cwd=ROOT, env=_env(), timeout=120)


def place(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return str(conn.execute("SELECT place FROM meeting WHERE id = 1").fetchone()[0])


def test_backup_is_a_sound_copy_and_rotates(app: Any) -> None:
    app.config["BACKUP_KEEP"] = 3
    made = [backup.backup_now(app, f"poll {i} closed") for i in range(5)]
    folder = Path(app.config["DATA_DIR"]) / "backups"
    kept = backup.list_backups(folder)
    assert kept == made[-3:] and all(not p.exists() for p in made[:2])
    assert made[-1].name.endswith("-poll-4-closed.db")
    assert backup.check_backup(made[-1]) == []
    assert not list(folder.glob("*.part")) and not list(folder.glob("*-wal"))
    with sqlite3.connect(made[-1]) as conn:
        assert conn.execute("SELECT count(*) FROM participant").fetchone()[0] > 30


def test_backup_and_restore_commands(app: Any, tmp_path: Path) -> None:
    data = Path(app.config["DATA_DIR"])
    db = data / "meeting.db"
    before = place(db)
    out = cli("backup", "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    saved = Path(out.stdout.split("Đã sao lưu: ", 1)[1].strip())
    assert saved.is_file()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meeting SET place = 'Nơi bị sửa nhầm'")
    assert place(db) == "Nơi bị sửa nhầm"
    out = cli("restore", str(saved), "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    assert place(db) == before
    assert "Cơ sở dữ liệu cũ đã được sao lưu" in out.stdout
    assert cli("verify-log", "--data-dir", str(data)).returncode == 0


@pytest.mark.parametrize("damage", ["truncated", "corrupted", "not_ours", "missing"])
def test_damaged_backup_is_refused_and_nothing_changes(app: Any, tmp_path: Path, damage: str) -> None:
    data = Path(app.config["DATA_DIR"])
    good = backup.backup_now(app, "manual")
    raw = good.read_bytes()
    bad = tmp_path / "hong.db"
    if damage == "truncated":
        bad.write_bytes(raw[: len(raw) // 2])
    elif damage == "corrupted":
        # Scribble over a page in the middle of the file (table b-tree pages), as a failing disk would.
        page = 4096
        mid = (len(raw) // page // 2) * page
        bad.write_bytes(raw[:mid] + bytes(range(256)) * (page // 256) + raw[mid + page:])
    elif damage == "not_ours":
        with sqlite3.connect(bad) as conn:
            conn.execute("CREATE TABLE t (x)")
    before = (data / "meeting.db").read_bytes()
    with pytest.raises(DomainError) as err:
        backup.restore(data, bad)
    assert err.value.code == "backup.damaged" and "Bản sao lưu bị hỏng, không khôi phục" in err.value.message
    out = cli("restore", str(bad), "--data-dir", str(data))
    assert out.returncode == 1 and "Bản sao lưu bị hỏng, không khôi phục" in out.stderr
    assert (data / "meeting.db").read_bytes() == before
