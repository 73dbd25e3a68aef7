"""A full or read-only data disk, for real: the server runs with its data directory on a small tmpfs (in a mount
namespace of its own, `unshare -rm`, so no root is needed), the test fills it or remounts it read-only, and the
clerk's upload, the minutes' preparation and a delegate's ballot are each refused with what happened, in
Vietnamese; nothing refused is stored, and once the disk is fixed the same actions work."""

from __future__ import annotations

import errno
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from meeting_server import faults
from tests.conftest import ROOT, LiveServer, _env, free_port
from tests.realtime.voting_kit import api, chair, clerk, delegates, join, make_poll, open_poll, screen

FULL = "Ổ đĩa dữ liệu của máy chủ đã đầy"
READONLY = "Ổ đĩa dữ liệu của máy chủ đang ở chế độ chỉ đọc"


def test_the_classifier_knows_the_disk_faults() -> None:
    assert isinstance(faults.disk_fault(OSError(errno.ENOSPC, "No space left on device")), faults.DiskFull)
    assert isinstance(faults.disk_fault(OSError(errno.EROFS, "Read-only file system")), faults.DiskReadOnly)
    assert isinstance(faults.disk_fault(sqlite3.OperationalError("database or disk is full")), faults.DiskFull)
    ro = sqlite3.OperationalError("attempt to write a readonly database")
    try:
        try:
            raise ro
        except sqlite3.OperationalError as inner:
            raise RuntimeError("wrapped") from inner
    except RuntimeError as outer:
        assert isinstance(faults.disk_fault(outer), faults.DiskReadOnly)
    assert faults.disk_fault(ValueError("no")) is None
    assert faults.disk_fault(OSError(errno.ENOENT, "gone")) is None


def _namespaces_work() -> str | None:
    if shutil.which("unshare") is None or shutil.which("nsenter") is None:
        return "unshare/nsenter (util-linux) are not installed"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"],
                           capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        return f"cannot mount a tmpfs in a user+mount namespace here: {probe.stderr.strip()}"
    return None


SKIP = _namespaces_work()


