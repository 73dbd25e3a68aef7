"""Backups and restore on PostgreSQL: the counterpart of services/backup.py's SQLite path, with Debian's pg_dump and
pg_restore (custom format) of the server's own major version (`/usr/lib/postgresql/<major>/bin`, the package
postgresql-client-<major>; `postgresql-client` pulls in Debian's supported one).

`backup` runs the dump as a background child (`python -m meeting_server.services.pgbackup`, through runner.py, so a
server's event loop only waits on a pipe). The connection URL, which may hold a password, never goes on a command
line (other local users read those in /proc): the child reads it from its stdin, and hands it to pg_dump as libpq's
environment variables (`libpq_env`). In the child, one REPEATABLE READ transaction exports its snapshot, reads the
audit head there and refuses while the ballots of an open secret poll are in it (their rows lie in the heap in the
order of casting until the close rebuilds them in key order, docs/SECRECY.md: the SQLite backup rewrites them, a
dump cannot); pg_dump dumps that same snapshot (`--snapshot`), so the head recorded in `backup.made` is the dump's.
The dump is written as `.part`, read back whole by `pg_restore` (the tables a meeting-server database has must be
in it), then renamed into place.

`restore` (the server stopped: the data directory's lock, and no other session on the target database) restores
the file into a scratch database of the same cluster first, with `--exit-on-error`: a truncated or foreign file
fails there and the target is not touched. The scratch copy's record is checked as `verify-log` checks it (keyed
chain, checkpoints, signed minutes, derived state), and a backup older than an anchored act needs
`allow_rollback`, as on SQLite. Then the target is renamed aside (kept, named in the answer: the copy of what was
replaced) and the scratch database takes its name; `backup.restored` is appended to the restored chain.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from meeting_server import runner
from meeting_server.domain import audit
from meeting_server.domain.errors import DomainError
from meeting_server.domain.voting import PollKind
from meeting_server.store import audit_log

__all__ = ["backup", "check_dump", "libpq_env", "restore", "tool"]

log = logging.getLogger(__name__)

#: Debian's PostgreSQL programs, one folder per major version (postgresql-client-N).
PG_LIB = "/usr/lib/postgresql/"
#: Tables every meeting-server database has (services/backup.py's REQUIRED_TABLES).
REQUIRED_TABLES = ("meeting", "audit_event", "audit_head", "alembic_version")
DUMP_TIMEOUT_S = 1800

#: libpq's connection keywords → its environment variables (PostgreSQL's docs, "Environment Variables").
_ENV_OF = {
    "host": "PGHOST", "hostaddr": "PGHOSTADDR", "port": "PGPORT", "dbname": "PGDATABASE", "user": "PGUSER",
    "password": "PGPASSWORD", "passfile": "PGPASSFILE", "service": "PGSERVICE", "options": "PGOPTIONS",
    "application_name": "PGAPPNAME", "sslmode": "PGSSLMODE", "sslcert": "PGSSLCERT", "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT", "sslcrl": "PGSSLCRL", "sslpassword": "PGSSLPASSWORD",
    "requiressl": "PGREQUIRESSL", "channel_binding": "PGCHANNELBINDING", "gssencmode": "PGGSSENCMODE",
    "krbsrvname": "PGKRBSRVNAME", "connect_timeout": "PGCONNECT_TIMEOUT", "target_session_attrs":
    "PGTARGETSESSIONATTRS", "client_encoding": "PGCLIENTENCODING",
}


class PgBackupError(DomainError):
    code = "backup.failed"


def libpq_env(url: str, base: dict[str, str] | None = None, dbname: str | None = None) -> dict[str, str]:
    """An environment that gives libpq's programs the connection of `url` (and no PG* variable of our own
    environment), so nothing of it is on their command line; `dbname` instead of the URL's database."""
    from psycopg.conninfo import conninfo_to_dict

    out = {k: v for k, v in (base if base is not None else {}).items() if not k.startswith("PG")}
    params = conninfo_to_dict(audit_log.conninfo(url))
    if dbname is not None:
        params["dbname"] = dbname
    for keyword, value in params.items():
        name = _ENV_OF.get(keyword)
        if name is None:
            raise PgBackupError("Địa chỉ cơ sở dữ liệu có tham số %(name)s mà pg_dump không nhận qua biến môi "
                                "trường.", "backup.url_param", params={"name": keyword})
        out[name] = str(value)
    return out


