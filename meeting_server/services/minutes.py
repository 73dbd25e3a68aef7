"""The minutes of a meeting: the clerk's draft texts, the live preview, finalizing with two signatures, versions.

Finalizing first freezes the meeting (status "signing", which `services.audit.record` reads), then renders and
signs in the worker process, then stores the signed PDF and appends "minutes.finalized" with the hashes of the
record and the PDF, so the signed file and the audit chain vouch for each other.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain import limits, payload
from meeting_server.domain import minutes as minutes_rules
from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.minutes.worker import run_job, run_warm
from meeting_server.services import audit, clock, unit
from meeting_server.services.record import build_record
from meeting_server.services.unit import Done
from meeting_server.store import claims
from meeting_server.store.tables import AuditEvent, Meeting, MinutesDraft, MinutesSignature, utcnow

log = logging.getLogger(__name__)

MAX_RECIPIENTS = 30
FROZEN = ("signing", "prepared", "final")


def record_bytes(record: dict[str, Any]) -> bytes:
    """The exact bytes of the record that are embedded in the PDF and whose SHA-256 goes into the audit log."""
    return json.dumps(record, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def versions(s: Session, meeting_id: int) -> list[MinutesDraft]:
    """Every version of the meeting's minutes, oldest first."""
    return list(s.scalars(select(MinutesDraft).where(MinutesDraft.meeting_id == meeting_id)
                          .order_by(MinutesDraft.version)))


def current(s: Session, m: Meeting) -> MinutesDraft:
    """The newest version, made (version 1, with default recipients) the first time the clerk opens the minutes."""
    found = versions(s, m.id)
    if found:
        return found[-1]
    draft = MinutesDraft(meeting_id=m.id, version=1, status="draft", texts=_default_texts(m), revision=0)
    s.add(draft)
    s.flush()
    return draft


def latest_final(s: Session, meeting_id: int, version: int | None = None) -> MinutesDraft:
    """The newest signed version (or the given one), else NotFound."""
    finals = [v for v in versions(s, meeting_id) if v.status == "final" and (version is None or v.version == version)]
    if not finals:
        raise NotFound("Biên bản của kỳ họp chưa được ký.")
    return finals[-1]


def _default_texts(m: Meeting) -> dict[str, Any]:
    level = m.council_level
    return {
        "opening": "",
        "conclusions": "",
        "summaries": {},
        "document_number": "",
        "recipients": [f"Thường trực HĐND {level}", f"UBND {level}", f"Các đại biểu HĐND {level}"],
    }


def save_texts(s: Session, m: Meeting, changes: Any, base_revision: Any) -> MinutesDraft:
    """Autosave: merge the clerk's edited texts into the current draft; refused once signed or when out of date.
    Only the clerk's editor shows the draft: no seq, nothing to announce."""
    with unit.of_work(s):
        return _save_texts(s, m, changes, base_revision)


def _save_texts(s: Session, m: Meeting, changes: Any, base_revision: Any) -> MinutesDraft:
    draft = current(s, m)
    if draft.status in FROZEN:
        raise DomainError("Biên bản đã được ký: không sửa được nữa. Hãy tạo bản đính chính.", "minutes.frozen")
    if not isinstance(changes, dict):
        raise payload.invalid()
    if isinstance(base_revision, int) and not isinstance(base_revision, bool) and base_revision < draft.revision:
        raise DomainError("Bản nháp đã được sửa ở nơi khác. Hãy tải lại trang.", "minutes.stale")
    texts = dict(draft.texts or {})
    item_ids = {str(it.id) for it in m.items}
    for key, value in changes.items():
        if key in ("opening", "conclusions", "document_number", "correction_note"):
            field = limits.MINUTES_DOCUMENT_NUMBER if key == "document_number" else limits.MINUTES_TEXT
            texts[key] = limits.clean(field, value)
        elif key == "summaries":
            if not isinstance(value, dict) or not set(value) <= item_ids:
                raise DomainError("Nội dung tóm tắt không thuộc chương trình kỳ họp.", "payload.invalid")
            summaries = dict(texts.get("summaries") or {})
            summaries.update({k: limits.clean(limits.MINUTES_TEXT, v) for k, v in value.items()})
            texts["summaries"] = summaries
        elif key == "recipients":
            lines = value.splitlines() if isinstance(value, str) else value
            if not isinstance(lines, list) or len(lines) > MAX_RECIPIENTS:
                raise DomainError("Danh sách nơi nhận không hợp lệ.", "payload.invalid")
            texts["recipients"] = [t for t in (limits.clean(limits.MINUTES_RECIPIENT, x) for x in lines) if t]
        else:
            raise DomainError("Không có mục «%(key)s» trong biên bản.", "payload.invalid", params={"key": key})
    draft.texts = texts
    draft.revision += 1
    draft.updated_at = utcnow()
    return draft


