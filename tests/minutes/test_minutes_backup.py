"""Online backups with SQLite's backup API, rotation, and restore that refuses damaged files (real files, real CLI)."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.services import backup
from tests.conftest import ROOT, LiveServer, _env

pytestmark = pytest.mark.sqlite_only("SQLite's backup API; PostgreSQL's pg_dump path: tests/store/test_pgbackup.py")


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


def test_a_backup_during_an_open_secret_poll_does_not_keep_the_order_of_casting(
        server_factory: Callable[..., LiveServer]) -> None:
    """Twelve secret ballots cast in a known order (six yes, then six no) and a backup taken before the close: in
    the copy the ballots have new random keys, and the bytes of the file follow those keys only."""
    from meeting_server.services.integrity import derived_problems
    from tests.realtime.voting_kit import delegates, join, make_poll, open_poll, screen

    srv = server_factory()
    voters = delegates(srv)[:12]
    for d in voters:
        join(srv, d["url"])
    pid = make_poll(srv, kind="secret", title="Bỏ phiếu kín: miễn nhiệm")["id"]
    open_poll(srv, pid)
    for i, d in enumerate(voters):
        phone = screen(srv, d["url"])
        assert phone.call("cast", {"poll_id": pid, "choice": "yes" if i < 6 else "no"})["ok"] is True
        phone.close()
    out = cli("backup", "--data-dir", str(srv.data_dir), "--reason", "open-secret")
    assert out.returncode == 0, out.stderr
    copy = Path(out.stdout.split("Đã sao lưu: ", 1)[1].strip())
    with sqlite3.connect(f"file:{srv.data_dir / 'meeting.db'}?mode=ro", uri=True) as conn:
        live = {k for (k,) in conn.execute("SELECT key FROM secret_ballot WHERE poll_id = ?", (pid,))}
    conn.close()
    with sqlite3.connect(copy) as conn:
        rows = conn.execute("SELECT key, choice FROM secret_ballot WHERE poll_id = ?", (pid,)).fetchall()
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        freelist = conn.execute("PRAGMA freelist_count").fetchone()[0]
    conn.close()
    assert len(rows) == 12 and sorted(json.loads(c)["option"] for _k, c in rows) == ["no"] * 6 + ["yes"] * 6
    assert not live & {k for k, _c in rows}, "the copy keeps the live keys"
    assert freelist == 0  # vacuumed: no freed page keeps old bytes
    raw = copy.read_bytes()
    spots = []
    for key, _c in rows:
        found = [m.start() for m in re.finditer(key.encode(), raw)]
        # Once in the table and once in its index on poll_id (whose entries end with the key), nowhere else.
        assert 1 <= len(found) <= 2, "a ballot's key is elsewhere in the file"
        spots += [(at, key) for at in found]
    by_page: dict[int, list[str]] = {}
    for at, key in sorted(spots):
        by_page.setdefault(at // page, []).append(key)
    for keys in by_page.values():
        assert keys in (sorted(keys), sorted(keys, reverse=True)), "the copy's layout follows something else"
    assert derived_problems(copy) == []
    # The backup is in the audit log, with the head it copied.
    with sqlite3.connect(f"file:{srv.data_dir / 'meeting.db'}?mode=ro", uri=True) as conn:
        kind, data = conn.execute("SELECT kind, data FROM audit_event WHERE kind = 'backup.made'").fetchone()
    conn.close()
    assert json.loads(data)["file"] == copy.name
