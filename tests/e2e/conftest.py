"""Playwright driving Debian's chromium (never a browser downloaded by Playwright)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DESKTOP = {"viewport": {"width": 1280, "height": 800}}
# An iPad held landscape: the page's width fitted to the screen shows less than half of an A4 page.
TABLET = {"viewport": {"width": 1024, "height": 768}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
PROJECTOR = {"viewport": {"width": 1280, "height": 720}}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One headless chromium per test module. Not per session: Playwright's sync API keeps an asyncio loop marked
    running in this thread while it lives, and later tests (pyHanko signs through asyncio.run) would fail."""
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or "/usr/bin/chromium"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
        watch_policy(b)
        yield b
        b.close()


def watch_policy(b: Any) -> None:
    """Record every Content-Security-Policy violation that any page of any context of `b` reports in its console
    (`b.csp_violations`; `no_csp_violations` fails the test that caused one)."""
    b.csp_violations = []
    new_context = b.new_context

    def watched(*args: Any, **kwargs: Any) -> Any:
        ctx = new_context(*args, **kwargs)
        ctx.on("console", lambda msg: b.csp_violations.append(f"{msg.page.url if msg.page else '?'}: {msg.text}")
               if "Content Security Policy" in msg.text else None)
        return ctx

    b.new_context = watched


@pytest.fixture(autouse=True)
def no_csp_violations(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every browser test also proves its pages work under the server's Content-Security-Policy (script-src 'self',
    no inline style): a violation in any page's console fails it, even if what it checked still worked."""
    if "browser" not in request.fixturenames:
        yield
        return
    b = request.getfixturevalue("browser")
    b.csp_violations.clear()
    yield
    assert not b.csp_violations, f"Content-Security-Policy violations: {b.csp_violations}"


@pytest.fixture
def new_page(browser: Any) -> Iterator[Any]:
    """Open a page in a fresh context (its own cookies): new_page(PHONE), new_page(DESKTOP)…"""
    contexts: list[Any] = []

    def make(profile: dict[str, Any] | None = None) -> Any:
        ctx = browser.new_context(**(profile or DESKTOP), locale="vi-VN")
        contexts.append(ctx)
        page = ctx.new_page()
        page.set_default_timeout(15_000)
        return page

    yield make
    for ctx in contexts:
        ctx.close()
