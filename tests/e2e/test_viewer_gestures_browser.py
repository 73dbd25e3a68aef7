"""The delegate's page viewer on a phone in Debian's chromium (Playwright, touch emulation): thumbnails, page jump,
swipes and pinch-zoom made of real touch events (CDP Input.dispatchTouchEvent), prefetch of the neighbouring pages,
and how swiping ends "follow the presenter"."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from tests.conftest import LiveServer, start_server
from tests.e2e.conftest import DESKTOP, PHONE, TABLET

pytestmark = pytest.mark.browser

# Where the finger can land on the page image, in the CSS pixels of the visual viewport (the coordinates CDP touch
# events take): the part of #doc-stage that is on screen, whether or not the page is pinch-zoomed.
AIM_JS = """() => {
  var r = document.getElementById('doc-stage').getBoundingClientRect(), v = window.visualViewport;
  var l = Math.max(r.left, v.offsetLeft), rt = Math.min(r.right, v.offsetLeft + v.width);
  var t = Math.max(r.top, v.offsetTop), b = Math.min(r.bottom, v.offsetTop + v.height);
  return [l - v.offsetLeft, rt - v.offsetLeft, (t + b) / 2 - v.offsetTop];
}"""
SHOWN_JS = """([d, n]) => { var i = document.getElementById('doc-img');
  return i.getAttribute('data-doc') == String(d) && i.getAttribute('data-page') == String(n)
    && i.complete && i.naturalWidth > 0 && !i.hasAttribute('data-loading'); }"""

SETTLED_JS = """() => new Promise(function (done) {
  function where() { var v = window.visualViewport;
    return [window.scrollX, window.scrollY, v.scale, v.offsetLeft, v.offsetTop].join(); }
  var before = where();
  requestAnimationFrame(function () { requestAnimationFrame(function () {
    setTimeout(function () { done(where() === before); }, 50); }); });
})"""


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("viewer-gestures"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def long_doc(srv: LiveServer) -> dict[str, Any]:
    """A demo document of at least five pages, once the background processing at start has made it ready."""
    clerk = {"Authorization": "Bearer " + srv.token(srv.links["clerk"])}
    deadline = time.monotonic() + 30
    while True:
        docs = requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=clerk, timeout=10).json()["documents"]
        ready = [d for d in docs if d["status"] == "ready" and d["page_count"] >= 5]
        if ready or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    assert ready, docs
    return ready[0]


def page_re(doc: dict[str, Any], page: int | str, width: int | str = r"\d+") -> str:
    """A pattern for the image URL of a page, from the `page_url` the server handed out (signed for an ordinary
    document): any format, `width` a number or a pattern."""
    return (re.escape(doc["page_url"]).replace(r"\{page\}", str(page)).replace(r"\{width\}", str(width))
            .replace(r"\{fmt\}", "(webp|jpeg)"))


class Phone:
    """A delegate's phone: the page, its CDP session for touch input, and the page images it asked for."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.cdp = page.context.new_cdp_session(page)
        self.errors: list[str] = []
        self.requested: list[str] = []
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        page.on("request", lambda r: "/pages/" in r.url and self.requested.append(r.url))
        # Where each touch landed, for the message of a gesture that did nothing.
        page.evaluate("""() => { window.__touches = [];
          ['touchstart', 'touchend'].forEach(function (k) { document.addEventListener(k, function (e) {
            var t = e.changedTouches[0], s = document.getElementById('doc-stage').getBoundingClientRect();
            window.__touches.push([k, t.clientX, t.clientY, e.target.id || e.target.tagName, Math.round(s.top),
                                   Math.round(s.bottom), window.scrollY]); }, true); }); }""")

    def open(self, doc_id: int) -> None:
        self.page.locator(f'#doc-list [data-open="{doc_id}"]').tap()
        self.wait_shown(doc_id, 1)
        # Opening scrolls the reader into view smoothly, and the image can be shown before that scroll ends; the
        # instant scroll below does not cancel it. Measured with the CPU throttled 1-12×: the page went on moving
        # 16-75 px after this method returned. A finger aimed while the page moves can land beside the page image:
        # in a CI run on 2026-11-24 a swipe turned nothing, and the page stood 344 px below where it is centred.
        self.settle()
        self.page.evaluate("document.getElementById('doc-stage').scrollIntoView({block: 'center'})")
        self.settle()

    def wait_shown(self, doc_id: int, n: int) -> None:
        try:
            self.page.wait_for_function(SHOWN_JS, arg=[doc_id, n], timeout=10_000)
        except PlaywrightTimeoutError:
            # Say what the phone showed instead (a swipe that did not turn, or an image that did not load): a rare
            # failure of a swipe in one CI run on 2026-11-24 left nothing else to go on.
            img = self.page.evaluate("""() => { var i = document.getElementById('doc-img');
              return {doc: i.getAttribute('data-doc'), page: i.getAttribute('data-page'), src: i.getAttribute('src'),
                      complete: i.complete, naturalWidth: i.naturalWidth, loading: i.hasAttribute('data-loading'),
                      view: window.Documents && window.Documents.view(), scale: visualViewport.scale,
                      scrollY: window.scrollY}; }""")
            raise AssertionError(f"page {n} of document {doc_id} not shown within 10 s: {img}; "
                                 f"page images asked for: {self.requested[-6:]}; errors: {self.errors}; touches "
                                 f"(kind, x, y, target, stage top, stage bottom, scrollY): "
                                 f"{self.page.evaluate('window.__touches.slice(-4)')}") from None

    def shown_page(self) -> int:
        return int(self.page.locator("#doc-img").get_attribute("data-page") or 0)

    def info(self) -> str:
        return self.page.locator("#doc-pageinfo").inner_text()

    def scale(self) -> float:
        return float(self.page.evaluate("window.visualViewport.scale"))

    def touch(self, kind: str, points: list[tuple[float, float]]) -> None:
        self.cdp.send("Input.dispatchTouchEvent", {
            "type": kind, "touchPoints": [{"x": x, "y": y, "id": i} for i, (x, y) in enumerate(points)]})

    def swipe(self, start: float, end: float, steps: int = 10) -> None:
        """One finger across the page image, from `start` to `end` as fractions of its visible width. The finger
        rests at the end before lifting, so the browser starts no fling that would keep moving the page."""
        left, right, y = self.page.evaluate(AIM_JS)
        assert right - left > 40, "the page image is not on screen"
        x0, x1 = left + (right - left) * start, left + (right - left) * end
        self.touch("touchStart", [(x0, y)])
        for k in range(1, steps + 1):
            self.touch("touchMove", [(x0 + (x1 - x0) * k / steps, y)])
        time.sleep(0.12)
        self.touch("touchMove", [(x1, y)])
        self.touch("touchEnd", [])
        self.settle()

    def pinch(self, d0: float, d1: float, steps: int = 10) -> None:
        """Two fingers on the page image's centre, from `d0` to `d1` CSS px either side of it."""
        left, right, y = self.page.evaluate(AIM_JS)
        cx = (left + right) / 2
        self.touch("touchStart", [(cx - d0, y), (cx + d0, y)])
        for k in range(1, steps + 1):
            d = d0 + (d1 - d0) * k / steps
            self.touch("touchMove", [(cx - d, y), (cx + d, y)])
        self.touch("touchEnd", [])
        self.settle()

    def settle(self) -> None:
        """Wait until the page and the visual viewport stop moving (the end of a smooth scroll or of a gesture's
        animation): the same position before and after two painted frames and 50 ms, so a browser slowed down by a
        loaded machine cannot pass for one at rest."""
        for _ in range(40):
            if self.page.evaluate(SETTLED_JS):
                return


