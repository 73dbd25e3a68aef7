"""Reading the stored audit chain straight from the database, read-only, for `verify-log` and the clerk's check.

A *source* is the database: SQLite's file (a path) or a PostgreSQL URL (`postgresql://…`, read with psycopg 3 in
one read-only REPEATABLE READ transaction, so every count and row comes from one snapshot). The same queries and
the same domain check run on both; only the placeholders and the storage order differ (SQLite's rowid, PostgreSQL's
seq: an edited seq shows up as a missing or misplaced link either way).

Only the DBAPI driver and the domain: `meeting-server verify-log` must check 100,000 entries in about two seconds,
so it neither builds the app nor loads SQLAlchemy, and a long chain is checked in two halves at once, the second in
a child process (`python -m meeting_server.store.audit_log`, which reads its source and the key from a pipe, never
from the command line: a URL may hold a password). The halves meet at a stored hash: the first half proves that
hash right, the second starts from it, so both together check the whole chain.

It also keeps what anchors the chain outside the database file: the chain's key (`<data>/audit.key`, 0600, made
at the first start; links from its `from_seq` on are HMACs under it) and the checkpoint log
(`<data>/audit/checkpoints.log`, one signed JSON line per act that matters, opened O_APPEND and fsynced).
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import sys
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

from meeting_server import runner
from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError

__all__ = ["CheckpointLog", "append_checkpoint", "append_raw", "chain_hashes", "ensure_key", "entry_of", "iter_rows",
           "load_key", "read_checkpoints", "verify_database", "verify_in_child"]

#: Below this many rows one process is faster than starting a second one.
SPLIT_AT = 20_000

#: The database the chain is read from: SQLite's file, or a PostgreSQL URL.
Source = Path | str


def is_url(source: Source) -> bool:
    """A PostgreSQL URL rather than SQLite's file."""
    return isinstance(source, str) and source.startswith(("postgresql:", "postgresql+", "postgres:"))


def conninfo(url: str) -> str:
    """A PostgreSQL URL as libpq takes it (without SQLAlchemy's `+psycopg`)."""
    scheme, rest = url.split("://", 1)
    return "postgresql://" + rest if scheme.startswith("postgres") else url


class _Reader:
    """One read-only connection to a source; SQL written with `?` placeholders and `ORDER_BY`/`DATA` words."""

    def __init__(self, source: Source) -> None:
        self.pg = is_url(source)
        if self.pg:
            import psycopg

            conn: Any = psycopg.connect(conninfo(str(source)))
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
            self.order, self.data = "seq", "data::text"  # the json column's text as stored, parsed once below
        else:
            conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True)
            self.order, self.data = "rowid", "data"
        self.conn = conn

    def execute(self, sql: str, params: tuple[Any, ...] | list[Any] = ()) -> Any:
        sql = sql.replace("ORDER_BY", self.order).replace("DATA", self.data)
        return self.conn.execute(sql.replace("?", "%s") if self.pg else sql, params)

    def close(self) -> None:
        self.conn.close()


KEY_FILE = "audit.key"
CHECKPOINT_FILE = Path("audit") / "checkpoints.log"


def load_key(data_dir: Path | str) -> audit.ChainKey | None:
    """The chain's key kept in the data directory (None when there is none yet)."""
    try:
        raw = json.loads((Path(data_dir) / KEY_FILE).read_text(encoding="ascii"))
        return audit.ChainKey(bytes.fromhex(raw["key"]), int(raw["from_seq"]))
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:
        raise DomainError("Tệp khóa nhật ký %(path)s bị hỏng: %(error)s", "audit.bad_key",
                          params={"path": str(Path(data_dir) / KEY_FILE), "error": str(exc)}) from exc


