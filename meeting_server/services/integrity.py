"""The whole record's check: the audit chain (keyed links), its anchors outside the database (the checkpoint log,
the heads in the signed minutes) and the derived state recounted from the record (poll results from their ballots,
attendance and speeches from their entries). Read-only; used by `meeting-server verify-log`, `restore` (before it
replaces anything) and the clerk console's check (in a child process, `check_in_child`).

Its own module, above services/audit.py (which writes the chain) and services/voting.py (whose tally it reruns):
both are imported by it, neither imports it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meeting_server import runner
from meeting_server.domain import audit
from meeting_server.domain.errors import N_, DomainError
from meeting_server.services import voting
from meeting_server.store import audit_log
from meeting_server.store.tables import AuditEvent


@dataclass(frozen=True)
class RecordCheck:
    """What `verify-log` and `restore` report: the chain (with its anchors) and the derived state's problems."""

    chain: audit.ChainReport
    problems: tuple[str, ...]
    anchors: int

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems

    def lines(self) -> list[str]:
        """Vietnamese lines for the clerk, the chain's verdict first."""
        out = [self.chain.message]
        if self.chain.first_break is not None:
            out.append(f"Bản ghi đầu tiên bị sai: số {self.chain.first_break.seq} ({self.chain.first_break.kind}).")
        out.append(f"Điểm neo ngoài cơ sở dữ liệu đã đối chiếu: {self.anchors}.")
        out += [f"Sai lệch: {p}" for p in self.problems]
        return out


def pdf_anchors(data_dir: Path, since: str = "") -> list[audit.Checkpoint]:
    """The audit heads embedded in the signed minutes in <data>/minutes/ (seq and hash from the attached record).
    PDFs older than `since` (the last restore that rolled back on purpose, ISO time) are not anchors any more."""
    folder = data_dir / "minutes"
    pdfs = sorted(folder.glob("*.pdf")) if folder.is_dir() else []
    if not pdfs:
        return []
    from meeting_server.minutes.verify import embedded_record  # pyHanko only when there are signed minutes

    out = []
    for pdf in pdfs:
        if since and datetime.fromtimestamp(pdf.stat().st_mtime, UTC).isoformat(timespec="microseconds") < since:
            continue
        data, head = embedded_record(pdf.read_bytes())
        if data is None:
            continue
        try:
            rec = json.loads(data)
            seq, head = int(rec["audit"]["seq"]), str(head or rec["audit"]["head"])
        except (ValueError, KeyError, TypeError):
            continue
        out.append(audit.Checkpoint(seq, head, "minutes.pdf", f"minutes/{pdf.name}", rec.get("meeting_id")))
    return out


def anchors_of(data_dir: Path, key: audit.ChainKey | None) -> tuple[audit_log.CheckpointLog, list[audit.Checkpoint]]:
    """The checkpoint log and the heads in the signed minutes of a data directory."""
    log_ = audit_log.read_checkpoints(data_dir, key)
    since = next((cp.at for cp in reversed(log_.signed) if cp.event == audit.ROLLBACK_EVENT), "")
    return log_, pdf_anchors(data_dir, since)


def check_database(db_path: audit_log.Source, data_dir: Path) -> RecordCheck:
    """The whole check of a database (SQLite's file or a PostgreSQL URL) against the key and anchors of `data_dir`
    (for verify-log and restore)."""
    key = audit_log.load_key(data_dir)
    log_, pdfs = anchors_of(data_dir, key)
    chain = audit_log.verify_database(db_path, key=key, checkpoints=log_, extra=pdfs)
    return RecordCheck(chain, tuple(derived_problems(db_path)), len(log_.current) + len(pdfs))


