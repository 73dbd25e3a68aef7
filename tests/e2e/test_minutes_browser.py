"""The clerk in Debian's chromium (Playwright): edits a summary, sees it in the preview, prepares the minutes; the
secretary and the chair each sign on their own screen with their PIN; the clerk downloads the signed PDF."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pymupdf
import pytest

from meeting_server.minutes.worker import run_job
from tests.conftest import LiveServer, start_server

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SUMMARY = "Các đại biểu đề nghị bổ sung kinh phí cho điểm phục vụ dịch vụ công trực tuyến ở thôn Nà Hán."


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("minutes-browser"))
    yield server
    server.stop()




def test_clerk_edits_sees_preview_signs_and_downloads(browser: Any, srv: LiveServer, tmp_path: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="vi-VN", accept_downloads=True)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("dialog", lambda d: errors.append(f"browser dialog: {d.message}") or d.dismiss())  # in-page dialogs only
    page.goto(srv.local(srv.links["clerk"]))
    page.click('[data-step-link="minutes"]')  # the console's last step
    page.get_by_role("link", name="Soạn và ký biên bản").click()
    page.wait_for_url("**/clerk/minutes")
    # The first preview arrives: A4 page images rendered by the server.
    page.wait_for_selector('[data-minutes="preview"] img', timeout=30000)
    summary = page.get_by_label(
        "Tóm tắt thảo luận — nội dung 3: Tờ trình và dự thảo Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    summary.fill(SUMMARY)
    page.wait_for_function("t => document.querySelector('[data-minutes=\"saved\"]').textContent.startsWith(t)",
                           arg="Đã lưu lúc", timeout=15000)
    # The preview is redrawn with the new text on one of its pages.
    page.wait_for_function("t => Array.from(document.querySelectorAll('[data-minutes=\"preview\"] figcaption'))"
                           ".some(c => c.textContent.includes(t))", arg=SUMMARY, timeout=30000)
    assert page.locator('[data-minutes="preview"] img').count() >= 2
    # Reloading shows the saved text: it was stored, not only typed.
    page.reload()
    assert page.get_by_label("Tóm tắt thảo luận — nội dung 3", exact=False).input_value() == SUMMARY

    srv.documents_ready()  # preparing waits until every document is read in (issue 17, defect 3)
    # The clerk prepares the minutes; signing is the signers' own act (issue #17).
    page.get_by_role("button", name="Chuẩn bị để ký (khóa kỳ họp)").click()
    # Asked first, in the page: the sitting is locked from then on.
    question = page.get_by_role("dialog")
    assert "Từ lúc này kỳ họp bị khóa" in question.inner_text()
    question.get_by_role("button", name="Chuẩn bị để ký", exact=True).click()
    page.wait_for_function("t => document.querySelector('[data-minutes=\"message\"]').textContent.includes(t)",
                           arg="Đã chuẩn bị biên bản phiên bản 1 để ký.", timeout=60000)
    assert page.get_by_label("Tóm tắt thảo luận — nội dung 3", exact=False).is_disabled()
    label = page.locator('#signing-card [data-signing="label"]')
    page.wait_for_function("t => document.querySelector('#signing-card [data-signing=\"label\"]').textContent == t",
                           arg="Chờ thư ký ký", timeout=15000)
    for role, pin in (("secretary", "112233"), ("chair", "445566")):
        sctx = browser.new_context(viewport={"width": 900, "height": 1000}, locale="vi-VN")
        signer = sctx.new_page()
        signer.on("pageerror", lambda e: errors.append(str(e)))
        signer.goto(srv.local(srv.links[role][0]))
        signer.get_by_role("link", name="Mở trang ký biên bản").click()
        signer.wait_for_url("**/sign")
        # The confirmation shows what is signed: version, pages, SHA-256.
        sha = signer.locator('[data-signing="sha256"]').inner_text()
        assert len(sha) == 64 and signer.locator('[data-signing="pages"]').inner_text() != "0"
        signer.get_by_label("Mã PIN mới").fill(pin)
        signer.get_by_label("Nhập lại mã PIN").fill(pin)
        signer.get_by_role("button", name="Đặt mã PIN").click()
        signer.wait_for_selector('[data-signing="new-pin"]', state="hidden", timeout=60000)
        signer.get_by_label("Mã PIN", exact=True).fill(pin)
        signer.get_by_role("button", name="Ký bằng mã PIN").click()
        assert "Hãy đọc biên bản" in signer.locator('[data-signing="error"]').inner_text()  # must tick first
        signer.get_by_label("Tôi đã đọc biên bản và đồng ý ký.").check()
        signer.get_by_role("button", name="Ký bằng mã PIN").click()
        after = "Chờ chủ tọa ký" if role == "secretary" else "Đã ký"
        signer.wait_for_function("t => document.querySelector('[data-signing=\"label\"]').textContent == t",
                                 arg=after, timeout=60000)
        # The clerk's screen is told by Socket.IO.
        page.wait_for_function(
            "t => document.querySelector('#signing-card [data-signing=\"label\"]').textContent == t",
            arg=after, timeout=15000)
        sctx.close()
    assert label.inner_text() == "Đã ký"
    page.reload()
    page.wait_for_selector('[data-minutes="download"]:not([hidden])', timeout=30000)
    with page.expect_download() as dl:
        page.locator('[data-minutes="download"]').click()
    path = tmp_path / "bien-ban.pdf"
    dl.value.save_as(path)
    pdf = path.read_bytes()
    # pyHanko runs its own asyncio loop, which Playwright's sync API already holds here: check in the worker.
    report = run_job("verify", {"pdf": pdf})
    assert report["ok"] and len(report["signatures"]) == 2
    text = " ".join(" ".join(p.get_text().split()) for p in pymupdf.open(stream=pdf))
    assert SUMMARY in text
    assert errors == []
    ctx.close()
