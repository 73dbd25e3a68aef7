"""The clerk corrects a wrong server clock from their phone; the minutes' record uses the corrected time."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from meeting_server.services import record
from meeting_server.store import db
from tests.conftest import ROOT, LiveServer, _env, csrf_token


def _post(client: Any, device_ms: Any) -> Any:
    return client.post("/clerk/clock", json={"device_ms": device_ms},
                       headers={"X-CSRFToken": csrf_token(client, "/clerk/")})


def test_clerk_sets_the_clock_and_the_record_follows(app: Any, login: Any, app_links: dict[str, Any]) -> None:
    clerk = login("clerk")
    login("delegate")  # marks a delegate present, nothing late
    with app.app_context():
        before = datetime.fromisoformat(record.build_record(db.session(), app_links["meeting_id"])["started_at"])
    three_days = 3 * 24 * 3600 * 1000
    r = _post(clerk, int(time.time() * 1000) + three_days)
    assert r.status_code == 200 and abs(r.get_json()["offset_ms"] - three_days) < 5000
    page = clerk.get("/clerk/").get_data(as_text=True)
    assert "Đặt giờ máy chủ theo điện thoại này" in page
    assert "Đây là giờ của cả máy chủ, không riêng kỳ họp này" in page  # the clerk is told it is the box's
    with app.app_context():
        after = datetime.fromisoformat(record.build_record(db.session(), app_links["meeting_id"])["started_at"])
    assert abs((after - before) - timedelta(days=3)) < timedelta(seconds=5)
    # A phone a second off changes nothing; a phone decades off is refused.
    assert _post(clerk, int(time.time() * 1000) + 1000).get_json()["offset_ms"] == 0
    r = _post(clerk, int(time.time() * 1000) + 40 * 365 * 24 * 3600 * 1000)
    assert r.status_code == 400 and "lệch quá xa" in r.get_json()["message"]
    assert _post(clerk, "tomorrow").status_code == 400


def test_only_the_clerk_sets_the_clock(login: Any) -> None:
    for role in ("delegate", "chair", "secretary", "guest", "kiosk"):
        client = login(role)
        r = client.post("/clerk/clock", json={"device_ms": 1},
                        headers={"X-CSRFToken": csrf_token(client, "/delegate" if role != "chair" else "/chair")})
        assert r.status_code == 403, role


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "meeting_server", *args], capture_output=True, text=True,
                          check=False, cwd=ROOT, env=_env(), timeout=180)


def _events(data: Path) -> list[tuple[Any, str, str, dict[str, Any]]]:
    with sqlite3.connect(data / "meeting.db") as db:
        rows = db.execute("SELECT meeting_id, kind, actor, data FROM audit_event ORDER BY seq").fetchall()
    return [(mid, kind, actor, json.loads(d)) for mid, kind, actor, d in rows]


def test_the_clock_backup_and_restore_are_box_level_entries_that_verify(server_factory: Any) -> None:
    """On a real server: the clerk's correction is one box-level entry (no meeting; every meeting not ended is
    named), a backup and a restore are recorded too, and `verify-log` passes over the whole chain after each."""
    import requests

    srv: LiveServer = server_factory()
    clerk = srv.session_for(srv.links["clerk"])
    page = clerk.get(srv.url + "/clerk/", timeout=10).text
    import re

    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = clerk.post(srv.url + "/clerk/clock", json={"device_ms": int(time.time() * 1000) + 3_600_000},
                   headers={"X-CSRFToken": token}, timeout=10)
    assert r.status_code == 200, r.text
    [(mid, actor, data)] = [(m, a, d) for m, k, a, d in _events(srv.data_dir) if k == "clock.corrected"]
    assert mid is None and actor.startswith("clerk")
    assert data["scope"] == "box" and data["from_meeting"] == srv.links["meeting_id"]
    assert srv.links["meeting_id"] in data["meetings"] and data["previous_offset_ms"] == 0
    assert abs(data["offset_ms"] - 3_600_000) < 5000
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
    srv.stop()
    data_dir = srv.data_dir
    assert _cli("verify-log", "--data-dir", str(data_dir), "--no-record").returncode == 0

    made = _cli("backup", "--data-dir", str(data_dir), "--reason", "before the sitting")
    assert made.returncode == 0, made.stderr
    [(mid, actor, data)] = [(m, a, d) for m, k, a, d in _events(data_dir) if k == "backup.made"]
    assert mid is None and data["file"].startswith("meeting-") and data["audit_seq"] > 0
    out = _cli("verify-log", "--data-dir", str(data_dir), "--no-record")
    assert out.returncode == 0, out.stdout + out.stderr

    backup = data_dir / "backups" / data["file"]
    restored = _cli("restore", str(backup), "--data-dir", str(data_dir))
    assert restored.returncode == 0, restored.stderr
    events = _events(data_dir)
    assert events[-1][1] == "backup.restored" and events[-1][0] is None and events[-1][3]["file"] == backup.name
    assert any(k == "clock.corrected" for _m, k, _a, _d in events)  # the restored record keeps the correction
    out = _cli("verify-log", "--data-dir", str(data_dir), "--no-record")
    assert out.returncode == 0, out.stdout + out.stderr


def test_the_clock_is_corrected_even_when_a_meeting_is_signed(app: Any, login: Any,
                                                              app_links: dict[str, Any]) -> None:
    """The box's clock is no meeting's change: a signed (frozen) meeting does not block it."""
    from meeting_server.store.tables import MinutesDraft

    with app.app_context():
        s = db.session()
        s.add(MinutesDraft(meeting_id=app_links["meeting_id"], status="final", version=1))
        s.commit()
    r = _post(login("clerk"), int(time.time() * 1000) + 600_000)
    assert r.status_code == 200, r.get_json()
