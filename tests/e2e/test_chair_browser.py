"""The chair's tablet and the projector, as the people in the room see them (issue 21, "Chair"): tabs where the vote,
the agenda, the speakers and the presented document are one tap away, the chair's own ballot in view during a vote,
in-page dialogs instead of the browser's prompt()/confirm(), targets of at least 44 px, the projector following the
agenda, a closed sitting said as such, and results that fit 1920x1080 with their outcome first."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.realtime.voting_kit import api, chair, close_poll, delegates, join, make_poll, open_poll, screen

pytestmark = pytest.mark.browser

TABLET = {"width": 768, "height": 1024}
TABLET_LANDSCAPE = {"width": 1024, "height": 768}
PROJECTOR = {"width": 1920, "height": 1080}

# Every visible control smaller than 44x44 CSS px (a checkbox counts with its label, the target a finger hits).
SMALL_TARGETS = """() => {
  const out = [];
  for (const e of document.querySelectorAll('button, a[href], input, select, textarea, summary, [role=tab]')) {
    if (e.type === 'hidden' || e.closest('[hidden]')) continue;
    const own = e.getBoundingClientRect();
    if (own.width === 0 && own.height === 0) continue;
    if (getComputedStyle(e).visibility === 'hidden') continue;
    const t = (e.type === 'checkbox' || e.type === 'radio') && e.closest('label') ? e.closest('label') : e;
    const r = t.getBoundingClientRect();
    if (r.height < 43.5 || r.width < 43.5) {
      out.push(`${e.tagName.toLowerCase()} "${(e.textContent || e.name || e.id || '').trim().slice(0, 40)}" `
               + `${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return out;
}"""

# Every element of the projector's vote view that lies (partly) outside the viewport.
OUTSIDE = """() => {
  const out = [];
  const W = window.innerWidth, H = window.innerHeight;
  for (const e of document.querySelectorAll('#kiosk-vote *')) {
    const r = e.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.top < -0.5 || r.left < -0.5 || r.bottom > H + 0.5 || r.right > W + 0.5) {
      const what = (e.textContent || '').trim().slice(0, 30);
      out.push(`${e.tagName} ${what} ${Math.round(r.top)}..${Math.round(r.bottom)}`);
    }
  }
  const v = document.querySelector('#kiosk-vote');
  if (v.scrollHeight > v.clientHeight + 1) out.push(`scrolls: ${v.scrollHeight} > ${v.clientHeight}`);
  return out;
}"""


def _page(browser: Any, srv: LiveServer, url: str, viewport: dict[str, int]) -> Any:
    ctx = browser.new_context(viewport=viewport, locale="vi-VN")
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors
    # The browser's own prompt()/confirm()/alert() must never appear: any such dialog fails the test.
    page.on("dialog", lambda d: errors.append(f"browser dialog: {d.message}") or d.dismiss())
    page.goto(srv.local(url))
    page.wait_for_selector('[data-bind="connection"]:not(.offline)')
    return page


def _tab(page: Any, name: str) -> None:
    page.get_by_role("tab", name=name).click()


def _small(page: Any) -> list[str]:
    return list(page.evaluate(SMALL_TARGETS))


def test_the_chair_runs_a_sitting_from_a_tablet(live_server: LiveServer, browser: Any) -> None:
    srv = live_server
    shots = "/tmp/chair-"
    page = _page(browser, srv, chair(srv), TABLET)
    kiosk = _page(browser, srv, srv.links["kiosk"], PROJECTOR)
    assert kiosk.locator('[data-bind="kiosk_status"]').inner_text() == "Kỳ họp chưa khai mạc"

    # Tabs, not one long column: the first tab shows the running of the sitting, the others are one tap away.
    tabs = page.get_by_role("tab").all_inner_texts()
    assert [t.split("\n")[0].strip() for t in tabs] == ["Điều hành", "Biểu quyết", "Phát biểu", "Tài liệu", "Đại biểu"]
    assert page.locator("#pane-run").is_visible() and page.locator("#pane-people").is_hidden()
    page.screenshot(path=shots + "tablet-run.png")
    for name in ["Điều hành", "Biểu quyết", "Phát biểu", "Tài liệu", "Đại biểu"]:
        _tab(page, name)
        assert _small(page) == [], name
    _tab(page, "Điều hành")

    # Khai mạc below the quorum: an in-page dialog with the server's counts; Esc cancels and nothing changes.
    page.get_by_role("button", name="Khai mạc kỳ họp").click()
    dialog = page.get_by_role("dialog")
    dialog.wait_for()
    assert "Chưa đủ số đại biểu để tiến hành kỳ họp" in dialog.inner_text()
    assert page.evaluate("document.activeElement.closest('[role=dialog]') !== null")  # focus is in the dialog
    for _ in range(3):
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.closest('[role=dialog]') !== null")  # and stays there
    assert _small(page) == []
    page.screenshot(path=shots + "dialog-quorum.png")
    page.keyboard.press("Escape")
    dialog.wait_for(state="detached")
    assert page.locator('[data-bind="meeting_status"]').inner_text() == "Chưa khai mạc"
    page.get_by_role("button", name="Khai mạc kỳ họp").click()
    page.get_by_role("dialog").get_by_role("button", name="Vẫn khai mạc").click()
    page.wait_for_function("() => document.querySelector('[data-bind=meeting_status]').textContent === 'Đang họp'")
    assert page.get_by_role("button", name="Khai mạc kỳ họp").is_hidden()
    kiosk.wait_for_function("() => document.querySelector('[data-bind=kiosk_status]').textContent === 'Đang diễn ra'")

    # The projector follows the agenda: page 2 of a document on every screen, then the chair moves on.
    docs = [d for d in srv.documents_ready() if d["status"] == "ready"]
    doc = next(d for d in docs if d["page_count"] >= 2)
    chair_socket = screen(srv, chair(srv))
    try:
        page.locator('[data-goto]').first.click()
        page.wait_for_function("() => document.querySelector('[data-bind=agenda_control] li.current')")
        ack = chair_socket.call("present", {"document_id": doc["id"], "page": 2})
        assert ack["ok"] is True, ack
        kiosk.wait_for_selector("body.kiosk-presenting")
        page.wait_for_selector('[data-tab-badge="docs"]:not([hidden])')
        assert page.locator('[data-tab-badge="docs"]').inner_text() == "đang chiếu"
        keep = page.get_by_label("Giữ tài liệu trên màn chiếu khi chuyển nội dung")
        assert keep.is_visible() and not keep.is_checked()
        # Kept: the chair ticks the box, moves on, and the page stays on the projector.
        keep.check()
        page.locator('[data-goto]').nth(0).click()
        page.wait_for_function("() => !document.querySelector('[data-keep-presentation]').checked")
        assert kiosk.locator("body.kiosk-presenting").count() == 1
        # Not kept: the next move takes it off every screen.
        page.locator('[data-goto]').nth(1).click()
        kiosk.wait_for_selector("body:not(.kiosk-presenting)")
        assert kiosk.locator("#kiosk-idle").is_visible()
        page.wait_for_selector('[data-tab-badge="docs"][hidden]', state="attached")
        assert keep.is_hidden()
    finally:
        chair_socket.close()
    current = page.locator("[data-bind=agenda_control] li.current > span").inner_text()

    # The new-poll form starts on the item being discussed.
    _tab(page, "Biểu quyết")
    page.get_by_text("Tạo biểu quyết mới").click()
    selected = page.locator('[data-vote-form] [name="agenda_item_id"] option:checked').inner_text()
    assert selected.endswith(current), (selected, current)
    assert _small(page) == []

    # A vote: the chair opens it from an in-page dialog (a countdown out of range is said in the dialog).
    for d in delegates(srv)[:3]:
        join(srv, d["url"])
    poll = make_poll(srv, title="Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    row = page.locator(f'[data-poll-row="{poll["id"]}"]')
    row.get_by_role("button", name="Bắt đầu biểu quyết").click()
    dialog = page.get_by_role("dialog")
    assert dialog.get_by_role("heading").inner_text().startswith("Bắt đầu biểu quyết: Thông qua Nghị quyết")
    assert dialog.get_by_label("Giữ tài liệu trên màn chiếu").count() == 0  # nothing is presented now
    dialog.get_by_label("Thời gian biểu quyết (giây)").fill("3")
    dialog.get_by_role("button", name="Bắt đầu biểu quyết").click()
    assert dialog.get_by_role("alert").inner_text() == "Hãy nhập một số nguyên từ 5 đến 3600."
    dialog.get_by_label("Thời gian biểu quyết (giây)").fill("")
    page.screenshot(path=shots + "dialog-open-vote.png")
    dialog.get_by_role("button", name="Bắt đầu biểu quyết").click()
    # The chair's own ballot, in view on the tablet, the vote tab marked as open.
    ballot = page.locator("#my-ballot")
    ballot.locator(".vote-option").first.wait_for()
    assert page.locator('[data-tab-badge="vote"]').inner_text() == "đang mở"
    box = ballot.bounding_box()
    assert box is not None and box["y"] < TABLET["height"] and box["y"] + 100 < TABLET["height"]
    ballot.get_by_role("button", name="Không tán thành", exact=True).click()
    ballot.get_by_role("button", name="Xác nhận").click()
    # The ballot gives way to what was recorded.
    ballot.locator('[data-bind="vote_recorded"]').wait_for()
    ballot.locator('[data-bind="vote_recorded"]').scroll_into_view_if_needed()
    assert _small(page) == []
    page.screenshot(path=shots + "tablet-vote.png")

    # Landscape: the vote keeps its own column beside the agenda.
    page.set_viewport_size(TABLET_LANDSCAPE)
    page.wait_for_timeout(200)
    assert page.locator("#pane-vote").is_visible() and page.locator("#pane-run").is_visible()
    assert page.get_by_role("tab", name="Biểu quyết").is_hidden()
    vote_box, run_box = page.locator("#pane-vote").bounding_box(), page.locator("#pane-run").bounding_box()
    assert vote_box["x"] > run_box["x"] + run_box["width"] - 1  # side by side, not one long column
    assert _small(page) == []
    page.screenshot(path=shots + "landscape-vote.png")
    page.set_viewport_size(TABLET)

    close_poll(srv, poll["id"])
    page.wait_for_selector("#vote-panel .vote-result")
    # Failed: the outcome reads first, before the title that says "Thông qua …".
    current_box = page.locator("#vote-panel .vote-current")
    assert current_box.inner_text().startswith("KHÔNG THÔNG QUA")
    kiosk.wait_for_selector("#kiosk-vote .vote-result")
    assert kiosk.locator("#kiosk-vote").inner_text().startswith("KHÔNG THÔNG QUA")

    # Cancelling asks for a reason in the page; without one, nothing is sent.
    draft = make_poll(srv, title="Thông qua Nghị quyết về dự toán ngân sách")
    page.locator(f'[data-poll-row="{draft["id"]}"]').get_by_role("button", name="Hủy", exact=True).click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Hủy biểu quyết").click()
    assert dialog.get_by_role("alert").inner_text() == "Hãy điền ô này."
    dialog.get_by_label("Lý do hủy biểu quyết").fill("Chuyển sang kỳ họp sau")
    dialog.get_by_role("button", name="Hủy biểu quyết").click()
    page.wait_for_function("id => document.querySelector(`[data-poll-row=\"${id}\"]`).textContent.includes('Đã hủy')",
                           arg=draft["id"])

    # Paper ballots of a secret vote: one number field per figure and per choice, not a comma-separated line.
    secret = make_poll(srv, kind="secret", title="Thông qua Nghị quyết về quy hoạch")
    open_poll(srv, secret["id"])
    close_poll(srv, secret["id"])
    page.locator(f'[data-poll-row="{secret["id"]}"]').get_by_role("button", name="Nhập phiếu giấy").click()
    dialog = page.get_by_role("dialog")
    labels = dialog.locator("label").all_inner_texts()
    assert labels == ["Số phiếu phát ra", "Số phiếu thu vào", "Số phiếu không hợp lệ", "Số phiếu «Đồng ý»",
                      "Số phiếu «Không đồng ý»"], labels
    assert dialog.locator("input[type=number]").count() == 5
    assert _small(page) == []
    page.screenshot(path=shots + "dialog-paper.png")
    for label, value in [("Số phiếu phát ra", "5"), ("Số phiếu thu vào", "5"), ("Số phiếu không hợp lệ", "0"),
                         ("Số phiếu «Đồng ý»", "4"), ("Số phiếu «Không đồng ý»", "1")]:
        dialog.get_by_label(label, exact=True).fill(value)
    dialog.get_by_role("button", name="Lưu số liệu").click()
    dialog.wait_for(state="detached")
    r = api(srv, chair(srv), "GET", f"/polls/{secret['id']}").json()
    keys = [o["key"] for o in r["options"]]
    assert r["paper"]["counts"] == {keys[0]: 4, keys[1]: 1}, r["paper"]
    assert r["paper"]["issued"] == 5 and r["paper"]["returned"] == 5

    # Bế mạc asks first; once ended, nothing offers to open the sitting again, and the projector says so.
    _tab(page, "Điều hành")
    page.get_by_role("button", name="Bế mạc kỳ họp").click()
    dialog = page.get_by_role("dialog")
    assert "Sau khi bế mạc, kỳ họp không thể khai mạc lại" in dialog.inner_text()
    dialog.get_by_role("button", name="Hủy bỏ").click()
    assert page.locator('[data-bind="meeting_status"]').inner_text() == "Đang họp"
    page.get_by_role("button", name="Bế mạc kỳ họp").click()
    page.get_by_role("dialog").get_by_role("button", name="Bế mạc").click()
    page.wait_for_function("() => document.querySelector('[data-bind=meeting_status]').textContent === 'Đã bế mạc'")
    assert page.get_by_role("button", name="Khai mạc kỳ họp").is_hidden()
    assert page.get_by_role("button", name="Bế mạc kỳ họp").is_hidden()
    kiosk.wait_for_function("t => document.querySelector('[data-bind=kiosk_status]').textContent === t",
                            arg="Kỳ họp đã bế mạc")
    kiosk.screenshot(path=shots + "kiosk-ended.png")
    assert kiosk.get_by_text("Kỳ họp đã bế mạc").is_visible()
    assert kiosk.locator('[data-bind="current_item"]').is_hidden()
    assert kiosk.locator("#kiosk-vote").is_hidden()  # the last result no longer covers it
    # The server refuses too, with the reason.
    s = screen(srv, chair(srv))
    try:
        ack = s.call("meeting.set_status", {"status": "in_progress", "below_quorum_ok": True})
    finally:
        s.close()
    assert ack["ok"] is False and ack["code"] == "meeting.ended"
    assert ack["error"] == "Kỳ họp đã bế mạc, không thể khai mạc lại. Muốn họp tiếp, hãy tạo kỳ họp mới."
    assert page.js_errors == [] and kiosk.js_errors == []


def test_the_projector_fits_every_result_and_says_the_outcome_first(live_server: LiveServer, browser: Any) -> None:
    srv = live_server
    shots = "/tmp/chair-kiosk-"
    kiosk = _page(browser, srv, srv.links["kiosk"], PROJECTOR)
    for d in delegates(srv)[:5]:
        join(srv, d["url"])

    # A confidence rating of 20 officials: one screen, nothing cut off.
    officials = [f"Nguyễn Văn Cán Bộ Số {i + 1:02d} — Phó Chủ tịch Ủy ban nhân dân xã" for i in range(20)]
    rating = make_poll(srv, kind="confidence_rating", title="Lấy phiếu tín nhiệm đối với người giữ chức vụ do HĐND "
                       "xã bầu", officials=officials)
    open_poll(srv, rating["id"])
    close_poll(srv, rating["id"])
    kiosk.wait_for_selector(f'#kiosk-vote [data-result="{rating["id"]}"]')
    kiosk.wait_for_timeout(300)
    kiosk.screenshot(path=shots + "rating-20.png")
    assert kiosk.evaluate(OUTSIDE) == []
    assert kiosk.locator("#kiosk-vote .vote-ratings tbody tr").count() == 20
    headline = kiosk.locator("#kiosk-vote .vote-headline")
    assert headline.is_visible() and headline.inner_text().strip()
    kiosk.screenshot(path=shots + "rating-20.png")

    # An election with many candidates: who is elected, first; every candidate on the screen.
    candidates = [f"Trần Thị Ứng Cử Viên {i + 1:02d}" for i in range(16)]
    election = make_poll(srv, kind="election", title="Bầu Ủy viên Ủy ban nhân dân xã", seats=3,
                         candidates=candidates)
    open_poll(srv, election["id"])
    s = screen(srv, delegates(srv)[0]["url"])
    try:
        poll = api(srv, chair(srv), "GET", f"/polls/{election['id']}").json()
        keys = [c["key"] for c in poll["candidates"]][:3]
        ack = s.call("cast", {"poll_id": election["id"], "choice": keys})
        assert ack["ok"] is True, ack
    finally:
        s.close()
    close_poll(srv, election["id"])
    # The counting committee's paper ballots elect three.
    counts = {k: 0 for k in [c["key"] for c in poll["candidates"]]}
    counts.update(zip([c["key"] for c in poll["candidates"]][:3], [22, 20, 18], strict=True))
    r = api(srv, chair(srv), "POST", f"/polls/{election['id']}/paper",
            {"issued": 25, "returned": 25, "invalid": 0, "counts": counts})
    assert r.status_code == 200, r.text
    assert r.json()["headline"] == ("Trúng cử: Trần Thị Ứng Cử Viên 01, Trần Thị Ứng Cử Viên 02, "
                                    "Trần Thị Ứng Cử Viên 03")
    kiosk.wait_for_function("t => (document.querySelector('#kiosk-vote .vote-headline') || {}).textContent === t",
                            arg="Trúng cử: Trần Thị Ứng Cử Viên 01, Trần Thị Ứng Cử Viên 02, Trần Thị Ứng Cử Viên 03")
    kiosk.wait_for_timeout(300)
    assert kiosk.evaluate(OUTSIDE) == []
    assert kiosk.locator("#kiosk-vote .vote-bar-row").count() == 16
    assert kiosk.locator("#kiosk-vote").inner_text().startswith("Trúng cử: Trần Thị Ứng Cử Viên 01")
    kiosk.screenshot(path=shots + "election-16.png")

    # A failed motion: "KHÔNG THÔNG QUA" before its title "Thông qua …", in the viewport.
    motion = make_poll(srv, title="Thông qua Nghị quyết về Kế hoạch đầu tư công năm 2027")
    open_poll(srv, motion["id"])
    close_poll(srv, motion["id"])
    kiosk.wait_for_selector(f'#kiosk-vote [data-result="{motion["id"]}"]')
    text = kiosk.locator("#kiosk-vote").inner_text()
    assert text.startswith("KHÔNG THÔNG QUA") and text.index("KHÔNG THÔNG QUA") < text.index("Thông qua Nghị quyết")
    assert kiosk.evaluate(OUTSIDE) == []
    kiosk.screenshot(path=shots + "rejected.png")
    assert kiosk.js_errors == []