def draft_record(s: Session, m: Meeting) -> dict[str, Any]:
    """The record as it stands, with the texts of the current version."""
    draft = current(s, m)
    record = build_record(s, m.id, dict(draft.texts or {}))
    record["minutes_version"] = draft.version
    previous = s.get(MinutesDraft, draft.previous_id) if draft.previous_id else None
    if previous is not None:
        record["corrects"] = {"version": previous.version, "pdf_sha256": previous.pdf_sha256,
                              "note": str((draft.texts or {}).get("correction_note") or "")}
    return record


def preview(app: Flask, s: Session, m: Meeting, width: int = 420) -> dict[str, Any]:
    """Render the draft in the app's warm worker: page images (JPEG) for the editor, its page texts, and the draft's
    `revision` they show. For a signed version, its own PDF.

    The record is read (and version 1 made, on first use) in a transaction that ends before the worker starts:
    rendering takes seconds and must hold nothing in the database."""
    with unit.of_work(s):
        revision = current(s, m).revision
        record = draft_record(s, m)
    out: dict[str, Any] = run_warm(app, "preview", {"record": record, "width": max(120, min(int(width), 1200))})
    return dict(out, revision=revision)


def signing_settings(app: Flask) -> dict[str, Any]:
    """Where the keys come from: `<data dir>/signing.json` if present, overridden by app config MINUTES_SIGNING,
    MINUTES_PKCS12 and MINUTES_PKCS11 (docs/MINUTES.md). Default: the server's own CA."""
    path = Path(app.config["DATA_DIR"]) / "signing.json"
    settings: dict[str, Any] = {}
    if path.is_file():
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DomainError("Tệp cấu hình ký số %(path)s không đọc được: %(detail)s", "signer.bad_config",
                              params={"path": str(path), "detail": str(exc)}) from exc
    source = app.config.get("MINUTES_SIGNING") or settings.get("source") or "server"
    if source not in ("server", "pkcs12", "pkcs11"):
        raise DomainError("Nguồn khóa ký không hợp lệ: %(source)r.", "signer.bad_config", params={"source": source})
    roles = app.config.get("MINUTES_PKCS12" if source == "pkcs12" else "MINUTES_PKCS11") or settings
    return {"source": source, "module": roles.get("module", ""),
            "roles": {r: dict(roles.get(r) or {}) for r in ("secretary", "chair")}}


def signing_config(app: Flask, pins: dict[str, str] | None = None) -> dict[str, Any]:
    """The signing settings as plain data for the worker, with the PINs typed on the clerk's screen.

    PINs travel only in this dict to the worker's stdin; they are never stored or logged.
    """
    out = signing_settings(app)
    out["ca_dir"] = str(ca_dir(app))
    if out["source"] == "pkcs11":
        out["pins"] = dict(pins or {})
    return out


def ca_dir(app: Flask) -> Path:
    """Where the server's own CA lives (made on the first finalization): <data dir>/signing."""
    return Path(app.config["DATA_DIR"]) / "signing"


def finalize(app: Flask, s: Session, m: Meeting, actor: str,
             pins: dict[str, str] | None = None) -> Done[MinutesDraft]:
    """Freeze the meeting, render and sign the current version (secretary, then chair) with the keys the server
    holds, store it; return it, and the change (every screen gets a new `state`: the meeting is a record now).
    Kept for the benchmark and the tests of the record; the people sign through services/signing.py.

    Three transactions on purpose: the freeze commits before the worker starts (seconds, holding nothing in the
    database), the signed version commits after it; a failure in between unfreezes. The signing claim (an flock) is
    held from the freeze to the last commit: a process that starts meanwhile leaves this signing alone, and one that
    starts after a crash finds the claim free (`recover_interrupted`).
    """
    with signing_claim(app, m.id) as mine:
        if not mine:
            raise DomainError("Biên bản đang được ký. Hãy đợi.", "minutes.signing")
        return _finalize(app, s, m, actor, pins)


