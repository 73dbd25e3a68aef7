"""The HTTP routes while PostgreSQL is away: a real server on a private PostgreSQL cluster, stopped and started again
within the test (`pg_ctl stop -m fast`, as an operator's restart).

Meanwhile every route that needs the database answers 503 with what to do, in the person's language, and
`Retry-After` (JSON for /api, the error page for pages), and stores nothing; /healthz says the process waits (503,
`"status": "waiting"`); once PostgreSQL is back the same requests work, without restarting the server.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from meeting_server.doctor import DoctorConfig, check_chain, check_port
from tests import pg_kit
from tests.conftest import LiveServer, start_server

WAITING_VI = "Máy chủ đang chờ cơ sở dữ liệu, hãy thử lại sau ít giây."
WAITING_EN = "The server is waiting for its database; try again in a few seconds."


@pytest.fixture(scope="module")
def cluster() -> Iterator[pg_kit.Cluster]:
    """A cluster of this module's own: stopping it disturbs no other test's database."""
    if pg_kit.pg_bin("initdb") is None:
        pytest.skip("PostgreSQL is not installed (scripts/test installs it)")
    c = pg_kit.start_cluster()
    yield c
    c.stop()


@pytest.fixture
def server(cluster: pg_kit.Cluster, tmp_path: Path) -> Iterator[tuple[LiveServer, str]]:
    url = cluster.fresh_database()
    srv = start_server(tmp_path / "data", database_url=url)
    yield srv, url
    srv.stop()


def _count(url: str, sql: str, *args: Any) -> int:
    with psycopg.connect(url) as c:  # postgresql://postgres@/db?host=<socket dir>: libpq takes it as it is
        row = c.execute(sql, args).fetchone()  # type: ignore[arg-type]
        assert row is not None
        return int(row[0])


def _csrf(s: requests.Session, url: str) -> str:
    m = re.search(r'name="csrf-token" content="([^"]+)"', s.get(url, timeout=10).text)
    assert m
    return m.group(1)


def _health(srv: LiveServer) -> requests.Response:
    return requests.get(srv.url + "/healthz", timeout=10)


def _until(predicate: Any, timeout: float = 30) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "not within the deadline"
        time.sleep(0.1)
    return time.monotonic() - started


def test_routes_answer_503_while_postgresql_is_away_store_nothing_and_work_once_it_is_back(
        server: tuple[LiveServer, str], cluster: pg_kit.Cluster) -> None:
    srv, url = server
    clerk = srv.session_for(srv.links["clerk"])
    form_csrf = _csrf(clerk, srv.url + "/clerk/")
    bearer = srv.bearer(srv.links["clerk"])
    delegate = srv.session_for(next(d["url"] for d in srv.links["delegates"] if d["role"] == "delegate"))
    english = srv.session_for(next(d["url"] for d in srv.links["delegates"] if d["role"] == "delegate"))
    english.post(srv.url + "/lang/en", data={"csrf_token": _csrf(english, srv.url + "/delegate"),
                                             "next": "/delegate"}, timeout=10)
    title = "Nội dung thêm trong lúc chờ"
    pdf = (Path(__file__).resolve().parents[2] / "meeting_server" / "demo" / "ke-hoach-cds-dong-le.pdf").read_bytes()
    pdf += b"\n% database away\n"  # bytes of its own: no demo document shares them
    items = _count(url, "SELECT count(*) FROM agenda_item WHERE title = %s", title)
    docs = _count(url, "SELECT count(*) FROM document")
    assert _health(srv).status_code == 200

    def add_item() -> requests.Response:
        return clerk.post(srv.url + "/clerk/agenda", data={"csrf_token": form_csrf, "title": title,
                                                           "description": ""}, timeout=30)

    def upload() -> requests.Response:
        return requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=bearer,
                             files={"file": ("cho.pdf", pdf, "application/pdf")}, timeout=30)

    cluster.pause()
    try:
        # /healthz: alive and waiting (the links watch probes every second); the front keeps it in rotation.
        told_in = _until(lambda: _health(srv).status_code == 503)
        h = _health(srv)
        assert h.json()["status"] == "waiting" and h.json()["waiting"] == ["database"], h.text
        assert h.json()["message"] == WAITING_VI and int(h.headers["Retry-After"]) > 0
        # `doctor` says so too (not "the port is taken by another program", not "does not answer").
        config = DoctorConfig(data_dir=srv.data_dir, host="127.0.0.1", port=srv.port,
                              backends=(f"127.0.0.1:{srv.port}",))
        port = check_port(config)
        assert port.level == "warn" and "waits for its database" in port.detail_en, port
        assert [(c.level, "waits for its database" in c.detail_en) for c in check_chain(config)] == [("warn", True)]
        # The clerk's form: the error page, in Vietnamese, with Retry-After; not a server error.
        r = add_item()
        assert r.status_code == 503, r.text[:500]
        assert "text/html" in r.headers["Content-Type"] and WAITING_VI in r.text, r.text[:2000]
        assert "Máy chủ gặp lỗi" not in r.text
        assert int(r.headers["Retry-After"]) > 0
        # An upload through the API: JSON, the same words and code as a Socket.IO event gets.
        r = upload()
        assert r.status_code == 503, r.text[:500]
        assert r.json() == {"error": "server.waiting", "message": WAITING_VI}, r.text
        assert int(r.headers["Retry-After"]) > 0
        # The delegate's page opened (or reloaded) meanwhile: the error page says to wait, in their language.
        r = delegate.get(srv.url + "/delegate", timeout=30)
        assert r.status_code == 503 and WAITING_VI in r.text, r.text[:2000]
        # … and loads itself again after Retry-After, so the phone's screen comes back by itself; the clerk's
        # form answer above does not (a post is never sent again behind the person's back).
        assert f'<meta http-equiv="refresh" content="{r.headers["Retry-After"]}">' in r.text
        assert 'http-equiv="refresh"' not in add_item().text
        r = english.get(srv.url + "/delegate", timeout=30)
        assert r.status_code == 503 and WAITING_EN in r.text, r.text[:2000]
    finally:
        cluster.resume()
    # Nothing of what was refused was stored.
    assert _count(url, "SELECT count(*) FROM agenda_item WHERE title = %s", title) == items
    assert _count(url, "SELECT count(*) FROM document") == docs
    # Back by itself: /healthz, then the very same requests succeed, on the same server process.
    back_in = _until(lambda: _health(srv).status_code == 200)
    print(f"\n/healthz 503 {told_in:.1f} s after PostgreSQL stopped, 200 again {back_in:.1f} s after it started")
    assert "waiting" not in _health(srv).json()
    r = add_item()
    assert r.status_code == 200 and title in r.text, r.text[:500]  # back on the console, the item listed
    r = upload()
    assert r.status_code == 202, r.text
    assert _count(url, "SELECT count(*) FROM agenda_item WHERE title = %s", title) == items + 1
    assert _count(url, "SELECT count(*) FROM document") == docs + 1
    assert delegate.get(srv.url + "/delegate", timeout=30).status_code == 200
    assert srv.proc.poll() is None
