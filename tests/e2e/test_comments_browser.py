"""Comments on drafts in Debian's chromium: a delegate on a phone (360x740) marks a passage by tapping words and
comments, then comments on the whole page; the drafting body answers on its screen; the delegate sees the answer;
the clerk's console shows the counts and the gathered list exports."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, start_server
from tests.web.test_comments_live import add_drafter

pytestmark = pytest.mark.browser

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
CLERK = {"viewport": {"width": 1366, "height": 768}}


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("comments-browser"))
    server.documents_ready()
    yield server
    server.stop()


def open_page(browser: Any, url: str, ctx_args: dict[str, Any]) -> Any:
    ctx = browser.new_context(locale="vi-VN", **ctx_args)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url)
    page.js_errors = errors
    return page


def test_delegate_drafter_and_clerk(browser: Any, srv: LiveServer) -> None:
    delegate = [d["url"] for d in srv.links["delegates"] if d["role"] == "delegate"][0]
    phone = open_page(browser, srv.local(delegate), PHONE)
    phone.wait_for_function("() => window.Live && window.DocView")
    phone.locator("#doc-list [data-open]").first.click()
    phone.wait_for_function("() => document.getElementById('doc-img').complete && "
                            "document.getElementById('doc-img').naturalWidth > 0", timeout=20000)
    assert phone.locator("#cm-panel").is_visible()
    # Every button of the panel is at least 44 px high (a thumb on a phone).
    for sel in ("#cm-mark", "#cm-send-page", "#cm-send-doc", "#cm-send-passage"):
        assert phone.locator(sel).bounding_box()["height"] >= 44, sel
    phone.locator("#cm-mark").tap()
    phone.wait_for_selector("#cm-layer [data-w]", timeout=150000)
    words = phone.locator("#cm-layer [data-w]")
    # A passage by its first and last word: the words between are marked too (not a tap a word).
    words.nth(0).tap()
    words.nth(3).tap()
    assert phone.locator("#cm-layer [data-w].on").count() == 4
    expected = " ".join(words.nth(i).inner_text().strip() for i in range(4))
    quote = phone.locator("#cm-quote").inner_text()
    assert "trang 1" in quote and f"«{expected}»" in quote, (quote, expected)
    # A further tap takes one word off the passage's end, or adds one, as before.
    words.nth(3).tap()
    assert phone.locator("#cm-layer [data-w].on").count() == 3
    phone.locator("#doc-stage").screenshot(path="/tmp/comments-phone-marked.png")
    phone.locator("#cm-text").fill("Đề nghị bổ sung chỉ tiêu cụ thể cho từng thôn.")
    phone.locator("#cm-send-passage").tap()
    phone.wait_for_function("() => document.getElementById('cm-status').textContent === 'Đã gửi góp ý.'")
    phone.wait_for_selector("#cm-list .cm-item.own")
    assert "Chưa trả lời" in phone.locator("#cm-list").inner_text()
    # Without marking anything: the whole page.
    phone.locator("#cm-text").fill("Trang này thiếu căn cứ pháp lý.")
    phone.locator("#cm-send-page").tap()
    phone.wait_for_function("() => document.querySelectorAll('#cm-list .cm-item').length === 2")
    assert "Trang 1 (cả trang)" in phone.locator("#cm-list").inner_text()
    # An empty comment: a Vietnamese message, nothing added.
    phone.locator("#cm-send-doc").tap()
    phone.wait_for_function("() => document.getElementById('cm-status').textContent === 'Hãy viết nội dung góp ý.'")
    assert phone.locator("#cm-list .cm-item").count() == 2
    phone.locator("#cm-panel").screenshot(path="/tmp/comments-phone-panel.png")
    wide = phone.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert wide[0] <= wide[1], wide  # nothing wider than the phone (clientWidth: the layout viewport)

    # The drafting body answers on its own screen.
    drafter = open_page(browser, add_drafter(srv), CLERK)
    assert drafter.url.endswith("/comments")
    first = drafter.locator("article.cm-comment").filter(has_text="chỉ tiêu cụ thể")
    first.locator("input[value=accepted]").check()
    first.locator("textarea").fill("Đã bổ sung chỉ tiêu tại Điều 2.")
    first.locator("button[type=submit]").click()
    drafter.wait_for_selector("text=Đã lưu câu trả lời.")
    second = drafter.locator("article.cm-comment").filter(has_text="căn cứ pháp lý")
    second.locator("input[value=explained]").check()
    second.locator("button[type=submit]").click()
    drafter.wait_for_selector("text=Giải trình hoặc không tiếp thu thì phải ghi rõ nội dung trả lời.")
    drafter.screenshot(path="/tmp/comments-drafter.png", full_page=True)
    with drafter.expect_download() as dl:
        drafter.locator("text=Tải bảng tổng hợp (PDF)").click()
    assert dl.value.suggested_filename == "tong-hop-gop-y.pdf"

    # The delegate sees the answer when reopening the document.
    phone.locator("[data-doc=close]").tap()
    phone.locator("#doc-list [data-open]").first.click()
    phone.wait_for_function("() => document.getElementById('cm-list').textContent.indexOf('Đã bổ sung chỉ tiêu') >= 0",
                            timeout=20000)
    phone.locator("#cm-panel").screenshot(path="/tmp/comments-phone-answer.png")

    clerk = open_page(browser, srv.local(srv.links["clerk"]), CLERK)
    clerk.click('[data-step-link="documents"]')  # the console's step "Tài liệu"
    card = clerk.locator("#comments")
    assert "2 ý kiến góp ý, 1 chưa trả lời." in card.inner_text()
    card.screenshot(path="/tmp/comments-clerk-card.png")
    card.locator("a.button").click()
    clerk.wait_for_selector("article.cm-comment")
    assert clerk.locator("article.cm-comment").count() == 2
    assert drafter.get_by_role("link", name="← Quay lại kỳ họp").count() == 0  # its only page: nowhere to go back
    clerk.get_by_role("link", name="← Quay lại kỳ họp").click()
    clerk.wait_for_url("**/clerk/")
    for p in (phone, drafter, clerk):
        assert not p.js_errors, p.js_errors


def test_a_new_comment_appears_on_the_drafters_page_and_the_clerks_console_without_reloading(
        browser: Any, srv: LiveServer) -> None:
    import requests

    drafter_url = srv.local(srv.links["drafters"][0]["url"]) if srv.links.get("drafters") else add_drafter(srv)
    drafter = open_page(browser, drafter_url, CLERK)
    clerk = open_page(browser, srv.local(srv.links["clerk"]), CLERK)
    clerk.click('[data-step-link="documents"]')
    counts = clerk.locator('#comments [data-cm="counts"]')
    total = drafter.locator("article.cm-comment").count()
    me = srv.bearer([d["url"] for d in srv.links["delegates"] if d["role"] == "delegate"][1])
    doc = srv.documents_ready()[0]

    def post(text: str) -> None:
        r = requests.post(f"{srv.url}/api/v1/documents/{doc['id']}/comments", headers=me, timeout=10,
                          json={"page": None, "text": text})
        assert r.status_code == 201, r.text

    post("Đề nghị làm rõ nguồn kinh phí thực hiện.")
    drafter.wait_for_selector("article.cm-comment >> text=Đề nghị làm rõ nguồn kinh phí thực hiện.", timeout=10000)
    assert drafter.locator("article.cm-comment").count() == total + 1
    clerk.wait_for_function("() => document.querySelector('#comments [data-cm=counts]').textContent"
                            f".indexOf('{total + 1} ý kiến góp ý') === 0", timeout=10000)
    assert counts.inner_text().startswith(f"{total + 1} ý kiến góp ý, ")
    # An answer being written is never replaced: a line says something new came; what was typed stays.
    fresh = drafter.locator("article.cm-comment").filter(has_text="nguồn kinh phí")
    fresh.locator("textarea").fill("Kinh phí từ ngân sách xã.")
    post("Đề nghị bổ sung thời hạn hoàn thành.")
    drafter.wait_for_selector("#cm-new:not([hidden])", timeout=10000)
    assert fresh.locator("textarea").input_value() == "Kinh phí từ ngân sách xã."
    drafter.screenshot(path="/tmp/comments-drafter-live.png", full_page=True)
    for p in (drafter, clerk):
        assert not p.js_errors, p.js_errors
