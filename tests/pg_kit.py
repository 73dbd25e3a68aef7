"""A private PostgreSQL cluster for the tests: Debian's initdb in a temporary directory, listening only on a unix
socket in that directory (no TCP port to clash with anything), fsync off (a test's data need not survive a power
cut). Each test gets a fresh database, copied from a template migrated once.

`pytest --db=postgresql` (or MEETING_SERVER_TEST_DB=postgresql) runs the storage tests against it; see
tests/conftest.py. As root (CI, this box), the cluster runs as Debian's `postgres` user: PostgreSQL refuses root.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

TEMPLATE = "meeting_template"
#: Debian's PostgreSQL server programs, one folder per major version (postgresql-15 here; `postgresql` pulls it in).
PG_LIB = "/usr/lib/postgresql/"


def pg_bin(name: str) -> str | None:
    """A PostgreSQL server program of the newest installed major version (Debian: /usr/lib/postgresql/N/bin)."""
    found = sorted(glob.glob(PG_LIB + "*/bin/" + name), key=lambda p: int(p.split("/")[4]))
    return found[-1] if found else None


def _as_owner() -> list[str]:
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@dataclass
class Cluster:
    """A running cluster: its directory (socket inside), and a counter naming each test's database."""

    root: Path
    counter: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    template_ready: bool = False

    @property
    def socket_dir(self) -> Path:
        return self.root

    def url(self, dbname: str) -> str:
        return f"postgresql://postgres@/{dbname}?host={self.socket_dir}"

    def admin(self, sql: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(host=str(self.socket_dir), user="postgres", dbname=dbname, autocommit=True) as c:
            c.execute(sql)  # type: ignore[arg-type]

    def fresh_database(self) -> str:
        """A new, empty-of-data database at the newest schema (a copy of the template), and its URL."""
        if not self.template_ready:
            from meeting_server.store import db

            self.admin(f"CREATE DATABASE {TEMPLATE}")
            db.upgrade(self.url(TEMPLATE))
            self.admin(f"ALTER DATABASE {TEMPLATE} WITH ALLOW_CONNECTIONS false")
            self.template_ready = True
        name = f"t{os.getpid()}_{next(self.counter)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE}")
        return self.url(name)

    def empty_database(self) -> str:
        """A new database with no schema at all (for the migrations from nothing), and its URL."""
        name = f"e{os.getpid()}_{next(self.counter)}"
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop(self, url: str) -> None:
        name = url.split("/")[3].split("?")[0]
        self.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def pause(self) -> None:
        """Stop the server as an operator's restart does (`pg_ctl stop -m fast`: the sessions are cut, what was
        committed is kept); the directory stays for `resume`."""
        pg_ctl = pg_bin("pg_ctl")
        assert pg_ctl
        subprocess.run([*_as_owner(), pg_ctl, "-D", str(self.root / "data"), "-m", "fast", "-w", "stop"],
                       check=True, capture_output=True, timeout=60)

    def resume(self) -> None:
        """Start the server again on the same directory and socket (after `pause`)."""
        _pg_ctl_start(self.root)

    def stop(self) -> None:
        pg_ctl = pg_bin("pg_ctl")
        assert pg_ctl
        subprocess.run([*_as_owner(), pg_ctl, "-D", str(self.root / "data"), "-m", "immediate", "stop"],
                       capture_output=True, timeout=60)
        shutil.rmtree(self.root, ignore_errors=True)


def start_cluster() -> Cluster:
    initdb, pg_ctl = pg_bin("initdb"), pg_bin("pg_ctl")
    if not initdb or not pg_ctl:
        raise RuntimeError("PostgreSQL's initdb was not found (apt-get install postgresql postgresql-contrib)")
    root = Path(tempfile.mkdtemp(prefix="meeting-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
    data = root / "data"
    subprocess.run([*_as_owner(), initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                    "--locale=C.UTF-8", "--no-sync"], check=True, capture_output=True, timeout=120, cwd=root)
    _pg_ctl_start(root)
    return Cluster(root=root)


def _pg_ctl_start(root: Path) -> None:
    pg_ctl = pg_bin("pg_ctl")
    assert pg_ctl
    opts = (f"-k {root} -c listen_addresses='' -c fsync=off -c full_page_writes=off -c max_connections=300 "
            "-c shared_buffers=32MB")
    subprocess.run([*_as_owner(), pg_ctl, "-D", str(root / "data"), "-o", opts, "-l", str(root / "server.log"),
                    "-w", "-t", "60", "start"], check=True, capture_output=True, timeout=90, cwd=root)
