#!/usr/bin/env python3
"""The README's pictures: starts a real server with the demo meeting on a fresh data directory, walks each role's
main screen in Debian's chromium at the size that person uses, and writes docs/img/*.png.

    .venv/bin/python scripts/screenshots.py [--out docs/img]

  delegate-vote-opens.png a delegate's phone (360×740) as a vote opens: it takes over the screen
  delegate-vote.png       the same phone one tap later: the ballot
  delegate-document.png   the same phone reading one of the meeting's documents
  chair.png               the chair's tablet (768×1024) with that vote running
  projector.png           the projector (1920×1080) during the vote
  projector-result.png    the projector after the chair closed it: the result
  clerk.png               the clerk's console (1366×768)
  archive.png             the council's archive of the term on the clerk's laptop
  secretary.png           the secretary's screen (768×1024), when the server has one (/secretary)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts" / "bench"))
import phone_first_screen as live  # noqa: E402  (the bench's server start and chromium flags)

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
TABLET = {"viewport": {"width": 768, "height": 1024}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
PROJECTOR = {"viewport": {"width": 1920, "height": 1080}}
CLERK = {"viewport": {"width": 1366, "height": 768}}


def api(url: str, token_url: str, method: str, path: str, body: Any = None) -> Any:
    import requests

    token = token_url.rsplit("/j/", 1)[1]
    r = requests.request(method, f"{url}/api/v1{path}", json=body, headers={"Authorization": f"Bearer {token}"},
                         timeout=30)
    r.raise_for_status()
    return r.json()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "img")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import json
    import os
    import subprocess

    from playwright.sync_api import sync_playwright

    data = Path(tempfile.mkdtemp(prefix="screenshots-"))
    proc, url, _ = live.start_server(data)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    env.pop("MEETING_SERVER_STATIC_CACHE", None)
    links = json.loads(subprocess.run([sys.executable, "-m", "meeting_server", "links", "--json", "--data-dir",
                                       str(data)], cwd=ROOT, env=env, capture_output=True, text=True,
                                      check=True).stdout)
    base = links["kiosk"].rsplit("/j/", 1)[0]

    def local(join_url: str) -> str:
        return join_url.replace(base, url)

    written: list[Path] = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                        headless=True, args=live.CHROMIUM_ARGS)

            def open_as(join_url: str, profile: dict[str, Any]) -> Any:
                ctx = browser.new_context(**profile, locale="vi-VN")
                page = ctx.new_page()
                page.set_default_timeout(30_000)
                page.goto(local(join_url))
                page.wait_for_load_state("networkidle")
                return page

            def shot(page: Any, name: str) -> None:
                time.sleep(0.4)  # transitions
                path = args.out / name
                page.screenshot(path=str(path))
                written.append(path)

            delegate = next(d for d in links["delegates"] if d["role"] == "delegate")
            chair_url = links["chair"][0]
            phone = open_as(delegate["url"], PHONE)
            phone.wait_for_selector('[data-bind="connection"]:not(.offline)')
            tablet = open_as(chair_url, TABLET)
            projector = open_as(links["kiosk"], PROJECTOR)
            clerk = open_as(links["clerk"], CLERK)
            shot(clerk, "clerk.png")

            poll = api(url, links["clerk"], "POST", f"/meetings/{links['meeting_id']}/polls",
                       {"kind": "open", "title": "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027"})
            api(url, chair_url, "POST", f"/polls/{poll['id']}/open", {})
            phone.wait_for_selector("#takeover:not([hidden])")
            shot(phone, "delegate-vote-opens.png")  # the vote takes over the phone's screen
            phone.locator("#takeover-go").click()
            phone.wait_for_selector("#vote-panel:not([hidden]) .vote-option")
            shot(phone, "delegate-vote.png")
            tablet.get_by_role("tab", name="Biểu quyết").click()
            tablet.wait_for_selector("#vote-panel .vote-progress")
            shot(tablet, "chair.png")
            projector.wait_for_selector(".vote-progress")
            shot(projector, "projector.png")
            phone.get_by_role("button", name="Tán thành", exact=True).first.click()
            phone.get_by_role("button", name="Xác nhận").first.click()
            phone.wait_for_selector('[data-bind="vote_recorded"]')
            api(url, chair_url, "POST", f"/polls/{poll['id']}/close")
            projector.wait_for_selector(".vote-result .vote-lines li")
            shot(projector, "projector-result.png")

            # A document, once the demo's files are read in.
            deadline = time.monotonic() + 120
            while not phone.locator("#doc-list [data-open]").count() and time.monotonic() < deadline:
                time.sleep(1)
            if phone.locator("#doc-list [data-open]").count():
                phone.locator("#doc-list [data-open]").first.click()
                phone.wait_for_selector("#doc-viewer:not([hidden])")
                # A function, not an expression: Playwright evals an expression, which the pages' CSP refuses.
                phone.wait_for_function("() => document.getElementById('doc-img').complete && "
                                        "document.getElementById('doc-img').naturalWidth > 0")
                shot(phone, "delegate-document.png")
            else:
                print("no document was ready within 2 minutes: delegate-document.png not written", file=sys.stderr)

            clerk.goto(url + "/archive/")
            shot(clerk, "archive.png")

            secretary = browser.new_context(**TABLET, locale="vi-VN").new_page()
            secretary.goto(local(links["secretary"][0]))
            if secretary.request.get(url + "/secretary").status == 200:
                secretary.goto(url + "/secretary")
                secretary.wait_for_load_state("networkidle")
                shot(secretary, "secretary.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(data, ignore_errors=True)
    for path in written:
        print(path)


if __name__ == "__main__":
    main()
