"""Reading the stored audit chain straight from the SQLite file, read-only, for `verify-log` and the clerk's check.

Only sqlite3 and the domain: `meeting-server verify-log` must check 100,000 entries in well under two seconds, so it
neither builds the app nor loads SQLAlchemy.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError

__all__ = ["entry_of", "iter_rows", "verify_database"]


def entry_of(meeting_id: int | None, at: str, kind: str, actor: str, data: Any) -> dict[str, Any]:
    """The hashed payload of a stored row: the dict `services.audit.record` gave `domain.audit.next_hash`."""
    return {"meeting_id": meeting_id, "kind": kind, "at": at, "actor": actor, "data": data}


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def iter_rows(db_path: Path | str) -> Iterator[tuple[int, int | None, str, str, str, str, str]]:
    """Stored rows in storage order (rowid, which is seq: a row whose seq was edited shows up out of place)."""
    conn = _connect(Path(db_path))
    try:
        yield from conn.execute("SELECT seq, meeting_id, at, kind, actor, data, hash FROM audit_event ORDER BY rowid")
    finally:
        conn.close()


def verify_database(db_path: Path | str) -> audit.ChainReport:
    """Re-derive the whole chain stored in a database file and compare its end with audit_head."""
    path = Path(db_path)
    if not path.is_file():
        raise DomainError(f"Không tìm thấy cơ sở dữ liệu {path}.", "audit.no_database")
    loads = json.loads
    records = [
        audit.AuditRecord(seq, entry_of(mid, at, kind, actor, loads(data)), digest)
        for seq, mid, at, kind, actor, data, digest in iter_rows(path)
    ]
    conn = _connect(path)
    try:
        row = conn.execute("SELECT hash FROM audit_head WHERE id = 1").fetchone()
    finally:
        conn.close()
    return audit.verify_chain(records, expected_head=row[0] if row else None)