def derived_problems(db_path: audit_log.Source) -> list[str]:
    """Derived state against the record, read-only: each closed poll's result recounted from its ballots (domain
    tally) against `poll.result` and the `vote.closed` entry; ballots against `vote.cast` / `vote.participated`;
    attendance and speeches against their last entries. On SQLite's file or a PostgreSQL URL (one read-only
    REPEATABLE READ transaction there)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from meeting_server.store import db

    if audit_log.is_url(db_path):
        engine = create_engine(db.normalize_url(str(db_path)), poolclass=NullPool,
                               execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True})
    else:
        engine = create_engine(f"sqlite:///file:{db_path}?mode=ro&uri=true")
    try:
        with Session(engine) as s:
            return _derived(s)
    finally:
        engine.dispose()


def _norm(value: Any) -> Any:
    return json.loads(json.dumps(value, sort_keys=True))


def _derived(s: Session) -> list[str]:
    from meeting_server.domain import voting as rules
    from meeting_server.store.tables import (
        Attendance,
        Meeting,
        OpenBallot,
        Participant,
        Poll,
        SecretBallot,
        SpeakRequest,
    )

    problems: list[str] = []
    entries: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for seq, kind, data in s.execute(select(AuditEvent.seq, AuditEvent.kind, AuditEvent.data).where(
            AuditEvent.kind.like("vote.%") | AuditEvent.kind.like("attendance.%")
            | AuditEvent.kind.like("speak.%")).order_by(AuditEvent.seq)):
        entries.setdefault(kind, []).append((seq, data if isinstance(data, dict) else {}))

    def by_poll(kind: str, poll_id: int) -> list[dict[str, Any]]:
        return [d for _seq, d in entries.get(kind, []) if d.get("poll_id") == poll_id]

    for p in s.scalars(select(Poll).order_by(Poll.id)):
        name = f"biểu quyết số {p.id} «{p.title}»"
        m = s.get(Meeting, p.meeting_id)
        if m is None:
            continue
        if rules.PollKind(p.kind).is_secret:
            ballots = s.scalar(select(func.count()).select_from(SecretBallot).where(SecretBallot.poll_id == p.id))
            took_part = {d.get("participant_id") for d in by_poll("vote.participated", p.id)}
            if ballots != len(took_part):
                problems.append(f"{name}: {ballots} phiếu kín trong cơ sở dữ liệu nhưng nhật ký ghi {len(took_part)} "
                                "người đã bỏ phiếu.")
        else:
            logged: dict[Any, Any] = {}
            for d in by_poll("vote.cast", p.id):
                logged[d.get("participant_id")] = d.get("choice")
            stored = {b.participant_id: (b.choice or {}).get("option")
                      for b in s.scalars(select(OpenBallot).where(OpenBallot.poll_id == p.id))}
            for pid in sorted(set(stored) | set(logged), key=str):
                if pid not in logged:
                    problems.append(f"{name}: phiếu của người số {pid} không có trong nhật ký (phiếu giả?).")
                elif pid not in stored:
                    problems.append(f"{name}: phiếu của người số {pid} có trong nhật ký nhưng không còn trong cơ sở "
                                    "dữ liệu.")
                elif stored[pid] != logged[pid]:
                    problems.append(f"{name}: lựa chọn của người số {pid} khác với nhật ký.")
        if p.state != rules.PollState.CLOSED:
            continue
        try:
            recount = voting.compute_result(s, m, p)
        except DomainError as err:
            problems.append(f"{name}: không đếm lại được từ các phiếu ({err.message}).")
            continue
        if _norm(recount) != _norm(p.result):
            problems.append(f"{name}: kết quả lưu trong cơ sở dữ liệu khác kết quả đếm lại từ các phiếu.")
        closed = by_poll("vote.closed", p.id)
        if not closed:
            problems.append(f"{name}: đã kết thúc nhưng nhật ký không ghi việc kết thúc.")
        elif _norm(closed[-1].get("result")) != _norm(voting._audit_result(recount)):
            problems.append(f"{name}: kết quả đếm lại từ các phiếu khác kết quả ghi trong nhật ký.")

    marks = sorted(((seq, d.get("participant_id"), "present" if kind == "attendance.joined" else kind.split(".", 1)[1])
                   for kind in entries if kind.startswith("attendance.") for seq, d in entries[kind]),
                   key=lambda mark: mark[0])
    last_mark = {pid: status for _seq, pid, status in marks}
    for a, who in s.execute(select(Attendance, Participant.full_name).join(
            Participant, Participant.id == Attendance.participant_id)):
        logged_status = last_mark.get(a.participant_id, "unknown")
        if a.status != logged_status:
            problems.append(f"Điểm danh của {who} (số {a.participant_id}) là «{a.status}» nhưng nhật ký ghi "
                            f"«{logged_status}».")

    given = {d.get("request_id") for _s, d in entries.get("speak.given", [])}
    ended = {d.get("request_id") for _s, d in entries.get("speak.ended", [])}
    ended |= {d.get("ended_request_id") for _s, d in entries.get("speak.given", []) if d.get("ended_request_id")}
    for r in s.scalars(select(SpeakRequest)):
        if r.status in ("speaking", "done") and r.id not in given:
            problems.append(f"Lượt phát biểu số {r.id} không có trong nhật ký (không ghi việc trao lời).")
        elif r.status == "done" and r.id not in ended and r.started_at is not None:
            problems.append(f"Lượt phát biểu số {r.id} đã kết thúc nhưng nhật ký không ghi việc kết thúc.")
    known = set(s.scalars(select(SpeakRequest.id)))
    for rid in sorted((x for x in given if x not in known), key=str):
        problems.append(f"Nhật ký ghi lượt phát biểu số {rid} nhưng cơ sở dữ liệu không còn lượt đó.")
    return problems


def check_dict(check: RecordCheck) -> dict[str, Any]:
    """A whole check as JSON-native data: the chain's report, with `ok` and `message` for the whole record."""
    out = audit_log.report_dict(check.chain)
    out.update(ok=check.ok, anchors=check.anchors, problems=list(check.problems))
    if check.chain.ok and check.problems:
        out["message"] = f"Sai lệch: {check.problems[0]}"
    return out


