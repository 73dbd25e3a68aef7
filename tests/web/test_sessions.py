"""Server-side sessions and the one guessing limit, on a real server (issue 18, "Sessions and tokens").

The cookie carries a random session id, never the join token: a copy of it stops working after logout, after the
card is revoked and after the idle time; an old-style cookie (the raw token, signed) opens nothing. Wrong
credentials are counted per address on every path (`/j/`, Bearer, Socket.IO connect): past the limit they are
refused with 429 / a refused connection with its code, while the right card from the same address still gets in.
`/healthz` keeps answering within 100 ms throughout.
"""

from __future__ import annotations

import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import requests
import socketio

from tests.conftest import LiveServer
from tests.realtime.helpers import Screen

REJECTED = {"message": "Connection rejected by server"}  # a plain refusal (no valid card), as python-socketio says
ENDED = "Phiên đã kết thúc. Hãy quét lại mã QR trên thẻ."
SESSION_ENDED = {"message": ENDED, "data": {"code": "auth.session_ended", "message": ENDED}}  # said, not retried
TOO_MANY = "Có quá nhiều lần thử mã sai từ địa chỉ này. Hãy đợi một phút rồi thử lại."


def _csrf(http: requests.Session, url: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', http.get(url, timeout=10).text)
    assert m, "page has no CSRF token"
    return m.group(1)


def _copy(http: requests.Session) -> requests.Session:
    """Another machine that copied the browser's cookie."""
    thief = requests.Session()
    for c in http.cookies:
        thief.cookies.set(c.name, c.value)
    return thief


def _cookie_header(http: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def _delegate(srv: LiveServer, n: int = 0) -> dict[str, Any]:
    return [d for d in srv.links["delegates"] if d["role"] == "delegate"][n]


def _refused(srv: LiveServer, *, token: str | None = None, cookies: str | None = None) -> Any:
    """Try to connect; the refusal's data (None when refused without data), or 'connected'."""
    got: list[Any] = []
    client = socketio.Client(reconnection=False)
    client.on("connect_error", lambda data=None: got.append(data))
    try:
        client.connect(srv.url, auth={"token": token} if token else None,
                       headers={"Cookie": cookies} if cookies else None, transports=["websocket"], wait_timeout=15)
    except socketio.exceptions.ConnectionError:
        return got[0] if got else None
    client.disconnect()
    return "connected"


@contextmanager
def healthz_watch(srv: LiveServer) -> Iterator[list[float]]:
    """Poll /healthz from a thread while the block runs; yields the list of latencies (seconds)."""
    latencies: list[float] = []
    stop = threading.Event()

    def poll() -> None:
        with requests.Session() as h:
            while not stop.is_set():
                t0 = time.perf_counter()
                assert h.get(srv.url + "/healthz", timeout=5).status_code == 200
                latencies.append(time.perf_counter() - t0)
                time.sleep(0.02)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    try:
        yield latencies
    finally:
        stop.set()
        t.join(10)


def assert_healthz(latencies: list[float]) -> None:
    """/healthz kept answering: the median within 100 ms, the worst within 2 s.

    What this guards against is a refused guess that holds the loop: 300 refused guesses pause about 11 s in all, so
    a pause taken on the loop would show as a /healthz wait of seconds, many times over. The worst is not held
    tighter because the 300 requests come from 60 threads of this same test process on the shared 2-core box: a
    burst of 300 *valid* requests measured a worst /healthz of 748 ms at load ~10, and a clean-clone CI run measured
    1,053 ms for the wrong ones (median 4 ms). The limit adds no stall of its own (a refused guess releases its
    database connection and sleeps in a green thread); speed figures belong in scripts/bench/room_loop.py."""
    ordered = sorted(latencies)
    assert ordered, "no /healthz answer at all"
    assert ordered[len(ordered) // 2] < 0.1 and ordered[-1] < 2.0, (ordered[len(ordered) // 2], ordered[-1])


def test_the_cookie_holds_a_session_id_not_the_token(live_server: LiveServer) -> None:
    srv = live_server
    d = _delegate(srv)
    token = srv.token(d["url"])
    r = requests.get(srv.local(d["url"]), allow_redirects=False, timeout=10)
    cookie = r.headers["Set-Cookie"]
    assert "ms_session=" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    value = r.cookies["ms_session"]
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    app = Flask("probe")
    app.secret_key = (srv.data_dir / "secret_key").read_text().strip()
    data = SecureCookieSessionInterface().get_signing_serializer(app).loads(value)  # type: ignore[union-attr]
    assert token not in value and token not in repr(data)
    # A phone's join answer is its page (web/join.py), whose forms put Flask-WTF's CSRF nonce in the cookie too.
    assert set(data) <= {"sid", "_permanent", "csrf_token"} and len(data["sid"]) >= 43  # 256 random bits
    with sqlite3.connect(srv.data_dir / "meeting.db") as db:
        rows = db.execute("SELECT id_hash, token FROM login_session").fetchall()
    assert len(rows) == 1 and rows[0][1] == token and data["sid"] not in rows[0][0]  # stored hashed


def test_a_copied_cookie_stops_working_after_logout(live_server: LiveServer) -> None:
    srv = live_server
    d = _delegate(srv)
    browser = srv.session_for(d["url"])
    thief = _copy(browser)
    assert thief.get(srv.url + "/delegate", timeout=10).status_code == 200  # a copy works while the session lives
    stolen = Screen(srv.url, cookies=_cookie_header(thief))
    mine = Screen(srv.url, cookies=_cookie_header(browser))
    try:
        stolen.wait("state")
        mine.wait("state")
        r = browser.post(srv.url + "/logout", data={"csrf_token": _csrf(browser, srv.url + "/delegate")},
                         timeout=10)
        assert r.status_code == 200 and "quét mã QR" in r.text  # back on the landing page
        # Every copy of the cookie ends with the session: pages, the API, new connections.
        page = thief.get(srv.url + "/delegate", timeout=10)
        assert page.status_code == 401 and "Hãy quét mã QR" in page.text
        assert thief.get(f"{srv.url}/api/v1/meetings", timeout=10).status_code == 401
        # A new connection with the ended session is refused, saying so (the page stops reconnecting and says it).
        assert _refused(srv, cookies=_cookie_header(thief)) == SESSION_ENDED
        # The connections opened with that session are hung up, the copy's too.
        deadline = time.monotonic() + 5
        while (stolen.client.connected or mine.client.connected) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not stolen.client.connected and not mine.client.connected
        # The card itself is fine: scanning it again opens a new session.
        again = srv.session_for(d["url"])
        assert again.get(srv.url + "/delegate", timeout=10).status_code == 200
        assert thief.get(srv.url + "/delegate", timeout=10).status_code == 401
    finally:
        stolen.close()
        mine.close()


def test_an_open_connection_of_a_closed_session_is_refused_at_its_next_event(live_server: LiveServer) -> None:
    """A connection held by another server process is not hung up by the logout: its next event re-checks the
    session (here simulated by deleting the session row behind the server's back, as another process would)."""
    srv = live_server
    browser = srv.session_for(_delegate(srv)["url"])
    screen = Screen(srv.url, cookies=_cookie_header(browser))
    try:
        screen.wait("state")
        assert screen.call("sync")["ok"] is True
        with sqlite3.connect(srv.data_dir / "meeting.db") as db:
            db.execute("DELETE FROM login_session")
        assert screen.call("sync") == {"ok": False, "error": "Thẻ không còn hiệu lực.", "code": "auth.revoked"}
    finally:
        screen.close()


def test_revoking_the_card_ends_every_session_it_opened(live_server: LiveServer) -> None:
    srv = live_server
    d = _delegate(srv, 1)
    phone = srv.session_for(d["url"])
    tablet = srv.session_for(d["url"])
    thief = _copy(phone)
    screen = Screen(srv.url, cookies=_cookie_header(phone))
    try:
        screen.wait("state")
        clerk = srv.session_for(srv.links["clerk"])
        r = clerk.post(f"{srv.url}/clerk/participants/{d['participant_id']}/reissue",
                       data={"csrf_token": _csrf(clerk, srv.url + "/clerk/")}, timeout=10)
        assert r.status_code == 200
        screen.wait("revoked")
        for http in (phone, tablet, thief):
            assert http.get(srv.url + "/delegate", timeout=10).status_code == 401
        with sqlite3.connect(srv.data_dir / "meeting.db") as db:
            left = db.execute("SELECT count(*) FROM login_session WHERE token = ?", (srv.token(d["url"]),)).fetchone()
        assert left == (0,)
        assert clerk.get(srv.url + "/clerk/", timeout=10).status_code == 200  # the clerk's own session is untouched
    finally:
        screen.close()


def test_an_old_style_cookie_with_the_raw_token_opens_nothing(live_server: LiveServer) -> None:
    srv = live_server
    d = _delegate(srv, 2)
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    app = Flask("forge")
    app.secret_key = (srv.data_dir / "secret_key").read_text().strip()
    signer = SecureCookieSessionInterface().get_signing_serializer(app)
    assert signer is not None
    old = signer.dumps({"tok": srv.token(d["url"]), "_permanent": True})  # what /j/ used to set
    http = requests.Session()
    http.cookies.set("ms_session", old)
    page = http.get(srv.url + "/delegate", timeout=10)
    assert page.status_code == 401 and "Hãy quét mã QR" in page.text
    assert http.get(f"{srv.url}/api/v1/meetings", timeout=10).status_code == 401
    assert _refused(srv, cookies=f"ms_session={old}") == REJECTED


def test_a_session_idle_too_long_ends(live_server: LiveServer) -> None:
    srv = live_server
    http = srv.session_for(_delegate(srv, 3)["url"])
    assert http.get(srv.url + "/delegate", timeout=10).status_code == 200
    with sqlite3.connect(srv.data_dir / "meeting.db") as db:  # 23 hours later: still open
        db.execute("UPDATE login_session SET last_seen = last_seen - 23 * 3600")
    assert http.get(srv.url + "/delegate", timeout=10).status_code == 200
    with sqlite3.connect(srv.data_dir / "meeting.db") as db:
        (seen,) = db.execute("SELECT last_seen FROM login_session").fetchone()
    assert abs(seen - time.time()) < 60  # that request was a use: the idle time starts again
    with sqlite3.connect(srv.data_dir / "meeting.db") as db:  # 25 hours without a request or a connection
        db.execute("UPDATE login_session SET last_seen = last_seen - 25 * 3600")
    page = http.get(srv.url + "/delegate", timeout=10)
    assert page.status_code == 401 and "Hãy quét mã QR" in page.text


def _in_parallel(n: int, fn: Callable[[int], Any], workers: int = 60) -> list[Any]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, range(n)))


def test_wrong_bearer_tokens_are_limited_and_the_right_card_still_works(live_server: LiveServer) -> None:
    srv = live_server
    api = f"{srv.url}/api/v1/meetings"
    with healthz_watch(srv) as latencies:
        t0 = time.monotonic()
        answers = _in_parallel(300, lambda i: requests.get(api, headers={"Authorization": f"Bearer wrong{i}"},
                                                           timeout=30))
        elapsed = time.monotonic() - t0
        codes = [r.status_code for r in answers]
        assert codes.count(401) <= 12 and codes.count(429) >= 288 and set(codes) == {401, 429}, codes
        refused = next(r for r in answers if r.status_code == 429)
        assert refused.json() == {"error": "auth.too_many_attempts", "message": TOO_MANY}
        # The right card from the same (limited) address: the API, the join link and a new connection.
        chair = srv.links["chair"][0]
        assert requests.get(api, headers=srv.bearer(chair), timeout=10).status_code == 200
        joined = requests.get(srv.local(_delegate(srv)["url"]), timeout=10)
        assert joined.status_code == 200 and '<meta name="page-url" content="/delegate">' in joined.text
        assert _refused(srv, token=srv.token(chair)) == "connected"
        # A wrong one is still refused, and the join page says why in words.
        page = requests.get(srv.url + "/j/wrong-again", timeout=10)
        assert page.status_code == 429 and "quá nhiều lần thử" in page.text.lower()
    print(f"300 wrong Bearer tokens answered in {elapsed:.1f}s; /healthz worst {max(latencies) * 1000:.0f} ms "
          f"over {len(latencies)} polls")
    assert elapsed > 2  # the pause: a refused guess waits
    assert_healthz(latencies)


def test_wrong_socketio_tokens_are_limited_and_the_right_card_still_connects(live_server: LiveServer) -> None:
    srv = live_server
    with healthz_watch(srv) as latencies:
        t0 = time.monotonic()
        refusals = _in_parallel(300, lambda i: _refused(srv, token=f"wrong{i}"), workers=40)
        elapsed = time.monotonic() - t0
        assert "connected" not in refusals
        limited = [r for r in refusals if r != REJECTED]
        assert len(limited) >= 288 and refusals.count(REJECTED) <= 12, refusals
        assert all(r == {"message": TOO_MANY, "data": {"code": "auth.too_many_attempts", "message": TOO_MANY}}
                   for r in limited), limited[0]
        # The right card from the same address connects and gets its state.
        screen = Screen(srv.url, srv.token(srv.links["kiosk"]))
        try:
            assert screen.wait("state")["seq"] >= 0
        finally:
            screen.close()
        # The other paths share the same count: a wrong Bearer token from here is refused too.
        r = requests.get(f"{srv.url}/api/v1/meetings", headers={"Authorization": "Bearer nope"}, timeout=10)
        assert r.status_code == 429
    print(f"300 wrong Socket.IO tokens refused in {elapsed:.1f}s; /healthz worst {max(latencies) * 1000:.0f} ms "
          f"over {len(latencies)} polls")
    assert_healthz(latencies)


def test_every_answer_has_the_security_headers(live_server: LiveServer) -> None:
    """Pages of every kind, the kiosk's above all (it must not be framed), errors and JSON."""
    srv = live_server
    kiosk = srv.session_for(srv.links["kiosk"])
    host = srv.url.split("//", 1)[1]
    for path in ("/", "/kiosk", "/delegate", "/j/nope", "/verify", "/api/v1/meetings", "/healthz"):
        r = kiosk.get(srv.url + path, timeout=10)
        h, csp = r.headers, r.headers.get("Content-Security-Policy", "")
        if r.headers["Content-Type"].startswith("text/html"):  # every page
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
            assert "frame-ancestors 'none'" in csp and f"connect-src 'self' ws://{host} wss://{host}" in csp, path
            assert "style-src 'self'" in csp and "object-src 'none'" in csp, path
        assert h["X-Frame-Options"] == "DENY", path
        assert h["X-Content-Type-Options"] == "nosniff", path
        assert h["Referrer-Policy"] == "no-referrer", path
    assert kiosk.get(srv.url + "/kiosk", timeout=10).status_code == 200