@pytest.fixture
def phone(srv: LiveServer, new_page: Any) -> Phone:
    """A delegate's phone (390×844, touch) on the delegate page."""
    page = new_page(PHONE)
    delegate = [d for d in srv.links["delegates"] if d["role"] == "delegate"][0]
    page.goto(srv.local(delegate["url"]))
    page.wait_for_function("() => window.Live && window.Documents")
    return Phone(page)


def test_tapping_a_thumbnail_shows_that_page(phone: Phone, long_doc: dict[str, Any]) -> None:
    phone.open(long_doc["id"])
    phone.page.locator("[data-doc=thumbs]").tap()
    thumbs = phone.page.locator("#doc-thumbs [data-thumb]")
    assert phone.page.locator("#doc-thumbs").is_visible()
    assert thumbs.count() == long_doc["page_count"]
    thumbs.nth(3).scroll_into_view_if_needed()
    thumbs.nth(3).tap()
    phone.wait_shown(long_doc["id"], 4)
    assert phone.info() == f"Trang 4/{long_doc['page_count']}"
    assert re.search(page_re(long_doc, 4), phone.page.locator("#doc-img").get_attribute("src") or "")
    assert phone.page.evaluate("window.Documents.view().follow") is False
    assert phone.errors == []


def test_page_jump_goes_to_the_page_and_refuses_pages_out_of_range(phone: Phone, long_doc: dict[str, Any]) -> None:
    count = long_doc["page_count"]
    phone.open(long_doc["id"])
    box = phone.page.locator("#doc-jump-page")
    box.fill("3")
    phone.page.locator("#doc-jump button[type=submit]").tap()
    phone.wait_shown(long_doc["id"], 3)
    assert phone.info() == f"Trang 3/{count}"
    assert re.search(page_re(long_doc, 3), phone.page.locator("#doc-img").get_attribute("src") or "")

    # Past the last page or before the first: the browser refuses the form (the field says max = page count),
    # the delegate stays on page 3.
    for bad, flaw in ((str(count + 90), "rangeOverflow"), ("0", "rangeUnderflow")):
        box.fill(bad)
        box.press("Enter")
        phone.page.locator("#doc-jump button[type=submit]").tap()
        assert box.evaluate(f"e => e.validity.{flaw}") is True
        assert box.evaluate("e => e.validationMessage") != ""
        time.sleep(0.2)
        assert phone.shown_page() == 3
        assert phone.info() == f"Trang 3/{count}"
    assert phone.errors == []


