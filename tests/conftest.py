"""Shared fixtures: an in-process app for HTTP tests and real servers on loopback for everything live."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
# Every app and server of this run shares one cache of compressed static files (web/statics.py), so each start
# compresses nothing; the cache is named by content hash, so runs may share it too.
os.environ.setdefault("MEETING_SERVER_STATIC_CACHE",
                      str(Path(os.environ.get("TMPDIR", "/tmp")) / f"meeting-server-static-{os.getuid()}"))


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db", choices=("sqlite", "postgresql"), default=os.environ.get("MEETING_SERVER_TEST_DB", "sqlite"),
        help="The database the storage tests run on: sqlite (default) or postgresql, a private cluster made with "
             "initdb in a temporary directory (tests/pg_kit.py); also MEETING_SERVER_TEST_DB=postgresql.")


def on_postgresql(config: pytest.Config) -> bool:
    return bool(config.getoption("--db") == "postgresql")


#: The run's PostgreSQL: whether --db=postgresql, the private cluster (started on first use, stopped at the end of
#: the run), and the database of each data directory a server was started on (so module-scoped servers that call
#: start_server directly honour --db too, and two servers on one data directory share one database).
_PG: dict[str, Any] = {"on": False, "cluster": None, "urls": {}}


def _cluster() -> Any:
    if _PG["cluster"] is None:
        from tests import pg_kit

        _PG["cluster"] = pg_kit.start_cluster()
    return _PG["cluster"]


def database_for(data_dir: Path) -> str | None:
    """The database a server on `data_dir` uses: None (its SQLite file) unless --db=postgresql."""
    if not _PG["on"]:
        return None
    key = Path(data_dir).resolve()
    if key not in _PG["urls"]:
        _PG["urls"][key] = _cluster().fresh_database()
    url: str = _PG["urls"][key]
    return url


def pytest_unconfigure(config: pytest.Config) -> None:
    if _PG["cluster"] is not None:
        _PG["cluster"].stop()
        _PG["cluster"] = None


def pytest_configure(config: pytest.Config) -> None:
    _PG["on"] = on_postgresql(config)
    config.addinivalue_line("markers", "sqlite_only(reason): exercises what exists on SQLite only; skipped, with "
                                       "the reason, on --db=postgresql")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not on_postgresql(config):
        return
    for item in items:
        for mark in item.iter_markers("sqlite_only"):
            reason = mark.args[0] if mark.args else mark.kwargs.get("reason", "")
            item.add_marker(pytest.mark.skip(reason=f"SQLite only on --db=postgresql: {reason}"))


@pytest.fixture(scope="session")
def pg_cluster() -> Any:
    """One private PostgreSQL cluster for the whole run (started only when a test asks for it)."""
    return _cluster()


@pytest.fixture
def pg_url(pg_cluster: Any) -> Iterator[str]:
    """A fresh PostgreSQL database at the newest schema, whatever --db says (the PostgreSQL-only tests)."""
    url: str = pg_cluster.fresh_database()
    yield url
    pg_cluster.drop(url)


@pytest.fixture
def new_database_url(request: pytest.FixtureRequest) -> Iterator[Callable[[], str | None]]:
    """Makes a fresh database URL per call on --db=postgresql, None on SQLite (the data directory's own file)."""
    made: list[str] = []
    cluster = request.getfixturevalue("pg_cluster") if on_postgresql(request.config) else None

    def make() -> str | None:
        if cluster is None:
            return None
        url: str = cluster.fresh_database()
        made.append(url)
        return url

    yield make
    for url in made:
        assert cluster is not None
        cluster.drop(url)


@pytest.fixture
def database_url(new_database_url: Callable[[], str | None]) -> str | None:
    """The test's database on --db=postgresql, None on SQLite (the default: the data directory's meeting.db)."""
    return new_database_url()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class LiveServer:
    """A real `python -m meeting_server serve` on loopback, with its data directory and join links."""

    url: str
    data_dir: Path
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    links: dict[str, Any] = field(default_factory=dict)
    database_url: str | None = None

    def refresh_links(self) -> dict[str, Any]:
        """The same JSON as `meeting-server links --json` (tests/test_cli.py checks the command itself),
        read in-process to spare a Python start per test."""
        from sqlalchemy.orm import Session

        from meeting_server.services import links, meetings
        from meeting_server.store import db

        engine = db.make_engine(self.database_url or db.database_url(self.data_dir), self.data_dir)
        try:
            with Session(engine) as s:
                m = meetings.current(s)
                assert m is not None
                self.links = links.links(m, links.public_base(s, self.url))
        finally:
            engine.dispose()
        return self.links

    def token(self, url: str) -> str:
        return url.rsplit("/", 1)[1]

    def documents_ready(self, timeout: float = 120) -> list[dict[str, Any]]:
        """The meeting's documents once none is still being read in (the clerk's list). A demo server reads its
        documents in the background after its first /healthz, and each one finished moves the meeting's seq: a
        test that compares snapshots, or presents a page, starts from a room that has settled."""
        clerk = self.bearer(self.links["clerk"])
        url = f"{self.url}/api/v1/meetings/{self.links['meeting_id']}/documents"
        deadline = time.monotonic() + timeout
        while True:
            docs = requests.get(url, headers=clerk, timeout=10).json()["documents"]
            if docs and all(d["status"] != "processing" for d in docs):
                return list(docs)
            assert time.monotonic() < deadline, f"documents still being read in after {timeout:.0f} s: {docs}"
            time.sleep(0.1)

    def bearer(self, url: str) -> dict[str, str]:
        """The Authorization header of the card behind a join link."""
        return {"Authorization": "Bearer " + self.token(url)}

    def session_for(self, join_url: str) -> requests.Session:
        """A browser-like HTTP session bound to a card by opening its join link."""
        s = requests.Session()
        r = s.get(join_url.replace(self.links_base(), self.url), allow_redirects=True, timeout=10)
        r.raise_for_status()
        return s

    def links_base(self) -> str:
        return self.links["kiosk"].rsplit("/j/", 1)[0]

    def local(self, join_url: str) -> str:
        return join_url.replace(self.links_base(), self.url)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("MEETING_SERVER_DATA", None)
    return env


def start_server(data_dir: Path, *extra: str, port: int | None = None, database_url: str | None = None,
                 on_sqlite: bool = False) -> LiveServer:
    """Start a server and wait for /healthz (deadline 30 s); on PostgreSQL when given a `database_url`; on the data
    directory's SQLite file whatever --db says with `on_sqlite` (a source for `migrate --to`)."""
    port = port or free_port()
    database_url = None if on_sqlite else database_url or database_for(data_dir)
    if database_url:
        extra = ("--database-url", database_url, *extra)
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "server.log"
    with open(log_path, "ab") as log:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [sys.executable, "-m", "meeting_server", "serve", "--host", "127.0.0.1", "--port", str(port),
             "--data-dir", str(data_dir), *extra],
            cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"server did not answer /healthz:\n{log_path.read_text()[-3000:]}")
        time.sleep(0.1)
    server = LiveServer(url=url, data_dir=data_dir, proc=proc, port=port, log_path=log_path,
                        database_url=database_url)
    if "--no-demo" not in extra:
        server.refresh_links()
    return server


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Start fresh servers (each on its own data directory unless given one); all are stopped at the end. On
    --db=postgresql each data directory gets its own database, shared by the servers started on it."""
    started: list[LiveServer] = []

    def make(*extra: str, data_dir: Path | None = None, port: int | None = None) -> LiveServer:
        srv = start_server(data_dir or tmp_path / f"data{len(started)}", *extra, port=port)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def live_server(server_factory: Callable[..., LiveServer]) -> LiveServer:
    """A fresh server with the demo meeting."""
    return server_factory()


@pytest.fixture
def app(tmp_path: Path, database_url: str | None) -> Iterator[Any]:
    """An in-process app on a temporary data directory with the demo meeting (CSRF on, as in production); its
    database on PostgreSQL with --db=postgresql."""
    from meeting_server.app import create_app
    from meeting_server.services import demo
    from meeting_server.store import db

    config: dict[str, Any] = {"DATA_DIR": tmp_path / "inproc", "SOCKETIO_ASYNC_MODE": "threading",
                              "DISCOVERY": False}
    if database_url:
        config["DATABASE_URL"] = database_url
    app = create_app(config)
    with db.standalone_session(app) as s:
        demo.seed(s)
        s.commit()
    yield app
    # Close the pool's connections now: a psycopg connection left to the garbage collector warns (ResourceWarning,
    # an error in this suite) in whichever later test the collection happens.
    app.extensions["db_engine"].dispose()


@pytest.fixture
def app_links(app: Any) -> dict[str, Any]:
    """The demo meeting's join links in the in-process app (base http://localhost)."""
    from meeting_server.services import links, meetings
    from meeting_server.store import db

    with db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        return links.links(m, "http://localhost")


def token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


@pytest.fixture
def login(app: Any, app_links: dict[str, Any]) -> Callable[[str], Any]:
    """A Flask test client bound to a role's card: login("clerk"), login("chair"), login("delegate"), …"""

    def make(role: str) -> Any:
        client = app.test_client()
        if role == "anonymous":
            return client
        url = {
            "clerk": app_links["clerk"],
            "chair": app_links["chair"][0],
            "secretary": app_links["secretary"][0],
            "delegate": next(d["url"] for d in app_links["delegates"] if d["role"] == "delegate"),
            "guest": app_links["guest"],
            "invited_guest": app_links["guests"][0]["url"],
            "kiosk": app_links["kiosk"],
        }[role]
        r = client.get("/j/" + token_of(url))
        assert r.status_code in (200, 302), r.data  # a phone's page comes in the answer itself (web/join.py)
        return client

    return make


def csrf_token(client: Any, path: str = "/") -> str:
    """The CSRF token a page embeds (forms post it back)."""
    import re

    html = client.get(path, follow_redirects=True).get_data(as_text=True)
    m = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)