def tool(name: str, major: int) -> str:
    """`pg_dump` or `pg_restore` of PostgreSQL `major` (a dump of the server's own version, restored by the same)."""
    found = [str(p) for p in [Path(PG_LIB) / str(int(major)) / "bin" / name] if p.is_file()]
    if not found:
        raise PgBackupError("Không có %(name)s của PostgreSQL %(major)s trên máy này: hãy cài gói "
                            "postgresql-client-%(major)s.", "backup.no_pg_dump",
                            params={"name": name, "major": str(major)})
    return found[0]


def server_major(conn: Any) -> int:
    row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    return int(row[0]) // 10000


def check_dump(path: Path, major: int, env: dict[str, str]) -> list[str]:
    """What is wrong with a dump file (empty when it is sound): pg_restore reads it whole (its table of contents
    and every data block, written out as SQL to nowhere) and its tables must be a meeting-server database's."""
    if not path.is_file():
        return [f"không có tệp {path}"]
    pg_restore = tool("pg_restore", major)
    listed = subprocess.run([pg_restore, "--list", str(path)], capture_output=True, env=env, timeout=300,
                            check=False)
    if listed.returncode != 0:
        return [f"không phải tệp pg_dump đọc được ({_last_line(listed.stderr)})"]
    whole = subprocess.run([pg_restore, "--file", "/dev/null", str(path)], capture_output=True, env=env,
                           timeout=DUMP_TIMEOUT_S, check=False)
    if whole.returncode != 0 or whole.stderr.strip():
        return [f"tệp bị hỏng ({_last_line(whole.stderr) or 'pg_restore exit ' + str(whole.returncode)})"]
    text = listed.stdout.decode("utf-8", errors="replace")
    have = set(re.findall(r"TABLE DATA \S+ (\S+) ", text))
    missing = [t for t in REQUIRED_TABLES if t not in have]
    if missing:
        return [f"không phải cơ sở dữ liệu của meeting-server (thiếu bảng {', '.join(missing)})"]
    return []


def _last_line(raw: bytes) -> str:
    lines = [x for x in raw.decode("utf-8", errors="replace").splitlines() if x.strip()]
    return lines[-1].strip() if lines else ""


# --- backup --------------------------------------------------------------------------------------------------


def backup(url: str, data_dir: Path, dest: Path, reason: str) -> Path:
    """Dump the database at `url` into `dest` in a background child; record it (`backup.made`) with the head the
    dump holds. Refused (nothing written) while an open secret poll has ballots."""
    ask = {"url": url, "dest": str(dest), "data_dir": str(data_dir), "reason": reason}
    try:
        proc = runner.run("meeting_server.services.pgbackup", input=json.dumps(ask).encode("utf-8"),
                          capture_output=True, timeout=DUMP_TIMEOUT_S, check=False, background=True)
    except subprocess.TimeoutExpired as exc:
        raise PgBackupError("Sao lưu quá lâu, đã dừng.", "backup.timeout") from exc
    try:
        answer = json.loads(proc.stdout or b"{}")
    except ValueError:
        answer = {}
    if proc.returncode != 0 or not answer.get("ok"):
        if answer.get("template"):  # a refusal said by the child: the same msgid, for the caller's language
            raise PgBackupError(answer["template"], answer.get("code", "backup.failed"),
                                params=answer.get("params") or None)
        log.error("pg backup child exited with %s:\n%s", proc.returncode,
                  proc.stderr.decode(errors="replace")[-2000:])
        raise PgBackupError("Không sao lưu được cơ sở dữ liệu PostgreSQL; xem nhật ký máy chủ.", "backup.failed")
    return dest