def test_swipes_turn_pages_and_stay_in_the_meeting(phone: Phone, long_doc: dict[str, Any]) -> None:
    doc = long_doc["id"]
    phone.open(doc)
    url = phone.page.url
    phone.swipe(0.85, 0.15)  # finger to the left: the next page
    phone.wait_shown(doc, 2)
    phone.swipe(0.85, 0.15)
    phone.wait_shown(doc, 3)
    assert phone.info() == f"Trang 3/{long_doc['page_count']}"
    phone.swipe(0.15, 0.85)  # finger to the right: the previous page
    phone.wait_shown(doc, 2)
    phone.swipe(0.15, 0.85)
    phone.wait_shown(doc, 1)
    phone.swipe(0.15, 0.85)  # nothing before page 1
    time.sleep(0.3)
    # A sideways swipe is not the browser's "back": the delegate is still on the meeting page, on page 1.
    assert phone.page.url == url
    assert phone.page.evaluate("!!window.Documents")
    assert phone.shown_page() == 1
    assert phone.info() == f"Trang 1/{long_doc['page_count']}"
    # A short movement (under 60 px) is not a swipe.
    phone.swipe(0.6, 0.45)
    time.sleep(0.3)
    assert phone.shown_page() == 1
    assert phone.errors == []


def test_pinch_zoomed_the_finger_pans_and_never_turns_the_page(phone: Phone, long_doc: dict[str, Any]) -> None:
    doc = long_doc["id"]
    phone.open(doc)
    phone.swipe(0.85, 0.15)
    phone.wait_shown(doc, 2)

    phone.pinch(20, 120)  # two fingers spread apart: the browser's own zoom (the page keeps it native)
    assert phone.scale() > 1.5
    assert phone.shown_page() == 2
    phone.page.evaluate("document.getElementById('doc-stage').scrollIntoView({block: 'center', inline: 'center'})")
    phone.settle()
    # The finger pans the zoomed page to its right edge, then keeps pushing: the page stays.
    for _ in range(8):
        before = phone.page.evaluate("visualViewport.offsetLeft")
        phone.swipe(0.9, 0.1)
        if phone.page.evaluate("visualViewport.offsetLeft") == before:
            break
    at_edge = phone.page.evaluate("visualViewport.offsetLeft + visualViewport.width")
    assert at_edge == pytest.approx(phone.page.evaluate("document.documentElement.clientWidth"), abs=1)
    phone.swipe(0.95, 0.05)
    phone.swipe(0.05, 0.95)
    time.sleep(0.3)
    assert phone.shown_page() == 2
    assert phone.info() == f"Trang 2/{long_doc['page_count']}"

    phone.pinch(120, 10)  # fingers together: back to the whole page, and a swipe turns pages again
    phone.pinch(120, 10)
    assert phone.scale() == pytest.approx(1.0, abs=0.01)
    phone.page.evaluate("document.getElementById('doc-stage').scrollIntoView({block: 'center'})")
    phone.swipe(0.85, 0.15)
    phone.wait_shown(doc, 3)
    assert phone.errors == []


