"""Question time walked in four real browsers: the delegate's phone (360x740) files and follows a question, the
clerk (1366x768) adds the agenda item and files a paper form, the chair (a tablet held flat, 1024x768) orders,
calls and ends the questions, the projector (1920x1080) shows the one on the floor with its clock; the clerk sees
what is owed."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, start_server

CHROMIUM = "/usr/bin/chromium"
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 1024, "height": 768}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True}
PROJECTOR = {"viewport": {"width": 1920, "height": 1080}}
CLERK = {"viewport": {"width": 1366, "height": 768}}
SHOTS = "/tmp/questions-"

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("questions-e2e") / "data")
    yield server
    server.stop()


def _open(browser: Any, profile: dict[str, Any], url: str) -> Any:
    from playwright.sync_api import expect

    page = browser.new_context(**profile, locale="vi-VN").new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda d: d.accept())  # the chair confirms opening below the quorum
    page.goto(url)
    expect(page.locator("[data-bind=connection]").first).to_have_text("Đã kết nối")
    return page


def test_question_time_walked_by_delegate_clerk_chair_and_projector(srv: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    delegates = [d for d in srv.links["delegates"] if d["role"] == "delegate"]
    me, other = delegates[0], delegates[1]
    clerk = _open(browser, CLERK, srv.local(srv.links["clerk"]))
    # The clerk puts question time on the agenda (the console's step "Chương trình").
    clerk.click('[data-step-link="agenda"]')
    clerk.locator("form[action$='/clerk/agenda'] input[name=title]").fill("Chất vấn và trả lời chất vấn")
    clerk.locator("form[action$='/clerk/agenda'] button[type=submit]").click()
    expect(clerk.locator(".agenda-edit input[name=title]").last).to_have_value("Chất vấn và trả lời chất vấn")

    phone = _open(browser, PHONE, srv.local(me["url"]))
    chair = _open(browser, TABLET, srv.local(srv.links["chair"][0]))
    kiosk = _open(browser, PROJECTOR, srv.local(srv.links["kiosk"]))
    clerk.reload()
    expect(clerk.locator("[data-bind=connection]").first).to_have_text("Đã kết nối")

    # The delegate files a question; an empty one is refused in Vietnamese and nothing is filed.
    panel = phone.locator("#question-panel")
    expect(panel).to_be_visible()
    form = panel.locator("[data-q=form]")
    form.locator("[data-q-field=addressee_title]").fill("Chủ tịch UBND xã")
    form.locator("[data-q-field=topic]").fill("Đường liên thôn Đồng Tâm")
    form.get_by_role("button", name="Gửi chất vấn").tap()
    expect(panel.locator("[data-q=error]")).to_have_text("Hãy ghi nội dung câu hỏi chất vấn.")
    expect(panel.locator("[data-q=mine] li")).to_have_count(0)
    form = panel.locator("[data-q=form]")
    expect(form.locator("[data-q-field=topic]")).to_have_value("Đường liên thôn Đồng Tâm")  # kept after the refusal
    form.locator("[data-q-field=text]").fill("Khi nào đường liên thôn Đồng Tâm được sửa xong?")
    form.get_by_role("button", name="Gửi chất vấn").tap()
    mine = panel.locator("[data-q=mine] li")
    expect(mine).to_have_count(1)
    expect(mine.first).to_contain_text("Đường liên thôn Đồng Tâm")
    expect(mine.first.locator("[data-q=state]")).to_have_text("Đang chờ")
    expect(panel.locator("[data-q=error]")).to_have_count(0)
    expect(panel.locator("[data-q=notice]")).to_have_text("Đã gửi câu hỏi chất vấn.")
    expect(form.locator("[data-q-field=topic]")).to_have_value("")
    # Large type and touch targets on the phone.
    for loc in (form.get_by_role("button", name="Gửi chất vấn"), mine.first.get_by_role("button", name="Rút câu hỏi"),
                form.locator("[data-q-field=topic]")):
        box = loc.bounding_box()
        assert box is not None and box["height"] >= 44, box
    size = phone.evaluate("() => parseFloat(getComputedStyle(document.querySelector('[data-q-field=topic]')).fontSize)")
    assert size >= 18
    # clientWidth, the layout viewport: a phone's innerWidth grows with a page wider than the screen.
    no_overflow = phone.evaluate("() => document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    assert no_overflow
    panel.scroll_into_view_if_needed()
    phone.screenshot(path=SHOTS + "phone-filed.png", full_page=True)

    # The clerk files another delegate's paper form (the step "Trong phiên họp"); a refusal is said, nothing filed.
    clerk.click('[data-step-link="sitting"]')
    section = clerk.locator("#questions")
    paper = section.locator("#question-paper-form")
    paper.locator("select[name=participant_id]").select_option(str(other["participant_id"]))
    paper.locator("input[name=addressee_name]").fill("Trần Văn Bình")
    paper.locator("input[name=addressee_title]").fill("Phó Chủ tịch UBND xã")
    paper.locator("input[name=topic]").fill("Nước sạch thôn Bản Chang")
    paper.locator("textarea[name=text]").fill("Bao giờ thôn Bản Chang có nước sạch?")
    paper.get_by_role("button", name="Ghi câu hỏi").click()
    expect(clerk.locator(".flash").first).to_have_text("Đã ghi câu hỏi chất vấn của đại biểu.")
    expect(clerk.locator("[data-q=all] li")).to_have_count(2)
    expect(clerk.locator("[data-q=all] li").last).to_contain_text("phiếu giấy")
    # The phone's "sent" was about its own filing: it goes once the list changes again.
    expect(panel.locator("[data-q=notice]")).to_have_count(0)

    # The chair opens the sitting, moves to question time, orders and calls.
    chair.get_by_role("button", name="Khai mạc kỳ họp").click()
    chair.get_by_role("dialog").get_by_role("button", name="Vẫn khai mạc").click()  # below the quorum: in the page
    expect(chair.locator("[data-bind=meeting_status]")).to_have_text("Đang họp")
    chair.locator("[data-goto]").last.click()
    chair.get_by_role("tab", name="Phát biểu").click()  # question time sits in the chair's speakers tab
    expect(kiosk.locator("[data-bind=current_item]")).to_contain_text("Chất vấn và trả lời chất vấn")
    qpanel = chair.locator("#question-panel")
    waiting = qpanel.locator("[data-q=waiting] li")
    expect(waiting).to_have_count(2)
    expect(waiting.first).to_contain_text("Đường liên thôn Đồng Tâm")
    waiting.first.get_by_role("button", name="Xuống").click()
    expect(waiting.first).to_contain_text("Nước sạch thôn Bản Chang")
    waiting.first.get_by_role("button", name="Mời chất vấn").click()

    # The projector shows the question, the asker, the one answering and the clock.
    kq = kiosk.locator("#kiosk-question")
    expect(kq).to_be_visible()
    expect(kq.locator("[data-q=topic]")).to_have_text("Nước sạch thôn Bản Chang")
    expect(kq.locator("[data-q=asker]")).to_contain_text(other["name"])
    expect(kq.locator("[data-q=addressee]")).to_have_text("Trần Văn Bình — Phó Chủ tịch UBND xã")
    expect(kq.locator("[data-q=phase]")).to_have_text("Đại biểu đặt câu hỏi")
    expect(kq.locator("[data-q=clock]")).to_have_text(re.compile(r"^(3:00|2:5\d)$"))
    expect(kq.locator("[data-q=clock]")).to_have_text(re.compile(r"^2:5[0-8]$"), timeout=4000)
    expect(kiosk.locator("#kiosk-idle")).to_be_hidden()

    # The delegate's phone asks a follow-up from the speakers' queue.
    expect(panel.locator("[data-q=current]")).to_contain_text("Nước sạch thôn Bản Chang")
    panel.get_by_role("button", name="Chất vấn bổ sung").tap()
    expect(phone.locator("[data-speak=status]")).to_have_text("Bạn đứng thứ 1")
    expect(chair.locator("[data-speak=queue] li")).to_contain_text(me["name"])
    # Asked once: the phone says where it stands instead of offering the buttons again.
    expect(panel.locator("[data-q=queued]")).to_have_text(
        "Bạn đã đăng ký chất vấn bổ sung: thứ 1 trong danh sách phát biểu.")
    expect(panel.get_by_role("button", name="Chất vấn bổ sung")).to_have_count(0)
    # The chair reads the name on one or two lines, not a word a line beside the buttons (the tablet's columns).
    who = chair.locator("[data-speak=queue] li .speak-who").first.bounding_box()
    assert who is not None and who["width"] >= 150 and who["height"] <= 80, who

    qpanel.get_by_role("button", name="Mời trả lời").click()
    expect(kq.locator("[data-q=phase]")).to_have_text("Đang trả lời")
    expect(kq.locator("[data-q=clock]")).to_have_text(re.compile(r"^(5:00|4:5\d)$"))
    kiosk.screenshot(path=SHOTS + "projector.png")
    chair.screenshot(path=SHOTS + "chair-called.png", full_page=True)

    # Ended as to be answered in writing (the default due date): off the projector, on the clerk's owed list.
    qpanel.locator("[data-q=current]").get_by_role("button", name="Trả lời bằng văn bản").click()
    expect(kq).to_be_hidden()
    expect(kiosk.locator("#kiosk-idle")).to_be_visible()
    expect(phone.locator("[data-speak=status]")).not_to_have_text("Bạn đứng thứ 1")  # the follow-up left with it
    owed = clerk.locator("[data-q=owed] tbody tr")
    expect(owed).to_have_count(1)
    expect(owed.first).to_contain_text("Nước sạch thôn Bản Chang")
    expect(owed.first).to_contain_text(other["name"])
    expect(owed.first).to_contain_text(re.compile(r"\d\d/\d\d/\d{4}"))

    # The delegate's own question: called, answered in the hall; the phone says so.
    waiting.first.get_by_role("button", name="Mời chất vấn").click()
    expect(panel.locator("[data-q=current]")).to_contain_text("Đường liên thôn Đồng Tâm")
    expect(panel.get_by_role("button", name="Chất vấn bổ sung")).to_have_count(0)  # not to oneself
    expect(mine.first.locator("[data-q=state]")).to_have_text("Đang chất vấn")
    qpanel.locator("[data-q=current]").get_by_role("button", name="Đã trả lời").click()
    expect(mine.first.locator("[data-q=state]")).to_have_text("Đã trả lời tại hội trường")
    expect(qpanel.locator("[data-q=ended] li")).to_have_count(2)
    phone.screenshot(path=SHOTS + "phone-answered.png", full_page=True)
    chair.screenshot(path=SHOTS + "chair-ended.png", full_page=True)

    # A refusal on the chair's console changes nothing: ending an ended question is said, in Vietnamese.
    res = chair.evaluate("""() => new Promise(r => Live.send('question.end',
        {question_id: Live.state().questions.questions[0].id, outcome: 'withdrawn'}, r))""")
    assert res["ok"] is False and res["error"] == "Câu hỏi này đã kết thúc."

    # The clerk records the written answer: nothing is owed any more.
    section.scroll_into_view_if_needed()
    clerk.screenshot(path=SHOTS + "clerk-owed.png", full_page=False)
    owed.first.get_by_role("button", name="Đã nhận trả lời").click()
    expect(clerk.locator(".flash").first).to_have_text("Đã ghi nhận trả lời bằng văn bản.")
    expect(clerk.locator("[data-q=owed] tbody tr")).to_have_count(0)
    expect(clerk.locator("[data-q=owed-none]")).to_be_visible()