def _finalize(app: Flask, s: Session, m: Meeting, actor: str, pins: dict[str, str] | None) -> Done[MinutesDraft]:
    draft = current(s, m)
    if draft.status == "final":
        raise DomainError("Phiên bản biên bản này đã được ký.", "minutes.already_final")
    if draft.status == "signing":
        raise DomainError("Biên bản đang được ký. Hãy đợi.", "minutes.signing")
    if signing_settings(app)["source"] == "pkcs11" and not all((pins or {}).get(r) for r in ("secretary", "chair")):
        raise DomainError("Hãy nhập mã PIN thiết bị ký số của thư ký và của chủ tọa.", "signer.pin_required")
    draft.status = "signing"  # from here on audit.record refuses changes to the meeting
    s.flush()  # takes the database's write lock: nothing can open, start or upload between the check and the commit
    try:
        check_settled(s, m)
    except DomainError:
        s.rollback()
        raise
    s.commit()
    try:
        record = draft_record(s, m)
        data = record_bytes(record)
        head = record["audit"]["head"]
        s.commit()  # end the read transaction: the worker takes seconds and must hold nothing in the database
        result = run_job("finalize", {"record": record, "record_json": data, "audit_head": head,
                                      "signing": signing_config(app, pins),
                                      "signed_at": clock.corrected(s).isoformat()})
    except BaseException:
        draft.status = "draft"
        s.commit()
        raise
    pdf: bytes = result["pdf"]
    rel = _pdf_rel(m.id, draft.version)
    path = Path(app.config["DATA_DIR"]) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(pdf)
    tmp.replace(path)
    _mark_final(s, m, draft, actor, data, head, record["audit"]["seq"], rel, pdf, record.get("corrects"))
    s.commit()
    try:
        from meeting_server.services import backup

        if backup.automatic(app):
            backup.backup_soon(app, "finalize")
    except Exception:  # a backup failure must not undo the signed minutes; it is logged for the clerk
        log.exception("backup after finalizing the minutes failed")
    return Done(draft, unit.change(m, state=True))


def _pdf_rel(meeting_id: int, version: int) -> Path:
    return Path("minutes") / f"bien-ban-ky-hop-{meeting_id}-v{version}.pdf"


def _mark_final(s: Session, m: Meeting, draft: MinutesDraft, actor: str, data: bytes, head: str, audit_seq: Any,
                rel: Path, pdf: bytes, corrects: dict[str, Any] | None, recovered: bool = False) -> None:
    draft.status = "final"
    draft.finalized_at = utcnow()
    draft.finalized_by = actor
    draft.record_json = data.decode("utf-8")
    draft.record_sha256 = hashlib.sha256(data).hexdigest()
    draft.audit_head = head
    draft.pdf_path = str(rel)
    draft.pdf_sha256 = hashlib.sha256(pdf).hexdigest()
    unit.bump(m)
    entry = {"version": draft.version, "record_sha256": draft.record_sha256, "pdf_sha256": draft.pdf_sha256,
             "audit_head": head, "audit_seq": audit_seq, "previous_version": (corrects or {}).get("version")}
    if recovered:
        entry["recovered"] = True
    audit.record(s, m.id, "minutes.finalized", actor, entry)


@contextmanager
def signing_claim(app: Flask, meeting_id: int) -> Iterator[bool]:
    """Whether this process may sign (or recover) the meeting's minutes now. On SQLite: while it holds
    `<data>/minutes/claims/<id>`, an flock, as for documents (one box). On PostgreSQL: while it holds the advisory
    lock (`claims.MINUTES`, id) on a connection of its own, so one process of any box does it. Either is dropped
    when its process dies, so a signing cut short by a crash is found unclaimed (its version still `signing` or
    `prepared`) by `recover_interrupted`."""
    engine = app.extensions["db_engine"]
    if engine.url.get_backend_name() == "postgresql":
        url = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        with claims.advisory(url, claims.MINUTES, int(meeting_id)) as mine:
            yield mine
        return
    with claims.held(Path(app.config["DATA_DIR"]) / "minutes" / "claims" / str(int(meeting_id))) as mine:
        yield mine


