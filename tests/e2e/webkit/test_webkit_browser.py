"""The delegate, chair and projector screens in a second engine: WebKit (Safari's engine, that of every iPad and
iPhone browser), as Debian's WebKitGTK WebDriver (`webkit2gtk-driver`) driven by Selenium under Xvfb.

The chromium tests cover the details; these walk the room's main path in WebKit and assert what each person sees:
a delegate joins by their card, sees the agenda and votes, and sees the acknowledgement; the chair opens and closes
the vote from their screen; the projector shows the result.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.realtime.voting_kit import chair, make_poll

pytestmark = [pytest.mark.browser, pytest.mark.webkit]

WEBKIT_DRIVER = "/usr/bin/WebKitWebDriver"
XVFB = "/usr/bin/Xvfb"
PHONE = (360, 740)
TABLET = (768, 1024)
PROJECTOR = (1920, 1080)
TIMEOUT = 30


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """A virtual X display for WebKitGTK (it has no headless mode); Xvfb picks a free display number itself."""
    read, write = os.pipe()
    proc = subprocess.Popen([XVFB, "-displayfd", str(write), "-screen", "0", "1920x1200x24", "-nolisten", "tcp"],
                            pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write)
    with os.fdopen(read) as f:
        number = f.readline().strip()
    assert number, "Xvfb did not start"
    yield ":" + number
    proc.terminate()
    proc.wait(10)


@pytest.fixture
def webkit(display: str) -> Iterator[Callable[[tuple[int, int]], Any]]:
    """webkit((width, height)): a new WebKit browser (its own cookies) with a window of that size."""
    from selenium import webdriver

    drivers: list[Any] = []

    def make(size: tuple[int, int]) -> Any:
        service = webdriver.WebKitGTKService(executable_path=WEBKIT_DRIVER, env={**os.environ, "DISPLAY": display})
        driver = webdriver.WebKitGTK(options=webdriver.WebKitGTKOptions(), service=service)
        drivers.append(driver)
        driver.set_window_size(*size)
        return driver

    yield make
    for driver in drivers:
        driver.quit()


def wait_for(driver: Any, condition: Callable[[Any], Any], message: str) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT, poll_frequency=0.1).until(condition, message)


def wait_still(driver: Any) -> None:
    """Until the page has stopped scrolling (the same scroll position at three looks 100 ms apart), as a person
    waits before tapping: opening a document scrolls the reader into view smoothly, and on a busy machine that
    scroll lasts long enough for a WebDriver tap, aimed where the button was when it looked, to land elsewhere."""
    seen: list[float] = []

    def still(d: Any) -> bool:
        seen.append(float(d.execute_script("return window.scrollY")))
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    wait_for(driver, still, "the page never stopped scrolling")


def text_of(driver: Any, selector: str) -> str:
    """The visible text of the first element matching `selector` ("" when none is shown)."""
    from selenium.common.exceptions import JavascriptException, StaleElementReferenceException
    from selenium.webdriver.common.by import By

    for element in driver.find_elements(By.CSS_SELECTOR, selector):
        try:  # a screen redrawn between finding and asking: WebKitWebDriver says "non-Element argument"
            if element.is_displayed():
                return str(element.text)
        except (JavascriptException, StaleElementReferenceException):
            continue
    return ""


def shows(selector: str, text: str) -> Callable[[Any], bool]:
    return lambda d: text in text_of(d, selector)


def click_button(driver: Any, label: str, within: str = "body") -> None:
    """Tap the visible button whose text is exactly `label`, as a person would."""
    from selenium.webdriver.common.by import By

    def find(d: Any) -> Any:
        for b in d.find_elements(By.CSS_SELECTOR, f"{within} button"):
            if b.is_displayed() and b.text.strip() == label:
                return b
        return False

    wait_for(driver, find, f"no button {label!r}").click()


def join(driver: Any, srv: LiveServer, url: str) -> None:
    driver.get(srv.local(url))  # the card's join link, as its QR code opens it
    wait_for(driver, shows('[data-bind="connection"]', "Đã kết nối"), "the page never said it was connected")


def test_a_delegate_votes_the_chair_opens_and_closes_the_projector_shows_the_result(
        live_server: LiveServer, webkit: Callable[[tuple[int, int]], Any]) -> None:
    srv = live_server
    delegate = next(d for d in srv.links["delegates"] if d["role"] == "delegate")
    phone = webkit(PHONE)
    join(phone, srv, delegate["url"])
    # The delegate sees who they are and the agenda, in Vietnamese.
    assert text_of(phone, '[data-bind="me_name"]') == delegate["name"]
    wait_for(phone, lambda d: text_of(d, '[data-bind="agenda"] li'), "no agenda item shown")
    agenda = text_of(phone, '[data-bind="agenda"]')
    assert "Khai mạc" in agenda or len(agenda.splitlines()) >= 2, agenda

    tablet = webkit(TABLET)
    join(tablet, srv, chair(srv))
    projector = webkit(PROJECTOR)
    join(projector, srv, srv.links["kiosk"])

    title = "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027"
    poll = make_poll(srv, title=title)
    # The chair opens it from their screen, in the vote tab; an in-page dialog asks for an optional countdown: none.
    click_button(tablet, "Biểu quyết", within='[role="tablist"]')
    row = f'[data-poll-row="{poll["id"]}"]'
    wait_for(tablet, lambda d: text_of(d, row), "the chair does not see the new vote")
    click_button(tablet, "Bắt đầu biểu quyết", within=row)
    click_button(tablet, "Bắt đầu biểu quyết", within='[role="dialog"]')

    # The delegate's ballot appears; they choose, confirm, and see the acknowledgement.
    wait_for(phone, shows("#vote-panel", title), "the ballot never appeared on the phone")
    # The vote took over the phone's screen: one tap leads to the ballot.
    from selenium.webdriver.common.by import By

    wait_for(phone, lambda d: d.find_element(By.ID, "takeover-go").is_displayed(), "no takeover on the phone")
    phone.find_element(By.ID, "takeover-go").click()
    click_button(phone, "Tán thành", within="#vote-panel")
    wait_for(phone, shows(".vote-confirm-q", "Tán thành"), "no confirmation question")
    click_button(phone, "Xác nhận", within="#vote-panel")
    wait_for(phone, shows('[data-bind="vote_recorded"]', "Đã ghi nhận"), "no acknowledgement on the phone")
    wait_for(projector, shows(".vote-progress", "Đã biểu quyết: 1/"), "the projector did not count the ballot")
    # No running count while the vote is open (read by script: an element handle may go stale as the screen redraws).
    assert "Tán thành:" not in projector.execute_script("return document.body.innerText")

    # The chair closes; the projector shows the result with its headline.
    click_button(tablet, "Kết thúc biểu quyết", within="#vote-panel")
    wait_for(projector, lambda d: text_of(d, ".vote-result .vote-lines li"), "no result on the projector")
    lines = text_of(projector, '[data-bind="vote_lines"]')
    assert "Tán thành: 1/30 đại biểu" in lines, lines
    assert text_of(projector, ".vote-verdict") == "KHÔNG THÔNG QUA"
    wait_for(phone, lambda d: text_of(d, ".vote-result .vote-lines li"), "no result on the phone")
    assert "Tán thành: 1/30 đại biểu" in text_of(phone, '[data-bind="vote_lines"]')
    for name, driver in (("phone", phone), ("tablet", tablet), ("projector", projector)):
        driver.save_screenshot(os.path.join(tempfile.gettempdir(), f"webkit-{name}.png"))  # to look at


def test_a_delegate_reads_a_document_on_the_phone(live_server: LiveServer,
                                                  webkit: Callable[[tuple[int, int]], Any]) -> None:
    """The documents' list (drawn by the later bundle), a page image, reading mode in large type without sideways
    scrolling, and the next page: on a WebKit phone."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.common.by import By

    srv = live_server
    srv.documents_ready()  # the demo PDFs are processed in the background at start
    delegate = next(d for d in srv.links["delegates"] if d["role"] == "delegate")
    phone = webkit(PHONE)
    join(phone, srv, delegate["url"])
    # The list comes with the later bundle and its strings (web/catalogs.py), after the connection.
    wait_for(phone, lambda d: text_of(d, "#doc-list [data-open]"), "the documents' list never appeared")
    first = phone.find_element(By.CSS_SELECTOR, "#doc-list [data-open]")
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
    first.click()
    page_shown = ("var i = document.getElementById('doc-img'); return !!i && i.getAttribute('data-page') == "
                  "arguments[0] && i.complete && i.naturalWidth > 0;")
    wait_for(phone, lambda d: d.execute_script(page_shown, "1"), "page 1's image never showed")
    assert "Trang 1/" in text_of(phone, "#doc-pageinfo")

    toggle = phone.find_element(By.ID, "doc-read")
    assert toggle.text.strip() == "Chế độ đọc"
    assert toggle.size["height"] >= 44
    wait_still(phone)
    toggle.click()
    has_text = ("var t = document.getElementById('doc-text'); return !!t && !t.hidden && "
                "t.getAttribute('data-page') == arguments[0] && !!t.querySelector('p, h3');")
    shown = ("var t = document.getElementById('doc-text'), b = document.getElementById('doc-read'); return "
             "'pressed=' + b.getAttribute('aria-pressed') + ' hidden=' + t.hidden + ' page=' + "
             "t.getAttribute('data-page') + ' text=' + t.textContent.slice(0, 80);")
    try:
        wait_for(phone, lambda d: d.execute_script(has_text, "1"), "reading mode showed no text")
    except TimeoutException:  # say what the screen showed instead
        raise AssertionError("reading mode showed no text: " + str(phone.execute_script(shown))) from None
    assert toggle.text.strip() == "Xem ảnh trang"
    assert not phone.find_element(By.ID, "doc-stage").is_displayed()
    sizes = phone.execute_script(
        "return Array.prototype.map.call(document.querySelectorAll('#doc-text p, #doc-text h3'),"
        " function (e) { return parseFloat(getComputedStyle(e).fontSize); });")
    assert sizes and min(sizes) >= 18, sizes
    assert "Hội đồng nhân dân" in phone.find_element(By.ID, "doc-text").text
    assert phone.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    phone.save_screenshot(os.path.join(tempfile.gettempdir(), "webkit-reading.png"))  # to look at

    # The next page, still in reading mode.
    next_button = phone.find_element(By.CSS_SELECTOR, '#doc-viewer [data-doc="next"]')
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", next_button)
    next_button.click()
    wait_for(phone, lambda d: d.execute_script(has_text, "2"), "page 2's text never came")
    assert "Trang 2/" in text_of(phone, "#doc-pageinfo")
    # Back to the page image, on page 2.
    phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", toggle)
    toggle.click()
    wait_for(phone, lambda d: d.execute_script(page_shown, "2"), "page 2's image never showed")
    assert toggle.text.strip() == "Chế độ đọc"
