"""Time verify-log's chain check (`store.audit_log.verify_database`, two halves at once) over 100,000 stored
entries on SQLite's file and on PostgreSQL (a private initdb cluster, tests/pg_kit.py), beside the floor measured in
the same run: `domain.audit.verify_chain` over the same records already in memory (no database read at all).

    python scripts/bench/verify_log_bench.py [--no-postgresql]
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from meeting_server.domain import audit  # noqa: E402
from meeting_server.store import audit_log  # noqa: E402

N = 100_000
INSERT = "INSERT INTO audit_event (seq, meeting_id, at, kind, actor, data, hash) VALUES (?, ?, ?, ?, ?, ?, ?)"


def chain(key: audit.ChainKey) -> tuple[list[tuple[Any, ...]], str]:
    t0 = datetime(2026, 7, 15, 0, 30, tzinfo=UTC)
    rows, prev = [], audit.GENESIS
    for i in range(1, N + 1):
        at = (t0 + timedelta(milliseconds=37 * i)).isoformat(timespec="microseconds")
        data = {"poll_id": i // 30 + 1, "choice": ("yes", "no", "abstain")[i % 3], "seat": i % 30 + 1}
        prev = audit.next_hash(prev, audit_log.entry_of(42, at, "vote.cast", f"delegate:{i % 30 + 1}", data),
                               key.secret)
        rows.append((i, 42, at, "vote.cast", f"delegate:{i % 30 + 1}", json.dumps(data), prev))
    return rows, prev


def best(f: Any, runs: int = 3) -> tuple[float, list[float]]:
    times = []
    for _ in range(runs):
        s = time.perf_counter()
        report = f()
        times.append(time.perf_counter() - s)
        assert report.ok and report.count == N, report.message
    return min(times), times


def main() -> None:
    from meeting_server.app import create_app

    key = audit.ChainKey(b"k" * 32, 1)
    rows, head = chain(key)
    records = [audit.AuditRecord(r[0], audit_log.entry_of(r[1], r[2], r[3], r[4], json.loads(r[5])), r[6])
               for r in rows]
    floor, floor_runs = best(lambda: audit.verify_chain(records, expected_head=head, key=key))
    print(f"floor (verify_chain in memory): {floor:.3f} s (runs {', '.join(f'{t:.3f}' for t in floor_runs)})")
    with tempfile.TemporaryDirectory() as tmp:
        import sqlite3

        data = Path(tmp) / "sqlite"
        create_app({"DATA_DIR": data, "SOCKETIO_ASYNC_MODE": "threading", "DISCOVERY": False}
                   ).extensions["db_engine"].dispose()
        with sqlite3.connect(data / "meeting.db") as conn:
            conn.execute("DELETE FROM audit_event")
            conn.executemany(INSERT, rows)
            conn.execute("INSERT OR REPLACE INTO audit_head (id, seq, hash) VALUES (1, ?, ?)", (N, head))
        conn.close()
        took, runs = best(lambda: audit_log.verify_database(data / "meeting.db", key=key))
        print(f"SQLite: verify_database {N:,} entries in {took:.3f} s, {took / floor:.1f}x the floor "
              f"(runs {', '.join(f'{t:.3f}' for t in runs)})")
        if "--no-postgresql" in sys.argv:
            return
        import psycopg

        from tests import pg_kit

        cluster = pg_kit.start_cluster()
        try:
            url = cluster.fresh_database()
            with psycopg.connect(audit_log.conninfo(url)) as pg, pg.cursor() as cur:
                cur.execute("DELETE FROM audit_event")
                cur.executemany(INSERT.replace("?", "%s"), rows)
                cur.execute("INSERT INTO audit_head (id, seq, hash) VALUES (1, %s, %s)", (N, head))
            took, runs = best(lambda: audit_log.verify_database(url, key=key))
            print(f"PostgreSQL: verify_database {N:,} entries in {took:.3f} s, {took / floor:.1f}x the floor "
                  f"(runs {', '.join(f'{t:.3f}' for t in runs)})")
        finally:
            cluster.stop()


if __name__ == "__main__":
    main()
