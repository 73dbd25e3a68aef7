"""Time `meeting-server migrate --to postgresql://…` on a data directory with a long record, beside a floor measured
in the same run: the same rows of the largest table (audit_event) sent with PostgreSQL's COPY into a database at the
newest schema, with no check at all. Runs on a private cluster (tests/pg_kit.py: Debian's initdb in a temporary
directory). Usage: python scripts/bench/pgmigrate_bench.py [--events N]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from meeting_server.app import create_app  # noqa: E402
from meeting_server.services import audit, demo, pgmigrate  # noqa: E402
from meeting_server.store import db  # noqa: E402
from tests import pg_kit  # noqa: E402


def make_source(data: Path, events: int) -> None:
    """The demo meeting plus `events` keyed audit entries shaped like ballots' (1,000 per transaction)."""
    app = create_app({"DATA_DIR": data, "SOCKETIO_ASYNC_MODE": "threading", "DISCOVERY": False})
    with db.standalone_session(app) as s:
        m = demo.seed(s)
        s.commit()
        for start in range(0, events, 1000):
            audit.record_many(s, [(m.id, "vote.participated", f"delegate:{i % 30 + 1}",
                                   {"poll_id": i // 30 + 1, "participant_id": i % 30 + 1})
                                  for i in range(start, min(events, start + 1000))])
            s.commit()
    app.extensions["db_engine"].dispose()


def floor(cluster: pg_kit.Cluster, db_file: Path) -> tuple[float, int]:
    """COPY of audit_event's rows alone into a database at the newest schema (no checks, no other table)."""
    import psycopg

    url = cluster.fresh_database()
    rows = sqlite3.connect(db_file).execute("SELECT seq, meeting_id, at, kind, actor, data, hash FROM audit_event"
                                            ).fetchall()
    started = time.perf_counter()
    with psycopg.connect(url) as c, c.cursor() as cur:
        with cur.copy("COPY audit_event (seq, meeting_id, at, kind, actor, data, hash) FROM STDIN") as cp:
            for r in rows:
                cp.write_row(r)
        c.commit()
    took = time.perf_counter() - started
    cluster.drop(url)
    return took, len(rows)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=50_000)
    args = parser.parse_args()
    cluster = pg_kit.start_cluster()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            data = Path(tmp) / "data"
            make_source(data, args.events)
            floor_s, n = floor(cluster, data / "meeting.db")
            target = cluster.empty_database()
            started = time.perf_counter()
            done = pgmigrate.migrate_to_postgresql(data, target)
            took = time.perf_counter() - started
            rows = sum(done.counts.values())
            print(f"floor: COPY of {n:,} audit_event rows alone, no checks: {floor_s:.2f} s")
            print(f"migrate --to: {rows:,} rows in {len(done.counts)} tables, schema, page index, CLUSTER and all "
                  f"checks (chain of {done.audit_count:,} re-derived on both sides): {took:.2f} s "
                  f"({took / floor_s:.1f} x the floor)")
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
