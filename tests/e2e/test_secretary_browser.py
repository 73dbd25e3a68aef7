"""The session secretary's screen (laptop 1366x768 and tablet 768x1024) and the clerk's roles and readiness check
(1366x768), in Chromium against a real server: what each person sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.realtime.voting_kit import api, clerk, close_poll, delegates, make_poll, open_poll, secretary

pytestmark = pytest.mark.browser

CLERK = {"width": 1366, "height": 768}
SAMPLE = Path("/work/shared/samples/dai-bieu-hdnd-xa.csv")
SAMPLE = SAMPLE if SAMPLE.exists() else Path(__file__).parents[2] / "meeting_server" / "demo" / "dai-bieu-hdnd-xa.csv"


def _page(browser: Any, srv: LiveServer, url: str, viewport: dict[str, int]) -> Any:
    ctx = browser.new_context(viewport=viewport, locale="vi-VN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(srv.local(url))
    page.wait_for_selector('[data-bind="connection"]:not(.offline)')
    return page


def _small_controls(page: Any) -> list[str]:
    """Visible buttons, inputs and selects of the page's main part lower than 44 px."""
    return page.evaluate("""() => Array.from(document.querySelectorAll(
        '.secretary-grid button, .secretary-grid input, .secretary-grid select'))
      .filter(e => e.offsetParent !== null && e.type !== 'hidden')
      .filter(e => e.getBoundingClientRect().height < 44)
      .map(e => (e.outerHTML || '').slice(0, 80))""")


def _wait_status(page: Any, pid: int, text: str) -> None:
    page.wait_for_function("([pid, text]) => { var e = document.querySelector("
                           "'.sec-person[data-participant=\"' + pid + '\"] .sec-status'); "
                           "return e && e.textContent === text; }", arg=[pid, text])


def _wait_message(page: Any, where: str, part: str) -> None:
    page.wait_for_function("([where, part]) => { var e = document.querySelector("
                           "'[data-sec-message=\"' + where + '\"]'); return e && e.textContent.indexOf(part) >= 0; }",
                           arg=[where, part])


def _mark(srv: LiveServer, pid: int, status: str = "present") -> None:
    r = api(srv, clerk(srv), "POST", f"/meetings/{srv.links['meeting_id']}/attendance/{pid}", {"status": status})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("viewport", [{"width": 1366, "height": 768}, {"width": 768, "height": 1024}],
                         ids=["laptop", "tablet"])
