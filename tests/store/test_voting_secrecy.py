"""After a secret poll, nothing stored links a choice to a delegate: the whole database is dumped and searched."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable

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
    while True:
        peek = sqlite3.connect(srv.data_dir / "meeting.db")
        left = peek.execute("SELECT count(*) FROM device_session").fetchone()[0]
        peek.close()
        if not left:
            break
        assert time.monotonic() < deadline, "the phones' disconnects were not recorded"
        time.sleep(0.1)
    srv.stop()  # a clean stop checkpoints the write-ahead log as well

    db_path = srv.data_dir / "meeting.db"
    wal = srv.data_dir / "meeting.db-wal"
    # The close already emptied the log; nothing of the casting history is left there.
    assert not wal.exists() or wal.stat().st_size == 0
    con = sqlite3.connect(db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    dump = list(con.iterdump())
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]

    # 1. The ballot table: a random key, the poll, the choice. No voter, no time, no rowid.
    ddl = next(line for line in dump if line.startswith('CREATE TABLE "secret_ballot"') or
               line.startswith("CREATE TABLE secret_ballot"))
    assert "WITHOUT ROWID" in ddl
    columns = [r[1] for r in con.execute("PRAGMA table_info(secret_ballot)")]
    assert columns == ["key", "poll_id", "choice"]
    rows = con.execute("SELECT key, poll_id, choice FROM secret_ballot WHERE poll_id = ?", (pid,)).fetchall()
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

    # 2. Stored order is the random key's, never the casting order.
    dumped = [line for line in dump if line.startswith('INSERT INTO "secret_ballot"')]
    dumped_keys = [re.search(r"VALUES\('([0-9a-f]{32})'", line).group(1) for line in dumped]  # type: ignore[union-attr]
    assert dumped_keys == sorted(dumped_keys)
    raw = db_path.read_bytes()
    page = con.execute("PRAGMA page_size").fetchone()[0]
    by_page: dict[int, list[tuple[int, str]]] = {}
    for key, _p, _c in rows:
        spots = [m.start() for m in re.finditer(key.encode(), raw)]
        assert spots, "key not found in the file"
        for at in spots:
            by_page.setdefault(at // page, []).append((at, key))
    for cells in by_page.values():
        in_file = [k for _at, k in sorted(cells)]
        # Inside each page the bytes sit in key order (rewritten at close), not in the order of casting.
        assert in_file in (sorted(in_file), sorted(in_file, reverse=True)), "file layout follows something else"
    choices_in_file = [next(json.loads(c)["option"] for k2, _p, c in rows if k2 == k)
                       for _at, k in sorted(by_page[min(by_page)])]
    assert choices_in_file != ["yes"] * 6 + ["no"] * 6 and choices_in_file != ["no"] * 6 + ["yes"] * 6

    # 3. Every other table: who took part is there, never with a choice of this poll.
    participation = con.execute("SELECT participant_id, voted FROM poll_voter WHERE poll_id = ?", (pid,)).fetchall()
    assert sorted(participation) == sorted((d["participant_id"], 1) for d in voters)
    assert [r[1] for r in con.execute("PRAGMA table_info(poll_voter)")] == ["poll_id", "participant_id", "source",
                                                                            "voted"]
    assert con.execute("SELECT count(*) FROM open_ballot WHERE poll_id = ?", (pid,)).fetchone()[0] == 0
    audit = [(kind, json.loads(data)) for kind, data in con.execute(
        "SELECT kind, data FROM audit_event WHERE kind LIKE 'vote.%'")]
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
    for table in tables:
        if table in ("secret_ballot", "poll", "audit_event", "sqlite_sequence"):
            continue
        for line in (row for row in dump if row.startswith(f'INSERT INTO "{table}"')):
            assert '"option": "yes"' not in line and '"option": "no"' not in line, (table, line)
    # The server's own log names no choice either.
    log = srv.log_path.read_text()
    assert '"yes"' not in log and "'yes'" not in log and "choice" not in log
    con.close()