def ensure_key(data_dir: Path | str, db_path: Path | str | None, head_seq: int = 0) -> audit.ChainKey:
    """The chain's key, made on first use: 32 random bytes, 0600, keyed links from the link after the current head
    (a chain written by a version without a key keeps its plain links, which still verify).

    `db_path` is the SQLite file whose head is read; for PostgreSQL (no file) the caller reads it and gives
    `head_seq`. On both databases the key lives in the data directory, never in the database."""
    found = load_key(data_dir)
    if found is not None:
        return found
    if db_path is not None and Path(db_path).is_file():
        conn = _connect(Path(db_path))
        try:
            row = conn.execute("SELECT max(seq) FROM audit_event").fetchone()
            head_seq = int(row[0] or 0)
        except sqlite3.OperationalError:  # no audit table yet: a new database
            pass
        finally:
            conn.close()
    path = Path(data_dir) / KEY_FILE
    body = json.dumps({"v": 1, "key": secrets.token_hex(32), "from_seq": head_seq + 1})
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        key = load_key(data_dir)
        assert key is not None
        return key
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(body)
        f.flush()
        os.fsync(f.fileno())
    _fsync_dir(path.parent)
    key = load_key(data_dir)
    assert key is not None
    return key


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def append_checkpoint(data_dir: Path | str, key: audit.ChainKey, meeting_id: int | None, seq: int, head: str,
                      event: str) -> None:
    """Append one signed checkpoint line and fsync it before returning (the caller then acknowledges the act)."""
    path = Path(data_dir) / CHECKPOINT_FILE
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    line = audit.checkpoint_line(key, meeting_id, seq, head, datetime.now(UTC), event) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)
    if new:
        _fsync_dir(path.parent)


class CheckpointLog(NamedTuple):
    """The checkpoint log read back: the checkpoints since the last rollback (`current`), every well-signed one
    (`signed`), and where a line's signature is wrong (`bad`)."""

    current: list[audit.Checkpoint]
    signed: list[audit.Checkpoint]
    bad: list[str]


def read_checkpoints(data_dir: Path | str, key: audit.ChainKey | None) -> CheckpointLog:
    """Every line of the checkpoint log, checked against the key; a rollback line starts the current epoch."""
    path = Path(data_dir) / CHECKPOINT_FILE
    out = CheckpointLog([], [], [])
    if not path.is_file():
        return out
    for n, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{CHECKPOINT_FILE.as_posix()} dòng {n}"
        cp = audit.parse_checkpoint_line(key, line, where) if key is not None else None
        if cp is None:
            out.bad.append(where)
            continue
        out.signed.append(cp)
        if cp.event == audit.ROLLBACK_EVENT:
            out.current.clear()
        out.current.append(cp)
    return out


def append_raw(db_path: Source, key: audit.ChainKey | None, meeting_id: int | None, kind: str, actor: str,
               data: dict[str, Any], data_dir: Path | str | None = None) -> tuple[int, str]:
    """Append one event with the DBAPI driver alone (for the command line: backup, restore, verify-log), as
    `services.audit.record` does; write its checkpoint (into `data_dir`, by default the SQLite file's folder) when
    the kind has one. Returns (seq, hash)."""
    folder = Path(data_dir) if data_dir is not None else Path(db_path).parent
    if is_url(db_path):
        seq, digest = _append_pg(str(db_path), key, meeting_id, kind, actor, data)
        if key is not None and kind in audit.CHECKPOINT_KINDS:
            append_checkpoint(folder, key, meeting_id, seq, digest, kind)
        return seq, digest
    conn = sqlite3.connect(str(db_path), timeout=30, isolation_level=None)
    try:
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("BEGIN IMMEDIATE")
        row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        seq, prev = (row[0] + 1, row[1]) if row else (1, audit.GENESIS)  # the chain's own counter, not a meeting's
        entry = audit.make_entry(meeting_id, kind, datetime.now(UTC), actor, data)
        digest = audit.next_hash(prev, entry, key.for_seq(seq) if key else None)
        conn.execute("INSERT INTO audit_event (seq, meeting_id, at, kind, actor, data, hash) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (seq, meeting_id, entry["at"], kind, actor, json.dumps(entry["data"]), digest))
        conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                     "seq = excluded.seq, hash = excluded.hash", (seq, digest))
        conn.execute("COMMIT")
    finally:
        conn.close()
    if key is not None and kind in audit.CHECKPOINT_KINDS:
        append_checkpoint(folder, key, meeting_id, seq, digest, kind)
    return seq, digest


def _append_pg(url: str, key: audit.ChainKey | None, meeting_id: int | None, kind: str, actor: str,
               data: dict[str, Any]) -> tuple[int, str]:
    """`append_raw` on PostgreSQL: the UPDATE of audit_head takes its row lock before the head is read, as
    `services.audit.record` does, so a running server and this command never fork the chain."""
    import psycopg

    with psycopg.connect(conninfo(url)) as conn:  # one transaction, committed when the block ends
        conn.execute("SET LOCAL synchronous_commit = on")
        conn.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, %s) ON CONFLICT (id) DO NOTHING",
                     (audit.GENESIS,))
        row = conn.execute("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash").fetchone()
        assert row is not None
        seq, prev = int(row[0]), str(row[1])
        entry = audit.make_entry(meeting_id, kind, datetime.now(UTC), actor, data)
        digest = audit.next_hash(prev, entry, key.for_seq(seq) if key else None)
        conn.execute("INSERT INTO audit_event (seq, meeting_id, at, kind, actor, data, hash) "
                     "VALUES (%s, %s, %s, %s, %s, CAST(%s AS json), %s)",
                     (seq, meeting_id, entry["at"], kind, actor, json.dumps(entry["data"]), digest))
        conn.execute("UPDATE audit_head SET hash = %s WHERE id = 1", (digest,))
    return seq, digest


