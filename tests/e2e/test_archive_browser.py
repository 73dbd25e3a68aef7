"""The council's archive in a real browser: the clerk searches the term and numbers a resolution on the laptop
(1366x768); the term's public site, unpacked into a folder, is searched offline by a headless browser opened on
`file://` with every network request refused, as a citizen's computer would open it from the commune's website."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import requests

from tests.conftest import LiveServer
from tests.web.test_archive import build_site, clerk, term  # noqa: F401  (module fixtures: the seeded term)

CLERK_LAPTOP = {"viewport": {"width": 1366, "height": 768}}
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _inside_viewport(page: Any, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    size = page.viewport_size
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= size["height"]


def test_the_clerk_searches_the_term_and_numbers_a_resolution(term: tuple[LiveServer, list[int]],  # noqa: F811
                                                               new_page: Any, tmp_path: Path) -> None:
    srv, ids = term
    page = new_page(CLERK_LAPTOP)
    page.goto(srv.local(srv.links["clerk"]))
    page.goto(srv.url + "/archive/")
    headings = page.locator("h2").all_inner_texts()
    assert "Khóa I, nhiệm kỳ 2026 - 2031" in headings
    rows = page.locator(".archive-table tbody tr td:first-child").all_inner_texts()
    assert [r.split(" (")[0] for r in rows] == ["Kỳ họp thứ Nhất", "Kỳ họp chuyên đề", "Kỳ họp thứ Hai"]
    page.screenshot(path=str(tmp_path / "archive-1366.png"), full_page=True)
    page.fill("#q", "ngan sach")
    page.click("button:has-text('Tìm')")
    results = page.locator("#results")
    assert "Kết quả tìm «ngan sach»" in results.locator("h2").inner_text()
    assert results.get_by_role("link", name="Thông qua Nghị quyết về dự toán ngân sách xã năm 2027").count() == 1
    page.screenshot(path=str(tmp_path / "archive-search-1366.png"))
    page.get_by_role("link", name="Sổ nghị quyết").click()
    article = page.locator("article.resolution").filter(has_text="thực hiện Nghị quyết số 57-NQ/TW")
    article.locator("input[name=number]").fill("12/NQ-HĐND")
    article.locator("input[name=issued_on]").fill("20/09/2026")
    article.get_by_role("button", name="Lưu").click()
    saved = page.locator("article.resolution .flash")
    assert saved.inner_text() == "Đã lưu số và ngày ban hành."
    assert _inside_viewport(page, "article.resolution .flash")  # beside the row, not at the top of the page
    assert page.locator("article.resolution h2").filter(has_text="12/NQ-HĐND").count() == 1
    page.screenshot(path=str(tmp_path / "register-1366.png"))
    # And back to the console the clerk came from.
    page.get_by_role("link", name="← Quay lại kỳ họp").click()
    assert page.url.endswith("/clerk/"), page.url


def test_a_delegate_reads_the_archive_on_a_phone(term: tuple[LiveServer, list[int]], new_page: Any,  # noqa: F811
                                                tmp_path: Path) -> None:
    """The archive is the clerk's laptop first, but a delegate may open it on the phone: nothing wider than the
    screen, each session a card, the search's button in reach."""
    srv, ids = term
    page = new_page(PHONE)
    page.goto(srv.local(srv.links["delegates"][5]["url"]))
    for path in ("/archive/", "/archive/?q=ngan+sach", "/archive/resolutions", f"/archive/sessions/{ids[0]}"):
        page.goto(srv.url + path)
        wide = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert wide[0] <= wide[1], (path, wide)
    page.goto(srv.url + "/archive/")
    minutes = page.locator(".archive-table tbody tr").first.locator("td[data-label='Biên bản']")
    assert minutes.inner_text().strip() == "Đã ký, phiên bản 1"
    label = minutes.evaluate("td => getComputedStyle(td, '::before').content")
    assert label == '"Biên bản: "', label  # each cell says what it is, the table's head being hidden
    button = page.get_by_role("button", name="Tìm").bounding_box()
    assert button is not None and button["x"] + button["width"] <= 360 and button["height"] >= 44
    page.screenshot(path=str(tmp_path / "archive-360.png"), full_page=True)


def test_the_public_site_is_searched_offline(term: tuple[LiveServer, list[int]],  # noqa: F811
                                             clerk: requests.Session, new_page: Any, tmp_path: Path) -> None:  # noqa: F811
    srv, _ids = term
    site = build_site(srv, clerk, tmp_path)
    for profile in (CLERK_LAPTOP, PHONE):
        page = new_page(profile)
        asked: list[str] = []

        def refuse(route: Any, asked: list[str] = asked) -> None:
            asked.append(route.request.url)
            route.abort()

        page.context.route("http://**/*", refuse)
        page.context.route("https://**/*", refuse)
        page.goto((site / "tim-kiem.html").as_uri())
        page.fill("#q", "ngan sach")
        assert page.locator("#so-ket-qua").inner_text().startswith("Tìm thấy")
        hits = page.locator("#ket-qua .hit a").all_inner_texts()
        assert "Thông qua Nghị quyết về dự toán ngân sách xã năm 2027" in hits
        page.fill("#q", "doi moi sang tao")
        links = page.locator("#ket-qua .hit a")
        assert links.count() >= 2
        hrefs = [links.nth(i).get_attribute("href") for i in range(links.count())]
        assert any(h and h.startswith("tai-lieu/") and "#page=" in h for h in hrefs)
        assert page.locator("#ket-qua mark").first.inner_text().lower() == "đổi"
        page.fill("#q", "khong co tu nay xyzzy")
        assert page.locator("#so-ket-qua").inner_text() == "Không tìm thấy kết quả nào."
        # The register and the sessions' pages are plain pages of the folder.
        page.goto((site / "nghi-quyet.html").as_uri())
        assert "Thông qua Nghị quyết về thực hiện Nghị quyết số 57-NQ/TW" in page.locator("main").inner_text()
        # Each resolution with its session's signed minutes where they are signed (the first session's).
        assert page.get_by_role("link", name="Biên bản đã ký").count() == 2
        # Nothing wider than the screen, the phone's included (a page wider than the layout viewport makes a
        # phone's innerWidth grow with it: compare with the layout viewport, clientWidth).
        for name in ("nghi-quyet.html", "index.html", "tim-kiem.html", f"ky-hop-{_ids[0]}.html"):
            page.goto((site / name).as_uri())
            wide = page.evaluate("() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert wide[0] <= wide[1], (name, profile, wide)
        page.goto((site / "nghi-quyet.html").as_uri())
        page.goto((site / "tim-kiem.html").as_uri() + "?q=ke+hoach")
        assert page.locator("#ket-qua .hit").count() > 0
        page.screenshot(path=str(tmp_path / f"site-search-{profile['viewport']['width']}.png"))
        assert asked == []
