"""A delegate's phone (chromium, phone viewport) on a server joined to the others by a real redis-server: while
Redis is away the page says the server is waiting, in the offline banner, and the vote cannot be sent; once Redis
is back the banner goes by itself and the ballot is recorded (realtime/links.py, static/js/live.js)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.e2e.test_delegate_phone_browser import phone, plain
from tests.realtime.scale_kit import start_redis
from tests.realtime.voting_kit import make_poll, open_poll


def test_waiting_banner_while_redis_is_away(browser: Any, server_factory: Any, tmp_path: Path) -> None:
    redis, port = start_redis(tmp_path / "redis")
    try:
        srv = server_factory("--message-queue", f"redis://127.0.0.1:{port}/0", data_dir=tmp_path / "data")
        page = phone(browser, srv, plain(srv, 0)["url"])
        poll = make_poll(srv, title="Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
        open_poll(srv, poll["id"])
        page.locator("#takeover-go").click()
        page.get_by_role("button", name="Tán thành", exact=True).click()
        banner = page.locator("[data-offline-banner]")
        assert banner.is_hidden()

        redis.terminate()
        redis.wait(10)
        banner.wait_for(state="visible", timeout=30_000)
        assert banner.inner_text().startswith("Đang chờ máy chủ của phòng họp…"), banner.inner_text()
        assert page.locator("[data-bind=connection]").first.inner_text() == "Đang chờ máy chủ…"
        assert page.locator("#vote-panel [data-confirm]").is_disabled()
        assert all(b.is_disabled() for b in page.locator("#vote-panel .vote-option").all())
        assert page.locator("#vote-panel .vote-error").inner_text() == (
            "Máy chủ đang chờ kết nối lại: khi thông báo phía trên tắt mới gửi được phiếu.")
        page.screenshot(path="/tmp/phone-waiting.png")
        # Sent anyway (a page that had not heard yet): refused with the reason, nothing recorded.
        r = page.evaluate("() => new Promise(ok => Live.send('sync', {}, ok))")
        assert r["ok"] is False and r["code"] == "server.waiting", r

        redis, _ = start_redis(tmp_path / "redis", port)
        banner.wait_for(state="hidden", timeout=60_000)
        page.locator("#vote-panel [data-confirm]:not([disabled])").wait_for()
        page.locator("#vote-panel [data-confirm]").click()
        page.locator("[data-bind=vote_recorded]").wait_for()
        assert page.locator("[data-bind=vote_recorded]").inner_text() == "✓ Đã ghi nhận: Tán thành"
        assert page.js_errors == []
    finally:
        redis.terminate()
        redis.wait(10)