def check_in_child(db_path: audit_log.Source, data_dir: Path | None = None) -> dict[str, Any]:
    """The whole check of a data directory's database (`verify-log` without recording), in a child process, for a
    server whose event loop must not wait on it (the clerk console's button). The source (SQLite's file, or a
    PostgreSQL URL, which may hold a password) goes through a pipe; `data_dir` defaults to the file's folder."""
    folder = data_dir if data_dir is not None else Path(db_path).parent
    ask = {"source": str(db_path), "url": audit_log.is_url(db_path), "data_dir": str(folder)}
    proc = runner.run("meeting_server.services.integrity", check=False, capture_output=True, timeout=300,
                      input=json.dumps(ask).encode("utf-8"))
    if proc.returncode != 0:
        raise DomainError("Không kiểm tra được nhật ký.", "audit.check_failed")
    return json.loads(proc.stdout)


if __name__ == "__main__":
    import sys

    _ask = json.loads(sys.stdin.read())
    _source: audit_log.Source = _ask["source"] if _ask["url"] else Path(_ask["source"]).resolve()
    sys.stdout.write(json.dumps(check_dict(check_database(_source, Path(_ask["data_dir"]).resolve())),
                                ensure_ascii=False))


def refuse_unless_sound(chain: Any, derived: list[str], contradicted: list[str], ahead: list[Any],
                        allow_rollback: bool, error: type[DomainError]) -> None:
    """A backup's record, checked against this data directory's key and anchors (SQLite's file or PostgreSQL's
    scratch copy): refused as tampered when its chain, its derived rows or an anchor disagree, and as a rollback
    when it is older than anchored events unless `allow_rollback`."""
    if not chain.ok or derived or contradicted:
        why = ([chain.message] if not chain.ok else []) + derived + \
              [f"mâu thuẫn với điểm neo {c}" for c in contradicted]
        raise error(N_("Hồ sơ trong bản sao lưu không toàn vẹn, không khôi phục: %(problems)s"),
                    "backup.tampered", params={"problems": "; ".join(why)})
    if ahead and not allow_rollback:
        raise error(N_(
            "Bản sao lưu cũ hơn các sự kiện đã được neo (%(anchored)s). Khôi phục sẽ xóa chúng khỏi hồ sơ. Nếu thật "
            "sự muốn, chạy lại với --allow-rollback."), "backup.rollback",
            params={"anchored": "; ".join(f"{cp.event} số {cp.seq} — {cp.source}" for cp in ahead)})