def entry_of(meeting_id: int | None, at: str, kind: str, actor: str, data: Any) -> dict[str, Any]:
    """The hashed payload of a stored row: the dict `services.audit.record` gave `domain.audit.next_hash`."""
    return {"meeting_id": meeting_id, "kind": kind, "at": at, "actor": actor, "data": data}


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def iter_rows(source: Source, first_rowid: int = 0, last_rowid: int | None = None
              ) -> Iterator[tuple[int, int | None, str, str, str, str, str]]:
    """Stored rows in storage order (SQLite's rowid, which is seq: a row whose seq was edited shows up out of
    place; PostgreSQL's seq). `first_rowid`/`last_rowid` bound that order."""
    conn = _Reader(source)
    try:
        if conn.pg:
            yield from _copy_rows(conn.conn, first_rowid, last_rowid)
            return
        yield from conn.execute(
            "SELECT seq, meeting_id, at, kind, actor, DATA, hash FROM audit_event WHERE ORDER_BY >= ? AND "
            "ORDER_BY <= ? ORDER BY ORDER_BY", (first_rowid, last_rowid if last_rowid is not None else 2**63 - 1))
    finally:
        conn.close()


#: COPY's text format escapes these (PostgreSQL's docs, COPY, "Text Format"; it emits no octal or hex escapes).
_COPY_ESCAPES = {"\\": "\\", "t": "\t", "n": "\n", "r": "\r", "b": "\b", "f": "\f", "v": "\v"}


def _copy_field(text: str) -> str:
    if "\\" not in text:
        return text
    out, i = [], 0
    while (j := text.find("\\", i)) >= 0:
        out += [text[i:j], _COPY_ESCAPES.get(text[j + 1], text[j + 1])]
        i = j + 2
    out.append(text[i:])
    return "".join(out)


def _copy_rows(conn: Any, first: int, last: int | None
               ) -> Iterator[tuple[int, int | None, str, str, str, str, str]]:
    """The rows through COPY … TO STDOUT, parsed here: fetching 100,000 rows with psycopg's (pure Python) row
    loading took 5.0 s on the 2-core box under load, COPY's text 1.5 s, measured side by side (2026-12-04)."""
    upper = f" AND seq <= {int(last)}" if last is not None else ""
    sql = ("COPY (SELECT seq, meeting_id, at, kind, actor, data::text, hash FROM audit_event WHERE seq >= "
           f"{int(first)}{upper} ORDER BY seq) TO STDOUT")
    with conn.cursor() as cur, cur.copy(sql) as copy:
        raw = b"".join(bytes(block) for block in copy)
    field = _copy_field
    for line in raw.decode("utf-8").split("\n"):
        if not line:
            continue
        seq, mid, at, kind, actor, data, digest = line.split("\t")
        yield (int(seq), None if mid == "\\N" else int(mid), field(at), field(kind), field(actor), field(data),
               field(digest))


class _Record(NamedTuple):
    """Same fields as `audit.AuditRecord`; a tuple is built three times faster than a frozen dataclass."""

    seq: int
    entry: dict[str, Any]
    hash: str


def _records(source: Source, first: int, last: int | None) -> list[audit.AuditRecord]:
    loads = json.loads
    rows = [_Record(seq, entry_of(mid, at, kind, actor, loads(data)), digest)
            for seq, mid, at, kind, actor, data, digest in iter_rows(source, first, last)]
    return cast(list[audit.AuditRecord], rows)  # verify_chain reads .seq, .entry and .hash only


def _source(db: Source) -> Source:
    """A SQLite file that must exist (a clear message, not sqlite3's), or a PostgreSQL URL as given."""
    if is_url(db):
        return str(db)
    path = Path(db)
    if not path.is_file():
        raise DomainError("Không tìm thấy cơ sở dữ liệu %(path)s.", "audit.no_database", params={"path": str(path)})
    return path