def recover_interrupted(app: Flask, s: Session) -> list[dict[str, Any]]:
    """At start: finish or undo every signing that a crash or power cut cut short (status left `signing`).

    When the signed PDF was stored before the crash and carries both signatures, intact, and the record it embeds,
    the version is completed from that file ("minutes.finalized", `recovered`); otherwise it goes back to the draft
    ("minutes.signing_rolled_back") and the clerk signs again. The clerk's editor says which (`state`).
    Then a prepare cut short (status `prepared` without its intact file) goes back to the draft
    (`_recover_prepared`, outcome `prepare_rolled_back`). Signings that another live process holds are left
    alone.
    """
    done: list[dict[str, Any]] = []
    for draft in list(s.scalars(select(MinutesDraft).where(MinutesDraft.status == "signing"))):
        with signing_claim(app, draft.meeting_id) as mine:
            if not mine:
                continue
            m = s.get(Meeting, draft.meeting_id)
            assert m is not None
            rel = _pdf_rel(m.id, draft.version)
            path = Path(app.config["DATA_DIR"]) / rel
            outcome = _complete_from(s, m, draft, rel, path) if path.is_file() else None
            if outcome is None:
                if path.is_file():  # a file that is not the signed minutes: kept aside, never served
                    path.replace(path.with_suffix(".interrupted"))
                draft.status = "draft"
                unit.bump(m)
                audit.record(s, m.id, "minutes.signing_rolled_back", "system:recovery", {"version": draft.version})
                outcome = "rolled_back"
            s.commit()
            log.warning("minutes of meeting %s, version %s: interrupted signing %s", m.id, draft.version, outcome)
            done.append({"meeting_id": m.id, "version": draft.version, "outcome": outcome})
    return done + _recover_prepared(app, s)


def _recover_prepared(app: Flask, s: Session) -> list[dict[str, Any]]:
    """At start: a version left `prepared` whose file is missing or not the one prepared (a crash or power cut
    while the worker rendered, or before the file reached the disk) goes back to the draft, as `cancel` would:
    logged "minutes.prepare_cancelled" by "system:recovery" (`reason: interrupted`), which the clerk's editor shows.
    A signed step whose file is not intact is rolled back the same way (the next signer could not sign it). A
    version whose files are intact is left alone: the signers continue. Versions another live process is
    preparing (its claim held) are left alone too."""
    done: list[dict[str, Any]] = []
    for draft in list(s.scalars(select(MinutesDraft).where(MinutesDraft.status == "prepared"))):
        with signing_claim(app, draft.meeting_id) as mine:
            if not mine:
                continue
            s.refresh(draft)
            if draft.status != "prepared":
                continue
            m = s.get(Meeting, draft.meeting_id)
            assert m is not None
            files = [(draft.prepared_path, draft.prepared_sha256)]
            files += [(x.pdf_path, x.pdf_sha256) for x in _signatures_of(s, draft) if x.status == "signed"]
            if draft.prepared_path and all(_intact(app, rel, sha) for rel, sha in files):
                continue
            for rel, sha in files:
                path = Path(app.config["DATA_DIR"]) / rel
                if rel and path.is_file() and not _intact(app, rel, sha):  # kept aside, never served
                    path.replace(path.with_suffix(".interrupted"))
            unprepare(s, m, draft, "system:recovery", reason="interrupted")
            s.commit()
            log.warning("minutes of meeting %s, version %s: interrupted prepare rolled back", m.id, draft.version)
            done.append({"meeting_id": m.id, "version": draft.version, "outcome": "prepare_rolled_back"})
    return done


def unprepare(s: Session, m: Meeting, draft: MinutesDraft, actor: str, reason: str | None = None) -> None:
    """Back to the draft before the chair has signed: the prepared file and any secretary's signature are dropped,
    the meeting is editable again, logged `minutes.prepare_cancelled` (the clerk's cancel, or the start-up recovery
    with `reason`). The caller's transaction; the caller commits."""
    dropped = [sig.role for sig in _signatures_of(s, draft) if sig.status == "signed"]
    for sig in _signatures_of(s, draft):
        s.delete(sig)
    draft.status = "draft"
    draft.prepared_path = ""
    draft.prepared_sha256 = ""
    unit.bump(m)
    data: dict[str, Any] = {"version": draft.version, "dropped": dropped}
    if reason is not None:
        data["reason"] = reason
    audit.record(s, m.id, "minutes.prepare_cancelled", actor, data)


def _intact(app: Flask, rel: str, sha256: str) -> bool:
    """The file is there with the SHA-256 the database names."""
    path = Path(app.config["DATA_DIR"]) / rel
    return bool(rel and sha256 and path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == sha256)


def _signatures_of(s: Session, draft: MinutesDraft) -> list[MinutesSignature]:
    return list(s.scalars(select(MinutesSignature).where(MinutesSignature.draft_id == draft.id)
                          .order_by(MinutesSignature.position)))


