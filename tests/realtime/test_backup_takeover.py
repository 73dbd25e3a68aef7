"""The backup after a poll's close has one owner and is taken over (issue #20): the process that closed the poll
makes it, and when that process died before it could, the heartbeat of the next one makes it, under the lease
`poll:<id>:backup`, and the audit log says it took the work over. A real server on both databases."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests import conftest
from tests.conftest import LiveServer
from tests.db_kit import Peek
from tests.realtime.voting_kit import close_poll, join, make_poll, open_poll

DEAD = "another-box:4242:deadbeef"  # a process of another box that stopped renewing its leases


def _backups(data: Path, poll_id: int) -> list[Path]:
    """The finished backups after the poll's close (not pg_dump's `.part` while it writes)."""
    return sorted(f for f in (data / "backups").glob(f"*poll-{poll_id}-closed*") if f.suffix != ".part")


def _backed_up_at(data: Path, poll_id: int) -> Any:
    with Peek(data, conftest.database_for(data)) as conn:
        return conn.execute("SELECT backed_up_at FROM poll WHERE id = ?", (poll_id,)).fetchone()[0]


def _wait(what: str, check: Callable[[], Any], timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError(f"{what}: not within {timeout:.0f} s")


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_a_backup_the_closing_process_did_not_live_to_make_is_made_by_the_next(
        server_factory: Callable[..., LiveServer], tmp_path: Path) -> None:
    data = tmp_path / "backup-takeover"
    srv = server_factory(data_dir=data)
    join(srv, srv.links["delegates"][3]["url"])
    poll = make_poll(srv)
    open_poll(srv, poll["id"])
    close_poll(srv, poll["id"])
    # The process that closed it makes the backup, and marks it done.
    made = _wait("the backup after the close", lambda: _backups(data, poll["id"]))
    _wait("the poll marked backed up", lambda: _backed_up_at(data, poll["id"]))

    # Now as if that process had died between the close and its backup: the poll still due, its backup lease held
    # by a process that stopped renewing it 10 s ago, and no file.
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(10)
    for f in made:
        f.unlink()
    gone = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=10)
    with Peek(data, conftest.database_for(data)) as conn:
        conn.execute("UPDATE poll SET backed_up_at = NULL WHERE id = ?", (poll["id"],))
        conn.execute("DELETE FROM lease WHERE name LIKE ?", ("poll:%",))
        conn.execute("INSERT INTO lease (name, owner, expires_at, taken_at) VALUES (?, ?, ?, ?)",
                     (f"poll:{poll['id']}:backup", DEAD, gone, gone - timedelta(seconds=6)))
        conn.commit()

    again = server_factory(data_dir=data, port=srv.port)
    try:
        remade = _wait("the backup made by the next process", lambda: _backups(data, poll["id"]))
        assert len(remade) == 1 and remade[0].stat().st_size > 0
        _wait("the poll marked backed up again", lambda: _backed_up_at(data, poll["id"]))
        with Peek(data, conftest.database_for(data)) as conn:
            rows = conn.execute("SELECT kind, CAST(data AS TEXT) FROM audit_event ORDER BY seq").fetchall()
            assert conn.execute("SELECT count(*) FROM lease WHERE name = ?",
                                (f"poll:{poll['id']}:backup",)).fetchone()[0] == 0  # given back once made
        taken = [json.loads(d) for kind, d in rows if kind == "lease.taken_over"]
        assert {"lease": f"poll:{poll['id']}:backup", "from": DEAD} in [
            {"lease": t["lease"], "from": t["from"]} for t in taken]
        made_entries = [json.loads(d) for kind, d in rows if kind == "backup.made"]
        assert any(f"poll-{poll['id']}-closed" in json.dumps(e) for e in made_entries)
        # Made once: a few heartbeats later there is still one file.
        time.sleep(4.5)
        assert len(_backups(data, poll["id"])) == 1
    finally:
        again.stop()
