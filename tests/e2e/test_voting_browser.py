"""Three phone-sized delegates vote in Chromium, the chair closes, and every screen shows the same result."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.realtime.voting_kit import chair, make_poll, open_poll

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}




def _page(browser: Any, srv: LiveServer, url: str, viewport: dict[str, int]) -> Any:
    ctx = browser.new_context(viewport=viewport, locale="vi-VN")
    page = ctx.new_page()
    page.goto(srv.local(url))  # the join link: binds the card, marks a delegate present
    page.wait_for_selector('[data-bind="connection"]:not(.offline)')
    return page


def test_three_phones_vote_chair_closes_every_screen_shows_the_same_result(live_server: LiveServer,
                                                                           browser: Any) -> None:
    srv = live_server
    plain = [d for d in srv.links["delegates"] if d["role"] == "delegate"][:3]
    phones = [_page(browser, srv, d["url"], PHONE) for d in plain]
    chair_page = _page(browser, srv, chair(srv), {"width": 1280, "height": 900})
    kiosk = _page(browser, srv, srv.links["kiosk"], {"width": 1280, "height": 720})

    poll = make_poll(srv, title="Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    open_poll(srv, poll["id"])
    for page in phones:
        page.wait_for_selector("#vote-panel:not([hidden]) .vote-option")
        assert page.locator(".vote-progress").inner_text() == "Đã biểu quyết: 0/4"
        page.locator("#takeover-go").click()  # the vote took over the phone's screen: one tap to the ballot
    kiosk.wait_for_selector("#kiosk-vote:not([hidden]) .vote-progress")

    choices = ["Tán thành", "Tán thành", "Không tán thành"]
    for page, label in zip(phones, choices, strict=True):
        page.get_by_role("button", name=label, exact=True).click()
        assert label in page.locator(".vote-confirm-q").inner_text()
        page.get_by_role("button", name="Xác nhận").click()
        # Shown only after the server's acknowledgement, i.e. after the commit.
        page.wait_for_selector('[data-bind="vote_recorded"]')
        assert page.locator('[data-bind="vote_recorded"]').inner_text() == f"✓ Đã ghi nhận: {label}"
    kiosk.wait_for_function("() => document.querySelector('.vote-progress').textContent === 'Đã biểu quyết: 3/4'")
    chair_page.wait_for_function(
        "() => document.querySelector('#vote-panel .vote-progress').textContent === 'Đã biểu quyết: 3/4'")
    # No running count anywhere while the poll is open.
    assert kiosk.locator(".vote-result").count() == 0 and chair_page.locator(".vote-result").count() == 0

    chair_page.locator('#vote-panel .vote-current [data-poll-action="close"]').click()
    screens = [*phones, chair_page, kiosk]
    lines = []
    for page in screens:
        page.wait_for_selector(".vote-result .vote-lines li")
        lines.append(page.locator('[data-bind="vote_lines"]').first.inner_text())
    assert all(text == lines[0] for text in lines), lines
    assert "Tán thành: 2/30 đại biểu, chiếm 6,67% tổng số đại biểu HĐND xã." in lines[0]
    assert "Không tán thành: 1/30 đại biểu, chiếm 3,33% tổng số đại biểu HĐND xã." in lines[0]
    for page in screens:
        assert page.locator(".vote-verdict").first.inner_text() == "KHÔNG THÔNG QUA"
        bars = page.locator(".vote-result .vote-bar-figure").all_inner_texts()
        assert bars[:3] == ["2 · 6,67%", "1 · 3,33%", "0 · 0,00%"]
    # Who chose what: on the chair's screen only.
    assert chair_page.locator(".vote-names tr").count() == 4
    assert phones[0].locator(".vote-names").count() == 0 and kiosk.locator(".vote-names").count() == 0
    chair_page.screenshot(path=str(srv.data_dir / "chair-result.png"))
    phones[0].screenshot(path=str(srv.data_dir / "phone-result.png"), full_page=True)


def test_the_chair_votes_from_the_chair_screen_and_the_minutes_count_it(live_server: LiveServer, browser: Any) -> None:
    """Issue 17, defect 1: the chair is a delegate; their console carries the delegate's ballot."""
    import pymupdf
    import requests

    from tests.realtime.voting_kit import clerk, close_poll

    srv = live_server
    plain = [d for d in srv.links["delegates"] if d["role"] == "delegate"][:2]
    chair_name = next(d["name"] for d in srv.links["delegates"] if d["role"] == "chair")
    phones = [_page(browser, srv, d["url"], PHONE) for d in plain]
    chair_page = _page(browser, srv, chair(srv), {"width": 1280, "height": 900})
    poll = make_poll(srv, title="Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    open_poll(srv, poll["id"])

    # The chair's own ballot, on the chair's screen, with the same buttons, confirmation and acknowledgement.
    ballot = chair_page.locator("#my-ballot")
    ballot.locator(".vote-option").first.wait_for()
    assert chair_page.locator("#vote-panel .vote-progress").inner_text() == "Đã biểu quyết: 0/3"
    ballot.get_by_role("button", name="Tán thành", exact=True).click()
    assert "Tán thành" in ballot.locator(".vote-confirm-q").inner_text()
    ballot.get_by_role("button", name="Xác nhận").click()
    ballot.locator('[data-bind="vote_recorded"]').wait_for()
    assert ballot.locator('[data-bind="vote_recorded"]').inner_text() == "✓ Đã ghi nhận: Tán thành"
    # Everyone sees the chair counted.
    for page in [chair_page, *phones]:
        page.wait_for_function(
            "() => [...document.querySelectorAll('.vote-progress')].some(e => e.textContent === 'Đã biểu quyết: 1/3')")
    phones[0].locator("#takeover-go").click()
    phones[0].get_by_role("button", name="Không tán thành", exact=True).click()
    phones[0].get_by_role("button", name="Xác nhận").click()
    phones[0].wait_for_selector('[data-bind="vote_recorded"]')

    result = close_poll(srv, poll["id"])
    named = {v["name"]: v["choice_label"] for v in result["voters"]}
    assert named[chair_name] == "Tán thành"
    chair_page.wait_for_selector("#vote-panel .vote-result")
    assert chair_page.locator("#my-ballot").is_hidden()  # the result is in the chair's panel, once


    srv.documents_ready()  # the minutes are signed once the demo's documents are read in
    from tests.minutes.signing_kit import sign_live, signed_pdf_url

    r = sign_live(srv)  # the clerk prepares, the secretary then the chair sign from their own cards
    assert r.status_code == 200 and r.json()["stage"] == "final", r.text
    pdf = requests.get(srv.url + signed_pdf_url(srv), headers=srv.bearer(clerk(srv)), timeout=10).content
    text = " ".join(" ".join(p.get_text().split()) for p in pymupdf.open(stream=pdf))
    assert f"Đại biểu tán thành: {chair_name}." in text
    assert "Tán thành: 1/30 đại biểu, chiếm 3,33% tổng số đại biểu HĐND xã." in text
    assert f"Đại biểu không tham gia biểu quyết: {plain[1]['name']}." in text
