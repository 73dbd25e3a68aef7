"""Reading the stored audit chain straight from the SQLite file, read-only, for `verify-log` and the clerk's check.

Only sqlite3 and the domain: `meeting-server verify-log` must check 100,000 entries in about two seconds, so it
neither builds the app nor loads SQLAlchemy, and a long chain is checked in two halves at once, the second in a
child process (`python -m meeting_server.store.audit_log`). The halves meet at a stored hash: the first half
proves that hash right, the second starts from it, so both together check the whole chain.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple, cast

from meeting_server import runner
from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError

__all__ = ["entry_of", "iter_rows", "verify_database", "verify_in_child"]

#: Below this many rows one process is faster than starting a second one.
SPLIT_AT = 20_000


def entry_of(meeting_id: int | None, at: str, kind: str, actor: str, data: Any) -> dict[str, Any]:
    """The hashed payload of a stored row: the dict `services.audit.record` gave `domain.audit.next_hash`."""
    return {"meeting_id": meeting_id, "kind": kind, "at": at, "actor": actor, "data": data}


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def iter_rows(db_path: Path | str, first_rowid: int = 0, last_rowid: int | None = None
              ) -> Iterator[tuple[int, int | None, str, str, str, str, str]]:
    """Stored rows in storage order (rowid, which is seq: a row whose seq was edited shows up out of place)."""
    conn = _connect(Path(db_path))
    try:
        yield from conn.execute(
            "SELECT seq, meeting_id, at, kind, actor, data, hash FROM audit_event WHERE rowid >= ? AND rowid <= ? "
            "ORDER BY rowid", (first_rowid, last_rowid if last_rowid is not None else 2**63 - 1))
    finally:
        conn.close()


class _Record(NamedTuple):
    """Same fields as `audit.AuditRecord`; a tuple is built three times faster than a frozen dataclass."""

    seq: int
    entry: dict[str, Any]
    hash: str


def _records(path: Path, first: int, last: int | None) -> list[audit.AuditRecord]:
    loads = json.loads
    rows = [_Record(seq, entry_of(mid, at, kind, actor, loads(data)), digest)
            for seq, mid, at, kind, actor, data, digest in iter_rows(path, first, last)]
    return cast(list[audit.AuditRecord], rows)  # verify_chain reads .seq, .entry and .hash only


def verify_database(db_path: Path | str, *, split: bool = True) -> audit.ChainReport:
    """Re-derive the whole chain stored in a database file and compare its end with audit_head."""
    path = Path(db_path)
    if not path.is_file():
        raise DomainError("Không tìm thấy cơ sở dữ liệu %(path)s.", "audit.no_database", params={"path": str(path)})
    conn = _connect(path)
    try:
        row = conn.execute("SELECT hash FROM audit_head WHERE id = 1").fetchone()
        head = row[0] if row else None
        count = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
        middle = None
        if split and count >= SPLIT_AT:
            # The row that starts the second half, and the stored link it follows.
            middle = conn.execute("SELECT rowid FROM audit_event ORDER BY rowid LIMIT 1 OFFSET ?",
                                  (count // 2,)).fetchone()[0]
            before = conn.execute("SELECT seq, hash FROM audit_event WHERE rowid < ? ORDER BY rowid DESC LIMIT 1",
                                  (middle,)).fetchone()
    finally:
        conn.close()
    if middle is None:
        return audit.verify_chain(_records(path, 0, None), expected_head=head)
    child = runner.start("meeting_server.store.audit_log", str(path), str(middle), str(before[0] + 1), before[1],
                         head or "", stdout=subprocess.PIPE)
    first = audit.verify_chain(_records(path, 0, middle - 1))
    out, _ = child.communicate()
    if not first.ok:
        return first
    if child.returncode != 0:
        raise DomainError("Không kiểm tra được nửa sau của nhật ký.", "audit.check_failed")
    second = json.loads(out)
    brk = second["first_break"]
    return audit.ChainReport(
        second["ok"], first.count + second["count"], second["head"],
        None if brk is None else audit.ChainBreak(brk["seq"], brk["kind"], brk["message"]))


def report_dict(report: audit.ChainReport) -> dict[str, Any]:
    """A report as JSON-native data (for the child's answer and the clerk's check)."""
    brk = report.first_break
    return {"ok": report.ok, "count": report.count, "head": report.head, "message": report.message,
            "first_break": None if brk is None else {"seq": brk.seq, "kind": brk.kind, "message": brk.message}}


def verify_in_child(db_path: Path | str) -> dict[str, Any]:
    """The whole check in a child process, for a server whose event loop must not wait on it."""
    proc = runner.run("meeting_server.store.audit_log", str(db_path), check=False, capture_output=True, timeout=300)
    if proc.returncode != 0:
        raise DomainError("Không kiểm tra được nhật ký.", "audit.check_failed")
    return json.loads(proc.stdout)


def main(argv: list[str]) -> None:
    """`DB` → the whole check; `DB FIRST_ROWID START_SEQ START_HASH HEAD` → the rows from FIRST_ROWID on."""
    path = Path(argv[0])
    if len(argv) == 1:
        report = verify_database(path)
    else:
        first_rowid, start_seq, start_hash, head = int(argv[1]), int(argv[2]), argv[3], argv[4] or None
        report = audit.verify_chain(_records(path, first_rowid, None), start_seq=start_seq, start_hash=start_hash,
                                    expected_head=head)
    sys.stdout.write(json.dumps(report_dict(report)))


if __name__ == "__main__":
    main(sys.argv[1:])
