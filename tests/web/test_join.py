"""Joining by QR: binding the browser, friendly refusals, slowing down guessers, language, health."""

from __future__ import annotations

from typing import Any

from tests.conftest import csrf_token, token_of


def test_healthz(app: Any) -> None:
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json()["status"] == "ok" and r.get_json()["version"]


def test_join_binds_an_httponly_cookie_and_lands_on_the_role_home(app: Any, app_links: dict[str, Any]) -> None:
    client = app.test_client()
    d = next(x for x in app_links["delegates"] if x["role"] == "delegate")
    token = token_of(d["url"])
    r = client.get("/j/" + token)
    # A phone gets its page in the join link's own answer (no redirect's round trip), which names the address that
    # live.js puts in place of the link's; the token is nowhere in the page, and the answer is not stored.
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and d["name"] in html and 'data-bind="agenda"' in html
    assert '<meta name="page-url" content="/delegate">' in html
    assert token not in html and 'name="next" value="/delegate"' in html
    assert r.headers["Cache-Control"] == "no-store" and r.headers["Referrer-Policy"] == "no-referrer"
    cookie = r.headers["Set-Cookie"]
    assert "ms_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    page = client.get("/delegate").get_data(as_text=True)
    assert d["name"] in page and 'lang="vi"' in page
    att = client.get(f"/api/v1/meetings/{app_links['meeting_id']}/attendance").get_json()
    assert att["summary"]["present"] == 1


def test_each_role_lands_on_its_home(app: Any, app_links: dict[str, Any]) -> None:
    homes = {app_links["clerk"]: "/clerk/", app_links["chair"][0]: "/chair", app_links["kiosk"]: "/kiosk",
             app_links["guest"]: "/delegate", app_links["secretary"][0]: "/secretary"}
    for url, home in homes.items():
        r = app.test_client().get("/j/" + token_of(url))
        if home == "/delegate":  # the page itself (test above); the other screens by a redirect
            assert r.status_code == 200 and '<meta name="page-url" content="/delegate">' in r.get_data(as_text=True)
        else:
            assert r.status_code == 302 and r.headers["Location"].endswith(home)


def test_guests_and_clerk_do_not_count_as_present(app: Any, app_links: dict[str, Any]) -> None:
    for url in (app_links["clerk"], app_links["guest"], app_links["guests"][0]["url"], app_links["kiosk"]):
        app.test_client().get("/j/" + token_of(url))
    client = app.test_client()
    client.get("/j/" + token_of(app_links["clerk"]))
    assert client.get(f"/api/v1/meetings/{app_links['meeting_id']}/attendance").get_json()["summary"]["present"] == 0


def test_unknown_token_gets_a_friendly_page(app: Any) -> None:
    r = app.test_client().get("/j/abc")
    html = r.get_data(as_text=True)
    assert r.status_code == 404 and "Mã không đúng" in html and "Traceback" not in html


def test_guessing_is_slowed_down(app: Any) -> None:
    client = app.test_client()
    statuses = [client.get(f"/j/guess{i}").status_code for i in range(12)]
    assert statuses[:10] == [404] * 10
    assert statuses[10:] == [429, 429]
    assert "Quá nhiều lần thử" in client.get("/j/another").get_data(as_text=True)


def test_the_right_card_still_joins_from_a_limited_address(app: Any, app_links: dict[str, Any]) -> None:
    """The limit slows guessing down; it never locks out the delegate whose card is right (phones in the room may
    share the guesser's address)."""
    client = app.test_client()
    app.config["GUESS_PAUSE_SECONDS"] = 0
    for i in range(12):
        client.get(f"/j/guess{i}")
    assert client.get("/j/guess-more").status_code == 429
    d = next(x for x in app_links["delegates"] if x["role"] == "delegate")
    r = client.get("/j/" + token_of(d["url"]))
    assert r.status_code == 200 and d["name"] in r.get_data(as_text=True)
    assert client.get("/delegate").status_code == 200


