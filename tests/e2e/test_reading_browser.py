"""Reading mode on a 360 px phone in Debian's chromium (Playwright): the presented page's text in large type,
reflowed without sideways scrolling, following the presenter's page turns, and back to the page image."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, start_server
from tests.e2e.test_documents_browser import open_page, shown, wait_shown

pytestmark = pytest.mark.browser

PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("reading-browser"))
    server.documents_ready()  # the demo PDFs are processed in the background at start
    yield server
    server.stop()


def wait_text(page: Any, doc_id: int, n: int) -> None:
    page.wait_for_function(
        "([d, n]) => { var t = document.querySelector('#doc-text'); return t && !t.hidden"
        " && t.getAttribute('data-doc') == String(d) && t.getAttribute('data-page') == String(n)"
        " && t.querySelector('p, h3'); }", arg=[doc_id, n], timeout=15000)


def test_reading_mode_on_a_phone_follows_the_presenter_in_large_type(browser: Any, srv: LiveServer) -> None:
    delegate = next(d for d in srv.links["delegates"] if d["role"] == "delegate")
    chair = open_page(browser, srv, srv.links["chair"][0])
    phone = open_page(browser, srv, delegate["url"], PHONE)
    try:
        chair.get_by_role("tab", name="Tài liệu").click()  # the chair's tablet keeps documents in a tab
        chair.locator("#doc-list [data-open]").first.click()
        doc_id = shown(chair)[0]
        chair.locator("[data-doc=present]").click()
        wait_shown(phone, doc_id, 1)

        toggle = phone.locator("#doc-read")
        assert toggle.inner_text().strip() == "Chế độ đọc"
        box = toggle.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 44
        toggle.click()
        wait_text(phone, doc_id, 1)
        assert phone.locator("#doc-stage").is_hidden()
        assert toggle.inner_text().strip() == "Xem ảnh trang"
        assert toggle.get_attribute("aria-pressed") == "true"
        assert phone.locator("[data-doc=zoom-in]").is_hidden() and phone.locator("#doc-fit").is_hidden()
        # Headings and paragraphs, in the phone's large type, and nothing wider than the screen.
        sizes = phone.evaluate(
            "() => [...document.querySelectorAll('#doc-text p, #doc-text h3')]"
            ".map(e => parseFloat(getComputedStyle(e).fontSize))")
        assert sizes and min(sizes) >= 18, sizes
        assert phone.locator("#doc-text h3").count() >= 1 and phone.locator("#doc-text p").count() >= 3
        assert "Hội đồng nhân dân" in phone.locator("#doc-text").inner_text()
        no_sideways = "() => document.documentElement.scrollWidth <= window.innerWidth"
        assert phone.evaluate(no_sideways)
        phone.evaluate("document.querySelector('#doc-viewer').scrollIntoView({block: 'start'})")
        phone.screenshot(path="/tmp/reader-phone-reading-top.png")
        phone.evaluate("window.scrollBy(0, document.querySelector('#doc-text').getBoundingClientRect().bottom - 400)")
        phone.screenshot(path="/tmp/reader-phone-reading.png")

        # The presenter turns the page: the text follows.
        chair.locator("[data-doc=present-next]").click()
        wait_text(phone, doc_id, 2)
        assert "Trang 2/" in phone.locator("#doc-pageinfo").inner_text()
        # The reader was down in page 1's text: page 2 starts at its top, on screen.
        top = phone.evaluate("() => document.querySelector('#doc-text').getBoundingClientRect().top")
        assert 0 <= top < 740 * 0.5, top
        assert phone.evaluate(no_sideways)
        phone.screenshot(path="/tmp/reader-phone-reading-p2.png")
        # Every tap target of the reader is still at least 44 px tall.
        small = phone.evaluate(
            "() => [...document.querySelectorAll('#doc-viewer button, #doc-viewer input, #doc-viewer a')]"
            ".filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 43.5)"
            ".map(e => e.outerHTML.slice(0, 80))")
        assert small == []

        # Back to the page image, on the presented page.
        toggle.click()
        wait_shown(phone, doc_id, 2)
        assert phone.locator("#doc-text").is_hidden() and toggle.inner_text().strip() == "Chế độ đọc"
        assert phone.locator("[data-doc=zoom-in]").is_visible()
        assert phone.js_errors == [] and chair.js_errors == []
        chair.locator("[data-doc=present-stop]").click()
    finally:
        chair.context.close()
        phone.context.close()
