"""Every route declares who may call it, and each role gets exactly what the permission table says."""

from __future__ import annotations

from typing import Any

import pytest

from meeting_server.domain.permissions import ROLE_PERMISSIONS, Permission, Role

ROLES = ["anonymous", "guest", "invited_guest", "kiosk", "delegate", "secretary", "chair", "clerk"]
ROLE_OF = {"guest": Role.GUEST, "invited_guest": Role.GUEST, "kiosk": Role.KIOSK, "delegate": Role.DELEGATE,
           "secretary": Role.SECRETARY, "chair": Role.CHAIR, "clerk": Role.CLERK}


def test_every_route_declares_a_permission(app: Any) -> None:
    """(Socket.IO events: tests/realtime/test_registry.py compares what is bound with the registry.)"""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "required_permission"):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert missing == [], f"routes without @requires or @public: {missing}"


# (method, path, permission) for pages and API calls that read or change a meeting. {m} is the meeting id.
GUARDED = [
    ("GET", "/delegate", Permission.MEETING_READ),
    ("GET", "/kiosk", Permission.MEETING_READ),
    ("GET", "/room-qr.svg", Permission.MEETING_READ),
    ("GET", "/chair", Permission.AGENDA_CONTROL),
    ("GET", "/secretary", Permission.VOTE_PROXY),
    ("POST", "/clerk/participants/{p}/role", Permission.MEETING_MANAGE),
    ("GET", "/clerk/", Permission.MEETING_MANAGE),
    ("GET", "/clerk/cards.pdf", Permission.MEETING_MANAGE),
    ("POST", "/clerk/agenda", Permission.MEETING_MANAGE),
    ("POST", "/clerk/meeting", Permission.MEETING_MANAGE),
    ("POST", "/clerk/questions", Permission.QUESTION_RECORD),
    ("POST", "/clerk/questions/1/written", Permission.QUESTION_RECORD),
    ("GET", "/api/v1/meetings", Permission.MEETING_READ),
    ("GET", "/api/v1/meetings/{m}", Permission.MEETING_READ),
    ("GET", "/api/v1/meetings/{m}/agenda", Permission.MEETING_READ),
    ("POST", "/api/v1/meetings/{m}/agenda", Permission.MEETING_MANAGE),
    ("PATCH", "/api/v1/meetings/{m}", Permission.MEETING_MANAGE),
    ("GET", "/api/v1/meetings/{m}/participants", Permission.PARTICIPANTS_SEE),
    ("PUT", "/api/v1/meetings/{m}/participants", Permission.MEETING_MANAGE),
    ("GET", "/api/v1/meetings/{m}/attendance", Permission.MEETING_READ),
    ("POST", "/api/v1/meetings/{m}/attendance/{p}", Permission.ATTENDANCE_MANAGE),
]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("method", "path", "permission"), GUARDED, ids=[f"{m} {p}" for m, p, _ in GUARDED])
def test_access_matrix(login: Any, app_links: dict[str, Any], role: str, method: str, path: str,
                       permission: Permission) -> None:
    client = login(role)
    delegate = next(d for d in app_links["delegates"] if d["role"] == "delegate")
    url = path.format(m=app_links["meeting_id"], p=delegate["participant_id"])
    from tests.conftest import csrf_token

    headers = {}
    if method != "GET" and role != "anonymous":
        headers["X-CSRFToken"] = csrf_token(client)
    r = client.open(url, method=method, headers=headers, json={} if url.startswith("/api/") else None,
                    data=None if url.startswith("/api/") else {"csrf_token": headers.get("X-CSRFToken", "")})
    if role == "anonymous":
        # Without a card: 401; an anonymous write is already stopped by the CSRF check (400). Never through.
        assert r.status_code == (401 if method == "GET" else 400), r.status_code
        return
    allowed = permission in ROLE_PERMISSIONS[ROLE_OF[role]]
    if allowed:
        # Allowed callers get past the guard: a page, a redirect, or a refusal of the empty body (400), not 401/403.
        assert r.status_code in (200, 201, 302, 400), (r.status_code, r.data[:300])
    else:
        assert r.status_code == 403, (r.status_code, r.data[:300])


def test_other_meetings_are_invisible(login: Any, app_links: dict[str, Any]) -> None:
    client = login("clerk")
    r = client.get(f"/api/v1/meetings/{app_links['meeting_id'] + 1}")
    assert r.status_code == 404


def test_bearer_token_works_without_cookie(app: Any, app_links: dict[str, Any]) -> None:
    client = app.test_client()
    token = app_links["clerk"].rsplit("/", 1)[1]
    r = client.get("/api/v1/meetings", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200
    assert r.get_json()["meetings"][0]["session_title"] == "Kỳ họp thứ Hai"
    # Bearer clients need no CSRF header: a forged cross-site request cannot carry the header.
    r = client.post(f"/api/v1/meetings/{app_links['meeting_id']}/agenda", json={"title": "Nội dung bổ sung"},
                    headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201


def test_cookie_api_writes_need_csrf(login: Any, app_links: dict[str, Any]) -> None:
    client = login("clerk")
    r = client.post(f"/api/v1/meetings/{app_links['meeting_id']}/agenda", json={"title": "X"})
    assert r.status_code == 400
    assert "Trang đã cũ" in r.get_json()["message"]