def _complete_from(s: Session, m: Meeting, draft: MinutesDraft, rel: Path, path: Path) -> str | None:
    pdf = path.read_bytes()
    try:
        report = run_job("verify", {"pdf": pdf, "roots": []})
    except DomainError:
        return None
    sigs = report.get("signatures") or []
    signed = {x["field"] for x in sigs if x["intact"] and x["valid"]}
    last = any(x["field"] == minutes_rules.SIGNATURE_FIELD_CHAIR and x["covers_whole_document"] for x in sigs)
    data, head = report.get("record_json"), report.get("audit_head")
    if signed != {minutes_rules.SIGNATURE_FIELD_SECRETARY, minutes_rules.SIGNATURE_FIELD_CHAIR} or not last \
            or not data or not head:
        return None
    record = json.loads(data)
    if record.get("meeting_id") != m.id or record.get("minutes_version") != draft.version:
        return None
    _mark_final(s, m, draft, "system:recovery", data, head, record.get("audit", {}).get("seq"), rel, pdf,
                record.get("corrects"), recovered=True)
    return "completed"


def recovery_note(s: Session, meeting_id: int) -> dict[str, Any] | None:
    """What the start-up recovery last did to this meeting's minutes, for the clerk's editor."""
    ev = s.scalar(select(AuditEvent).where(
        AuditEvent.meeting_id == meeting_id, AuditEvent.kind.in_(tuple(RECOVERY_OUTCOMES)),
        AuditEvent.actor == "system:recovery").order_by(AuditEvent.seq.desc()).limit(1))
    if ev is None:
        return None
    return {"outcome": RECOVERY_OUTCOMES[ev.kind], "version": (ev.data or {}).get("version"), "at": ev.at}


#: What the start-up recovery logs, and what the clerk's editor is told (`recovery.outcome`).
RECOVERY_OUTCOMES = {"minutes.signing_rolled_back": "rolled_back", "minutes.finalized": "completed",
                     "minutes.prepare_cancelled": "prepare_rolled_back"}


def check_settled(s: Session, m: Meeting) -> None:
    """Refuse (with the reason) while a poll is open, a speech is under way or a document is processing."""
    from sqlalchemy import func

    from meeting_server.store.tables import Document, Poll, SpeakRequest

    def count(stmt: Any) -> int:
        return int(s.scalar(select(func.count()).select_from(stmt.subquery())) or 0)

    minutes_rules.check_settled(
        open_polls=count(select(Poll.id).where(Poll.meeting_id == m.id, Poll.state == "open")),
        speeches_under_way=count(select(SpeakRequest.id).where(SpeakRequest.meeting_id == m.id,
                                                               SpeakRequest.status == "speaking")),
        documents_processing=count(select(Document.id).where(Document.meeting_id == m.id,
                                                             Document.status == "processing")),
    )


def new_version(s: Session, m: Meeting, actor: str, note: str) -> Done[MinutesDraft]:
    """Start a correction: a new draft version linked to the newest signed one (the meeting stays frozen); every
    screen gets a new `state` with the seq."""
    with unit.of_work(s):
        last = current(s, m)
        if last.status != "final":
            raise DomainError("Chỉ tạo bản đính chính sau khi biên bản đã được ký.", "minutes.not_final")
        texts = dict(last.texts or {})
        texts["correction_note"] = limits.clean(limits.MINUTES_TEXT, note or "")
        draft = MinutesDraft(meeting_id=m.id, version=last.version + 1, previous_id=last.id, status="draft",
                             texts=texts, revision=0)
        s.add(draft)
        s.flush()
        unit.bump(m)
        audit.record(s, m.id, "minutes.correction_started", actor, {"version": draft.version,
                                                                     "previous_version": last.version})
    return Done(draft, unit.change(m, state=True))


def pdf_bytes(app: Flask, draft: MinutesDraft) -> bytes:
    """The stored signed PDF of a final version."""
    path = Path(app.config["DATA_DIR"]) / draft.pdf_path
    if not draft.pdf_path or not path.is_file():
        raise NotFound("Không tìm thấy tệp biên bản đã ký.")
    return path.read_bytes()


