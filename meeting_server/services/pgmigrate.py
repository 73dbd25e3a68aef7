"""`meeting-server migrate --data-dir D --to postgresql://…`: a council's SQLite database moved into PostgreSQL,
checked before it is called done.

One transaction on the target holds everything: the schema (the same Alembic migrations, run on this connection),
every table copied in foreign-key order, the sequences, the page index, the secret ballots' order, the checks and
the `db.migrated_from` entry. A refusal or a failed check rolls it all back: the target is left as it was.

The source is read through SQLAlchemy Core with the ORM's own table definitions (portable SQL, the ORM's types),
from one read snapshot; a row written to it meanwhile (nothing should: the server must be stopped, and the data
directory's server lock is held) shows as a count that differs when the source is counted again at the end.
The documents, keys, checkpoint log and signed PDFs stay in the data directory, which the server on PostgreSQL
keeps using (`serve --data-dir D --database-url …`).
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Column, MetaData, Table, cast, create_engine, event, inspect, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.types import Text, TypeDecorator

from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError
from meeting_server.services import audit as audit_service
from meeting_server.services import documents, integrity
from meeting_server.store import audit_log, db
from meeting_server.store.tables import Base

__all__ = ["Migrated", "migrate_to_postgresql"]

SERVER_LOCK = "server.lock"  # services.backup.SERVER_LOCK: the server holds it shared while it runs
PAGE_INDEX = "document_page_fts"
#: Tables of the SQLite file that are not the ORM's: Alembic's own, SQLite's, and FTS5's shadow tables.
NOT_COPIED = ("alembic_version", "sqlite_", PAGE_INDEX)
BATCH = 1000

Progress = Callable[[str, int], None]


@dataclass
class Migrated:
    """What was moved and checked (also the data of the `db.migrated_from` entry)."""

    source: str
    counts: dict[str, int] = field(default_factory=dict)
    pages_indexed: int = 0
    audit_count: int = 0
    audit_head: str = ""
    minutes: dict[str, dict[str, str]] = field(default_factory=dict)
    secret_ballots_clustered: bool = False
    seconds: float = 0.0

    def entry(self) -> dict[str, Any]:
        return {"source": self.source, "counts": self.counts, "pages_indexed": self.pages_indexed,
                "audit_count": self.audit_count, "audit_head": self.audit_head, "minutes": self.minutes,
                "secret_ballots_clustered": self.secret_ballots_clustered}


class _RawJSON(TypeDecorator[str]):
    """A JSON column copied as its stored text, byte for byte (no parse and re-dump that could reorder or re-escape
    it), cast to json on PostgreSQL; SQL NULL stays NULL."""

    impl = Text
    cache_ok = True

    def bind_expression(self, bindvalue: Any) -> Any:
        return cast(bindvalue, JSON)


def _copy_table(table: Table) -> Table:
    """The ORM table with its JSON columns as raw text (other types as the ORM has them: dates, booleans)."""
    return Table(table.name, MetaData(), *[
        Column(c.name, _RawJSON() if isinstance(c.type, JSON) else c.type, primary_key=c.primary_key)
        for c in table.columns])


@contextmanager
def _server_stopped(data_dir: Path) -> Iterator[None]:
    """The data directory's server lock, exclusively (as `restore` takes it): refused while a server runs on it."""
    with open(data_dir / SERVER_LOCK, "ab") as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DomainError("Máy chủ đang chạy trên thư mục dữ liệu này: hãy dừng máy chủ trước khi chuyển dữ "
                              "liệu sang PostgreSQL.", "migrate.server_running") from None
        yield