def test_secretary_attendance_ballot_and_paper_totals(live_server: LiveServer, browser: Any,
                                                      viewport: dict[str, int]) -> None:
    srv = live_server
    tag = f"{viewport['width']}x{viewport['height']}"
    page = _page(browser, srv, secretary(srv), viewport)
    assert page.url.endswith("/secretary")  # the secretary's card lands on their own screen
    plain = delegates(srv)
    no_phone, recorded_by_me = plain[0], plain[1]

    # Attendance of a delegate without a phone: absent needs a reason, said beside the row.
    row = page.locator(f'.sec-person[data-participant="{no_phone["participant_id"]}"]')
    row.get_by_role("button", name="Ghi vắng").click()
    row.get_by_role("button", name="Lưu vắng mặt").click()
    assert row.locator("[data-sec-message]").inner_text() == "Hãy ghi lý do vắng mặt (ví dụ: ốm, đi công tác)."
    row.locator("input[data-sec-reason]").fill("ốm")
    row.get_by_role("button", name="Lưu vắng mặt").click()
    _wait_status(page, no_phone["participant_id"], "Vắng (ốm)")
    # … then arrived after all: present.
    row.get_by_role("button", name="Ghi có mặt").click()
    _wait_status(page, no_phone["participant_id"], "Có mặt")
    # The secretary marks another present herself: she may not then vote for them (the record's rule).
    page.locator(f'.sec-person[data-participant="{recorded_by_me["participant_id"]}"]').get_by_role(
        "button", name="Ghi có mặt").click()
    _wait_status(page, recorded_by_me["participant_id"], "Có mặt")
    _mark(srv, no_phone["participant_id"])  # the clerk confirms the first one's presence at the desk
    page.screenshot(path=f"/tmp/secretary-attendance-{tag}.png", full_page=False)

    # A ballot recorded for a delegate without a phone (an open vote).
    poll = make_poll(srv, title="Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    open_poll(srv, poll["id"])
    box = page.locator('[data-sec="proxy"]')
    box.locator("h3", has_text="Kế hoạch chuyển đổi số").wait_for()
    box.locator("select").select_option(str(recorded_by_me["participant_id"]))
    box.get_by_role("button", name="Tán thành", exact=True).click()
    box.get_by_role("button", name="Ghi phiếu").click()
    msg = box.locator("[data-sec-message]")
    msg.wait_for()
    assert msg.inner_text().startswith("Người ghi phiếu thay không thể đồng thời là người điểm danh")
    box.locator("select").select_option(str(no_phone["participant_id"]))
    box.get_by_role("button", name="Tán thành", exact=True).click()
    box.get_by_role("button", name="Ghi phiếu").click()
    _wait_message(page, "proxy", "Đã ghi")
    assert msg.inner_text() == f"Đã ghi phiếu «Tán thành» cho {no_phone['name']}."
    page.screenshot(path=f"/tmp/secretary-proxy-{tag}.png", full_page=False)
    result = close_poll(srv, poll["id"])
    row_v = next(v for v in result["voters"] if v["participant_id"] == no_phone["participant_id"])
    assert row_v["choice"] == "for" and row_v["proxy"] is True

    # The counting committee's paper totals of a secret poll, in a form.
    secret = make_poll(srv, kind="secret", title="Bỏ phiếu kín về nhân sự")
    open_poll(srv, secret["id"])
    form = page.locator("form[data-sec-paper]")
    form.wait_for()
    assert form.locator("h3").inner_text() == "Bỏ phiếu kín về nhân sự"
    form.get_by_label("Số phiếu giấy phát ra").fill("40")
    form.get_by_label("Số phiếu giấy thu vào").fill("40")
    form.get_by_label("Số phiếu không hợp lệ").fill("0")
    form.get_by_label("Số phiếu: Đồng ý").fill("40")
    form.get_by_label("Số phiếu: Không đồng ý").fill("0")
    form.get_by_role("button", name="Lưu biên bản kiểm phiếu").click()
    err = page.locator('[data-sec-message="paper"]')
    err.wait_for()
    assert err.inner_text().startswith("Số phiếu phát ra (")
    assert err.inner_text().endswith("và 40 phiếu giấy) nhiều hơn tổng số đại biểu HĐND (30). "
                                     "Hãy kiểm tra lại biên bản kiểm phiếu.")
    assert err.get_attribute("role") == "alert"
    assert api(srv, clerk(srv), "GET", f"/polls/{secret['id']}").json().get("paper") in (None, {})
    # What was typed stays, to correct.
    assert page.locator("form[data-sec-paper]").get_by_label("Số phiếu giấy phát ra").input_value() == "40"
    page.screenshot(path=f"/tmp/secretary-paper-refused-{tag}.png", full_page=False)
    # A letter where a number goes: said before anything is sent.
    form = page.locator("form[data-sec-paper]")
    form.get_by_label("Số phiếu giấy phát ra").fill("")
    form.get_by_role("button", name="Lưu biên bản kiểm phiếu").click()
    _wait_message(page, "paper", "«Số phiếu giấy phát ra»")
    form = page.locator("form[data-sec-paper]")
    form.get_by_label("Số phiếu giấy phát ra").fill("2")
    form.get_by_label("Số phiếu giấy thu vào").fill("2")
    form.get_by_label("Số phiếu: Đồng ý").fill("1")
    form.get_by_label("Số phiếu: Không đồng ý").fill("1")
    form.get_by_role("button", name="Lưu biên bản kiểm phiếu").click()
    _wait_message(page, "paper", "Đã lưu")
    assert err.inner_text() == "Đã lưu số liệu phiếu giấy: phát ra 2, thu vào 2."
    paper = api(srv, clerk(srv), "GET", f"/polls/{secret['id']}").json()
    assert close_poll(srv, secret["id"])["result"]["paper"]["issued"] == 2, paper

    # The minutes' free text, saved as typed.
    opening = page.locator('textarea[data-field="opening"]')
    opening.fill("Kỳ họp khai mạc lúc 8 giờ.")
    page.wait_for_function(
        "() => document.querySelector('[data-minutes=\"saved\"]').textContent.indexOf('Đã lưu') === 0")
    assert _small_controls(page) == []
    assert page.errors == []
    page.screenshot(path=f"/tmp/secretary-{tag}.png", full_page=True)


def test_clerk_sees_the_sample_list_has_no_secretary_and_names_one(live_server: LiveServer, browser: Any) -> None:
    srv = live_server
    page = _page(browser, srv, clerk(srv), CLERK)
    # The list as offices send it (the sample): two chairs, no secretary.
    page.click('[data-step-link="delegates"]')  # the console's step "Đại biểu và vai trò"
    page.locator('#roster input[type="file"]').set_input_files(str(SAMPLE))
    page.get_by_role("button", name="Xem trước").click()
    page.get_by_role("button", name="Xác nhận nhập danh sách").click()
    page.wait_for_selector("#readiness")
    line = page.locator('[data-readiness="sitting"] [data-code="readiness.no_secretary"]')
    assert line.inner_text().startswith("Phải sửa: Chưa có thư ký kỳ họp: hãy đổi vai trò của một đại biểu")
    assert page.locator('[data-readiness="signing"] [data-code="readiness.no_secretary"]').count() == 1
    page.locator("#readiness").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/secretary-readiness-before.png")

    # The role edit: a delegate becomes the session's secretary; their card now opens the secretary's screen.
    srv.refresh_links()
    person = next(d for d in srv.links["delegates"] if d["name"] == "Nông Thị Mai")
    assert person["role"] == "delegate"
    delegate_page = _page(browser, srv, person["url"], {"width": 768, "height": 1024})
    assert delegate_page.url.endswith("/delegate")
    row = page.locator(f'#roles tr[data-participant="{person["participant_id"]}"]')
    row.locator("select").select_option("secretary")
    row.get_by_role("button", name="Đổi vai trò").click()
    page.wait_for_selector("#roles .flash")
    assert "Đã đổi vai trò của Nông Thị Mai: Đại biểu → Thư ký kỳ họp." in page.locator("#roles .flash").inner_text()
    assert page.locator('[data-code="readiness.no_secretary"]').count() == 0
    assert page.locator(f'#roles tr[data-participant="{person["participant_id"]}"] select').input_value() == "secretary"
    # Their open screen is told at once (their own `me`), and their next page is the secretary's.
    delegate_page.wait_for_function(
        "() => document.querySelector('[data-bind=\"me_role\"]').textContent === 'Thư ký kỳ họp'")
    delegate_page.goto(srv.url + "/")
    assert delegate_page.url.endswith("/secretary")
    page.locator("#readiness").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/secretary-readiness-after.png")
    page.locator("#roles").scroll_into_view_if_needed()
    page.screenshot(path="/tmp/secretary-roles.png")