def state(s: Session, m: Meeting) -> dict[str, Any]:
    """What the editor shows: the texts, the agenda to write summaries for, status and versions (the first look
    creates version 1, committed here)."""
    with unit.of_work(s):
        draft = current(s, m)
    return {
        "meeting_id": m.id,
        "version": draft.version,
        "status": draft.status,
        "revision": draft.revision,
        "texts": draft.texts,
        "updated_at": draft.updated_at.isoformat() if draft.updated_at else None,
        "agenda": [{"id": it.id, "position": it.position, "title": it.title} for it in m.items],
        "frozen": audit.is_frozen(s, m.id),
        "recovery": recovery_note(s, m.id),
        "versions": [{"version": v.version, "status": v.status, "pdf_sha256": v.pdf_sha256,
                      "finalized_at": v.finalized_at.isoformat() if v.finalized_at else None}
                     for v in versions(s, m.id)],
    }


def check_against_chain(s: Session, record_json: bytes | None, head: str | None) -> dict[str, Any]:
    """Does an embedded record match this server's audit chain? (head present, record hash logged at finalize)"""
    out: dict[str, Any] = {"record": record_json is not None, "head_in_chain": False, "record_logged": False,
                           "meeting_id": None, "version": None}
    if record_json is None or head is None:
        out["message"] = "Tệp không mang hồ sơ kỳ họp của máy chủ này."
        return out
    out["head_in_chain"] = s.scalar(select(AuditEvent.seq).where(AuditEvent.hash == head).limit(1)) is not None
    digest = hashlib.sha256(record_json).hexdigest()
    for ev in s.scalars(select(AuditEvent).where(AuditEvent.kind == "minutes.finalized")):
        if (ev.data or {}).get("record_sha256") == digest and ev.data.get("audit_head") == head:
            out["record_logged"] = True
            out["meeting_id"] = ev.meeting_id
            out["version"] = ev.data.get("version")
            break
    if out["record_logged"] and out["head_in_chain"]:
        out["message"] = (f"Hồ sơ đính kèm khớp với nhật ký của máy chủ này (kỳ họp số {out['meeting_id']}, "
                          f"phiên bản {out['version']}).")
    elif out["head_in_chain"]:
        out["message"] = "Mã cuối của nhật ký có trên máy chủ này, nhưng hồ sơ đính kèm không khớp với hồ sơ đã ký."
    else:
        out["message"] = "Hồ sơ đính kèm không khớp với nhật ký của máy chủ này."
    return out


# --- verifying a signed PDF ------------------------------------------------------------------------------------


def trust_roots(app: Flask | None, extra: list[bytes] | tuple[bytes, ...] = ()) -> list[bytes]:
    """PEM certificates trusted here: this server's own CA (if made), the MINUTES_TRUST_ROOTS files, and `extra`."""
    roots = list(extra)
    if app is not None:
        own = ca_dir(app) / "ca-cert.pem"
        if own.is_file():
            roots.append(own.read_bytes())
        for p in app.config.get("MINUTES_TRUST_ROOTS", ()):
            if Path(p).is_file():
                roots.append(Path(p).read_bytes())
    return roots


def verify(data: bytes | IO[bytes], roots: list[bytes], s: Session | None) -> dict[str, Any]:
    """The one verify use case, for the /verify page and `meeting-server verify`: every signature (checked in a
    fresh worker process) and, where this server's audit log is at hand (`s`), the embedded record against it.

    `data` is the PDF's bytes, or an open file holding it (an upload spooled to disk): the child then reads the
    file itself and the bytes never pass through the server's event loop (pickled, written to the child).

    `ok` is the verdict: the file was read, every signature is intact and valid with no change after it but
    further signatures (`signatures_ok`), and, with a log, the record was logged at finalization and its head is
    in the chain. `chain` is None without a log.
    """
    if isinstance(data, bytes):
        report: dict[str, Any] = run_job("verify", {"pdf": data, "roots": roots})
    else:
        report = run_job("verify", {"pdf_fd": data.fileno(), "roots": roots}, pass_fds=(data.fileno(),))
    report.pop("size", None)
    record_json = report.pop("record_json")
    report["signatures_ok"] = bool(report["ok"])
    chain = check_against_chain(s, record_json, report.get("audit_head")) if s is not None else None
    report["chain"] = chain
    report["record_matches"] = None if chain is None else bool(chain["record_logged"] and chain["head_in_chain"])
    report["ok"] = report["signatures_ok"] and report["record_matches"] is not False
    report["changed_after_signing"] = any(not sig["intact"] or sig["changes_after"] == "other"
                                          for sig in report["signatures"])
    return report