def _dump_child(ask: dict[str, Any]) -> dict[str, Any]:
    """The child's side of `backup` (see the module's doc)."""
    import psycopg

    from meeting_server.services.voting import BACKUP_APPLICATION

    url, dest = ask["url"], Path(ask["dest"])
    # Named, so that closing a secret poll can end it rather than wait for its lock (voting._cluster_secret_ballots).
    env = {**libpq_env(url, runner.env()), "PGAPPNAME": BACKUP_APPLICATION}
    secret = [str(k) for k in PollKind if k.is_secret]
    # The snapshot's own connection holds the tables it read (secret_ballot among them) until pg_dump has copied:
    # named as pg_dump is, so that a secret close ends both (voting._cluster_secret_ballots).
    with psycopg.connect(audit_log.conninfo(url), application_name=BACKUP_APPLICATION) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        major = server_major(conn)
        pg_dump = tool("pg_dump", major)
        open_ballots = conn.execute(
            "SELECT count(*) FROM secret_ballot b JOIN poll p ON p.id = b.poll_id WHERE p.state = 'open' "
            "AND p.kind = ANY(%s)", (secret,)).fetchone()
        if open_ballots and open_ballots[0]:
            raise PgBackupError("Đang có cuộc bỏ phiếu kín chưa kết thúc: chưa sao lưu được trên PostgreSQL (bản sao "
                                "sẽ giữ thứ tự bỏ phiếu). Hãy sao lưu sau khi kết thúc biểu quyết.",
                                "backup.secret_open")
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()
        head = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        assert snapshot is not None
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        # pg_dump dies with this child (its main thread waits for it), as this child dies with the server.
        out = subprocess.run([pg_dump, "--format=custom", "--snapshot", str(snapshot[0]), "--file", str(tmp)],
                             capture_output=True, env=env, timeout=DUMP_TIMEOUT_S, check=False,
                             preexec_fn=runner.die_with_parent)  # noqa: PLW1509  (a child, not the server)
        conn.rollback()  # the snapshot is needed until pg_dump has it
    if out.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise PgBackupError("pg_dump không sao lưu được: %(error)s", "backup.failed",
                            params={"error": _last_line(out.stderr)})
    problems = check_dump(tmp, major, env)
    if problems:
        tmp.unlink(missing_ok=True)
        raise PgBackupError("Bản sao lưu vừa tạo không qua kiểm tra toàn vẹn: %(problems)s",
                            params={"problems": "; ".join(problems)})
    tmp.replace(dest)
    data_dir = Path(ask["data_dir"])
    try:
        audit_log.append_raw(url, audit_log.load_key(data_dir), None, "backup.made", "system:backup",
                             {"file": dest.name, "reason": ask["reason"], "audit_seq": head[0] if head else 0,
                              "audit_head": head[1] if head else audit.GENESIS}, data_dir=data_dir)
    except Exception:  # the copy is made; a busy log must not undo it
        log.exception("backup %s could not be recorded in the audit log", dest.name)
    return {"ok": True, "file": str(dest)}


# --- restore -------------------------------------------------------------------------------------------------


@dataclass
class PgRestored:
    """What a restore did on PostgreSQL: the database it renamed aside (None when there was none), what it
    rolled back past, and the check of the backup."""

    saved: str | None
    check: Any
    rolled_back: list[audit.Checkpoint]


def _admin(url: str) -> tuple[Any, str]:
    """An autocommit connection to the cluster that is not to the target database (`postgres`, else
    `template1`), and the target's name."""
    import psycopg
    from sqlalchemy.engine import make_url

    target = str(make_url(url).database or "")
    if not target:
        raise PgBackupError("Địa chỉ cơ sở dữ liệu không nêu tên cơ sở dữ liệu.", "backup.no_dbname")
    last: Exception | None = None
    for maintenance in ("postgres", "template1"):
        try:
            return psycopg.connect(audit_log.conninfo(_url_for(url, maintenance)), autocommit=True), target
        except psycopg.OperationalError as exc:
            last = exc
    raise PgBackupError("Không kết nối được máy chủ PostgreSQL: %(error)s", "backup.no_server",
                        params={"error": str(last).strip()})


def _url_for(url: str, dbname: str) -> str:
    """The same URL (user, password, host, options) naming another database of its cluster."""
    from sqlalchemy.engine import make_url

    return str(make_url(url).set(database=dbname).render_as_string(hide_password=False))


def _others_on(admin: Any, name: str) -> int:
    row = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                        (name,)).fetchone()
    return int(row[0]) if row else 0


