"""The minutes' claim across boxes on PostgreSQL (store/claims.py `advisory`, services/minutes.py `signing_claim`):
server processes on two data directories (two boxes: no flock is shared) and one database. Two processes racing
to finalize the same minutes: exactly one does it. A process SIGKILLed while it holds the claim: its lock goes with
its session, another box's start-up recovery leaves the signing alone while the holder lives and rolls it back
once it is dead, and the minutes can be signed again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from meeting_server.store import claims
from tests.conftest import ROOT, _env

SCRIPT = ROOT / "tests" / "minutes" / "pg_claims_script.py"


def app_on(data: Path, url: str) -> Any:
    from meeting_server.app import create_app

    return create_app({"DATA_DIR": data, "DATABASE_URL": url, "DISCOVERY": False,
                       "SOCKETIO_ASYNC_MODE": "threading"})


@pytest.fixture
def boxes(tmp_path: Path, pg_cluster: Any) -> Iterator[dict[str, Any]]:
    """An ended sitting in a fresh database; box1's data directory, and box2's, a copy of it (the same audit key,
    as every box of one deployment must have)."""
    from meeting_server.services import demo, meetings
    from meeting_server.store import db

    url = pg_cluster.fresh_database()
    box1, box2 = tmp_path / "box1", tmp_path / "box2"
    app = app_on(box1, url)
    with db.standalone_session(app) as s:
        m = demo.seed(s)
        meetings.set_status(s, m, "in_progress", "chair:test", below_quorum_ok=True)
        meetings.set_status(s, m, "ended", "chair:test")
        s.commit()
        mid = m.id
    app.extensions["db_engine"].dispose()
    shutil.copytree(box1, box2)
    yield {"url": url, "box1": box1, "box2": box2, "meeting_id": mid}
    pg_cluster.drop(url)


def start(box: Path, url: str, meeting_id: int, at: float) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, str(SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=ROOT, env=_env())
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps({"url": url, "data_dir": str(box), "meeting_id": meeting_id, "at": at}))
    proc.stdin.close()
    proc.stdin = None  # written and closed: communicate() must not flush it
    return proc


def ready(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert json.loads(line or "{}").get("ready"), (proc.stderr.read() if proc.stderr else "")


def outcome(proc: subprocess.Popen[str]) -> str:
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == 0, err[-3000:]
    return str(json.loads(out.strip().splitlines()[-1])["outcome"])


def one(url: str, sql: str, *args: Any) -> Any:
    with psycopg.connect(url, autocommit=True) as c:
        row = c.execute(sql, args).fetchone()  # type: ignore[arg-type]
    return row[0] if row else None


def held_by_someone(url: str, meeting_id: int) -> int:
    return int(one(url, "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
                        "AND granted", claims.MINUTES, meeting_id))


def test_an_advisory_claim_is_one_session_at_a_time(pg_url: str) -> None:
    with claims.advisory(pg_url, claims.MINUTES, 7) as first:
        assert first is True and held_by_someone(pg_url, 7) == 1
        with claims.advisory(pg_url, claims.MINUTES, 7) as second:  # another connection, even in this process
            assert second is False
        with claims.advisory(pg_url, claims.MINUTES, 8) as other:  # another meeting
            assert other is True
    assert held_by_someone(pg_url, 7) == 0
    with claims.advisory(pg_url, claims.MINUTES, 7) as again:
        assert again is True


def test_two_boxes_racing_to_finalize_the_same_minutes_exactly_one_does(boxes: dict[str, Any]) -> None:
    url, mid = boxes["url"], boxes["meeting_id"]
    at = time.time() + 30  # both start at the same instant, once both apps are up
    procs = [start(boxes[box], url, mid, at) for box in ("box1", "box2")]
    for p in procs:
        ready(p)
    outcomes = sorted(outcome(p) for p in procs)
    assert outcomes[0] == "finalized" and outcomes[1] in ("minutes.signing", "minutes.already_final"), outcomes
    assert one(url, "SELECT count(*) FROM audit_event WHERE kind = 'minutes.finalized'") == 1
    assert one(url, "SELECT count(*) FROM minutes_draft WHERE status = 'final'") == 1
    assert held_by_someone(url, mid) == 0
    # Exactly one box has the signed file.
    assert sum(1 for box in ("box1", "box2") for _ in (boxes[box] / "minutes").glob("bien-ban-ky-hop-*-v1.pdf")) == 1


def test_a_box_killed_while_signing_is_rolled_back_by_another_once_dead(boxes: dict[str, Any]) -> None:
    from meeting_server.services import minutes
    from meeting_server.store import db

    url, mid = boxes["url"], boxes["meeting_id"]
    signer = start(boxes["box1"], url, mid, time.time())
    ready(signer)
    deadline = time.monotonic() + 60
    while not (held_by_someone(url, mid) and one(url, "SELECT status FROM minutes_draft WHERE meeting_id = %s",
                                                 mid) == "signing"):
        assert signer.poll() is None, signer.communicate()[1][-3000:]
        assert time.monotonic() < deadline, "the signing never started"
        time.sleep(0.02)
    other = app_on(boxes["box2"], url)
    try:
        # While box1 lives and signs, box2's start-up recovery leaves the signing alone.
        with db.standalone_session(other) as s:
            assert minutes.recover_interrupted(other, s) == []
        assert one(url, "SELECT status FROM minutes_draft WHERE meeting_id = %s", mid) == "signing"
        signer.kill()  # a power cut on box1 mid-claim: nothing of its own clean-up runs
        signer.communicate(timeout=10)
        deadline = time.monotonic() + 10
        while held_by_someone(url, mid):
            assert time.monotonic() < deadline, "the dead process's advisory lock was not released"
            time.sleep(0.05)
        assert one(url, "SELECT status FROM minutes_draft WHERE meeting_id = %s", mid) == "signing"
        with db.standalone_session(other) as s:
            done = minutes.recover_interrupted(other, s)
        assert done == [{"meeting_id": mid, "version": 1, "outcome": "rolled_back"}]
        assert one(url, "SELECT status FROM minutes_draft WHERE meeting_id = %s", mid) == "draft"
        assert one(url, "SELECT actor FROM audit_event WHERE kind = 'minutes.signing_rolled_back'") == \
            "system:recovery"
    finally:
        other.extensions["db_engine"].dispose()
    # And box2 signs them now.
    assert outcome(start(boxes["box2"], url, mid, time.time())) == "finalized"
    assert one(url, "SELECT count(*) FROM minutes_draft WHERE status = 'final'") == 1
