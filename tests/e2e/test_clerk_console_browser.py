"""The clerk console at 1366x768 in Debian's chromium (Playwright): steps, each message beside its action and on
screen, a refused list explained inside the preview, role changes in a re-import preview, renaming a document, an
upload that ends failed with its reason, and switching between the council's meetings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import SHARED, LiveServer, start_server

pytestmark = pytest.mark.browser

CLERK = {"viewport": {"width": 1366, "height": 768}}
SHOTS = "/tmp/console-"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("clerk-console"))
    yield server
    server.stop()


@pytest.fixture
def clerk(browser: Any, srv: LiveServer) -> Iterator[Any]:
    ctx = browser.new_context(**CLERK, locale="vi-VN")
    page = ctx.new_page()
    page.set_default_timeout(20_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(srv.local(srv.links["clerk"]))
    page.wait_for_function("() => window.Live && document.body.className.indexOf('steps-on') >= 0")
    yield page
    assert errors == []
    ctx.close()


def in_viewport(page: Any, selector: str) -> bool:
    """Whether the element is wholly on screen (below the top, above the bottom of the 768 px window), once the
    page has loaded and settled."""
    page.wait_for_load_state("load")
    page.wait_for_timeout(100)
    return bool(page.evaluate(
        "(sel) => { const e = document.querySelector(sel); if (!e) return false;"
        " const r = e.getBoundingClientRect(); const n = document.querySelector('nav.steps');"
        " const top = n ? n.getBoundingClientRect().bottom : 0;"
        " return r.height > 0 && r.top >= top && r.bottom <= innerHeight; }",
        selector))


def step(page: Any, key: str) -> None:
    page.click(f'nav.steps [data-step-link="{key}"]')
    page.wait_for_selector(f'#step-{key}:not([hidden])')


def test_steps_and_messages_beside_the_action(clerk: Any) -> None:
    page = clerk
    links = page.locator("nav.steps a")
    assert links.count() == 7
    assert [re.sub(r"^\d+\s*", "", links.nth(i).inner_text()) for i in range(7)] == [
        "Kỳ họp", "Chương trình", "Đại biểu và vai trò", "Tài liệu", "Thẻ và màn hình", "Trong phiên họp", "Biên bản"]
    for i in range(7):
        box = links.nth(i).bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
    # Before the sitting the console opens on the first step, and shows only it.
    assert page.locator('nav.steps [aria-current="step"]').inner_text().endswith("Kỳ họp")
    assert page.locator(".step:not([hidden])").count() == 1
    step(page, "agenda")
    assert page.locator('nav.steps [aria-current="step"]').inner_text().endswith("Chương trình")
    page.fill('#agenda-new input[name="title"]', "Thảo luận tổ")
    page.click('#agenda-new button[type="submit"]')
    page.wait_for_selector('[data-said="agenda-new"]')
    said = page.locator('[data-said="agenda-new"]')
    assert said.inner_text() == "Đã thêm nội dung «Thảo luận tổ»."
    assert in_viewport(page, '[data-said="agenda-new"]')
    assert page.locator('nav.steps [aria-current="step"]').inner_text().endswith("Chương trình")
    page.screenshot(path=SHOTS + "agenda-added.png")
    # A refusal comes back beside the same form, on screen, in Vietnamese.
    page.fill('#agenda-new input[name="title"]', "   ")
    page.click('#agenda-new button[type="submit"]')
    page.wait_for_selector('[data-said="agenda-new"].flash-error')
    assert "Hãy nhập tên nội dung" in page.locator('[data-said="agenda-new"]').inner_text()
    assert in_viewport(page, '[data-said="agenda-new"]')
    # Saving an item high in the list: its message sits under that item.
    first = page.locator("ol.agenda-edit > li").first
    item_id = first.get_attribute("id")
    first.locator('button[value="edit"]').click()
    page.wait_for_selector(f'[data-said="{item_id}"]')
    assert page.locator(f'[data-said="{item_id}"]').inner_text() == "Đã lưu."
    assert in_viewport(page, f'[data-said="{item_id}"]')
    # The meeting form, saved: the message beside its buttons, on screen.
    step(page, "meeting")
    page.click('#meeting-form button.primary')
    page.wait_for_selector('[data-said="meeting-form"]')
    assert in_viewport(page, '[data-said="meeting-form"]')
    page.screenshot(path=SHOTS + "meeting-saved.png")


def test_a_bad_list_is_explained_inside_the_preview(clerk: Any, tmp_path: Any) -> None:
    page = clerk
    step(page, "delegates")
    bad = tmp_path / "danh-sach.csv"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    page.set_input_files('#roster input[type="file"]', str(bad))
    page.click('#roster button[type="submit"]')
    page.wait_for_selector('[data-preview="refused"]')
    text = page.locator('[data-preview="refused"]').inner_text()
    assert "Chưa đọc được tệp này. Chưa nhập gì." in text and "tệp nhị phân bị đổi tên" in text
    assert in_viewport(page, '[data-preview="refused"]')
    assert page.locator("text=Xác nhận nhập danh sách").count() == 0
    page.screenshot(path=SHOTS + "preview-refused.png")
    # Not a dead end: another file from the same page; a Windows-1258 CSV with a title row, a new secretary and one
    # delegate fewer: the preview says who changes role and who leaves.
    rows = (SHARED / "samples" / "dai-bieu-hdnd-xa.csv").read_bytes().decode("utf-8-sig").splitlines()
    header, people = rows[0], rows[1:]
    secretary = people[3].split(",")[1]
    people[3] = ",".join([*people[3].split(",")[:4], "Thư ký"])
    leaving = people.pop(-1).split(",")[1]
    from tests.services.test_rosterfile import to_cp1258

    good = tmp_path / "danh-sach-1258.csv"
    good.write_bytes(to_cp1258("\n".join(["DANH SÁCH ĐẠI BIỂU HĐND XÃ,,,,", header, *people]) + "\n"))
    page.set_input_files('#preview-again input[type="file"]', str(good))
    page.click('#preview-again button[type="submit"]')
    page.wait_for_selector('[data-preview="changes"]')
    changes = page.locator('[data-preview="changes"]').inner_text()
    assert f"{secretary}: Đại biểu → Thư ký kỳ họp" in changes
    assert f"{leaving}: bị bỏ khỏi danh sách" in changes
    assert "29 người" in page.locator("p.big").inner_text()
    page.screenshot(path=SHOTS + "preview-changes.png", full_page=False)
    page.click("text=Xác nhận nhập danh sách")
    page.wait_for_selector('[data-said="roster"]')
    assert "29 giữ nguyên" in page.locator('[data-said="roster"]').first.inner_text()
    assert in_viewport(page, '[data-said="roster"]')
    page.screenshot(path=SHOTS + "roster-imported.png")


def test_rename_and_uploads_end_done_or_failed_with_the_reason(clerk: Any) -> None:
    page = clerk
    step(page, "documents")
    page.wait_for_selector("#doc-manage tr[data-document]")
    row = page.locator("#doc-manage tr[data-document]").first
    doc_id = row.get_attribute("data-document")
    row.locator("[data-rename]").click()
    field = page.locator(f'form[data-rename-form="{doc_id}"] input')
    field.fill("Tờ trình về việc thông qua Kế hoạch chuyển đổi số năm 2027")
    page.locator(f'form[data-rename-form="{doc_id}"] button[type="submit"]').click()
    page.wait_for_selector(f'[data-said="doc-{doc_id}"]')
    assert page.locator(f'[data-said="doc-{doc_id}"]').inner_text() == (
        "Đã đổi tên thành «Tờ trình về việc thông qua Kế hoạch chuyển đổi số năm 2027».")
    assert page.locator(f'[data-title="{doc_id}"]').inner_text() == (
        "Tờ trình về việc thông qua Kế hoạch chuyển đổi số năm 2027")
    assert in_viewport(page, f'[data-said="doc-{doc_id}"]')
    # An empty name is refused beside the same form.
    page.locator(f"tr[data-document='{doc_id}'] [data-rename]").click()
    page.locator(f'form[data-rename-form="{doc_id}"] input').fill(" ")
    page.locator(f'form[data-rename-form="{doc_id}"] button[type="submit"]').click()
    page.wait_for_selector(f'[data-said="doc-{doc_id}"].flash-error')
    assert "Hãy nhập tên tài liệu" in page.locator(f'[data-said="doc-{doc_id}"]').inner_text()
    page.locator(f"[data-rename-cancel='{doc_id}']").click()
    # Two uploads: a damaged PDF of the corpus and a real plan; each ends, neither stays "uploading".
    page.set_input_files("#doc-files", [str(SHARED / "samples" / "pdf-corpus" / "REDHAT-1531897-0.pdf"),
                                        str(SHARED / "samples" / "vi" / "ke-hoach-cds-vinh-lai.pdf")])
    page.wait_for_selector('#doc-uploads li[data-upload="failed"]', timeout=60_000)
    page.wait_for_selector('#doc-uploads li[data-upload="done"]', timeout=60_000)
    failed = page.locator('#doc-uploads li[data-upload="failed"]').inner_text()
    assert "REDHAT-1531897-0.pdf" in failed and "Không dùng được: Tệp PDF bị hỏng" in failed
    done = page.locator('#doc-uploads li[data-upload="done"]').inner_text()
    assert "ke-hoach-cds-vinh-lai.pdf" in done and "Xong: sẵn sàng (3 trang)" in done
    assert "Đang tải lên" not in page.locator("#doc-uploads").inner_text()
    page.locator("#doc-uploads").scroll_into_view_if_needed()
    page.screenshot(path=SHOTS + "documents.png")


def test_switch_between_the_councils_meetings(clerk: Any, srv: LiveServer) -> None:
    page = clerk
    first_title = page.locator("#meeting-form input[name=session_title]").input_value()
    page.fill("#meeting-form input[name=session_title]", "Kỳ họp chuyên đề")
    page.click("text=Tạo kỳ họp mới với các thông tin này")
    page.wait_for_selector('[data-said="meetings"]')
    assert "bạn đang ở kỳ họp này" in page.locator('[data-said="meetings"]').inner_text()
    assert in_viewport(page, '[data-said="meetings"]')
    assert page.locator("#meetings li.current").inner_text().startswith("Kỳ họp chuyên đề")
    assert page.locator("#meetings li").count() == 2
    page.screenshot(path=SHOTS + "meetings.png")
    page.locator("#meetings li:not(.current) button").click()
    page.wait_for_selector('[data-said="meetings"]')
    assert page.locator("#meetings li.current").inner_text().startswith(first_title)
    assert page.locator("#meeting-form input[name=session_title]").input_value() == first_title


def test_the_readiness_check_follows_the_room_without_reloading(clerk: Any, srv: LiveServer) -> None:
    """The secretary records the chair absent, then present again, from their own screen (here the API): the clerk's
    readiness check says so and takes it back, on the console as it is open."""
    import requests

    chair = next(d for d in srv.links["delegates"] if d["role"] == "chair")
    step(clerk, "delegates")
    line = clerk.locator('[data-readiness="sitting"] [data-code="readiness.chair_absent"]')
    assert line.count() == 0

    def mark(status: str, **extra: str) -> None:
        r = requests.post(f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/attendance/{chair['participant_id']}",
                          headers=srv.bearer(srv.links["clerk"]), json=dict(status=status, **extra), timeout=10)
        assert r.status_code == 200, r.text

    mark("absent", reason="Đi công tác")
    line.wait_for(state="visible", timeout=10_000)
    assert line.inner_text().startswith(f"Nên xem lại: Chủ tọa {chair['name']} được ghi vắng mặt")
    clerk.locator("#readiness").scroll_into_view_if_needed()
    clerk.screenshot(path="/tmp/clerk-readiness-live.png")
    mark("present")
    line.wait_for(state="detached", timeout=10_000)