def restore(data_dir: Path, url: str, file: Path, *, allow_rollback: bool, actor: str,
            audit_service: Any) -> PgRestored:
    """`backup.restore` on PostgreSQL (the caller holds the data directory's lock exclusively)."""
    from psycopg import sql

    admin, target = _admin(url)
    try:
        major = server_major(admin)
        env = libpq_env(url, runner.env())
        listed = subprocess.run([tool("pg_restore", major), "--list", str(file)], capture_output=True, env=env,
                                timeout=300, check=False)
        if not file.is_file() or listed.returncode != 0:
            why = f"không có tệp {file}" if not file.is_file() else \
                f"không phải tệp pg_dump đọc được ({_last_line(listed.stderr)})"
            raise PgBackupError("Bản sao lưu bị hỏng, không khôi phục: %(problems)s", "backup.damaged",
                                params={"problems": why})
        if _others_on(admin, target):
            raise PgBackupError("Máy chủ đang chạy trên cơ sở dữ liệu này: hãy dừng máy chủ trước khi khôi phục.",
                                "backup.server_running")
        scratch = f"{target[:40]}_restore_{secrets.token_hex(4)}"
        admin.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(scratch)))
        try:
            done = subprocess.run([tool("pg_restore", major), "--exit-on-error", "--no-owner", "--no-privileges",
                                   "--dbname", scratch, str(file)], capture_output=True,
                                  env=libpq_env(url, runner.env(), dbname=scratch), timeout=DUMP_TIMEOUT_S,
                                  check=False)
            if done.returncode != 0:
                raise PgBackupError("Bản sao lưu bị hỏng, không khôi phục: %(problems)s", "backup.damaged",
                                    params={"problems": _last_line(done.stderr) or f"pg_restore exit "
                                                                                   f"{done.returncode}"})
            scratch_url = _url_for(url, scratch)
            missing = _missing_tables(scratch_url)
            if missing:
                raise PgBackupError("Bản sao lưu bị hỏng, không khôi phục: %(problems)s", "backup.damaged",
                                    params={"problems": "không phải cơ sở dữ liệu của meeting-server (thiếu bảng "
                                                        + ", ".join(missing) + ")"})
            check, ahead = _check(data_dir, scratch_url, allow_rollback, audit_service)
            saved = _swap(admin, target, scratch)
        except BaseException:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(scratch)))
            raise
    finally:
        admin.close()
    key = audit_log.load_key(data_dir)
    if key is not None and ahead:
        import psycopg

        with psycopg.connect(audit_log.conninfo(url)) as conn:
            row = conn.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
        audit_log.append_checkpoint(data_dir, key, None, row[0] if row else 0, row[1] if row else audit.GENESIS,
                                    audit.ROLLBACK_EVENT)
    audit_log.append_raw(url, key, None, "backup.restored", actor, {
        "file": file.name, "saved": saved,
        "rolled_back_past": [{"seq": cp.seq, "event": cp.event, "source": cp.source} for cp in ahead]},
        data_dir=data_dir)
    return PgRestored(saved, check, ahead)


def _missing_tables(url: str) -> list[str]:
    import psycopg

    with psycopg.connect(audit_log.conninfo(url)) as conn:
        have = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
    return [t for t in REQUIRED_TABLES if t not in have]


def _check(data_dir: Path, scratch_url: str, allow_rollback: bool,
           audit_service: Any) -> tuple[Any, list[audit.Checkpoint]]:
    """The restored copy's record against this data directory's key and anchors, as on SQLite."""
    key = audit_log.load_key(data_dir)
    log_ = audit_log.read_checkpoints(data_dir, key)
    log_all, pdfs = audit_service.anchors_of(data_dir, key)
    hashes = audit_log.chain_hashes(scratch_url)
    last = len(hashes)
    ahead = [cp for cp in log_all.current + pdfs if cp.seq > last]
    contradicted = [f"{cp.source} ({cp.event}, bản ghi số {cp.seq})" for cp in log_all.current + pdfs
                    if cp.seq <= last and hashes.get(cp.seq) != cp.head]
    chain = audit_log.verify_database(scratch_url, key=key,
                                      checkpoints=audit_log.CheckpointLog([], log_.signed, log_.bad))
    derived = audit_service.derived_problems(scratch_url)
    check = audit_service.RecordCheck(chain, tuple(derived), len(log_.current))
    audit_service.refuse_unless_sound(chain, derived, contradicted, ahead, allow_rollback, PgBackupError)
    return check, ahead


def _swap(admin: Any, target: str, scratch: str) -> str | None:
    """The checked copy takes the target's name; the target (if any) is renamed aside and kept. A rename is
    refused by PostgreSQL while anyone is connected to that database: a server started meanwhile stops it."""
    import psycopg
    from psycopg import sql

    exists = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (target,)).fetchone()
    saved = None
    try:
        if exists:
            saved = f"{target[:30]}_before_restore_{datetime.now(UTC).strftime('%Y%m%d%H%M%S')}"
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(target),
                                                                         sql.Identifier(saved)))
        admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(scratch),
                                                                     sql.Identifier(target)))
    except psycopg.errors.ObjectInUse:
        if saved is not None and not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                                   (target,)).fetchone():
            admin.execute(sql.SQL("ALTER DATABASE {} RENAME TO {}").format(sql.Identifier(saved),
                                                                         sql.Identifier(target)))
        raise PgBackupError("Máy chủ đang chạy trên cơ sở dữ liệu này: hãy dừng máy chủ trước khi khôi phục.",
                            "backup.server_running") from None
    return saved


if __name__ == "__main__":
    _ask = json.loads(sys.stdin.read())
    try:
        _answer = _dump_child(_ask)
    except DomainError as _err:
        _answer = {"ok": False, "code": _err.code, "template": _err.template,
                   "params": {k: str(v) for k, v in _err.params.items()}}
    sys.stdout.write(json.dumps(_answer, ensure_ascii=False))