class DiskServer:
    """A live server whose data directory is a tmpfs of `size` in its own mount namespace."""

    def __init__(self, tmp: Path, size: str = "64m") -> None:
        self.mnt = tmp / "disk"
        self.mnt.mkdir()
        port = free_port()
        self.log_path = tmp / "server.log"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                ["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$@"',
                 str(self.mnt), sys.executable, "-m", "meeting_server", "serve", "--host", "127.0.0.1",
                 "--port", str(port), "--data-dir", str(self.mnt)],
                cwd=ROOT, env=_env(), stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            assert self.proc.poll() is None, self.log_path.read_text()[-3000:]
            try:
                if requests.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, self.log_path.read_text()[-3000:]
            time.sleep(0.1)
        #: The tmpfs as the server sees it, reached from outside its namespace.
        self.disk = Path(f"/proc/{self.proc.pid}/root") / str(self.mnt).lstrip("/")
        self.live = LiveServer(url=url, data_dir=self.disk, proc=self.proc, port=port, log_path=self.log_path)
        # SQLite resolves the /proc/<pid>/root link to "/", outside the namespace: read the links from inside it.
        out = self.inside(sys.executable, "-m", "meeting_server", "links", "--json", "--data-dir", str(self.mnt))
        self.live.links = json.loads(out)

    def fill(self) -> None:
        """Truncate the database's write-ahead log (so the next commit needs new blocks), then fill the disk."""
        self.inside(sys.executable, "-c", "import sqlite3, sys; "
                    "sqlite3.connect(sys.argv[1], timeout=10).execute('PRAGMA wal_checkpoint(TRUNCATE)')",
                    str(self.mnt / "meeting.db"))
        with open(self.disk / "filler", "wb", buffering=0) as f:
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
                    f.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
            try:  # the last partial block
                while True:
                    f.write(b"\0" * 4096)
                    f.flush()
            except OSError:
                pass
        assert shutil.disk_usage(self.disk).free < 64 * 1024

    def free(self) -> None:
        try:
            (self.disk / "filler").unlink()
        except OSError:
            pass

    def inside(self, *cmd: str) -> str:
        """Run a command in the server's namespaces; its output."""
        r = subprocess.run(["nsenter", "-t", str(self.proc.pid), "-U", "-m", "--preserve-credentials", *cmd],
                           cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def remount(self, mode: str) -> None:
        """Read-only: Linux refuses to remount a file system read-only while the server holds files open for
        writing (EBUSY), so the data directory is covered by a read-only bind mount of itself: every file opened
        from now on (an upload, the prepared minutes, a new database connection) is on a read-only mount, as after
        the kernel remounted a failing disk read-only. Read-write again: the cover is taken away."""
        if mode == "ro":
            self.inside("mount", "--bind", str(self.mnt), str(self.mnt))
            self.inside("mount", "-o", "remount,bind,ro", str(self.mnt))
        else:
            self.inside("umount", "--lazy", str(self.mnt))  # a file the server opened meanwhile keeps it busy

    def stop(self) -> None:
        self.live.stop()


@pytest.fixture
def disk_server(tmp_path: Path) -> Iterator[DiskServer]:
    if SKIP:
        pytest.skip(SKIP)
    srv = DiskServer(tmp_path)
    try:
        yield srv
    finally:
        srv.stop()


def _bearer(srv: LiveServer, url: str) -> dict[str, str]:
    return {"Authorization": "Bearer " + srv.token(url), "Accept": "application/json"}


def _upload(srv: LiveServer) -> requests.Response:
    import fitz

    doc = fitz.open()
    doc.new_page().insert_text((72, 72), "Tờ trình")
    return requests.post(f"{srv.url}/api/v1/meetings/1/documents", headers=_bearer(srv, srv.links["clerk"]),
                         files={"file": ("to-trinh.pdf", doc.tobytes(), "application/pdf")}, timeout=30)


def _documents(srv: LiveServer) -> list[int]:
    r = requests.get(f"{srv.url}/api/v1/meetings/1/documents", headers=_bearer(srv, srv.links["clerk"]), timeout=10)
    return sorted(d["id"] for d in r.json()["documents"])


def _prepare(srv: LiveServer) -> requests.Response:
    return requests.post(f"{srv.url}/api/v1/meetings/1/minutes/prepare", headers=_bearer(srv, srv.links["clerk"]),
                         timeout=120)


def _signing_status(srv: LiveServer) -> str:
    r = requests.get(f"{srv.url}/api/v1/meetings/1/minutes/signing", headers=_bearer(srv, srv.links["clerk"]),
                     timeout=10)
    return str(r.json().get("status"))


def _refused(r: requests.Response, status: int, words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert words in body["message"], body
    assert "Traceback" not in r.text and "Errno" not in r.text


@pytest.mark.parametrize("fault", ["full", "readonly"])
def test_a_full_or_read_only_disk_is_said_as_such_everywhere(disk_server: DiskServer, fault: str) -> None:
    ds = disk_server
    srv = ds.live
    status, words, code = (507, FULL, "disk.full") if fault == "full" else (503, READONLY, "disk.readonly")
    before_docs = _documents(srv)
    signing_before = _signing_status(srv)

    def break_disk() -> None:
        if fault == "full":
            ds.fill()
        else:
            ds.remount("ro")

    def fix_disk() -> None:
        if fault == "full":
            ds.free()
        else:
            ds.remount("rw")

    # The clerk's upload: refused with the disk's reason (not "damaged PDF"), and no document appears.
    break_disk()
    _refused(_upload(srv), status, words)
    # The minutes' preparation: the disk's reason, no traceback; the version stays a draft.
    _refused(_prepare(srv), status, words)
    fix_disk()
    assert _documents(srv) == before_docs
    assert _signing_status(srv) == signing_before

    # A delegate's ballot: the acknowledgement says what happened, and the ballot is not counted.
    for d in delegates(srv)[:2]:
        join(srv, d["url"])
    poll = make_poll(srv)
    open_poll(srv, poll["id"])
    phone = screen(srv, delegates(srv)[0]["url"])
    chair_screen = screen(srv, chair(srv))
    agenda = api(srv, clerk(srv), "GET", "/meetings/1/agenda").json()
    item = next(i["id"] for i in agenda["items"] if i["id"] != agenda["current_item_id"])
    try:
        break_disk()
        ack = phone.call("cast", {"poll_id": poll["id"], "choice": "for"}, timeout=30)
        # An ordinary event (through the Session's unit of work): the same refusal in its ack.
        moved = chair_screen.call("agenda.set_current", {"item_id": item}, timeout=30) if fault == "full" else None
        fix_disk()
        if moved is not None:
            assert moved["ok"] is False and moved["code"] == code and words in moved["error"], moved
            assert api(srv, clerk(srv), "GET", "/meetings/1/agenda").json()["current_item_id"] != item
        got = api(srv, clerk(srv), "GET", f"/polls/{poll['id']}").json()
        if fault == "full" or not ack["ok"]:
            assert ack["ok"] is False and ack["code"] == code, ack
            assert words in ack["error"]
            assert got["progress"]["voted"] == 0, got
        else:
            # The read-only cover reaches files opened from now on; the database connection the ballot writer holds
            # was opened before, so its commit is still stored. Acknowledged, therefore kept (and test_of_work_on_a_
            # read_only_database checks a connection opened on the read-only disk).
            assert got["progress"]["voted"] == 1, got
        # Once the disk is fixed, the same actions work.
        assert phone.call("cast", {"poll_id": poll["id"], "choice": "for"}, timeout=30)["ok"] is True
    finally:
        phone.close()
        chair_screen.close()
    r = _upload(srv)
    assert r.status_code == 202, r.text
    assert os.path.exists(ds.disk / "meeting.db")


def test_of_work_on_a_read_only_database(tmp_path: Path) -> None:
    """A database connection opened on a read-only disk: the use case is refused with the read-only message (SQLite:
    "attempt to write a readonly database"), and nothing changed."""
    if SKIP:
        pytest.skip(SKIP)
    from sqlalchemy import text
    from sqlalchemy.orm import Session

    from meeting_server.store import db

    data = tmp_path / "ro"
    data.mkdir()
    engine = db.make_engine(db.database_url(data))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
    engine.dispose()
    with Session(db.make_engine(db.database_url(data))) as s:
        s.execute(text("PRAGMA journal_mode=DELETE"))
        s.commit()
    script = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
from sqlalchemy import text
from sqlalchemy.orm import Session
from meeting_server.services import unit
from meeting_server.store import db
from meeting_server.domain.errors import DomainError
engine = db.make_engine(db.database_url(__import__("pathlib").Path({str(data)!r})))
try:
    with Session(engine) as s, unit.of_work(s):
        s.execute(text("INSERT INTO t VALUES (1)"))
except DomainError as err:
    print(err.code, err.message)
"""
    r = subprocess.run(["unshare", "-rm", "sh", "-c",
                        'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" && exec "$@"', str(data),
                        sys.executable, "-c", script], capture_output=True, text=True, check=False, env=_env())
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("disk.readonly " + READONLY), (r.stdout, r.stderr[-2000:])
    check = sqlite3.connect(data / "meeting.db")
    assert check.execute("SELECT count(*) FROM t").fetchone() == (0,)
    check.close()
