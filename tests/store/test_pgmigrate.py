"""`meeting-server migrate --data-dir D --to postgresql://…`: a real council's SQLite data directory (the demo as
`serve` seeds it with its documents, an open vote, a secret ballot, minutes signed by the secretary and the chair)
moved into the private PostgreSQL cluster, then served from it; refusals and failed checks leave the target as it
was."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from meeting_server.domain.errors import DomainError
from meeting_server.services import backup, pgmigrate
from tests.conftest import ROOT, LiveServer, _env, start_server
from tests.minutes.signing_kit import sign_live, signed_pdf_url
from tests.realtime.voting_kit import api, clerk, join, open_and_secret_votes, screen


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meeting_server", *args], check=False, capture_output=True,
                          text=True, cwd=ROOT, env=_env(), timeout=600)


def seen(srv: LiveServer) -> dict[str, Any]:
    """What people see of the sitting: the meeting, every poll with its result, the minutes' state."""
    mid = srv.links["meeting_id"]
    meeting = api(srv, clerk(srv), "GET", f"/meetings/{mid}").json()
    polls = api(srv, clerk(srv), "GET", f"/meetings/{mid}/polls").json()
    return {"meeting": {k: meeting.get(k) for k in ("id", "title", "place", "starts_at", "status")},
            "polls": polls}


