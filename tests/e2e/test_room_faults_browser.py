"""What a screen shows when the room goes wrong: a card revoked while its page is open, and an action whose handler
fails on the server. Real server, Debian chromium."""

from __future__ import annotations

import re
import shutil
import time
from typing import Any

import pytest

from meeting_server.realtime.registry import SERVER_ERROR
from tests.conftest import LiveServer
from tests.e2e.conftest import DESKTOP, PHONE
from tests.realtime.helpers import meeting_writes_fail

pytestmark = pytest.mark.skipif(shutil.which("chromium") is None and not shutil.which("/usr/bin/chromium"),
                                reason="Debian chromium is not installed")

REVOKED = "Thẻ của bạn đã bị thu hồi. Hãy gặp thư ký để nhận thẻ mới."
ENDED = "Phiên đã kết thúc. Hãy quét lại mã QR trên thẻ."


def _reissue(srv: LiveServer, participant_id: int) -> None:
    clerk = srv.session_for(srv.links["clerk"])
    page = clerk.get(f"{srv.url}/clerk/", timeout=10).text
    csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    r = clerk.post(f"{srv.url}/clerk/participants/{participant_id}/reissue", data={"csrf_token": csrf}, timeout=10)
    assert r.status_code == 200, r.text


def test_a_revoked_cards_open_page_says_what_to_do_and_stops_reconnecting(live_server: LiveServer,
                                                                          new_page: Any) -> None:
    from playwright.sync_api import expect

    srv = live_server
    delegate = next(d for d in srv.links["delegates"] if d["role"] == "delegate")
    phone = new_page(PHONE)
    attempts: list[float] = []
    phone.on("request", lambda r: attempts.append(time.monotonic()) if "/socket.io/" in r.url else None)
    phone.on("websocket", lambda ws: attempts.append(time.monotonic()))
    phone.goto(srv.local(delegate["url"]))
    expect(phone.locator("[data-bind=connection]").first).to_have_text("Đã kết nối")

    _reissue(srv, delegate["participant_id"])
    expect(phone.locator("[role=alert][data-revoked]")).to_have_text(REVOKED)
    expect(phone.locator("[data-bind=connection]").first).to_have_text(REVOKED)
    told = time.monotonic()
    time.sleep(7)  # longer than the page's longest reconnection delay (5 s)
    assert [t for t in attempts if t > told] == [], "the page kept trying to reconnect"
    expect(phone.locator("[data-bind=connection]").first).to_have_text(REVOKED)


def test_a_page_opened_again_with_a_revoked_cards_session_says_so(live_server: LiveServer, new_page: Any) -> None:
    """The phone was off when its card was revoked: revocation ended its session, so its page, reconnecting with
    the session cookie, is refused at connect with "the session ended, scan the card again" (the old QR then says
    the card was revoked), not "reconnecting…"."""
    from playwright.sync_api import expect

    srv = live_server
    delegate = next(d for d in srv.links["delegates"] if d["role"] == "delegate")
    phone = new_page(PHONE)
    phone.goto(srv.local(delegate["url"]))
    expect(phone.locator("[data-bind=connection]").first).to_have_text("Đã kết nối")
    phone.context.set_offline(True)
    phone.evaluate("Live.socket.io.engine.close()")  # what a phone going out of Wi-Fi range sees
    expect(phone.locator("[data-bind=connection]").first).to_have_text("Mất kết nối — đang kết nối lại…")
    _reissue(srv, delegate["participant_id"])
    phone.context.set_offline(False)
    expect(phone.locator("[role=alert][data-revoked]")).to_have_text(ENDED, timeout=20_000)


def test_a_button_whose_action_fails_on_the_server_says_so(live_server: LiveServer, new_page: Any) -> None:
    """The chair's "go to" button: its event's handler fails (the database refuses the write), and the chair is
    told at once in Vietnamese instead of a button that waits forever."""
    from playwright.sync_api import expect

    srv = live_server
    chair = new_page(DESKTOP)
    dialogs: list[str] = []
    chair.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    chair.goto(srv.local(srv.links["chair"][0]))
    expect(chair.locator("[data-bind=connection]").first).to_have_text("Đã kết nối")
    button = chair.locator("[data-goto]").nth(1)
    with meeting_writes_fail(srv.data_dir):
        started = time.monotonic()
        button.click()
        expect(button).to_have_attribute("data-error", SERVER_ERROR)
        assert time.monotonic() - started < 5
    assert dialogs == []  # never the browser's alert(): the message is said in the page
    told = chair.get_by_role("dialog")
    expect(told.get_by_role("heading")).to_have_text(SERVER_ERROR)
    told.get_by_role("button", name="Đóng").click()
    expect(button).to_be_enabled()
    button.click()  # the fault gone, the same button works
    expect(chair.locator("[data-agenda-control] li.current, [data-bind=agenda_control] li.current")).to_have_count(1)
    assert dialogs == []
