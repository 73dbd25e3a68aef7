"""Backup and restore on PostgreSQL (services/pgbackup.py): a sitting's database on the private cluster, dumped by
`meeting-server backup --database-url`, the database dropped and restored by `restore --database-url`; the
meeting, the results and the audit chain the same. A truncated or foreign dump is refused and the database left as
it was; a running server refuses the restore; the backup after a poll closes exists as on SQLite."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import ROOT, _env, start_server
from tests.realtime.voting_kit import close_poll, delegates, join, make_poll, open_and_secret_votes, open_poll, screen


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meeting_server", *args], check=False, capture_output=True,
                          text=True, cwd=ROOT, env=_env(), timeout=600)


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as c:
        return [tuple(r) for r in c.execute(sql)]  # type: ignore[arg-type]


def state_of(url: str) -> dict[str, Any]:
    """The meeting, every poll with its result and ballots, and the whole audit chain, as stored."""
    return {
        "meeting": rows(url, "SELECT id, session_title, place, status, seq FROM meeting ORDER BY id"),
        "polls": rows(url, "SELECT id, title, state, CAST(result AS text) FROM poll ORDER BY id"),
        "open_ballots": rows(url, "SELECT poll_id, participant_id, CAST(choice AS text) FROM open_ballot "
                                  "ORDER BY poll_id, participant_id"),
        "secret_ballots": rows(url, "SELECT poll_id, key, CAST(choice AS text) FROM secret_ballot ORDER BY key"),
        "chain": rows(url, "SELECT seq, kind, actor, CAST(data AS text), hash FROM audit_event "
                           "WHERE kind NOT IN ('backup.made') ORDER BY seq"),
    }


@pytest.fixture
def sitting(tmp_path: Path, pg_cluster: Any) -> dict[str, Any]:
    """A live server on a fresh PostgreSQL database: an open vote and a secret vote cast from phones and closed;
    the server stopped."""
    data = tmp_path / "data"
    url = pg_cluster.fresh_database()
    srv = start_server(data, database_url=url)
    try:
        voters = delegates(srv)[:6]
        for d in voters:
            join(srv, d["url"])
        phones = [screen(srv, d["url"]) for d in voters]
        try:
            polls = open_and_secret_votes(srv, phones, open_for=4, secret_yes=3)
        finally:
            for phone in phones:
                phone.close()
        # The automatic backup after each close, by the process that closed it, in the data directory.
        deadline = time.monotonic() + 60
        while len(list((data / "backups").glob("*-closed.dump"))) < 2:
            assert time.monotonic() < deadline, srv.log_path.read_text()[-3000:]
            time.sleep(0.2)
    finally:
        srv.stop()
    return {"data": data, "url": url, "polls": polls}


def test_backup_drop_restore_gives_the_same_sitting(sitting: dict[str, Any], pg_cluster: Any) -> None:
    data, url = sitting["data"], sitting["url"]
    auto = sorted((data / "backups").glob("*.dump"))
    assert [p.name.split("-", 2)[2] for p in auto] == [f"poll-{pid}-closed.dump" for pid in sitting["polls"]]
    made = rows(url, "SELECT CAST(data AS text) FROM audit_event WHERE kind = 'backup.made' ORDER BY seq")
    assert [m[0] for m in made] and all(p.name in " ".join(m[0] for m in made) for p in auto)

    out = cli("backup", "--data-dir", str(data), "--database-url", url, "--reason", "before drop")
    assert out.returncode == 0, out.stdout + out.stderr
    dump = Path(out.stdout.split("Đã sao lưu: ", 1)[1].strip())
    assert dump.parent == data / "backups" and dump.name.endswith("-before-drop.dump")
    before = state_of(url)
    assert len(before["open_ballots"]) == 6 and len(before["secret_ballots"]) == 6

    pg_cluster.drop(url)
    out = cli("restore", str(dump), "--data-dir", str(data), "--database-url", url)
    assert out.returncode == 0, out.stdout + out.stderr
    after = state_of(url)
    assert after["meeting"] == before["meeting"] and after["polls"] == before["polls"]
    assert after["open_ballots"] == before["open_ballots"] and after["secret_ballots"] == before["secret_ballots"]
    # The chain as it was, then the restore's own entry.
    assert after["chain"][:len(before["chain"])] == before["chain"]
    assert [c[1:3] for c in after["chain"][len(before["chain"]):]] == [("backup.restored", "cli:restore")]
    check = cli("verify-log", "--data-dir", str(data), "--database-url", url)
    assert check.returncode == 0 and "Kết luận: hồ sơ toàn vẹn." in check.stdout, check.stdout + check.stderr
    # No scratch database left behind; the dropped database had nothing to rename aside.
    names = [r[0] for r in rows(pg_cluster.url("postgres"), "SELECT datname FROM pg_database")]
    assert not [n for n in names if "_restore_" in n or "_before_restore_" in n], names

    # Restoring over the live database: the restore just made is an anchored act the dump ends before, so it needs
    # the flag, as on SQLite; the database replaced is kept, renamed aside, and named; the record verifies.
    out = cli("restore", str(dump), "--data-dir", str(data), "--database-url", url)
    assert out.returncode == 1 and "--allow-rollback" in out.stderr, out.stdout + out.stderr
    out = cli("restore", str(dump), "--data-dir", str(data), "--database-url", url, "--allow-rollback")
    assert out.returncode == 0, out.stdout + out.stderr
    kept = out.stdout.split("với tên ", 1)[1].split(" ", 1)[0]
    assert kept in [r[0] for r in rows(pg_cluster.url("postgres"), "SELECT datname FROM pg_database")]
    assert rows(pg_cluster.url(kept), "SELECT count(*) FROM audit_event") == [(len(after["chain"]) + len(made) + 1,)]
    check = cli("verify-log", "--data-dir", str(data), "--database-url", url)
    assert check.returncode == 0 and "Kết luận: hồ sơ toàn vẹn." in check.stdout, check.stdout + check.stderr


@pytest.mark.parametrize("damage", ["truncated", "foreign", "missing"])
def test_a_damaged_or_foreign_dump_is_refused_and_the_database_untouched(sitting: dict[str, Any], tmp_path: Path,
                                                                          pg_cluster: Any, damage: str) -> None:
    data, url = sitting["data"], sitting["url"]
    good = sorted((data / "backups").glob("*.dump"))[-1]
    bad = tmp_path / "hong.dump"
    if damage == "truncated":
        raw = good.read_bytes()
        bad.write_bytes(raw[: len(raw) * 2 // 3])
    elif damage == "foreign":  # a sound pg_dump archive of some other database
        other = pg_cluster.empty_database()
        with psycopg.connect(other, autocommit=True) as c:
            c.execute("CREATE TABLE t (x int)")
            c.execute("INSERT INTO t VALUES (1)")
        from meeting_server.services import pgbackup

        with psycopg.connect(other) as c:
            major = pgbackup.server_major(c)
        subprocess.run([pgbackup.tool("pg_dump", major), "--format=custom", "--file", str(bad)], check=True,
                       env=pgbackup.libpq_env(other, dict(_env())), capture_output=True, timeout=120)
    before = state_of(url)
    chain_before = rows(url, "SELECT count(*) FROM audit_event")
    out = cli("restore", str(bad), "--data-dir", str(data), "--database-url", url)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "Bản sao lưu bị hỏng, không khôi phục" in out.stderr, out.stderr
    if damage == "foreign":
        assert "không phải cơ sở dữ liệu của meeting-server" in out.stderr
    assert state_of(url) == before and rows(url, "SELECT count(*) FROM audit_event") == chain_before
    names = [r[0] for r in rows(pg_cluster.url("postgres"), "SELECT datname FROM pg_database")]
    assert not [n for n in names if "_restore_" in n and "_before_restore_" not in n], names  # no scratch left


def test_restore_refused_while_a_server_runs(sitting: dict[str, Any], tmp_path: Path) -> None:
    """A server on another box holds no lock in this data directory: its open sessions on the database say it
    runs. Here the server runs on a data directory of its own, beside the one restore is given."""
    data, url = sitting["data"], sitting["url"]
    good = sorted((data / "backups").glob("*.dump"))[-1]
    other_box = tmp_path / "box2"
    import shutil

    shutil.copytree(data, other_box, ignore=shutil.ignore_patterns("server.log", "backups", "server.lock"))
    srv = start_server(other_box, "--no-demo", database_url=url)
    try:
        # That server first takes up the uploads it finds unfinished (CI: its `document.ready` landed between the
        # two readings below): the record is read once it has nothing left to process.
        deadline = time.monotonic() + 60
        while rows(url, "SELECT count(*) FROM document WHERE status = 'processing'")[0][0]:
            assert time.monotonic() < deadline, "the server did not finish its uploads"
            time.sleep(0.1)
        before = state_of(url)
        out = cli("restore", str(good), "--data-dir", str(data), "--database-url", url)
        assert out.returncode == 1 and "Máy chủ đang chạy trên cơ sở dữ liệu này" in out.stderr, out.stderr
        assert state_of(url)["chain"] == before["chain"]
    finally:
        srv.stop()


def test_backup_refused_while_a_secret_poll_has_ballots(sitting: dict[str, Any]) -> None:
    """A dump copies the heap, whose order follows casting until the close rebuilds it in key order."""
    data, url = sitting["data"], sitting["url"]
    srv = start_server(data, database_url=url)
    try:
        voter = delegates(srv)[0]
        join(srv, voter["url"])
        pid = make_poll(srv, kind="secret", title="Bỏ phiếu kín lần hai")["id"]
        open_poll(srv, pid)
        phone = screen(srv, voter["url"])
        assert phone.call("cast", {"poll_id": pid, "choice": "yes"})["ok"]
        phone.close()
        had = set((data / "backups").glob("*.dump"))
        out = cli("backup", "--data-dir", str(data), "--database-url", url)
        assert out.returncode == 1 and "Đang có cuộc bỏ phiếu kín chưa kết thúc" in out.stderr, out.stderr
        assert set((data / "backups").glob("*")) == had
        close_poll(srv, pid)
    finally:
        srv.stop()


def test_an_altered_dump_is_refused_and_the_database_untouched(sitting: dict[str, Any], tmp_path: Path,
                                                              pg_cluster: Any) -> None:
    """A dump whose poll result was edited (a sound archive, a bent record): refused as on SQLite."""
    from meeting_server.services import pgbackup

    data, url = sitting["data"], sitting["url"]
    name = url.split("/")[3].split("?")[0]
    bent = pg_cluster.url(name + "_bent")
    pg_cluster.admin(f"CREATE DATABASE {name}_bent TEMPLATE {name}")
    with psycopg.connect(bent, autocommit=True) as c:
        done = c.execute("UPDATE poll SET result = CAST(jsonb_set(CAST(result AS jsonb), '{outcome}', "
                         "'\"edited\"') AS json) WHERE kind = 'open'")
        assert done.rowcount == 1, [tuple(r) for r in c.execute("SELECT kind, CAST(result AS text) FROM poll")]
        major = pgbackup.server_major(c)
    from meeting_server.services.integrity import derived_problems

    assert derived_problems(bent), "the bent copy checks out"
    bad = tmp_path / "bent.dump"
    subprocess.run([pgbackup.tool("pg_dump", major), "--format=custom", "--file", str(bad)], check=True,
                   env=pgbackup.libpq_env(bent, dict(_env())), capture_output=True, timeout=120)
    before = state_of(url)
    out = cli("restore", str(bad), "--data-dir", str(data), "--database-url", url)
    assert out.returncode == 1 and "Hồ sơ trong bản sao lưu không toàn vẹn, không khôi phục" in out.stderr, out.stderr
    assert "kết quả lưu trong cơ sở dữ liệu khác" in out.stderr
    assert state_of(url) == before


def test_the_backups_folder_keeps_the_newest_as_on_sqlite(pg_url: str, tmp_path: Path) -> None:
    """`backup_now` with a PostgreSQL app: dumps into <data>/backups, the newest BACKUP_KEEP kept, each recorded."""
    from meeting_server.app import create_app
    from meeting_server.services import backup, demo
    from meeting_server.store import db

    app = create_app({"DATA_DIR": tmp_path / "data", "DATABASE_URL": pg_url, "DISCOVERY": False,
                      "SOCKETIO_ASYNC_MODE": "threading", "BACKUP_KEEP": 2})
    try:
        with db.standalone_session(app) as s:
            demo.seed(s)
            s.commit()
        assert backup.automatic(app)
        made = [backup.backup_now(app, f"poll {i} closed") for i in range(3)]
        assert backup.list_backups(tmp_path / "data" / "backups") == made[1:] and not made[0].exists()
        assert made[-1].name.endswith("-poll-2-closed.dump")
        assert not list((tmp_path / "data" / "backups").glob("*.part"))
        recorded = rows(pg_url, "SELECT CAST(data AS text) FROM audit_event WHERE kind = 'backup.made' ORDER BY seq")
        assert len(recorded) == 3 and made[-1].name in recorded[-1][0]
    finally:
        app.extensions["db_engine"].dispose()