def test_the_cookie_is_secure_over_https(app: Any, app_links: dict[str, Any]) -> None:
    d = next(x for x in app_links["delegates"] if x["role"] == "delegate")
    secure = app.test_client().get("/j/" + token_of(d["url"]), base_url="https://hop.xa.gov.vn")
    assert "Secure" in secure.headers["Set-Cookie"] and "HttpOnly" in secure.headers["Set-Cookie"]
    plain = app.test_client().get("/j/" + token_of(d["url"]))
    assert "Secure" not in plain.headers["Set-Cookie"]


def test_forms_work_over_https_without_a_referer(app: Any, app_links: dict[str, Any]) -> None:
    """Pages send no Referer (Referrer-Policy: no-referrer: a join URL carries a token), so over HTTPS a form must
    not need one: the CSRF token is the check."""
    client = app.test_client()
    base = "https://hop.xa.gov.vn"
    client.get("/j/" + token_of(app_links["clerk"]), base_url=base)
    html = client.get("/clerk/", base_url=base).get_data(as_text=True)
    import re

    token = re.search(r'name="csrf-token" content="([^"]+)"', html).group(1)  # type: ignore[union-attr]
    r = client.post("/clerk/agenda", data={"title": "Qua HTTPS", "csrf_token": token}, base_url=base)
    assert r.status_code == 302, r.get_data(as_text=True)[:300]


def test_pages_without_a_card_ask_to_scan(app: Any) -> None:
    r = app.test_client().get("/delegate")
    assert r.status_code == 401 and "Hãy quét mã QR" in r.get_data(as_text=True)
    landing = app.test_client().get("/").get_data(as_text=True)
    assert "quét mã QR trên thẻ đại biểu" in landing


def test_forms_need_the_csrf_token(login: Any) -> None:
    clerk = login("clerk")
    r = clerk.post("/clerk/agenda", data={"title": "Không có mã CSRF"})
    assert r.status_code == 400 and "Trang đã cũ" in r.get_data(as_text=True)
    r = clerk.post("/clerk/agenda", data={"title": "Có mã CSRF", "csrf_token": csrf_token(clerk, "/clerk/")})
    assert r.status_code == 302


def test_language_switch_to_english_and_back(login: Any) -> None:
    client = login("delegate")
    token = csrf_token(client, "/delegate")
    client.post("/lang/en", data={"csrf_token": token, "next": "/delegate"})
    html = client.get("/delegate").get_data(as_text=True)
    assert 'lang="en"' in html and "Meeting agenda" in html
    client.post("/lang/vi", data={"csrf_token": token, "next": "/delegate"})
    assert "Chương trình kỳ họp" in client.get("/delegate").get_data(as_text=True)


def test_open_redirect_is_refused(login: Any) -> None:
    client = login("delegate")
    token = csrf_token(client, "/delegate")
    r = client.post("/lang/en", data={"csrf_token": token, "next": "//evil.example/"})
    assert r.headers["Location"] == "/"


def test_openapi_document_lists_every_api_route(app: Any) -> None:
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    documented = {(p, m.upper()) for p, ops in doc["paths"].items() for m in ops if m != "parameters"}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule[len("/api/v1"):].replace("<int:", "{").replace("<", "{").replace(">", "}")
            for m in rule.methods - {"HEAD", "OPTIONS"}:
                routes.add((path, m))
    assert routes <= documented, routes - documented


def test_guessing_stays_slowed_down_across_the_minute(app: Any, monkeypatch: Any) -> None:
    """Ten bad guesses at 08:00:59 are still counted at 08:01:01 (a fixed per-minute counter would start again
    from zero); by 08:02:30 the address may try again."""
    from meeting_server.services import tokens

    clock = {"now": 1_795_000_000.0 // 60 * 60 + 59}  # the last second of a minute
    monkeypatch.setattr(tokens.time, "time", lambda: clock["now"])
    client = app.test_client()
    assert [client.get(f"/j/guess{i}").status_code for i in range(10)] == [404] * 10
    clock["now"] += 2
    assert client.get("/j/guess-next-minute").status_code == 429
    clock["now"] += 89
    assert client.get("/j/guess-later").status_code == 404
