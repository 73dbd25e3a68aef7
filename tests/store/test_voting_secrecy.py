"""After a secret poll, nothing stored links a choice to a delegate: the whole database is dumped and searched."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.conftest import LiveServer
from tests.realtime.voting_kit import api, clerk, close_poll, join, make_poll, open_poll, screen

ISO_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def test_dump_of_the_whole_database_cannot_link_a_secret_choice_to_a_delegate(
        server_factory: Callable[..., LiveServer]) -> None:
    srv = server_factory()
    # The demo's documents are drawn at start; let that finish, so the only writes from here on are the vote's.
    deadline = time.monotonic() + 60
    while any(d["status"] == "processing" or d.get("pages_rendered", 0) < d["page_count"]
              for d in api(srv, clerk(srv), "GET", "/meetings/1/documents").json()["documents"]):
        assert time.monotonic() < deadline, "the demo documents were not drawn within a minute"
        time.sleep(0.2)
    voters = srv.links["delegates"][:12]
    for d in voters:
        join(srv, d["url"])
    phones = [screen(srv, d["url"]) for d in voters]
    poll = make_poll(srv, kind="secret", title="Bỏ phiếu kín: miễn nhiệm")
    pid = poll["id"]
    open_poll(srv, pid)
    # Cast one at a time in a known order; the first six say yes, the last six no, so a layout that followed the
    # casting order would show as yes…yes no…no.
    cast_order = []
    for i, phone in enumerate(phones):
        choice = "yes" if i < 6 else "no"
        assert phone.call("cast", {"poll_id": pid, "choice": choice})["ok"] is True
        cast_order.append((voters[i]["participant_id"], choice))
    result = close_poll(srv, pid)["result"]
    assert [o["votes"] for o in result["options"]] == [6, 6]
    for phone in phones:
        phone.close()
    # Each disconnect removes its device_session row (services/devices.py): let those writes land before the stop.
    deadline = time.monotonic() + 10
    while _count_device_sessions(srv):
        assert time.monotonic() < deadline, "the phones' disconnects were not recorded"
        time.sleep(0.1)
    srv.stop()  # a clean stop checkpoints the write-ahead log as well
    if srv.database_url:
        _check_postgresql(srv, pid, voters)
    else:
        _check_sqlite(srv, pid, voters)
    # The server's own log names no choice either.
    log = srv.log_path.read_text()
    assert '"yes"' not in log and "'yes'" not in log and "choice" not in log


def _count_device_sessions(srv: LiveServer) -> int:
    if srv.database_url:
        with _pg(srv) as c:
            return int(c.execute("SELECT count(*) FROM device_session").fetchone()[0])  # type: ignore[index]
    peek = sqlite3.connect(srv.data_dir / "meeting.db")
    left = int(peek.execute("SELECT count(*) FROM device_session").fetchone()[0])
    peek.close()
    return left


def _pg(srv: LiveServer) -> Any:
    import psycopg

    assert srv.database_url
    return psycopg.connect(srv.database_url, autocommit=True)


def _check_ballot_rows(rows: list[tuple[str, int, str]], voters: list[dict[str, Any]]) -> None:
    """1. The ballot rows: a random key, the poll, the choice. No voter, no time."""
    assert len(rows) == 12
    names = [d["name"] for d in voters]
    ids = {str(d["participant_id"]) for d in voters}
    for key, _poll, choice in rows:
        assert re.fullmatch(r"[0-9a-f]{32}", key)
        assert not ISO_TIME.search(choice), "a ballot row carries a time"
        stored = json.loads(choice)
        assert set(stored) == {"kind", "option", "candidates", "ratings", "valid", "invalid_reason"}
        assert not any(n in choice for n in names)
        assert not ids & set(re.findall(r"\d+", choice)), "a ballot row carries a number that could be a voter"


def _check_layout(raw: bytes, page: int, rows: list[tuple[str, int, str]]) -> None:
    """2. Inside each page of the file the keys sit in key order (rewritten at close), not in casting order."""
    by_page: dict[int, list[tuple[int, str]]] = {}
    for key, _p, _c in rows:
        spots = [m.start() for m in re.finditer(key.encode(), raw)]
        assert spots, "key not found in the file"
        for at in spots:
            by_page.setdefault(at // page, []).append((at, key))
    for cells in by_page.values():
        in_file = [k for _at, k in sorted(cells)]
        assert in_file in (sorted(in_file), sorted(in_file, reverse=True)), "file layout follows something else"
    choices_in_file = [next(json.loads(c)["option"] for k2, _p, c in rows if k2 == k)
                       for _at, k in sorted(by_page[min(by_page)])]
    assert choices_in_file != ["yes"] * 6 + ["no"] * 6 and choices_in_file != ["no"] * 6 + ["yes"] * 6


def _check_other_tables(participation: list[tuple[int, Any]], voter_columns: list[str], open_ballots: int,
                        audit: list[tuple[str, dict[str, Any]]], inserts: dict[str, list[str]], pid: int,
                        voters: list[dict[str, Any]]) -> None:
    """3. Every other table: who took part is there, never with a choice of this poll."""
    assert sorted((p, int(v)) for p, v in participation) == sorted((d["participant_id"], 1) for d in voters)
    assert voter_columns == ["poll_id", "participant_id", "source", "voted"]
    assert open_ballots == 0
    mine = [(k, d) for k, d in audit if d.get("poll_id") == pid]
    assert sorted(k for k, _ in mine).count("vote.participated") == 12
    for kind, data in mine:
        if kind == "vote.participated":
            assert set(data) == {"poll_id", "participant_id"}
        else:  # created, opened, closed: the spec, who may vote, and the announced totals only
            assert kind in ("vote.created", "vote.opened", "vote.closed")
            assert "participant_id" not in json.dumps(data) or kind == "vote.opened"
            if kind == "vote.opened":
                assert set(data) == {"poll_id", "eligible", "countdown"}
    assert inserts, "the dump has no rows"
    for table, lines in inserts.items():
        if table in ("secret_ballot", "poll", "audit_event", "sqlite_sequence"):
            continue
        for line in lines:
            assert '"option": "yes"' not in line and '"option": "no"' not in line, (table, line)


def _check_sqlite(srv: LiveServer, pid: int, voters: list[dict[str, Any]]) -> None:
    db_path = srv.data_dir / "meeting.db"
    wal = srv.data_dir / "meeting.db-wal"
    # The close already emptied the log; nothing of the casting history is left there.
    assert not wal.exists() or wal.stat().st_size == 0
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dump = list(con.iterdump())
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]
    # The table has no rowid: SQLite stores it in the order of its random key.
    ddl = next(line for line in dump if line.startswith('CREATE TABLE "secret_ballot"') or
               line.startswith("CREATE TABLE secret_ballot"))
    assert "WITHOUT ROWID" in ddl
    assert [r[1] for r in con.execute("PRAGMA table_info(secret_ballot)")] == ["key", "poll_id", "choice"]
    rows = con.execute("SELECT key, poll_id, choice FROM secret_ballot WHERE poll_id = ?", (pid,)).fetchall()
    _check_ballot_rows(rows, voters)
    dumped = [line for line in dump if line.startswith('INSERT INTO "secret_ballot"')]
    dumped_keys = [re.search(r"VALUES\('([0-9a-f]{32})'", line).group(1) for line in dumped]  # type: ignore[union-attr]
    assert dumped_keys == sorted(dumped_keys)
    _check_layout(db_path.read_bytes(), con.execute("PRAGMA page_size").fetchone()[0], rows)
    _check_other_tables(
        con.execute("SELECT participant_id, voted FROM poll_voter WHERE poll_id = ?", (pid,)).fetchall(),
        [r[1] for r in con.execute("PRAGMA table_info(poll_voter)")],
        con.execute("SELECT count(*) FROM open_ballot WHERE poll_id = ?", (pid,)).fetchone()[0],
        [(kind, json.loads(data)) for kind, data in con.execute(
            "SELECT kind, data FROM audit_event WHERE kind LIKE 'vote.%'")],
        {t: [row for row in dump if row.startswith(f'INSERT INTO "{t}"')] for t in tables}, pid, voters)
    con.close()


def _check_postgresql(srv: LiveServer, pid: int, voters: list[dict[str, Any]]) -> None:
    """The same on PostgreSQL: pg_dump of the whole database, the ballot table's heap and index files read from the
    cluster's directory after a CHECKPOINT (docs/SECRECY.md: the table is rewritten in key order at close)."""
    from tests import pg_kit

    pg_dump = pg_kit.pg_bin("pg_dump")
    assert pg_dump and srv.database_url
    out = subprocess.run([pg_dump, "--data-only", "--inserts", "--dbname", srv.database_url], capture_output=True,
                         text=True, timeout=120, check=True)
    dump = out.stdout.splitlines()
    with _pg(srv) as c:
        c.execute("CHECKPOINT")  # the pages on disk, as a thief of the disk would read them
        data_dir = Path(c.execute("SHOW data_directory").fetchone()[0])  # type: ignore[index]
        files = [data_dir / c.execute("SELECT pg_relation_filepath(%s)", (rel,)).fetchone()[0]  # type: ignore[index]
                 for rel in ("secret_ballot", "secret_ballot_pkey")]
        page = int(c.execute("SHOW block_size").fetchone()[0])  # type: ignore[index]
        columns = [r[0] for r in c.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'secret_ballot' "
            "ORDER BY ordinal_position")]
        assert columns == ["key", "poll_id", "choice"]
        rows = [(k, p, json.dumps(ch)) for k, p, ch in c.execute(
            "SELECT key, poll_id, choice FROM secret_ballot WHERE poll_id = %s", (pid,))]
        _check_ballot_rows(rows, voters)
        dumped = [line for line in dump if line.startswith("INSERT INTO public.secret_ballot ")]
        dumped_keys = [re.search(r"VALUES \('([0-9a-f]{32})'", line).group(1) for line in dumped]  # type: ignore[union-attr]
        assert dumped_keys == sorted(dumped_keys), "pg_dump (heap order) follows something else than the key"
        heap = files[0].read_bytes()
        _check_layout(heap, page, rows)
        # The primary key's B-tree, built anew with the table by CLUSTER, holds the keys in key order too.
        _check_layout(files[1].read_bytes(), page, rows)
        tables = [r[0] for r in c.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")]
        _check_other_tables(
            list(c.execute("SELECT participant_id, voted FROM poll_voter WHERE poll_id = %s", (pid,))),
            [r[0] for r in c.execute("SELECT column_name FROM information_schema.columns "
                                     "WHERE table_name = 'poll_voter' ORDER BY ordinal_position")],
            int(c.execute("SELECT count(*) FROM open_ballot WHERE poll_id = %s", (pid,)).fetchone()[0]),  # type: ignore[index]
            [(kind, data) for kind, data in c.execute(
                "SELECT kind, data FROM audit_event WHERE kind LIKE 'vote.%%'")],
            {t: [row for row in dump if row.startswith(f"INSERT INTO public.{t} ")] for t in tables}, pid, voters)
