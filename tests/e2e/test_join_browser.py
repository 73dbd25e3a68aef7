"""A delegate opens their join link on a phone; the chair's screen shows them present, live."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.conftest import LiveServer
from tests.e2e.conftest import PHONE, PROJECTOR

pytestmark = pytest.mark.browser


def test_delegate_joins_on_phone_and_chair_sees_them(live_server: LiveServer, new_page: Any) -> None:
    srv = live_server
    chair = new_page()
    chair.goto(srv.local(srv.links["chair"][0]))
    expect(chair.locator('[data-bind="connection"]').first).to_have_text("Đã kết nối")
    line = chair.locator('[data-bind="attendance_line"]').first
    expect(line).to_have_text("Có mặt 1/30 — chưa đủ điều kiện tiến hành kỳ họp (cần ≥ 20)")

    kiosk = new_page(PROJECTOR)
    kiosk.goto(srv.local(srv.links["kiosk"]))
    expect(kiosk.locator(".kiosk-title")).to_have_text(
        "Kỳ họp thứ Hai, Hội đồng nhân dân xã Đồng Lê khóa I, nhiệm kỳ 2026 - 2031")

    d = next(x for x in srv.links["delegates"] if x["role"] == "delegate")
    phone = new_page(PHONE)
    phone.goto(srv.local(d["url"]))
    # Lands on the delegate's home, in Vietnamese, with their name and the agenda.
    expect(phone.locator('[data-bind="me_name"]')).to_have_text(d["name"])
    expect(phone.locator('[data-bind="me_role"]')).to_have_text("Đại biểu")
    expect(phone.locator(".agenda li")).to_have_count(6)
    assert phone.url.endswith("/delegate")
    # The chair's list and the projector follow at once, without reloading.
    row = chair.locator(f'tr[data-participant="{d["participant_id"]}"] td[data-status]')
    expect(row).to_have_text("Có mặt")
    expect(line).to_have_text("Có mặt 2/30 — chưa đủ điều kiện tiến hành kỳ họp (cần ≥ 20)")
    expect(kiosk.locator('[data-bind="attendance_line"]')).to_have_text(
        "Có mặt 2/30 — chưa đủ điều kiện tiến hành kỳ họp (cần ≥ 20)")
    # The session cookie that binds the phone is HttpOnly: page scripts cannot read it.
    cookies = phone.context.cookies()
    assert any(c["name"] == "ms_session" and c["httpOnly"] for c in cookies)
    assert phone.evaluate("document.cookie").find("ms_session") < 0

    # The chair moves to item 2; the phone highlights it.
    chair.locator("button[data-goto]").first.click()
    expect(phone.locator(".agenda li.current")).to_have_count(1)
    expect(phone.locator('[data-bind="current_item"]')).to_have_text(
        "1. Khai mạc kỳ họp; thông qua chương trình kỳ họp")

    # Opening the sitting with 2 of 30 present: the chair is asked, with the counts; "cancel" changes nothing.
    status = chair.locator('[data-bind="meeting_status"]').first
    before = status.inner_text()
    # The question is an in-page dialog (never the browser's confirm()), with the server's counts.
    browser_dialogs: list[str] = []
    chair.on("dialog", lambda d: browser_dialogs.append(d.message) or d.dismiss())
    chair.locator('button[data-status="in_progress"]').click()
    question = chair.get_by_role("dialog")
    expect(question).to_contain_text(
        "Chưa đủ số đại biểu để tiến hành kỳ họp: có mặt 2/30, cần ít nhất 20. Vẫn khai mạc?")
    question.get_by_role("button", name="Hủy bỏ").click()
    expect(question).to_have_count(0)
    assert status.inner_text() == before
    chair.locator('button[data-status="in_progress"]').click()
    chair.get_by_role("dialog").get_by_role("button", name="Vẫn khai mạc").click()
    expect(status).to_have_text("Đang họp")
    assert browser_dialogs == []


def test_revoked_card_gets_a_friendly_page(live_server: LiveServer, new_page: Any) -> None:
    page = new_page(PHONE)
    page.goto(live_server.url + "/j/khong-phai-ma-that")
    expect(page.locator("h1")).to_have_text("Mã không đúng")
    assert "Traceback" not in page.content()


def test_clerk_marks_absent_and_late_and_chair_sees_it(live_server: LiveServer, new_page: Any) -> None:
    srv = live_server
    delegates = [x for x in srv.links["delegates"] if x["role"] == "delegate"]
    absent, late = delegates[3], delegates[4]
    chair = new_page()
    chair.goto(srv.local(srv.links["chair"][0]))
    clerk = new_page()
    clerk.goto(srv.local(srv.links["clerk"]))
    expect(clerk.locator('[data-bind="connection"]').first).to_have_text("Đã kết nối")
    clerk.click('[data-step-link="sitting"]')  # the console's step "Trong phiên họp"
    clerk.locator(f'#attendance button[data-mark="absent"][data-pid="{absent["participant_id"]}"]').click()
    reason = clerk.get_by_role("dialog")
    expect(reason).to_contain_text("Lý do vắng mặt")
    reason.get_by_role("textbox").fill("Ốm")
    reason.get_by_role("button", name="Ghi nhận").click()
    clerk.locator(f'#attendance button[data-mark="late"][data-pid="{late["participant_id"]}"]').click()
    expect(chair.locator(f'tr[data-participant="{absent["participant_id"]}"] td[data-status]')).to_have_text(
        "Vắng — Ốm")
    expect(chair.locator(f'tr[data-participant="{late["participant_id"]}"] td[data-status]')).to_have_text(
        "Có mặt (đến muộn)")
    expect(chair.locator('[data-bind="attendance_line"]').first).to_contain_text("Có mặt 2/30")


def test_the_join_link_leaves_no_token_in_the_address_bar_or_history(live_server: LiveServer, new_page: Any) -> None:
    """The phone's page comes in the join link's own answer (no redirect: one round trip less on a slow link), and
    the card's token is gone from the address and the history at once; a reload and "back" never reach it."""
    srv = live_server
    d = next(x for x in srv.links["delegates"] if x["role"] == "delegate")
    token = d["url"].rsplit("/j/", 1)[1]
    phone = new_page(PHONE)
    phone.goto(srv.url + "/healthz")  # something before, as a phone's browser has
    entries = phone.evaluate("history.length")
    answers: list[tuple[str, int]] = []
    phone.on("response", lambda r: answers.append((r.url, r.status)) if r.request.is_navigation_request() else None)
    phone.goto(srv.local(d["url"]))
    expect(phone.locator('[data-bind="connection"]')).to_have_text("Đã kết nối")
    assert [status for url, status in answers if "/j/" in url] == [200]  # no redirect on the way
    assert phone.url == srv.url + "/delegate" and token not in phone.evaluate("location.href")
    assert phone.evaluate("history.length") == entries + 1  # one entry, the meeting page's: the link's was replaced
    assert token not in phone.content()
    # The panels of the later script are there (ballot, documents), and the name card is the person's.
    expect(phone.locator("#documents .docs-list, #doc-list")).not_to_have_count(0)
    phone.wait_for_function("() => !!window.Documents && !!window.Dialog")
    expect(phone.locator('[data-bind="me_name"]')).to_have_text(d["name"])
    # A reload stays on /delegate (the cookie's session), and "back" goes to what came before, not the link.
    phone.reload()
    expect(phone.locator('[data-bind="connection"]')).to_have_text("Đã kết nối")
    assert phone.url == srv.url + "/delegate"
    phone.go_back()
    assert phone.url == srv.url + "/healthz"
    assert not [url for url, status in answers[1:] if "/j/" in url]
