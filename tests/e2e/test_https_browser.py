"""A phone-sized Chromium joins by the card's https URL and follows a page turn over WSS (docs/SECURITY.md).

The test CA is made here; the name is mapped to loopback the way the hotspot's DNS maps it to the box
(`--host-resolver-rules`), and Chromium trusts the server's key by its SPKI hash (the key, not every certificate)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from tests.appliance.test_tls import demo_document, trusting
from tests.appliance.tls_kit import NAME, TestCA, make_ca, resolving, start_https_server
from tests.conftest import LiveServer
from tests.e2e.conftest import CHROMIUM_ARGS
from tests.realtime.helpers import Screen

pytestmark = pytest.mark.browser

PHONE_360 = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
             "has_touch": True}


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return make_ca(tmp_path_factory.mktemp("ca"))


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory, ca: TestCA) -> Iterator[LiveServer]:
    server = start_https_server(tmp_path_factory.mktemp("https-browser"), ca)
    with resolving(NAME):
        yield server
    server.stop()


@pytest.fixture(scope="module")
def phone_browser(ca: TestCA) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    exe = shutil.which("chromium") or "/usr/bin/chromium"
    args = [*CHROMIUM_ARGS, f"--host-resolver-rules=MAP {NAME} 127.0.0.1",
            f"--ignore-certificate-errors-spki-list={ca.spki_hash}"]
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, headless=True, args=args)
        yield b
        b.close()


def test_phone_joins_by_https_card_and_follows_a_page_turn_over_wss(phone_browser: Any, srv: LiveServer,
                                                                    ca: TestCA) -> None:
    doc = demo_document(srv, ca)
    card = next(d for d in srv.links["delegates"] if d["role"] == "delegate")["url"]
    assert card.startswith(f"https://{NAME}:{srv.port}/j/")
    ctx = phone_browser.new_context(**PHONE_360, locale="vi-VN")
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]), http_session=trusting(ca))
    try:
        page.goto(card)  # the URL printed in the QR code, as the phone's camera opens it
        assert page.url.startswith(f"https://{NAME}:{srv.port}/")
        page.wait_for_function("() => window.Live && window.Documents")
        chair.wait("state")
        ack = chair.call("present", {"document_id": doc, "page": 2})
        assert ack["ok"], ack
        page.wait_for_function(
            "([d, n]) => { const i = document.querySelector('#doc-img'); return i && i.getAttribute('data-doc')"
            " == String(d) && i.getAttribute('data-page') == String(n) && i.complete && i.naturalWidth > 0; }",
            arg=[doc, 2])
        assert sockets and all(u.startswith(f"wss://{NAME}:{srv.port}/socket.io/") for u in sockets), sockets
        # Every resource of the page came over HTTPS: no mixed content for the browser to block.
        insecure = page.evaluate("() => performance.getEntriesByType('resource').map(e => e.name)"
                                 ".filter(u => !u.startsWith('https:') && !u.startsWith('data:')"
                                 " && !u.startsWith('blob:'))")
        assert insecure == []
        assert errors == []
    finally:
        chair.close()
        ctx.close()