def test_zoom_buttons_enlarge_the_page_and_stop_swipes_until_zoomed_out(phone: Phone,
                                                                         long_doc: dict[str, Any]) -> None:
    doc = long_doc["id"]
    phone.open(doc)
    stage_width = phone.page.locator("#doc-stage").evaluate("e => e.clientWidth")
    phone.page.locator("[data-doc=zoom-in]").tap()
    img = phone.page.locator("#doc-img")
    assert img.evaluate("e => e.style.width") == "150%"
    assert img.evaluate("e => e.getBoundingClientRect().width") > 1.4 * stage_width
    assert re.search(page_re(long_doc, 1, 1600), img.get_attribute("src") or "")  # the sharper rendering
    phone.wait_shown(doc, 1)
    phone.page.evaluate("document.getElementById('doc-stage').scrollIntoView({block: 'center'})")
    phone.swipe(0.85, 0.15)  # pans the enlarged page inside its box
    time.sleep(0.3)
    assert phone.shown_page() == 1
    assert phone.page.locator("#doc-stage").evaluate("e => e.scrollLeft") > 0
    phone.page.locator("[data-doc=zoom-out]").tap()
    assert img.evaluate("e => e.style.width") == "100%"
    phone.page.evaluate("document.getElementById('doc-stage').scrollIntoView({block: 'center'})")
    phone.swipe(0.85, 0.15)
    phone.wait_shown(doc, 2)
    assert phone.errors == []


GEOMETRY_JS = """() => { var s = document.getElementById('doc-stage'), i = document.getElementById('doc-img');
  var r = s.getBoundingClientRect(), q = i.getBoundingClientRect();
  return {stageW: s.clientWidth, stageH: s.clientHeight, scrollH: s.scrollHeight, w: q.width, h: q.height,
          top: q.top - r.top, bottom: q.bottom - r.top, left: q.left - r.left, right: q.right - r.left}; }"""


def test_whole_page_on_a_landscape_tablet_is_kept_and_zooms_from_there(srv: LiveServer, new_page: Any,
                                                                     long_doc: dict[str, Any]) -> None:
    doc = long_doc["id"]
    delegate = [d for d in srv.links["delegates"] if d["role"] == "delegate"][1]
    tablet = Phone(new_page(TABLET))
    tablet.page.goto(srv.local(delegate["url"]))
    tablet.page.wait_for_function("() => window.Live && window.Documents")
    tablet.open(doc)
    fit = tablet.page.locator("#doc-fit")
    assert fit.inner_text() == "Cả trang"
    assert fit.get_attribute("aria-pressed") == "false"
    # Fitted to the width, an A4 page is taller than the reader's box: its lower part is below the fold.
    g = tablet.page.evaluate(GEOMETRY_JS)
    assert g["w"] == pytest.approx(g["stageW"], abs=1)
    assert g["h"] > 1.8 * g["stageH"]
    assert g["scrollH"] > g["stageH"] + 100

    fit.tap()
    assert fit.get_attribute("aria-pressed") == "true"
    g = tablet.page.evaluate(GEOMETRY_JS)
    # The whole page inside the box, as tall as the box, centred, and nothing left to scroll to.
    assert g["top"] >= -1 and g["bottom"] <= g["stageH"] + 1
    assert g["h"] == pytest.approx(g["stageH"], abs=2)
    assert g["w"] < 0.6 * g["stageW"]
    assert g["left"] == pytest.approx(g["stageW"] - g["right"], abs=2)
    assert g["scrollH"] <= g["stageH"] + 1
    whole = g["w"]

    # Page turns keep the whole page; + enlarges it from there, − brings it back.
    tablet.page.keyboard.press("ArrowRight")
    tablet.wait_shown(doc, 2)
    assert tablet.page.evaluate(GEOMETRY_JS)["w"] == pytest.approx(whole, abs=2)
    tablet.page.locator("[data-doc=zoom-in]").tap()
    assert tablet.page.evaluate(GEOMETRY_JS)["w"] == pytest.approx(1.5 * whole, abs=2)
    tablet.page.locator("[data-doc=zoom-out]").tap()
    assert tablet.page.evaluate(GEOMETRY_JS)["w"] == pytest.approx(whole, abs=2)

    # The device remembers it: after a reload the reader opens on the whole page.
    tablet.page.reload()
    tablet.page.wait_for_function("() => window.Live && window.Documents")
    tablet.open(doc)
    assert tablet.page.locator("#doc-fit").get_attribute("aria-pressed") == "true"
    g = tablet.page.evaluate(GEOMETRY_JS)
    assert g["h"] == pytest.approx(g["stageH"], abs=2) and g["w"] == pytest.approx(whole, abs=2)

    # Off again: back to the page's width.
    tablet.page.locator("#doc-fit").tap()
    g = tablet.page.evaluate(GEOMETRY_JS)
    assert g["w"] == pytest.approx(g["stageW"], abs=1)
    assert tablet.errors == []