def verify_database(db_path: Source, *, key: audit.ChainKey | None = None,
                    checkpoints: CheckpointLog | None = None, extra: Iterable[audit.Checkpoint] = (),
                    split: bool = True) -> audit.ChainReport:
    """Re-derive the whole chain stored in a database (SQLite's file or a PostgreSQL URL; keyed links with `key`)
    and compare its end with audit_head and with the checkpoints kept outside it (`checkpoints`, and `extra` ones
    such as the heads in the signed minutes). Without a key only the plain links of older versions can be
    checked."""
    path = _source(db_path)
    try:
        conn = _Reader(path)
    except Exception as exc:  # psycopg's OperationalError: no server, no such database, refused
        if is_url(path):
            raise DomainError("Không kết nối được cơ sở dữ liệu PostgreSQL: %(error)s", "audit.no_database",
                              params={"error": str(exc).strip()}) from exc
        raise
    try:
        row = conn.execute("SELECT hash FROM audit_head WHERE id = 1").fetchone()
        head = row[0] if row else None
        count = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
        middle = None
        if split and count >= SPLIT_AT:
            # The row that starts the second half, and the stored link it follows.
            middle = conn.execute("SELECT ORDER_BY FROM audit_event ORDER BY ORDER_BY LIMIT 1 OFFSET ?",
                                  (count // 2,)).fetchone()[0]
            before = conn.execute("SELECT seq, hash FROM audit_event WHERE ORDER_BY < ? ORDER BY ORDER_BY DESC "
                                  "LIMIT 1", (middle,)).fetchone()
    finally:
        conn.close()
    if middle is None:
        report = audit.verify_chain(_records(path, 0, None), expected_head=head, key=key)
    else:
        report = _verify_halves(path, middle, before, head, key)
    if not report.ok:
        return report
    if head is None and (count > 0 or checkpoints is not None and checkpoints.signed):
        return audit.ChainReport(False, report.count, report.head, audit.ChainBreak(
            report.count + 1, "removed", "Thiếu mã cuối của nhật ký (bảng audit_head): nhật ký đã bị can thiệp."))
    return _check_anchors(path, report, key, checkpoints, list(extra))


def _verify_halves(path: Source, middle: int, before: tuple[int, str], head: str | None,
                   key: audit.ChainKey | None) -> audit.ChainReport:
    child = runner.start("meeting_server.store.audit_log", "--half", str(middle), str(before[0] + 1), before[1],
                         head or "", stdout=subprocess.PIPE, stdin=subprocess.PIPE)
    assert child.stdin is not None
    # The source and the key go through a pipe, never the command line (which other local users can read in /proc).
    child.stdin.write(json.dumps({"source": str(path), "url": is_url(path), "key": _key_dict(key)}).encode("utf-8"))
    child.stdin.close()
    first = audit.verify_chain(_records(path, 0, middle - 1), key=key)
    assert child.stdout is not None
    with child.stdout:
        out = child.stdout.read()
    child.wait()
    if not first.ok:
        return first
    if child.returncode != 0:
        raise DomainError("Không kiểm tra được nửa sau của nhật ký.", "audit.check_failed")
    second = json.loads(out)
    brk = second["first_break"]
    return audit.ChainReport(
        second["ok"], first.count + second["count"], second["head"],
        None if brk is None else audit.ChainBreak(brk["seq"], brk["kind"], brk["message"]))


def _key_dict(key: audit.ChainKey | None) -> dict[str, Any] | None:
    return None if key is None else {"key": key.secret.hex(), "from_seq": key.from_seq}


def _check_anchors(path: Source, report: audit.ChainReport, key: audit.ChainKey | None,
                   checkpoints: CheckpointLog | None, extra: list[audit.Checkpoint]) -> audit.ChainReport:
    """A verified chain against what is kept outside the database: the checkpoint log's signatures, each
    checkpoint's link, and a checkpoint for every keyed entry of a kind that must have one."""
    log = checkpoints or CheckpointLog([], [], [])

    def broken(brk: audit.ChainBreak) -> audit.ChainReport:
        return audit.ChainReport(False, report.count, report.head, brk)

    if log.bad:
        return broken(audit.ChainBreak(0, "checkpoint", f"Điểm neo sai chữ ký ({log.bad[0]}): tệp điểm neo đã bị sửa "
                                                        "hoặc không thuộc khóa nhật ký này."))
    anchors = log.current + extra
    conn = _Reader(path)
    try:
        wanted = sorted({cp.seq for cp in anchors})
        hash_at: dict[int, str] = {}
        for i in range(0, len(wanted), 500):
            part = wanted[i:i + 500]
            hash_at.update(conn.execute(f"SELECT seq, hash FROM audit_event WHERE seq IN ({','.join('?' * len(part))})",
                                        part).fetchall())
        need = []
        if key is not None:
            kinds = sorted(audit.CHECKPOINT_KINDS)
            need = conn.execute(f"SELECT seq, hash, kind FROM audit_event WHERE seq >= ? AND kind IN "
                                f"({','.join('?' * len(kinds))}) ORDER BY seq", (key.from_seq, *kinds)).fetchall()
    finally:
        conn.close()
    # The chain verified, so it is seq 1..count and its stored hashes are proven.
    brk = audit.check_checkpoints(report.count, hash_at, anchors)
    if brk is not None:
        return broken(brk)
    anchored = {(cp.seq, cp.head) for cp in log.signed}
    for seq, digest, kind in need:
        if (seq, digest) not in anchored:
            return broken(audit.ChainBreak(
                seq, "checkpoint",
                f"Bản ghi số {seq} ({kind}) không có điểm neo trong {CHECKPOINT_FILE.as_posix()}: "
                "tệp điểm neo bị xóa bớt?"))
    return report


def report_dict(report: audit.ChainReport) -> dict[str, Any]:
    """A report as JSON-native data (for the child's answer and the clerk's check)."""
    brk = report.first_break
    return {"ok": report.ok, "count": report.count, "head": report.head, "message": report.message,
            "first_break": None if brk is None else {"seq": brk.seq, "kind": brk.kind, "message": brk.message}}


def chain_hashes(source: Source) -> dict[int, str]:
    """Each stored entry's seq → hash (for `restore`: where a backup ends against the anchors kept outside it)."""
    conn = _Reader(source)
    try:
        return {int(seq): str(digest) for seq, digest in conn.execute("SELECT seq, hash FROM audit_event")}
    finally:
        conn.close()


def source_of(data_dir: Path | str, database_url: str | None = None) -> Source:
    """A data directory's database: the PostgreSQL URL it is served with, else the SQLite file inside it."""
    return database_url if database_url else Path(data_dir) / "meeting.db"


def verify_in_child(db_path: Source, data_dir: Path | str | None = None) -> dict[str, Any]:
    """The whole check in a child process, for a server whose event loop must not wait on it. The data directory
    (key, checkpoints) is SQLite's file's folder unless given; a PostgreSQL source needs it."""
    folder = Path(data_dir) if data_dir is not None else Path(db_path).parent
    proc = runner.run("meeting_server.store.audit_log", "--whole", check=False, capture_output=True, timeout=300,
                      input=json.dumps({"source": str(db_path), "url": is_url(db_path),
                                        "data_dir": str(folder)}).encode("utf-8"))
    if proc.returncode != 0:
        raise DomainError("Không kiểm tra được nhật ký.", "audit.check_failed")
    return json.loads(proc.stdout)


def verify_data_dir(db_path: Source, data_dir: Path | str | None = None) -> audit.ChainReport:
    """The chain of a data directory's database with the key and checkpoint log beside it (SQLite's file's folder,
    or `data_dir` for a PostgreSQL URL)."""
    data = Path(data_dir) if data_dir is not None else Path(db_path).parent
    key = load_key(data)
    return verify_database(db_path, key=key, checkpoints=read_checkpoints(data, key))


def main(argv: list[str]) -> None:
    """`--whole` → the whole check with the key of the data directory; `--half FIRST START_SEQ START_HASH HEAD` →
    the rows from FIRST (in storage order) on. Either reads its source (and the data directory or the key) as JSON
    from stdin."""
    raw = json.loads(sys.stdin.read())
    source: Source = raw["source"] if raw["url"] else Path(raw["source"])
    if argv[0] == "--whole":
        report = verify_data_dir(source, raw["data_dir"])
    else:
        k = raw["key"]
        key = None if k is None else audit.ChainKey(bytes.fromhex(k["key"]), int(k["from_seq"]))
        first_rowid, start_seq, start_hash, head = int(argv[1]), int(argv[2]), argv[3], argv[4] or None
        report = audit.verify_chain(_records(source, first_rowid, None), start_seq=start_seq, start_hash=start_hash,
                                    expected_head=head, key=key)
    sys.stdout.write(json.dumps(report_dict(report)))


if __name__ == "__main__":
    main(sys.argv[1:])