@pytest.fixture(scope="module")
def sitting(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A data directory made by the project's own flows on SQLite, the server stopped; what it showed."""
    data = tmp_path_factory.mktemp("council") / "data"
    srv = start_server(data, on_sqlite=True)
    try:
        deadline = time.monotonic() + 90
        while any(d["status"] == "processing" or d.get("pages_rendered", 0) < d["page_count"]
                  for d in api(srv, clerk(srv), "GET", "/meetings/1/documents").json()["documents"]):
            assert time.monotonic() < deadline, "the demo documents were not drawn within 90 s"
            time.sleep(0.3)
        voters = [d for d in srv.links["delegates"] if d["role"] == "delegate"][:8]
        for d in voters:
            join(srv, d["url"])
        phones = [screen(srv, d["url"]) for d in voters]
        try:
            polls = open_and_secret_votes(srv, phones, open_for=6, secret_yes=5)
        finally:
            for phone in phones:
                phone.close()
        signed = sign_live(srv)
        assert signed.status_code == 200, signed.text
        pdf = requests.get(srv.url + signed_pdf_url(srv), headers={"Authorization": "Bearer " + srv.token(
            srv.links["clerk"])}, timeout=30)
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        before = seen(srv)
        hits = api(srv, clerk(srv), "GET", "/meetings/1/search?q=ngan+sach").json()["hits"]
    finally:
        srv.stop()
    return {"data": data, "seen": before, "pdf": pdf.content, "hits": hits, "links": srv.links,
            "secret_poll": polls[1]}


def copy_of(sitting: dict[str, Any], tmp_path: Path) -> Path:
    dest = tmp_path / "data"
    shutil.copytree(sitting["data"], dest, ignore=shutil.ignore_patterns("server.log", "backups"))
    return dest


def pg(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url.replace("postgresql://", "postgresql://", 1), autocommit=True)


def tables_of(url: str) -> list[str]:
    with pg(url) as c:
        return [r[0] for r in c.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")]


def test_a_migrated_directory_serves_the_same_sitting(sitting: dict[str, Any], tmp_path: Path,
                                                       pg_cluster: Any) -> None:
    data = copy_of(sitting, tmp_path)
    target = pg_cluster.empty_database()
    out = cli("migrate", "--data-dir", str(data), "--to", target)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Đã chuyển sang PostgreSQL" in out.stdout and "secret_ballot: 8 dòng" in out.stdout
    src = sqlite3.connect(data / "meeting.db")
    with pg(target) as c:
        # Every table, row for row; the page index rebuilt from the page texts; the chain and its head.
        for (name,) in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                   "'sqlite_%' AND name NOT LIKE 'document_page_fts%' AND name <> 'alembic_version'"):
            n = src.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
            extra = 1 if name == "audit_event" else 0  # + db.migrated_from
            assert c.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == n + extra, name  # type: ignore
        pages = src.execute("SELECT count(*) FROM document_page").fetchone()[0]
        assert pages > 0
        assert c.execute("SELECT count(*) FROM document_page_fts").fetchone()[0] == pages  # type: ignore[index]
        # The secret ballots lie in the order of their random keys, as after a close on PostgreSQL.
        keys = [r[0] for r in c.execute("SELECT key FROM secret_ballot ORDER BY ctid")]
        assert len(keys) == 8 and keys == sorted(keys)
        last = c.execute("SELECT kind, actor, data FROM audit_event ORDER BY seq DESC LIMIT 1").fetchone()
        assert last is not None and last[0] == "db.migrated_from" and last[1] == "cli:migrate"
        src_head = src.execute("SELECT seq, hash FROM audit_head").fetchone()
        assert last[2]["audit_count"] == src_head[0] and last[2]["audit_head"] == src_head[1]
        assert last[2]["counts"]["secret_ballot"] == 8 and len(last[2]["minutes"]) == 1
    src.close()

    srv = start_server(data, database_url=target)
    try:
        srv.refresh_links()
        assert seen(srv) == sitting["seen"]
        results = {p["title"]: p for p in sitting["seen"]["polls"]["polls"]}
        assert set(results) >= {"Thông qua chương trình kỳ họp", "Bỏ phiếu kín: miễn nhiệm"}
        # The signed minutes' record still matches the record on PostgreSQL.
        verdict = requests.post(srv.url + "/verify", data=sitting["pdf"], headers={"Accept": "application/json"},
                                timeout=120).json()
        assert verdict["ok"] is True and verdict["record_matches"] is True, verdict
        # The documents' page index finds on PostgreSQL the pages FTS5 found on SQLite (ranked by ts_rank there,
        # by FTS5's bm25 here: the order may differ, the pages may not).
        hits = api(srv, clerk(srv), "GET", "/meetings/1/search?q=ngan+sach").json()["hits"]
        assert sitting["hits"] and sorted((h["document_id"], h["page"]) for h in hits) == sorted(
            (h["document_id"], h["page"]) for h in sitting["hits"])
        # The sequences go on after the copied ids: a new meeting's records get new ids (the signed one is frozen).
        seeded = cli("seed-demo", "--data-dir", str(data), "--database-url", target)
        assert seeded.returncode == 0, seeded.stderr
        assert "Kỳ họp mẫu số 2." in seeded.stdout
    finally:
        srv.stop()


def test_a_target_with_rows_or_a_running_server_is_refused_and_nothing_changes(
        sitting: dict[str, Any], tmp_path: Path, pg_cluster: Any) -> None:
    data = copy_of(sitting, tmp_path)
    target = pg_cluster.fresh_database()  # at the newest schema
    with pg(target) as c:
        c.execute("INSERT INTO setting (key, value) VALUES ('public_base', '\"http://x\"')")
    out = cli("migrate", "--data-dir", str(data), "--to", target)
    assert out.returncode == 1
    assert "Cơ sở dữ liệu đích đã có dữ liệu (setting (1))" in out.stderr
    with pg(target) as c:
        assert c.execute("SELECT count(*) FROM setting").fetchone()[0] == 1  # type: ignore[index]
        assert c.execute("SELECT count(*) FROM audit_event").fetchone()[0] == 0  # type: ignore[index]

    empty = pg_cluster.empty_database()
    lock = backup.hold_server_lock(data)  # what `serve` holds while it runs
    try:
        out = cli("migrate", "--data-dir", str(data), "--to", empty)
    finally:
        lock.close()
    assert out.returncode == 1 and "Máy chủ đang chạy trên thư mục dữ liệu này" in out.stderr
    assert tables_of(empty) == []
    # Plain `migrate` is unchanged.
    assert cli("migrate", "--data-dir", str(data)).returncode == 0
    # A SQLite file behind the newest schema: plain `migrate` first.
    with sqlite3.connect(data / "meeting.db") as w:
        w.execute("UPDATE alembic_version SET version_num = '0012_resolutions'")
    w.close()
    out = cli("migrate", "--data-dir", str(data), "--to", empty)
    assert out.returncode == 1 and "chưa ở phiên bản mới nhất: hãy chạy trước `meeting-server migrate" in out.stderr
    assert tables_of(empty) == []


def test_a_row_written_to_the_source_during_the_copy_leaves_the_target_empty(
        sitting: dict[str, Any], tmp_path: Path, pg_cluster: Any) -> None:
    data = copy_of(sitting, tmp_path)
    target = pg_cluster.empty_database()

    def plant(table: str, _rows: int) -> None:
        if table == "secret_ballot":  # `setting` was copied before: its count will differ
            with sqlite3.connect(data / "meeting.db") as w:
                w.execute("INSERT INTO setting (key, value) VALUES ('planted', '1')")
            w.close()

    with pytest.raises(DomainError) as failed:
        pgmigrate.migrate_to_postgresql(data, target, progress=plant)
    assert failed.value.code == "migrate.check_failed"
    assert "bảng setting: nguồn" in failed.value.message
    assert "cơ sở dữ liệu đích được để nguyên như trước" in failed.value.message
    assert tables_of(target) == []


def test_a_corrupted_source_chain_leaves_the_target_empty(sitting: dict[str, Any], tmp_path: Path,
                                                          pg_cluster: Any) -> None:
    data = copy_of(sitting, tmp_path)
    target = pg_cluster.empty_database()
    with sqlite3.connect(data / "meeting.db") as w:
        w.execute("UPDATE audit_event SET actor = 'chair:99' WHERE seq = 5")
    w.close()
    out = cli("migrate", "--data-dir", str(data), "--to", target)
    assert out.returncode == 1, out.stdout
    assert "nhật ký nguồn không toàn vẹn: Bản ghi số 5 đã bị sửa" in out.stderr
    assert tables_of(target) == []
