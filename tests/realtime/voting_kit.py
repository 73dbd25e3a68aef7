"""Small helpers for the voting tests: the API with a card's Bearer token, joining, delegates' screens."""

from __future__ import annotations

from typing import Any

import requests

from tests.conftest import LiveServer
from tests.realtime.helpers import Screen


def tok(url: str) -> str:
    return url.rsplit("/", 1)[1]


def api(srv: LiveServer, url: str | None, method: str, path: str, body: Any = None) -> requests.Response:
    """Call /api/v1 as the card behind `url` (None: without a card)."""
    headers = {"Authorization": f"Bearer {tok(url)}"} if url else {}
    return requests.request(method, f"{srv.url}/api/v1{path}", json=body, headers=headers, timeout=30)


def join(srv: LiveServer, url: str) -> None:
    """Open a card's QR link (marks a delegate present)."""
    requests.get(srv.local(url), timeout=10).raise_for_status()


def delegates(srv: LiveServer) -> list[dict[str, Any]]:
    """Plain delegates (not chair or secretary), in list order."""
    return [d for d in srv.links["delegates"] if d["role"] == "delegate"]


def chair(srv: LiveServer) -> str:
    return str(srv.links["chair"][0])


def clerk(srv: LiveServer) -> str:
    return str(srv.links["clerk"])


def secretary(srv: LiveServer) -> str:
    return str(srv.links["secretary"][0])


def screen(srv: LiveServer, url: str) -> Screen:
    s = Screen(srv.url, tok(url))
    s.wait("state")
    return s


def make_poll(srv: LiveServer, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "open")
    body.setdefault("title", "Thông qua Nghị quyết về Kế hoạch chuyển đổi số năm 2027")
    r = api(srv, clerk(srv), "POST", f"/meetings/{srv.links['meeting_id']}/polls", body)
    assert r.status_code == 201, r.text
    return dict(r.json())


def open_poll(srv: LiveServer, poll_id: int, countdown: int | None = None) -> dict[str, Any]:
    r = api(srv, chair(srv), "POST", f"/polls/{poll_id}/open", {"countdown": countdown} if countdown else {})
    assert r.status_code == 200, r.text
    return dict(r.json())


def close_poll(srv: LiveServer, poll_id: int) -> dict[str, Any]:
    r = api(srv, chair(srv), "POST", f"/polls/{poll_id}/close")
    assert r.status_code == 200, r.text
    return dict(r.json())


def open_and_secret_votes(srv: LiveServer, phones: list[Any], open_for: int, secret_yes: int) -> tuple[int, int]:
    """The sitting the storage tools' tests start from: an open vote (the first `open_for` phones for, the rest
    against) and a secret vote (the first `secret_yes` yes, the rest no), each cast from the phones and closed; their
    ids."""
    shown = make_poll(srv, kind="open", title="Thông qua chương trình kỳ họp")
    open_poll(srv, shown["id"])
    for i, phone in enumerate(phones):
        assert phone.call("cast", {"poll_id": shown["id"], "choice": "for" if i < open_for else "against"})["ok"]
    close_poll(srv, shown["id"])
    secret = make_poll(srv, kind="secret", title="Bỏ phiếu kín: miễn nhiệm")
    open_poll(srv, secret["id"])
    for i, phone in enumerate(phones):
        assert phone.call("cast", {"poll_id": secret["id"], "choice": "yes" if i < secret_yes else "no"})["ok"]
    close_poll(srv, secret["id"])
    return shown["id"], secret["id"]
