"""The reader, the presenter and the projector in Debian's chromium (Playwright): page sync, "return to the
presented page", and search without diacritics."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import LiveServer, start_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("docs-browser"))
    clerk = {"Authorization": "Bearer " + server.token(server.links["clerk"])}
    docs = requests.get(f"{server.url}/api/v1/meetings/1/documents", headers=clerk, timeout=10).json()["documents"]
    for d in docs:  # the demo PDFs are processed in the background at start
        for _ in range(600):
            if requests.get(f"{server.url}/api/v1/documents/{d['id']}", headers=clerk,
                            timeout=10).json()["status"] != "processing":
                break
            import time

            time.sleep(0.05)
    yield server
    server.stop()




def open_page(browser: Any, srv: LiveServer, join_url: str, viewport: dict[str, int] | None = None) -> Any:
    ctx = browser.new_context(viewport=viewport or {"width": 1280, "height": 800}, locale="vi-VN")
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(srv.local(join_url))
    # A function, not an expression: Playwright polls an expression with eval, which the pages' CSP refuses, and on
    # the phone's page the documents' script comes after the connection (web/statics.py BUNDLES), so it is polled.
    page.wait_for_function("() => window.Live && window.Documents")
    page.js_errors = errors
    return page


def shown(page: Any) -> tuple[int, int]:
    img = page.locator("#doc-img")
    return int(img.get_attribute("data-doc") or 0), int(img.get_attribute("data-page") or 0)


#: Whether an element's top is on screen, in the upper part where the eye is (a smooth scroll may still be moving).
IN_VIEW = ("(sel) => { const r = document.querySelector(sel).getBoundingClientRect();"
           " return r.height > 0 && r.top >= 0 && r.top < innerHeight * 0.5; }")


def wait_shown(page: Any, doc_id: int, n: int, selector: str = "#doc-img") -> None:
    page.wait_for_function(
        "([sel, d, n]) => { var i = document.querySelector(sel); return i && i.getAttribute('data-doc') == String(d)"
        " && i.getAttribute('data-page') == String(n) && i.complete && i.naturalWidth > 0; }",
        arg=[selector, doc_id, n], timeout=15000)


def test_presenter_turns_pages_and_phones_and_projector_follow(browser: Any, srv: LiveServer) -> None:
    delegates = [d for d in srv.links["delegates"] if d["role"] == "delegate"]
    chair = open_page(browser, srv, srv.links["chair"][0])
    phone1 = open_page(browser, srv, delegates[0]["url"], PHONE)
    phone2 = open_page(browser, srv, delegates[1]["url"], PHONE)
    kiosk = open_page(browser, srv, srv.links["kiosk"])
    try:
        # The chair opens the first document of the third agenda item and presents page 1, then page 2.
        chair.get_by_role("tab", name="Tài liệu").click()
        chair.locator("#doc-list [data-open]").first.click()
        doc_id = shown(chair)[0]
        chair.locator("[data-doc=present]").click()
        for p in (phone1, phone2):
            wait_shown(p, doc_id, 1)
            # The reader is far below the agenda on a phone: a follower is taken to the page put up.
            p.wait_for_function(IN_VIEW, arg="#doc-viewer")
        chair.locator("[data-doc=present-next]").click()
        for p in (phone1, phone2):
            wait_shown(p, doc_id, 2)
            assert p.locator("#doc-follow").is_checked()
            assert p.locator("#doc-return").is_hidden()
            assert "Trang 2/" in p.locator("#doc-pageinfo").inner_text()
        wait_shown(kiosk, doc_id, 2, "#kiosk-stage img")
        assert kiosk.locator("#kiosk-idle").is_hidden()
        # The projector's page fills the screen's height or width.
        box = kiosk.locator("#kiosk-stage img").bounding_box()
        assert box["height"] >= 790 or box["width"] >= 1270

        # A delegate browses away; the presenter moves on; "return" lands on the new page.
        phone1.locator("[data-doc=next]").click()
        wait_shown(phone1, doc_id, 3)
        assert not phone1.locator("#doc-follow").is_checked()
        assert phone1.locator("#doc-return").is_visible()
        # While reading, "return" stays on screen (it sticks to the top of the reader's card).
        phone1.wait_for_function(IN_VIEW, arg="#doc-return")
        # Everything a finger taps in the reader is at least 44 px tall.
        small = phone1.evaluate(
            "() => [...document.querySelectorAll('#doc-viewer button, #doc-viewer input, #doc-viewer a, #doc-return')]"
            ".filter(e => e.offsetParent !== null && e.getBoundingClientRect().height < 43.5)"
            ".map(e => e.outerHTML.slice(0, 80))")
        assert small == []
        # Two quick taps on "next", the second before the first one's page has come back: two pages further on
        # every screen that follows (the server moves from the page it stored), not the same page twice.
        chair.evaluate("() => { const b = document.querySelector('[data-doc=present-next]'); b.click(); b.click(); }")
        for p in (chair, phone2):
            wait_shown(p, doc_id, 4)
        wait_shown(kiosk, doc_id, 4, "#kiosk-stage img")
        assert shown(phone1) == (doc_id, 3)  # browsing away is respected
        phone1.evaluate("window.scrollTo(0, 0)")  # the delegate went back up to the agenda
        phone1.locator("#doc-return").click()
        wait_shown(phone1, doc_id, 4)
        phone1.wait_for_function(IN_VIEW, arg="#doc-viewer")
        assert phone1.locator("#doc-follow").is_checked()
        assert phone1.locator("#doc-return").is_hidden()

        # The presenter sees whether the page in front of them is the one the room sees.
        present_button = chair.locator("#doc-present [data-doc=present]")
        assert present_button.is_disabled() and present_button.inner_text() == "✓ Đang trình bày trang này"
        # While on the room's page, the big ▶ under the page turns it for everyone, as a presenter expects, and
        # a line says so; so does the PageDown a presentation clicker sends.
        assert "cả phòng họp" in chair.locator("#doc-live-hint").inner_text()
        chair.locator("[data-doc=next]").click()
        for p in (chair, phone1, phone2):
            wait_shown(p, doc_id, 5)
        chair.locator("#doc-img").click()  # focus on the page, not in a field
        chair.keyboard.press("PageDown")
        for p in (chair, phone2):
            wait_shown(p, doc_id, 6)
        wait_shown(kiosk, doc_id, 6, "#kiosk-stage img")
        # Looking elsewhere privately: the page jump (or a thumbnail) moves only the presenter's own screen.
        chair.locator("#doc-jump-page").fill("2")
        chair.locator("#doc-jump button").click()
        wait_shown(chair, doc_id, 2)
        assert present_button.is_enabled() and present_button.inner_text() == "Trình bày trang này"
        assert chair.locator("#doc-live-hint").is_hidden()
        chair.locator("[data-doc=next]").click()  # off the room's page, ▶ browses privately too
        wait_shown(chair, doc_id, 3)
        wait_shown(phone2, doc_id, 6)  # the room stays where it was
        present_button.click()  # and the presenter puts up what they are looking at
        wait_shown(phone2, doc_id, 3)

        # Back to the idle screen between documents.
        chair.locator("[data-doc=present-stop]").click()
        kiosk.wait_for_selector("#kiosk-idle", state="visible")
        for p in (chair, phone1, phone2, kiosk):
            assert p.js_errors == []
    finally:
        for p in (chair, phone1, phone2, kiosk):
            p.context.close()


def test_search_without_diacritics_in_the_reader(browser: Any, srv: LiveServer) -> None:
    delegate = [d for d in srv.links["delegates"] if d["role"] == "delegate"][2]
    phone = open_page(browser, srv, delegate["url"], PHONE)
    try:
        phone.fill("#doc-search", "chuyen doi so")
        phone.locator("#doc-search-form button").click()
        first = phone.locator("#doc-search-results .docs-snippet mark").first
        first.wait_for(timeout=10000)
        assert first.inner_text().lower() == "chuyển đổi số"
        phone.locator("#doc-search-results [data-hit]").first.click()
        phone.wait_for_function("() => document.querySelector('#doc-img').getAttribute('data-doc')")
        assert not phone.locator("#doc-viewer").is_hidden()
        assert phone.js_errors == []
    finally:
        phone.context.close()


def test_screens_use_signed_urls_and_the_projector_shows_a_confidential_page_put_on_it(browser: Any,
                                                                                       srv: LiveServer) -> None:
    from tests.conftest import SHARED

    clerk = {"Authorization": "Bearer " + srv.token(srv.links["clerk"])}
    pdf = sorted((SHARED / "samples" / "vi").glob("*.pdf"))[0].read_bytes() + b"\n% mat-chieu\n"  # bytes of its own
    r = requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk, data={"confidential": "1"},
                      files={"file": ("mat-chieu.pdf", pdf, "application/pdf")}, timeout=30)
    secret_id = r.json()["id"]
    for _ in range(600):
        if requests.get(f"{srv.url}/api/v1/documents/{secret_id}", headers=clerk,
                        timeout=10).json()["status"] == "ready":
            break
        import time

        time.sleep(0.05)
    chair = open_page(browser, srv, srv.links["chair"][0])
    kiosk = open_page(browser, srv, srv.links["kiosk"])
    try:
        # An ordinary document: the reader asks for the signed, shared URL the server handed out.
        chair.get_by_role("tab", name="Tài liệu").click()
        chair.locator("#doc-list [data-open]").first.click()
        public_id = shown(chair)[0]
        wait_shown(chair, public_id, 1)
        assert (chair.locator("#doc-img").get_attribute("src") or "").startswith(f"/pages/{public_id}/")
        # A confidential one, put on the projector by the chair: the projector's list never held it, so it takes
        # the state's page_route and gets the page drawn for the projector, through the authenticated route.
        chair.locator(f'#doc-list [data-open="{secret_id}"]').click()
        wait_shown(chair, secret_id, 1)
        assert (chair.locator("#doc-img").get_attribute("src") or "").startswith(f"/documents/{secret_id}/pages/1.")
        chair.locator("#doc-projector").check()
        wait_shown(kiosk, secret_id, 1, "#kiosk-stage img")
        src = kiosk.locator("#kiosk-stage img").get_attribute("src") or ""
        assert src.startswith(f"/documents/{secret_id}/pages/1.") and src.endswith("?w=1600")
        chair.locator("[data-doc=present-stop]").click()
        kiosk.wait_for_selector("#kiosk-idle", state="visible")
        for p in (chair, kiosk):
            assert p.js_errors == []
    finally:
        for p in (chair, kiosk):
            p.context.close()
