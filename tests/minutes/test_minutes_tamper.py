"""Tamper-evident for real (issue 17): a whole sitting on a real server (a secret poll, an open poll, attendance, a
speech, signed minutes), then each way of bending the record straight in the files, each caught by the real
`meeting-server verify-log` (exit 1, the first bad entry or checkpoint named) and refused by `restore`.

On --db=postgresql the same sitting runs on PostgreSQL: each test bends a copy of its database (CREATE DATABASE …
TEMPLATE) beside a copy of its data directory's files, and verify-log reads it through --database-url."""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meeting_server.domain import audit
from meeting_server.store.audit_log import CHECKPOINT_FILE, entry_of
from tests.conftest import _PG, ROOT, _cluster, _env, database_for, start_server
from tests.db_kit import Peek
from tests.minutes.test_minutes_live import run_sitting
from tests.realtime.voting_kit import close_poll, delegates, join, make_poll, open_poll, screen

RESTORE_SQLITE = "SQLite's backup file; PostgreSQL's pg_dump path: tests/store/test_pgbackup.py"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meeting_server", *args], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=_env(), timeout=180)


@pytest.fixture(scope="module")
def golden(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A finished, signed sitting's data directory (server stopped), to be copied by each test."""
    tmp = tmp_path_factory.mktemp("tamper")
    srv = start_server(tmp / "data")
    try:
        voters = delegates(srv)[:6]
        for d in voters:
            join(srv, d["url"])
        poll = make_poll(srv, kind="secret", title="Bỏ phiếu kín: miễn nhiệm")
        open_poll(srv, poll["id"])
        for i, d in enumerate(voters):
            phone = screen(srv, d["url"])
            assert phone.call("cast", {"poll_id": poll["id"], "choice": "yes" if i < 4 else "no"})["ok"] is True
            phone.close()
        close_poll(srv, poll["id"])
        # The checkpoint is on disk by the time the close is acknowledged.
        lines = (srv.data_dir / CHECKPOINT_FILE).read_text().splitlines()
        assert [json.loads(x)["event"] for x in lines] == ["vote.closed"]
        run_sitting(srv)
    finally:
        srv.stop()
    return {"data": srv.data_dir, "secret_poll": poll["id"], "url": srv.database_url}


def copy_data(golden: dict[str, Any], tmp_path: Path) -> Path:
    """A copy of the golden data directory, and on PostgreSQL of its database (registered as this directory's)."""
    dest = tmp_path / "data"
    shutil.copytree(golden["data"], dest, ignore=shutil.ignore_patterns("documents", "backups", "server.log"))
    if golden["url"]:
        name = f"tamper_{secrets.token_hex(4)}"
        _cluster().admin(f"CREATE DATABASE {name} TEMPLATE {golden['url'].split('/')[3].split('?')[0]}")
        _PG["urls"][dest.resolve()] = _cluster().url(name)
    return dest


def pg(data: Path) -> bool:
    return database_for(data) is not None


def sql(data: Path, *statements: str, params: tuple[Any, ...] = ()) -> None:
    with Peek(data, database_for(data)) as conn:
        for st in statements:
            conn.execute(st, params if "?" in st else ())


def one(data: Path, query: str, params: tuple[Any, ...] = ()) -> Any:
    with Peek(data, database_for(data)) as conn:
        row = conn.execute(query, params).fetchone()
    return tuple(row) if row is not None else None


def json_set(data: Path, column: str, field: str, value: str) -> str:
    """SQL for `column` with one field of its JSON changed, in the dialect of the data directory's database."""
    if pg(data):
        return f"jsonb_set({column}::jsonb, '{{{field}}}', '{json.dumps(value)}')::json"
    return f"json_set({column}, '$.{field}', '{value}')"


def rehash(data: Path, from_seq: int) -> None:
    """Re-derive the chain from `from_seq` on as an attacker without the key can: plain SHA-256, head updated."""
    with Peek(data, database_for(data)) as conn:
        prev = conn.execute("SELECT hash FROM audit_event WHERE seq = ?", (from_seq - 1,)).fetchone()[0]
        rows = conn.execute("SELECT seq, meeting_id, at, kind, actor, CAST(data AS TEXT) FROM audit_event "
                            "WHERE seq >= ? ORDER BY seq", (from_seq,)).fetchall()
        for seq, mid, at, kind, actor, payload in rows:
            prev = audit.next_hash(prev, entry_of(mid, at, kind, actor, json.loads(payload)))
            conn.execute("UPDATE audit_event SET hash = ? WHERE seq = ?", (prev, seq))
        conn.execute("UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_event), hash = ? WHERE id = 1", (prev,))


def verify(data: Path, record: bool = False) -> subprocess.CompletedProcess[str]:
    url = database_for(data)
    return cli("verify-log", "--data-dir", str(data), *(() if record else ("--no-record",)),
               *(("--database-url", url) if url else ()))


def test_the_untouched_sitting_verifies_and_is_anchored(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    key = json.loads((data / "audit.key").read_text())
    assert (data / "audit.key").stat().st_mode & 0o777 == 0o600 and key["from_seq"] == 1
    if not pg(data):
        raw = (data / "meeting.db").read_bytes()
        assert bytes.fromhex(key["key"]) not in raw and key["key"].encode() not in raw
    lines = [json.loads(x) for x in (data / CHECKPOINT_FILE).read_text().splitlines()]
    assert [x["event"] for x in lines] == ["vote.closed", "vote.closed", "meeting.ended", "minutes.finalized"]
    out = verify(data)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Chuỗi nhật ký toàn vẹn" in out.stdout and "hồ sơ toàn vẹn" in out.stdout
    # The four checkpoints, and the head in each of the three files of the signed minutes (the prepared one, the
    # secretary's signature, the chair's): each embeds the record with the head at the time it was prepared.
    assert len(list((data / "minutes").glob("*.pdf"))) == 3
    assert "Điểm neo ngoài cơ sở dữ liệu đã đối chiếu: 7." in out.stdout
    # Recorded in the log, and the record still verifies afterwards.
    assert verify(data, record=True).returncode == 0
    assert one(data, "SELECT kind, actor FROM audit_event ORDER BY seq DESC LIMIT 1") == ("audit.verified",
                                                                                        "cli:verify-log")
    assert verify(data).returncode == 0


def test_deleting_the_tail_and_moving_the_head_is_caught_by_the_checkpoints(golden: dict[str, Any],
                                                                           tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    closed = one(data, "SELECT max(seq) FROM audit_event WHERE kind = 'vote.closed'")[0]
    sql(data, "DELETE FROM audit_event WHERE seq >= ?", params=(closed,))
    sql(data, "UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_event), "
              "hash = (SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1)")
    out = verify(data)
    assert out.returncode == 1, out.stdout
    assert f"Thiếu bản ghi từ số {closed}" in out.stdout and "điểm neo" in out.stdout
    assert "hồ sơ KHÔNG toàn vẹn" in out.stdout


def test_deleting_the_head_row_is_caught(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    sql(data, "DELETE FROM audit_head")
    out = verify(data)
    assert out.returncode == 1 and "Thiếu mã cuối của nhật ký" in out.stdout, out.stdout


def test_editing_an_entry_and_rehashing_the_chain_is_caught_by_the_key(golden: dict[str, Any],
                                                                       tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    seq = one(data, "SELECT seq FROM audit_event WHERE kind = 'attendance.absent'")[0]
    sql(data, f"UPDATE audit_event SET data = {json_set(data, 'data', 'reason', 'ốm')} WHERE seq = ?",
        params=(seq,))
    rehash(data, seq)
    out = verify(data)
    assert out.returncode == 1
    assert f"Bản ghi số {seq} đã bị sửa" in out.stdout and f"số {seq} (changed)" in out.stdout


def test_a_forged_ballot_is_caught(golden: dict[str, Any], tmp_path: Path) -> None:
    """A ballot row added for a delegate who did not vote: alone (the recount differs), and with a forged
    `vote.cast` entry appended to the chain (not keyed)."""
    data = copy_data(golden, tmp_path)
    poll = one(data, "SELECT id FROM poll WHERE kind = 'open'")[0]
    absent = one(data, "SELECT participant_id FROM attendance WHERE status = 'absent'")[0]
    choice = one(data, "SELECT CAST(choice AS TEXT) FROM open_ballot WHERE poll_id = ? LIMIT 1", (poll,))[0]
    sql(data, "INSERT INTO open_ballot (poll_id, participant_id, choice, proxy_by, cast_at) "
              "VALUES (?, ?, ?, '', '2026-07-15 01:00:00')", params=(poll, absent, choice))
    out = verify(data)
    assert out.returncode == 1, out.stdout
    assert f"phiếu của người số {absent} không có trong nhật ký" in out.stdout
    assert "khác kết quả đếm lại từ các phiếu" in out.stdout
    head_seq, head = one(data, "SELECT seq, hash FROM audit_head")
    at = "2026-07-15T01:00:00.000000+00:00"
    forged = {"poll_id": poll, "participant_id": absent, "choice": "for", "proxy": False, "changed": False}
    digest = audit.next_hash(head, entry_of(1, at, "vote.cast", f"delegate:{absent}", forged))
    sql(data, "INSERT INTO audit_event (seq, meeting_id, at, kind, actor, data, hash) VALUES (?, 1, ?, 'vote.cast', "
              "?, ?, ?)", params=(head_seq + 1, at, f"delegate:{absent}", json.dumps(forged), digest))
    sql(data, "UPDATE audit_head SET seq = ?, hash = ?", params=(head_seq + 1, digest))
    out = verify(data)
    assert out.returncode == 1 and f"Bản ghi số {head_seq + 1} đã bị sửa" in out.stdout, out.stdout


def test_an_edited_result_is_caught(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    poll = one(data, "SELECT id FROM poll WHERE kind = 'open'")[0]
    sql(data, f"UPDATE poll SET result = {json_set(data, 'result', 'outcome', 'rejected')} WHERE id = ?",
        params=(poll,))
    out = verify(data)
    assert out.returncode == 1
    assert f"biểu quyết số {poll}" in out.stdout and "kết quả lưu trong cơ sở dữ liệu khác" in out.stdout


def test_an_edited_secret_ballot_is_caught(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    pid = golden["secret_poll"]
    sql(data, f"UPDATE secret_ballot SET choice = {json_set(data, 'choice', 'option', 'yes')} WHERE key = "
              "(SELECT key FROM secret_ballot WHERE poll_id = ? AND CAST(choice AS TEXT) LIKE ? LIMIT 1)",
        params=(pid, '%"no"%'))
    out = verify(data)
    assert out.returncode == 1 and f"biểu quyết số {pid}" in out.stdout, out.stdout
    assert "khác kết quả đếm lại" in out.stdout


def test_edited_attendance_is_caught(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    absent = one(data, "SELECT participant_id FROM attendance WHERE status = 'absent'")[0]
    sql(data, "UPDATE attendance SET status = 'present', reason = '' WHERE participant_id = ?", params=(absent,))
    out = verify(data)
    assert out.returncode == 1 and f"(số {absent}) là «present» nhưng nhật ký ghi «absent»" in out.stdout


def test_a_changed_or_removed_checkpoint_is_caught(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    path = data / CHECKPOINT_FILE
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["seq"] += 1
    path.write_text("\n".join([json.dumps(first), *lines[1:]]) + "\n")
    out = verify(data)
    assert out.returncode == 1 and "Điểm neo sai chữ ký" in out.stdout and "dòng 1" in out.stdout
    path.write_text("\n".join(lines[1:]) + "\n")  # the line of the first closed poll is gone
    out = verify(data)
    assert out.returncode == 1 and "(vote.closed) không có điểm neo" in out.stdout, out.stdout


def test_the_signed_minutes_are_an_anchor_too(golden: dict[str, Any], tmp_path: Path) -> None:
    """With the checkpoint log gone altogether, the head in the signed PDF still catches a rewritten chain."""
    data = copy_data(golden, tmp_path)
    (data / CHECKPOINT_FILE).unlink()
    # The record the signers signed carries the chain's head when the clerk prepared it: cut the chain from there.
    seq = json.loads(one(data, "SELECT CAST(data AS TEXT) FROM audit_event WHERE kind = 'minutes.prepared'")[0]
                     )["audit_seq"]
    sql(data, "DELETE FROM audit_event WHERE seq >= ?", params=(seq,))
    sql(data, "UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_event), "
              "hash = (SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1)")
    out = verify(data)
    assert out.returncode == 1 and "minutes/bien-ban-ky-hop-1-v1-" in out.stdout, out.stdout


# --- restore ---


def backup_of(data: Path, tmp_path: Path, name: str) -> Path:
    out = cli("backup", "--data-dir", str(data), "--reason", name)
    assert out.returncode == 0, out.stderr
    made = Path(out.stdout.split("Đã sao lưu: ", 1)[1].strip())
    dest = tmp_path / made.name
    shutil.copy(made, dest)
    return dest


@pytest.mark.sqlite_only(RESTORE_SQLITE)
def test_restore_refuses_an_altered_backup_and_changes_nothing(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    bad = backup_of(data, tmp_path, "to-alter")
    import sqlite3

    with sqlite3.connect(bad) as conn:
        conn.execute("UPDATE poll SET result = json_set(result, '$.outcome', 'rejected') WHERE kind = 'open'")
    conn.close()
    before = (data / "meeting.db").read_bytes()
    out = cli("restore", str(bad), "--data-dir", str(data))
    assert out.returncode == 1 and "Hồ sơ trong bản sao lưu không toàn vẹn, không khôi phục" in out.stderr
    assert "kết quả lưu trong cơ sở dữ liệu khác" in out.stderr
    assert (data / "meeting.db").read_bytes() == before


@pytest.mark.sqlite_only(RESTORE_SQLITE)
def test_restore_refuses_while_a_server_holds_the_data_directory(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    good = backup_of(data, tmp_path, "while-running")
    srv = start_server(data, "--no-demo")
    try:
        out = cli("restore", str(good), "--data-dir", str(data))
        assert out.returncode == 1 and "Máy chủ đang chạy trên thư mục dữ liệu này" in out.stderr
    finally:
        srv.stop()
    out = cli("restore", str(good), "--data-dir", str(data))
    assert out.returncode == 0, out.stderr
    assert one(data, "SELECT kind, actor FROM audit_event ORDER BY seq DESC LIMIT 1") == ("backup.restored",
                                                                                        "cli:restore")
    assert verify(data).returncode == 0


@pytest.mark.sqlite_only(RESTORE_SQLITE)
def test_restore_older_than_a_signed_meeting_needs_the_flag(golden: dict[str, Any], tmp_path: Path) -> None:
    data = copy_data(golden, tmp_path)
    # A backup from before the sitting ended and was signed: the copy of the database as it was then.
    early = tmp_path / "early.db"
    cut = one(data, "SELECT seq FROM audit_event WHERE kind = 'meeting.ended'")[0]
    shutil.copy(data / "meeting.db", early)
    import sqlite3

    with sqlite3.connect(early) as conn:  # the chain as it stood just before the sitting ended
        conn.execute("DELETE FROM audit_event WHERE seq >= ?", (cut,))
        conn.execute("UPDATE audit_head SET seq = (SELECT max(seq) FROM audit_event), "
                     "hash = (SELECT hash FROM audit_event ORDER BY seq DESC LIMIT 1)")
        conn.execute("DELETE FROM minutes_draft")
        conn.execute("UPDATE meeting SET status = 'in_progress'")
    conn.close()
    out = cli("restore", str(early), "--data-dir", str(data))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Bản sao lưu cũ hơn các sự kiện đã được neo" in out.stderr and "--allow-rollback" in out.stderr
    assert "minutes.finalized" in out.stderr and "bien-ban-ky-hop-1-v1-chair.pdf" in out.stderr
    out = cli("restore", str(early), "--data-dir", str(data), "--allow-rollback")
    assert out.returncode == 0, out.stderr
    assert "CẢNH BÁO: đã khôi phục về trước" in out.stderr
    last = one(data, "SELECT kind, data FROM audit_event ORDER BY seq DESC LIMIT 1")
    assert last[0] == "backup.restored" and json.loads(last[1])["rolled_back_past"]
    # A new epoch: the record as restored verifies; the rolled-back checkpoints stay in the log, signed.
    out = verify(data)
    assert out.returncode == 0, out.stdout
    assert [json.loads(x)["event"] for x in (data / CHECKPOINT_FILE).read_text().splitlines()][-2:] == [
        audit.ROLLBACK_EVENT, "backup.restored"]