def _snapshot_engine(db_file: Path) -> Engine:
    """Read-only SQLite whose `begin()` is a real BEGIN: every read of the copy sees one snapshot."""
    engine = create_engine(f"sqlite:///file:{db_file}?mode=ro&uri=true")

    @event.listens_for(engine, "connect")
    def _autocommit_driver(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


def _count(conn: Connection, name: str) -> int:
    return int(conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar() or 0)


def _target_state(conn: Connection) -> str:
    """'empty' (no tables), 'head' (at the newest schema with no rows), else refused with the reason."""
    names = set(inspect(conn).get_table_names())
    if not names:
        return "empty"
    heads = db.head_revisions()
    stamped = ({r[0] for r in conn.execute(text("SELECT version_num FROM alembic_version"))}
               if "alembic_version" in names else set())
    if heads is None or stamped != set(heads):
        raise DomainError("Cơ sở dữ liệu đích không trống và không ở phiên bản mới nhất (%(found)s): chỉ chuyển "
                          "vào một cơ sở dữ liệu PostgreSQL trống.", "migrate.target_not_empty",
                          params={"found": ", ".join(sorted(stamped)) or ", ".join(sorted(names)[:5])})
    full = [f"{t.name} ({n})" for t in Base.metadata.sorted_tables if (n := _count(conn, t.name))]
    if PAGE_INDEX in names and (n := _count(conn, PAGE_INDEX)):
        full.append(f"{PAGE_INDEX} ({n})")
    if full:
        raise DomainError("Cơ sở dữ liệu đích đã có dữ liệu (%(tables)s): chỉ chuyển vào một cơ sở dữ liệu trống.",
                          "migrate.target_not_empty", params={"tables": ", ".join(full[:8])})
    return "head"


def _upgrade_on(conn: Connection) -> None:
    """The same Alembic migrations as `serve` runs, on this connection and inside its transaction."""
    from alembic import command
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    cfg.attributes["connection"] = conn
    cfg.attributes["configure_logger"] = False
    command.upgrade(cfg, "head")


def _copy(src: Connection, dst: Connection, progress: Progress | None) -> dict[str, int]:
    copied: dict[str, int] = {}
    for table in Base.metadata.sorted_tables:  # parents before children
        t = _copy_table(table)
        # Primary-key order: the secret ballots by their random key, never by the order they were cast in.
        rows = src.execute(select(t).order_by(*[t.c[c.name] for c in table.primary_key.columns]))
        n = 0
        while batch := rows.fetchmany(BATCH):
            dst.execute(t.insert(), [r._asdict() for r in batch])
            n += len(batch)
        copied[table.name] = n
        if progress is not None:
            progress(table.name, n)
    return copied


def _reset_sequences(dst: Connection) -> None:
    """After explicit ids: each serial column's sequence continues after the largest id copied."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1:
            continue
        seq = dst.execute(text("SELECT pg_get_serial_sequence(:t, :c)"), {"t": table.name, "c": pk[0].name}).scalar()
        if seq is None:
            continue
        dst.execute(text(f'SELECT setval(:s, coalesce((SELECT max("{pk[0].name}") FROM "{table.name}"), 0) + 1, '
                         "false)"), {"s": seq})


def _chain_rows(conn: Connection) -> list[audit.AuditRecord]:
    from meeting_server.store.tables import AuditEvent

    return [audit.AuditRecord(seq, audit_log.entry_of(mid, at, kind, actor, data), digest)
            for seq, mid, at, kind, actor, data, digest in conn.execute(
                select(AuditEvent.seq, AuditEvent.meeting_id, AuditEvent.at, AuditEvent.kind, AuditEvent.actor,
                       AuditEvent.data, AuditEvent.hash).order_by(AuditEvent.seq))]


def _target_chain(dst: Connection, key: audit.ChainKey | None, anchors: list[audit.Checkpoint]) -> audit.ChainReport:
    """The chain as stored on the target, re-derived link by link with the data directory's key, against the
    target's own audit_head and the anchors kept outside the database (checkpoint log, signed minutes).

    `store.audit_log.verify_database` reads a SQLite file with sqlite3 only (for speed); until it reads PostgreSQL,
    this is the same check through SQLAlchemy: the domain's `verify_chain` and `check_checkpoints` on the rows."""
    head = dst.execute(text("SELECT hash FROM audit_head WHERE id = 1")).scalar()
    records = _chain_rows(dst)
    report = audit.verify_chain(records, expected_head=head, key=key)
    if not report.ok:
        return report
    brk = audit.check_checkpoints(report.count, {r.seq: r.hash for r in records}, anchors)
    return report if brk is None else audit.ChainReport(False, report.count, report.head, brk)


def _minutes(conn: Connection) -> dict[str, dict[str, str]]:
    """Every finalized minutes' record and PDF hashes (and each signature's PDF), by draft id."""
    out: dict[str, dict[str, str]] = {}
    for did, record_sha, pdf_sha, head, record_json in conn.execute(text(
            "SELECT id, record_sha256, pdf_sha256, audit_head, record_json FROM minutes_draft "
            "WHERE finalized_at IS NOT NULL ORDER BY id")):
        out[str(did)] = {"record_sha256": record_sha, "pdf_sha256": pdf_sha, "audit_head": head,
                         "record_json_sha256": hashlib.sha256((record_json or "").encode("utf-8")).hexdigest()}
    for did, role, pdf_sha in conn.execute(text(
            "SELECT s.draft_id, s.role, s.pdf_sha256 FROM minutes_signature s "
            "JOIN minutes_draft d ON d.id = s.draft_id WHERE d.finalized_at IS NOT NULL "
            "ORDER BY s.draft_id, s.position")):
        out[str(did)][f"signature_{role}_pdf_sha256"] = pdf_sha
    return out


def _check(db_file: Path, data_dir: Path, dst: Connection, done: Migrated) -> list[str]:
    """Everything that differs between the source (read again now) and the target; empty when all holds."""
    problems: list[str] = []
    src_engine = create_engine(f"sqlite:///file:{db_file}?mode=ro&uri=true")
    try:
        with src_engine.connect() as src:
            for table in Base.metadata.sorted_tables:
                a, b = _count(src, table.name), _count(dst, table.name)
                if a != b:
                    problems.append(f"bảng {table.name}: nguồn {a} dòng, đích {b} dòng")
            a, b = _count(src, PAGE_INDEX), _count(dst, PAGE_INDEX)
            if a != b:
                problems.append(f"chỉ mục trang tài liệu: nguồn {a} trang, đích {b} trang")
            source_minutes = _minutes(src)
    finally:
        src_engine.dispose()
    # The source's record, checked as `verify-log` checks it: keyed chain, checkpoint log, heads in the signed PDFs.
    key = audit_log.load_key(data_dir)
    log_, pdfs = integrity.anchors_of(data_dir, key)
    source = audit_log.verify_database(db_file, key=key, checkpoints=log_, extra=pdfs)
    if not source.ok:
        problems.append(f"nhật ký nguồn không toàn vẹn: {source.message}")
    target = _target_chain(dst, key, log_.current + pdfs)
    if not target.ok:
        problems.append(f"nhật ký đích không toàn vẹn: {target.message}")
    if (source.count, source.head) != (target.count, target.head):
        problems.append(f"nhật ký: nguồn {source.count} bản ghi, mã cuối {source.head[:16]}…; "
                        f"đích {target.count} bản ghi, mã cuối {target.head[:16]}…")
    target_minutes = _minutes(dst)
    for did in sorted(set(source_minutes) | set(target_minutes), key=int):
        a_m, b_m = source_minutes.get(did), target_minutes.get(did)
        if a_m != b_m:
            what = ", ".join(sorted(k for k in set(a_m or {}) | set(b_m or {})
                                    if (a_m or {}).get(k) != (b_m or {}).get(k)))
            problems.append(f"biên bản số {did}: khác {what}")
    done.audit_count, done.audit_head, done.minutes = target.count, target.head, target_minutes
    return problems


def migrate_to_postgresql(data_dir: Path, target_url: str, *, progress: Progress | None = None) -> Migrated:
    """Move the data directory's SQLite database into the empty PostgreSQL database `target_url`, check it, and
    commit; a `DomainError` (Vietnamese message naming what differed) and an untouched target otherwise.

    `progress(table, rows)` is called after each table is copied (the command prints it)."""
    started = time.perf_counter()
    data_dir = data_dir.resolve()
    db_file = data_dir / "meeting.db"
    if not db_file.is_file():
        raise DomainError("Không tìm thấy cơ sở dữ liệu %(path)s.", "migrate.no_source", params={"path": str(db_file)})
    if not db.is_postgresql(target_url):
        raise DomainError("--to: chỉ chuyển sang postgresql://…", "migrate.not_postgresql")
    with _server_stopped(data_dir):
        if not db.at_head(db.database_url(data_dir)):
            raise DomainError("Cơ sở dữ liệu %(path)s chưa ở phiên bản mới nhất: hãy chạy trước `meeting-server "
                              "migrate --data-dir %(dir)s`.", "migrate.source_not_at_head",
                              params={"path": str(db_file), "dir": str(data_dir)})
        probe = create_engine(f"sqlite:///file:{db_file}?mode=ro&uri=true")
        try:
            unknown = sorted(n for n in inspect(probe).get_table_names()
                             if not n.startswith(NOT_COPIED) and n not in Base.metadata.tables)
        finally:
            probe.dispose()
        if unknown:
            raise DomainError("Cơ sở dữ liệu nguồn có bảng lạ không biết chuyển: %(tables)s.", "migrate.unknown_tables",
                              params={"tables": ", ".join(unknown)})
        done = Migrated(source=str(db_file))
        target = db.make_engine(target_url, data_dir)
        source = _snapshot_engine(db_file)
        try:
            with target.connect() as dst, dst.begin():
                if _target_state(dst) == "empty":
                    _upgrade_on(dst)
                with source.connect() as src, src.begin():
                    done.counts = _copy(src, dst, progress)
                _reset_sequences(dst)
                done.pages_indexed = documents.rebuild_page_index(dst, BATCH)
                if progress is not None:
                    progress(PAGE_INDEX, done.pages_indexed)
                # What `services.voting.checkpoint_after_close` does at every close on PostgreSQL: the heap
                # rewritten in the order of the ballots' random keys (docs/SECRECY.md).
                dst.exec_driver_sql("CLUSTER secret_ballot USING secret_ballot_pkey")
                done.secret_ballots_clustered = True
                problems = _check(db_file, data_dir, dst, done)
                if problems:
                    raise DomainError("Chuyển dữ liệu không thành công, cơ sở dữ liệu đích được để nguyên như "
                                      "trước: %(problems)s.", "migrate.check_failed",
                                      params={"problems": "; ".join(problems)})
                done.seconds = round(time.perf_counter() - started, 2)
                with Session(bind=dst) as s:
                    audit_service.record(s, None, "db.migrated_from", "cli:migrate", done.entry())
                    s.flush()
        finally:
            source.dispose()
            target.dispose()
    return done
