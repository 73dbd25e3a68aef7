"""The delegate's phone at 360x740 (issue 21, "Delegate phone"): a vote that opens takes over the screen, even over
the document being read; ballots cannot be sent by mistake; the connection state is unmissable; a sitting not yet
opened or already closed says so; every tap target is at least 44 x 44 px."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer, start_server
from tests.realtime.helpers import Screen
from tests.realtime.voting_kit import api, chair, close_poll, make_poll, open_poll

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
SHOTS = Path("/tmp")

#: Every visible thing a finger taps on the page, smaller than 44 x 44 px. An input inside a label is tapped
#: through its label (a tap anywhere on the label ticks the box), so the label is what is measured for it.
SMALL_TARGETS = """() => {
  const out = [];
  const seen = new Set();
  const sel = 'button, a[href], input:not([type=hidden]), select, textarea, label, summary';
  for (const e of document.querySelectorAll(sel)) {
    const t = e.tagName === 'INPUT' && e.closest('label') ? e.closest('label') : e;
    if (seen.has(t)) continue;
    seen.add(t);
    const r = t.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || getComputedStyle(t).visibility === 'hidden') continue;
    if (t.closest('[hidden]')) continue;
    if (r.width < 44 || r.height < 44) {
      out.push(`${t.tagName.toLowerCase()} "${(t.innerText || t.value || t.getAttribute('aria-label') || '').trim()
        .slice(0, 30)}" ${Math.round(r.width)}x${Math.round(r.height)}`);
    }
  }
  return out;
}"""




@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("phone-browser"))
    server.documents_ready()
    yield server
    server.stop()


@pytest.fixture
def chair_socket(srv: LiveServer) -> Iterator[Screen]:
    s = Screen(srv.url, srv.token(chair(srv)))
    s.first_state = s.wait("state")
    yield s
    s.close()


def plain(srv: LiveServer, i: int) -> dict[str, Any]:
    return [d for d in srv.links["delegates"] if d["role"] == "delegate"][i]


def phone(browser: Any, srv: LiveServer, join_url: str, vibrations: bool = False) -> Any:
    ctx = browser.new_context(**PHONE, locale="vi-VN")
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.js_errors = errors
    # Records what the page asks the phone to vibrate (headless chromium has no motor).
    page.add_init_script("window.__vibrations = []; navigator.vibrate = function (p) {"
                         " window.__vibrations.push(p); return true; };")
    page.goto(srv.local(join_url))
    page.wait_for_selector('[data-bind="connection"]:not(.offline)')
    return page


def small_targets(page: Any) -> list[str]:
    return list(page.evaluate(SMALL_TARGETS))


def open_document(page: Any, n: int = 1) -> None:
    page.locator(".docs-open").first.click()
    page.wait_for_selector("#doc-viewer:not([hidden]) #doc-img[data-page]")
    for _ in range(n - 1):
        page.locator("[data-doc=next]").click()
    page.wait_for_function("n => document.querySelector('#doc-img').getAttribute('data-page') === String(n)", arg=n)


def in_view(page: Any, selector: str) -> bool:
    return bool(page.evaluate(
        "sel => { const r = document.querySelector(sel).getBoundingClientRect();"
        " return r.height > 0 && r.top >= -2 && r.top < innerHeight * 0.6; }", selector))


def test_every_tap_target_is_at_least_44_px(browser: Any, srv: LiveServer) -> None:
    page = phone(browser, srv, plain(srv, 0)["url"])
    assert page.evaluate("innerWidth") == 360
    assert small_targets(page) == []
    open_document(page)  # the reader's own controls, the notes
    assert small_targets(page) == []
    poll = make_poll(srv, kind="election", title="Bầu Ủy viên Thường trực HĐND xã", seats=1,
                     candidates=["Nguyễn Thị Lan", "Trần Văn Minh", "Lò Văn Pếnh"])
    open_poll(srv, poll["id"])
    page.locator("#takeover-go").click()
    page.wait_for_selector("#vote-panel .vote-option")
    assert small_targets(page) == []
    page.screenshot(path=str(SHOTS / "phone-targets.png"), full_page=True)
    # The language switch, the follow box and sign-out (39, 26 and 35 px high before).
    for sel in (".topbar .lang button", "label.docs-follow", ".logout button"):
        box = page.locator(sel).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44, (sel, box)
    api(srv, chair(srv), "POST", f"/polls/{poll['id']}/cancel", {"reason": "Thử"})
    assert page.js_errors == []


def test_a_vote_that_opens_takes_over_the_reader_and_leads_to_the_ballot_and_back(
        browser: Any, srv: LiveServer) -> None:
    page = phone(browser, srv, plain(srv, 1)["url"])
    open_document(page, 2)
    page.locator("#doc-img").scroll_into_view_if_needed()
    assert page.locator("#takeover").is_hidden()

    poll = make_poll(srv, title="Thông qua Nghị quyết về dự toán ngân sách xã năm 2027")
    open_poll(srv, poll["id"])
    sheet = page.locator("#takeover")
    sheet.wait_for(state="visible")
    assert sheet.locator("#takeover-kind").inner_text() == "BIỂU QUYẾT ĐANG MỞ"
    assert sheet.locator("#takeover-title").inner_text() == "Thông qua Nghị quyết về dự toán ngân sách xã năm 2027"
    box = sheet.locator(".takeover-box").bounding_box()
    assert box["width"] >= 359 and box["y"] <= 1  # full width, at the top of the screen, over the document
    assert page.evaluate("window.__vibrations.length") == 1
    page.screenshot(path=str(SHOTS / "phone-vote-takeover.png"))

    page.locator("#takeover-go").click()  # one tap: the ballot
    assert sheet.is_hidden()
    assert in_view(page, "#vote-panel")
    bar = page.locator("#jump-bar")
    assert bar.is_visible()
    bar.get_by_role("button", name="Về tài liệu").click()  # one tap back to page 2 of the document
    assert in_view(page, "#doc-viewer") and page.locator("#doc-img").get_attribute("data-page") == "2"
    page.screenshot(path=str(SHOTS / "phone-back-to-document.png"))
    bar.get_by_role("button", name="Phiếu biểu quyết").click()  # and one tap back to the ballot
    assert in_view(page, "#vote-panel")

    # No preselection: Xác nhận is disabled until a choice is made.
    confirm = page.locator("#vote-panel [data-confirm]")
    assert confirm.is_disabled()
    assert page.locator("[data-bind=vote_confirm_q]").inner_text() == "Hãy chọn một phương án, rồi bấm Xác nhận."
    page.get_by_role("button", name="Tán thành", exact=True).click()
    assert confirm.is_enabled()
    confirm.click()
    recorded = page.locator("[data-bind=vote_recorded]")
    recorded.wait_for()
    assert recorded.inner_text() == "✓ Đã ghi nhận: Tán thành"
    assert page.locator("#vote-panel .vote-option").count() == 0  # the stale ballot and question are gone
    assert page.locator("[data-bind=vote_confirm_q]").count() == 0
    page.screenshot(path=str(SHOTS / "phone-recorded.png"))
    close_poll(srv, poll["id"])
    page.wait_for_selector("#vote-panel .vote-result")
    assert bar.is_hidden()
    assert page.js_errors == []


def test_election_ballot_is_safe(browser: Any, srv: LiveServer) -> None:
    page = phone(browser, srv, plain(srv, 2)["url"])
    poll = make_poll(srv, kind="election", title="Bầu Phó Chủ tịch HĐND xã", seats=1,
                     candidates=["Nguyễn Thị Lan", "Trần Văn Minh"])
    open_poll(srv, poll["id"])
    page.locator("#takeover-go").click()
    panel = page.locator("#vote-panel")
    confirm = panel.locator("[data-confirm]")
    # Nothing is chosen to begin with, and nothing can be sent yet.
    assert panel.locator(".vote-option.chosen").count() == 0
    assert confirm.is_disabled()
    assert "Không chọn ai (phiếu không hợp lệ)" not in panel.inner_text()

    panel.locator("[data-pick=c1]").click()
    assert panel.locator("[data-bind=vote_count]").inner_text() == "Đã chọn 1/1 người"
    panel.locator("[data-pick=c2]").click()  # one name too many: refused, said right there
    over = panel.locator("[data-bind=vote_over]")
    assert over.inner_text() == ("Chỉ được chọn tối đa 1 người. Hãy bỏ chọn một người trước khi chọn người khác.")
    assert panel.locator("[data-pick=c2]").get_attribute("aria-pressed") == "false"
    assert panel.locator("[data-pick=c1]").get_attribute("aria-pressed") == "true"
    over_box, c2_box = over.bounding_box(), panel.locator("[data-pick=c2]").bounding_box()
    assert 0 <= over_box["y"] - (c2_box["y"] + c2_box["height"]) < 40  # right under the refused name
    page.screenshot(path=str(SHOTS / "phone-over-selection.png"))

    # A deliberately blank ballot: chosen explicitly, then confirmed a second time.
    panel.locator("[data-pick=c1]").click()
    assert confirm.is_disabled()
    panel.get_by_role("button", name="Không chọn ai (bỏ phiếu trống)").click()
    assert confirm.is_enabled()
    confirm.click()
    second = panel.locator("[data-bind=vote_second]")
    assert second.inner_text().startswith("Bạn sắp gửi phiếu trống. Phiếu trống được tính là phiếu không hợp lệ.")
    page.screenshot(path=str(SHOTS / "phone-second-confirmation.png"))
    second.get_by_role("button", name="Quay lại sửa phiếu").click()  # nothing was sent
    assert panel.locator("[data-bind=vote_recorded]").count() == 0
    panel.locator("[data-confirm]").click()
    panel.get_by_role("button", name="Đúng, gửi phiếu này").click()
    recorded = panel.locator("[data-bind=vote_recorded]")
    recorded.wait_for()
    assert recorded.inner_text() == "✓ Đã ghi nhận: phiếu trống"

    # A second phone elects a name; the server still counts it and still refuses what is not a candidate.
    other = phone(browser, srv, plain(srv, 3)["url"])
    other.locator("#takeover-go").click()
    other.locator("[data-pick=c2]").click()
    other.locator("#vote-panel [data-confirm]").click()
    assert other.locator("[data-bind=vote_recorded]").inner_text() == "✓ Đã ghi nhận: Trần Văn Minh"
    r = other.evaluate("id => new Promise(ok => Live.socket.emit('cast', {poll_id: id, choice: ['x9']}, ok))",
                       poll["id"])
    assert r["ok"] is False and r["code"] in ("vote.unknown_candidate", "vote.already_voted")
    result = close_poll(srv, poll["id"])
    assert "phiếu không hợp lệ" in " ".join(result["result"]["lines"]).lower() or result["result"]
    assert page.js_errors == [] and other.js_errors == []


def test_confidence_rating_left_partly_blank_asks_again(browser: Any, srv: LiveServer) -> None:
    page = phone(browser, srv, plain(srv, 4)["url"])
    poll = make_poll(srv, kind="confidence_rating", title="Lấy phiếu tín nhiệm",
                     officials=[{"key": "ct", "name": "Chủ tịch UBND xã"}, {"key": "pct", "name": "Phó Chủ tịch"}])
    open_poll(srv, poll["id"])
    page.locator("#takeover-go").click()
    panel = page.locator("#vote-panel")
    assert panel.locator("[data-confirm]").is_disabled()
    panel.locator("[data-rate=ct][data-level=high]").click()
    panel.locator("[data-confirm]").click()
    assert panel.locator("[data-bind=vote_second]").inner_text().startswith("Bạn chưa đánh giá: Phó Chủ tịch.")
    panel.locator("[data-confirm-back]").click()
    panel.locator("[data-rate=pct][data-level=normal]").click()
    panel.locator("[data-confirm]").click()  # every official rated: no second question
    recorded = panel.locator("[data-bind=vote_recorded]")
    recorded.wait_for()
    assert recorded.inner_text() == "✓ Đã ghi nhận: Chủ tịch UBND xã: Tín nhiệm cao; Phó Chủ tịch: Tín nhiệm"
    api(srv, chair(srv), "POST", f"/polls/{poll['id']}/cancel", {"reason": "Thử"})
    assert page.js_errors == []


def test_the_floor_given_takes_over_the_phone(browser: Any, srv: LiveServer, chair_socket: Screen) -> None:
    d = plain(srv, 5)
    page = phone(browser, srv, d["url"])
    agenda = chair_socket.first_state["agenda"]
    assert chair_socket.call("agenda.set_current", {"item_id": agenda[3]["id"]})["ok"] is True
    open_document(page)
    button = page.locator("#speak-panel .speak-button")
    button.click()
    page.locator("[data-speak=status]").filter(has_text="Bạn đứng thứ 1").wait_for()
    queue = chair_socket.wait("speakers", lambda p: any(q["participant_id"] == d["participant_id"]
                                                        for q in p["queue"]))["queue"]
    mine = next(q for q in queue if q["participant_id"] == d["participant_id"])
    assert chair_socket.call("speak.give", {"request_id": mine["request_id"]})["ok"] is True
    sheet = page.locator("#takeover")
    sheet.wait_for(state="visible")
    assert sheet.locator("#takeover-title").inner_text() == "Mời đại biểu phát biểu"
    assert page.evaluate("window.__vibrations.length") == 1
    page.screenshot(path=str(SHOTS / "phone-floor-takeover.png"))
    page.locator("#takeover-go").click()
    assert sheet.is_hidden()
    assert page.locator("[data-speak=status]").inner_text() == "Bạn đang phát biểu"
    assert chair_socket.call("speak.end")["ok"] is True
    assert page.js_errors == []


def test_joining_during_a_presentation_lands_on_the_presented_page(browser: Any, srv: LiveServer,
                                                                  chair_socket: Screen) -> None:
    docs = srv.documents_ready()
    doc = next(d for d in docs if d["status"] == "ready" and d["page_count"] >= 3 and not d.get("confidential"))
    assert chair_socket.call("present", {"document_id": doc["id"], "page": 3})["ok"] is True
    page = phone(browser, srv, plain(srv, 6)["url"])
    page.wait_for_function("() => { const i = document.querySelector('#doc-img');"
                           " return i && i.getAttribute('data-page') === '3' && i.complete && i.naturalWidth > 0; }")
    assert page.locator("#doc-img").get_attribute("data-doc") == str(doc["id"])
    assert "trang 3" in page.locator("#doc-presenting").inner_text()
    assert chair_socket.call("present", {"document_id": None, "page": None})["ok"] is True


def test_sitting_not_opened_then_closed_says_so_and_the_floor_stops(browser: Any, srv: LiveServer,
                                                                    chair_socket: Screen) -> None:
    page = phone(browser, srv, plain(srv, 7)["url"])
    heading = page.locator("[data-bind=current_heading]")
    assert heading.inner_text() == "Kỳ họp chưa khai mạc"  # not "Đang diễn ra" before the opening
    assert "Đang diễn ra" not in page.locator("main").inner_text()
    res = chair_socket.call("meeting.set_status", {"status": "in_progress", "below_quorum_ok": True})
    assert res["ok"] is True, res
    page.wait_for_function("() => document.querySelector('[data-bind=current_heading]').textContent === 'Đang diễn ra'")
    state = chair_socket.wait("state")
    if state["current_item_id"] is None:
        chair_socket.call("agenda.set_current", {"item_id": state["agenda"][0]["id"]})
    page.locator("#speak-panel .speak-button:not([disabled])").wait_for()

    assert chair_socket.call("meeting.set_status", {"status": "ended"})["ok"] is True
    page.wait_for_function(
        "() => document.querySelector('[data-bind=current_heading]').textContent === 'Kỳ họp đã bế mạc'")
    assert page.locator("#speak-panel .speak-button").count() == 0
    assert page.locator("[data-speak=status]").inner_text() == "Kỳ họp đã bế mạc. Không đăng ký phát biểu được nữa."
    assert "Đang diễn ra" not in page.locator("main").inner_text()
    # No form to question anyone either: what it would send is refused (question.meeting_ended).
    page.locator("[data-q=ended]").wait_for()
    assert page.locator("[data-q=ended]").inner_text() == "Kỳ họp đã bế mạc, không gửi chất vấn được nữa."
    assert page.locator("[data-q=form]").count() == 0
    page.screenshot(path=str(SHOTS / "phone-closed.png"), full_page=True)
    # The server refuses the request anyway, with a message the delegate understands.
    r = page.evaluate("() => new Promise(ok => Live.send('speak.request', {}, ok))")
    assert r["ok"] is False and r["error"] == "Kỳ họp đã bế mạc." and r["code"] == "speak.meeting_ended"
    assert page.js_errors == []


def test_offline_banner_and_greyed_actions_until_the_server_is_back(browser: Any, server_factory: Any,
                                                                     tmp_path: Path) -> None:
    srv = server_factory(data_dir=tmp_path / "offline")
    page = phone(browser, srv, plain(srv, 0)["url"])
    poll = make_poll(srv, title="Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    open_poll(srv, poll["id"])
    page.locator("#takeover-go").click()
    page.get_by_role("button", name="Tán thành", exact=True).click()
    assert page.locator("[data-offline-banner]").is_hidden()

    port = srv.port
    srv.stop()
    banner = page.locator("[data-offline-banner]")
    banner.wait_for(state="visible")
    assert banner.inner_text().startswith("Mất kết nối với phòng họp")
    assert banner.bounding_box()["y"] <= 1
    assert page.locator("#vote-panel [data-confirm]").is_disabled()
    assert all(b.is_disabled() for b in page.locator("#vote-panel .vote-option").all())
    assert page.locator("#speak-panel .speak-button").is_disabled()
    page.evaluate("scrollTo(0, document.body.scrollHeight)")  # sticky: still on screen far down the page
    assert banner.bounding_box()["y"] <= 1 or page.evaluate(
        "document.querySelector('[data-offline-banner]').getBoundingClientRect().top") <= 1
    page.evaluate("scrollTo(0, 0)")
    page.screenshot(path=str(SHOTS / "phone-offline.png"))

    server_factory(data_dir=srv.data_dir, port=port)
    banner.wait_for(state="hidden", timeout=30_000)
    page.locator("#vote-panel [data-confirm]:not([disabled])").wait_for()
    page.locator("#vote-panel [data-confirm]").click()
    assert page.locator("[data-bind=vote_recorded]").inner_text() == "✓ Đã ghi nhận: Tán thành"
    assert page.js_errors == []
