"""A delegate's phone asks for the floor, the chair gives it, the projector shows the speaker: three real browsers."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest

from tests.conftest import LiveServer

CHROMIUM = "/usr/bin/chromium"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium is not installed")






def test_delegate_requests_chair_gives_floor_kiosk_shows_speaker(live_server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    srv = live_server
    delegate = next(d for d in srv.links["delegates"] if d["role"] == "delegate")
    phone = browser.new_context(**PHONE, locale="vi-VN").new_page()
    chair = browser.new_context(viewport={"width": 1280, "height": 800}, locale="vi-VN").new_page()
    kiosk = browser.new_context(viewport={"width": 1920, "height": 1080}, locale="vi-VN").new_page()
    chair.goto(srv.local(srv.links["chair"][0]))
    kiosk.goto(srv.local(srv.links["kiosk"]))
    phone.goto(srv.local(delegate["url"]))
    for page in (chair, kiosk, phone):
        expect(page.locator("[data-bind=connection]").first).to_have_text("Đã kết nối")

    # Before any agenda item is under way the button cannot be used, and says why.
    button = phone.locator("#speak-panel .speak-button")
    expect(button).to_be_disabled()
    chair.locator("[data-goto]").nth(3).click()  # "Thảo luận tại hội trường"
    expect(phone.locator("[data-bind=current_item]")).to_contain_text("Thảo luận tại hội trường")

    expect(button).to_have_text("Xin phát biểu")
    button.tap()
    expect(phone.locator("[data-speak=status]")).to_have_text("Bạn đứng thứ 1")
    expect(button).to_have_text("Rút đăng ký")

    chair.get_by_role("tab", name="Phát biểu").click()  # the chair's tablet: the speakers' tab
    queue = chair.locator("[data-speak=queue] li")
    expect(queue).to_have_count(1)
    expect(queue.first).to_contain_text(delegate["name"])
    band = kiosk.locator("#kiosk-speakers")
    expect(band).to_contain_text(delegate["name"])  # as "Tiếp theo: …"

    queue.first.get_by_role("button", name="Mời phát biểu").click()
    expect(band.locator("[data-speak=name]")).to_have_text(delegate["name"])
    clock = band.locator("[data-speak=clock]")
    expect(clock).to_have_text(re.compile(r"^(5:00|4:5\d)$"))
    expect(phone.locator("[data-speak=status]")).to_have_text("Bạn đang phát biểu")
    expect(chair.locator("[data-speak=speaker]")).to_have_text(delegate["name"])
    # The countdown runs on the projector.
    expect(clock).to_have_text(re.compile(r"^4:5[0-8]$"), timeout=4000)
    # The band sits at the bottom of the screen, below where a document is presented.
    box = band.bounding_box()
    assert box is not None and box["y"] + box["height"] >= 1080 - 2 and box["y"] > 1080 / 2

    # The chair puts a document page up: the page takes the screen above the band, and the speaker's name and
    # clock stay in sight (nothing covers them; the idle screen is gone).
    srv.documents_ready()
    chair.get_by_role("tab", name="Tài liệu").click()
    chair.locator("#doc-list [data-open]").first.click()
    chair.locator("[data-doc=present]").click()
    page_img = kiosk.locator("#kiosk-stage img")
    expect(page_img).to_be_visible()
    kiosk.wait_for_function("() => { const i = document.querySelector('#kiosk-stage img');"
                            " return i && i.complete && i.naturalWidth > 0; }")
    expect(kiosk.locator("#kiosk-idle")).to_be_hidden()
    stage, band_box = kiosk.locator("#kiosk-stage").bounding_box(), band.bounding_box()
    assert stage is not None and band_box is not None
    assert stage["y"] + stage["height"] <= band_box["y"] + 1 and stage["height"] > 1080 * 0.7
    for part in ("name", "clock"):
        on_top = kiosk.evaluate(
            "(sel) => { const r = document.querySelector(sel).getBoundingClientRect();"
            " const e = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);"
            " return !!(e && e.closest('#kiosk-speakers')); }", f"#kiosk-speakers [data-speak={part}]")
        assert on_top, f"the speaker's {part} is covered on the projector"
    expect(band.locator("[data-speak=name]")).to_have_text(delegate["name"])

    chair.get_by_role("tab", name="Phát biểu").click()
    chair.get_by_role("button", name="Kết thúc").click()
    expect(band).to_be_hidden()
    expect(phone.locator("#speak-panel .speak-button")).to_have_text("Xin phát biểu")
