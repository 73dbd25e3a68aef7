"""The clerk corrects a wrong server clock from their phone; the minutes' record uses the corrected time."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any

from meeting_server.services import record
from meeting_server.store import db
from tests.conftest import csrf_token


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