def test_neighbouring_pages_are_fetched_before_they_are_shown(phone: Phone, long_doc: dict[str, Any]) -> None:
    doc = long_doc["id"]
    phone.open(doc)
    phone.page.locator("#doc-jump-page").fill("3")
    phone.page.locator("#doc-jump button[type=submit]").tap()
    phone.wait_shown(doc, 3)
    src = phone.page.locator("#doc-img").get_attribute("src") or ""
    width = re.search(page_re(long_doc, 3, "(?P<w>720|1600)"), src).group("w")  # type: ignore[union-attr]
    for k in (2, 4):
        wanted = re.compile(page_re(long_doc, k, width) + "$")
        phone.page.wait_for_function(
            "re => performance.getEntriesByType('resource').some(function (e) { return new RegExp(re).test(e.name); })",
            arg=wanted.pattern, timeout=5000)
        assert any(wanted.search(u) for u in phone.requested)
    # Fetched, not shown: the reader still shows page 3 and no image on the page shows 2 or 4.
    assert phone.shown_page() == 3
    shown = phone.page.evaluate("Array.prototype.map.call(document.images, function (i) { return i.src; })")
    assert not [u for u in shown if re.search(page_re(long_doc, "[24]"), u)]
    assert phone.errors == []


def test_swiping_away_from_the_presented_page_stops_following(srv: LiveServer, new_page: Any, phone: Phone,
                                                              long_doc: dict[str, Any]) -> None:
    doc = long_doc["id"]
    chair = new_page(DESKTOP)
    chair.goto(srv.local(srv.links["chair"][0]))
    chair.wait_for_function("() => window.Live && window.Documents")
    chair.get_by_role("tab", name="Tài liệu").click()
    try:
        chair.locator(f'#doc-list [data-open="{doc}"]').click()
        chair.locator("[data-doc=present-next]").click()  # the chair presents page 2
        phone.wait_shown(doc, 2)
        follow, back = phone.page.locator("#doc-follow"), phone.page.locator("#doc-return")
        assert follow.is_checked()
        assert back.is_hidden()
        phone.page.evaluate("document.getElementById('doc-stage').scrollIntoView({block: 'center'})")

        phone.swipe(0.85, 0.15)
        phone.wait_shown(doc, 3)
        assert not follow.is_checked()
        assert back.is_visible()
        assert back.inner_text() == "Quay lại trang đang trình bày"
        chair.locator("[data-doc=present-next]").click()  # the presenter moves on to page 4 ...
        chair.locator("[data-doc=present-next]").click()
        phone.page.wait_for_function(  # a function: a polled string would be eval'd, which the CSP refuses
            "() => document.getElementById('doc-presenting').textContent.indexOf('trang 4') >= 0")
        time.sleep(0.3)
        assert phone.shown_page() == 3  # ... and the delegate who swiped away stays where they are

        back.tap()
        phone.wait_shown(doc, 4)
        assert follow.is_checked()
        assert back.is_hidden()
        chair.locator("[data-doc=present-next]").click()
        phone.wait_shown(doc, 5)  # following again
        assert phone.errors == []
    finally:
        chair.locator("[data-doc=present-stop]").click()
