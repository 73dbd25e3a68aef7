"""Signing the minutes as the signers' own acts: the clerk prepares, the secretary signs, then the chair signs.

`prepare` freezes the meeting and renders the current version once, as the PDF/A file with the record attached
(the "prepared PDF"), and fixes who must sign: the first secretary and the first chair of the record. Each
signer then signs from their own card's session, in order, the exact bytes they were shown (the request names
their SHA-256), in one of three ways:

- `sign_with_key(method="pin")`: their own key pair on this box, issued by the server's CA when they chose their
  PIN (`set_pin`, first use), kept sealed under the PIN (minutes/pinkey.py); wrong PINs are counted and lock
  the key for LOCK_MINUTES after MAX_PIN_FAILS;
- `sign_with_key(method="token")`: their PKCS#11 token (signing.json "pkcs11"), the PIN typed on their screen;
- `accept_upload`: a file they signed on their own computer with their own CA's tool, accepted only if it is the
  prepared PDF plus one valid signature by them (minutes/external.py).

The chair's signature makes the version final: "minutes.finalized" is logged with the same data as the old
one-click flow, so /verify and `verify-log` treat both alike. Keys and PINs only ever reach a fresh worker process.
"""

from __future__ import annotations

import hashlib
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from meeting_server import faults
from meeting_server.domain.errors import DomainError, Forbidden, NotFound
from meeting_server.domain.principal import Principal
from meeting_server.minutes.worker import run_job
from meeting_server.services import audit, clock, minutes, readiness, unit
from meeting_server.services.unit import Change
from meeting_server.store.tables import Meeting, MinutesDraft, MinutesSignature, SignerKey, utcnow

log = logging.getLogger(__name__)

__all__ = ["METHODS", "STEPS", "accept_upload", "cancel", "current_pdf", "prepare", "set_pin", "sign_with_key",
           "state"]


def _(text: str) -> str:
    """Marks a message for the catalog (the web layer translates it)."""
    return text


#: role, signature field, reason written in the signature, in signing order (Decree 30/2020/NĐ-CP, form 1.9:
#: the secretary signs the minutes, then the chair).
STEPS = (("secretary", "Sig_Secretary", "Thư ký kỳ họp ký biên bản"), ("chair", "Sig_Chair", "Chủ tọa ký biên bản"))
METHODS = ("pin", "token", "external")
MAX_PIN_FAILS = 5
LOCK_MINUTES = 15
LABELS = {
    "draft": _("Chưa chuẩn bị để ký"),
    "secretary": _("Chờ thư ký ký"),
    "chair": _("Chờ chủ tọa ký"),
    "final": _("Đã ký"),
}


def _signatures(s: Session, draft: MinutesDraft) -> list[MinutesSignature]:
    return list(s.scalars(select(MinutesSignature).where(MinutesSignature.draft_id == draft.id)
                          .order_by(MinutesSignature.position)))


def prepare(app: Flask, s: Session, m: Meeting, actor: str) -> Change:
    """Freeze the meeting and render the current version into the prepared PDF; fix the two signers.

    The signing claim (an flock, `minutes.signing_claim`) is held from the freeze to the last commit: a server that
    starts meanwhile leaves this version alone, and one that starts after a crash finds the claim free and rolls
    a version left `prepared` without its intact file back to the draft (`minutes.recover_interrupted`)."""
    with minutes.signing_claim(app, m.id) as mine:
        if not mine:
            raise DomainError(_("Biên bản đang được chuẩn bị để ký. Hãy đợi."), "minutes.signing")
        return _prepare(app, s, m, actor)


def _prepare(app: Flask, s: Session, m: Meeting, actor: str) -> Change:
    draft = minutes.current(s, m)
    if draft.status != "draft":
        raise DomainError(_("Biên bản đã được chuẩn bị để ký hoặc đã ký."), "minutes.not_draft")
    draft.status = "prepared"  # from here on audit.record refuses changes to the meeting
    s.flush()  # takes the database's write lock: nothing can open, start or upload between the check and the commit
    try:
        minutes.check_settled(s, m)  # no poll open, no speech under way, no document processing
        readiness.check_signing(s, m)  # a chair and a secretary to sign, said before anything is rendered
    except DomainError:
        s.rollback()
        raise
    s.commit()
    try:
        return _render_prepared(app, s, m, draft, actor)
    except BaseException as exc:
        # Whatever stopped it (the worker, a full or read-only disk, a missing card), the version is a draft again:
        # nothing half-prepared is left for a signer. If even that cannot be written, the start-up recovery
        # (minutes.recover_interrupted) rolls it back, as after a power cut.
        s.rollback()
        draft.status = "draft"
        try:
            s.commit()
        except Exception:
            s.rollback()
            log.exception("meeting %s: could not put the minutes back to the draft", m.id)
        faults.raise_disk_fault(exc)
        raise


def _render_prepared(app: Flask, s: Session, m: Meeting, draft: MinutesDraft, actor: str) -> Change:
    record = minutes.draft_record(s, m)
    data = minutes.record_bytes(record)
    head = record["audit"]["head"]
    s.commit()  # hold nothing in the database while the worker renders
    out = run_job("prepare", {"record": record, "record_json": data, "audit_head": head})
    people = []
    for (role, _field, _reason), name in zip(STEPS, out["signers"], strict=True):
        person = next((p for p in m.participants if p.role == role and p.full_name.strip() == name), None)
        if person is None:  # fail closed: a step without its signer's card could be signed by any such card
            raise DomainError(_("Người ký biên bản không có thẻ tham dự kỳ họp."), "signing.no_signer_card")
        people.append(person)
    pdf: bytes = out["pdf"]
    rel = Path("minutes") / f"bien-ban-ky-hop-{m.id}-v{draft.version}-chuan-bi.pdf"
    _write(app, rel, pdf)
    draft.prepared_at = utcnow()
    draft.prepared_by = actor
    draft.prepared_path = str(rel)
    draft.prepared_sha256 = hashlib.sha256(pdf).hexdigest()
    draft.prepared_pages = int(out["pages"])
    draft.record_json = data.decode("utf-8")
    draft.record_sha256 = hashlib.sha256(data).hexdigest()
    draft.audit_head = head
    for position, ((role, field, _reason), person) in enumerate(zip(STEPS, people, strict=True), start=1):
        s.add(MinutesSignature(draft_id=draft.id, position=position, role=role, field=field,
                               signer_name=out["signers"][position - 1], participant_id=person.id,
                               status="pending", method="", cert_subject="", pdf_path="", pdf_sha256=""))
    unit.bump(m)
    audit.record(s, m.id, "minutes.prepared", actor, {
        "version": draft.version, "pdf_sha256": draft.prepared_sha256, "record_sha256": draft.record_sha256,
        "audit_head": head, "audit_seq": record["audit"]["seq"], "pages": draft.prepared_pages,
    })
    s.commit()
    return unit.change(m, state=True, minutes_signing=True)


def cancel(app: Flask, s: Session, m: Meeting, actor: str) -> Change:
    """Back to the draft before the chair has signed (a mistake found, or a prepare cut short by a power cut):
    the prepared file and any secretary's signature are discarded, and the meeting is editable again."""
    draft = minutes.current(s, m)
    if draft.status != "prepared":
        raise DomainError(_("Biên bản không ở bước chờ ký."), "signing.not_prepared")
    minutes.unprepare(s, m, draft, actor)
    s.commit()
    return unit.change(m, state=True, minutes_signing=True)


def _write(app: Flask, rel: Path, data: bytes) -> None:
    """Write the file whole, on disk before the database says it is there (a power cut leaves the old or the new)."""
    path = Path(app.config["DATA_DIR"]) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def _read(app: Flask, rel: str) -> bytes:
    path = Path(app.config["DATA_DIR"]) / rel
    if not rel or not path.is_file():
        raise NotFound(_("Không tìm thấy tệp biên bản chờ ký."))
    return path.read_bytes()


def current_pdf(app: Flask, s: Session, m: Meeting) -> tuple[MinutesDraft, bytes]:
    """The PDF the next signer signs: the prepared one, or the one the secretary signed."""
    draft = minutes.current(s, m)
    if draft.status not in ("prepared", "final"):
        raise NotFound(_("Biên bản chưa được chuẩn bị để ký."))
    if draft.status == "final":
        return draft, minutes.pdf_bytes(app, draft)
    done = [sig for sig in _signatures(s, draft) if sig.status == "signed"]
    return draft, _read(app, done[-1].pdf_path if done else draft.prepared_path)


def _step(s: Session, m: Meeting, who: Principal, role: str) -> tuple[MinutesDraft, MinutesSignature]:
    """The pending step `role` of the prepared version, if `who` is its signer and every earlier step is done."""
    draft = minutes.current(s, m)
    if draft.status == "final":
        raise DomainError(_("Biên bản đã được ký xong."), "minutes.already_final")
    if draft.status != "prepared" or not draft.prepared_path:
        raise DomainError(_("Biên bản chưa được chuẩn bị để ký."), "signing.not_prepared")
    sigs = _signatures(s, draft)
    sig = next((x for x in sigs if x.role == role), None)
    if sig is None:
        raise NotFound(_("Không có bước ký này."))
    if who.role.value != role or sig.participant_id is None or who.participant_id != sig.participant_id:
        raise Forbidden(_("Chỉ người ký của bước này được ký, từ thẻ của chính mình."), "signing.not_signer")
    if sig.status == "signed":
        raise DomainError(_("Bước ký này đã xong."), "signing.already_signed")
    if any(x.status != "signed" for x in sigs if x.position < sig.position):
        raise DomainError(_("Thư ký kỳ họp phải ký trước, rồi chủ tọa mới ký."), "signing.out_of_order")
    return draft, sig


def _council(m: Meeting) -> str:
    return f"{m.council_level} {m.locality}".strip()


def set_pin(app: Flask, s: Session, m: Meeting, who: Principal, role: str, pin: Any) -> Change:
    """First use: the signer chooses a PIN; the server's CA issues their key, kept only sealed under that PIN."""
    from meeting_server.minutes.pinkey import check_pin_format

    _draft, sig = _step(s, m, who, role)
    pin = check_pin_format(pin)
    if _key(s, role, sig.signer_name) is not None:
        raise DomainError(_("Người ký đã có khóa ký với mã PIN."), "conflict")
    s.commit()
    out = run_job("seal_key", {"ca_dir": str(minutes.ca_dir(app)), "council": _council(m), "role": role,
                               "name": sig.signer_name, "pin": pin})
    key = SignerKey(role=role, person_name=sig.signer_name, cert_pem=out["cert_pem"], sealed_key=out["sealed"],
                    failed_attempts=0, created_at=utcnow())
    s.add(key)
    audit.record(s, m.id, "minutes.signer_key_issued", who.actor, {
        "role": role, "signer": sig.signer_name,
        "cert_sha256": hashlib.sha256(out["cert_pem"].encode("ascii")).hexdigest()})
    s.commit()
    return unit.change(m, minutes_signing=True)  # no seq: nothing a screen keeps changed, only the signing step's


def _key(s: Session, role: str, name: str) -> SignerKey | None:
    return s.scalar(select(SignerKey).where(SignerKey.role == role, SignerKey.person_name == name))


def sign_with_key(app: Flask, s: Session, m: Meeting, who: Principal, role: str, method: Any, pin: Any,
                  pdf_sha256: Any) -> Change:
    """The signer signs what they were shown (`pdf_sha256`) with their PIN-sealed key or their PKCS#11 token."""
    draft, sig = _step(s, m, who, role)
    pdf = current_pdf(app, s, m)[1]
    _confirmed(pdf, pdf_sha256)
    if not isinstance(pin, str) or not pin:
        raise DomainError(_("Hãy nhập mã PIN."), "signer.pin_required")
    job: dict[str, Any] = {"pdf": pdf, "role": role, "field": sig.field, "reason": dict(
        (r, why) for r, _f, why in STEPS)[role], "location": _council(m), "signer_name": sig.signer_name,
        "signed_at": clock.corrected(s).isoformat(), "pin": pin}
    key: SignerKey | None = None
    if method == "pin":
        key = _key(s, role, sig.signer_name)
        if key is None:
            raise DomainError(_("Người ký chưa có khóa ký: hãy đặt mã PIN lần đầu."), "signer.no_key")
        now = utcnow()
        if key.locked_until is not None and key.locked_until > now:
            raise DomainError(_("Đã nhập sai mã PIN quá nhiều lần. Hãy thử lại sau 15 phút."), "signer.pin_locked")
        job.update(method="pin", sealed=key.sealed_key, cert_pem=key.cert_pem, ca_dir=str(minutes.ca_dir(app)))
    elif method == "token":
        settings = minutes.signing_settings(app)
        if settings["source"] != "pkcs11":
            raise DomainError(_("Máy chủ chưa được cấu hình cho thiết bị ký số (PKCS#11)."), "signer.bad_config")
        job.update(method="token", signing=settings)
    else:
        raise DomainError(_("Cách ký không hợp lệ."), "signing.bad_method")
    s.commit()
    try:
        out = run_job("sign_step", job)
    except DomainError as err:
        if key is not None and err.code == "signer.pin_incorrect":
            _count_failure(s, key)
        raise
    if key is not None and key.failed_attempts:
        key.failed_attempts = 0
        key.locked_until = None
    return _land(app, s, m, draft, sig, out["pdf"], str(method), out["subject"], who)


def _count_failure(s: Session, key: SignerKey) -> None:
    s.execute(update(SignerKey).where(SignerKey.id == key.id)
              .values(failed_attempts=SignerKey.failed_attempts + 1))
    s.refresh(key)
    if key.failed_attempts >= MAX_PIN_FAILS:
        key.failed_attempts = 0
        key.locked_until = utcnow() + timedelta(minutes=LOCK_MINUTES)
    s.commit()
    if key.locked_until is not None:
        raise DomainError(_("Đã nhập sai mã PIN quá nhiều lần. Hãy thử lại sau 15 phút."), "signer.pin_locked")


def _confirmed(pdf: bytes, pdf_sha256: Any) -> None:
    if not isinstance(pdf_sha256, str) or pdf_sha256.lower() != hashlib.sha256(pdf).hexdigest():
        raise DomainError(_("Tệp biên bản đã thay đổi so với bản bạn đã xem. Hãy xem lại trước khi ký."),
                          "signing.not_confirmed")


def accept_upload(app: Flask, s: Session, m: Meeting, who: Principal, role: str, upload: bytes) -> Change:
    """The signer's own externally signed file: the PDF they downloaded plus exactly one valid signature of theirs."""
    draft, sig = _step(s, m, who, role)
    pdf = current_pdf(app, s, m)[1]
    conf = minutes.signing_settings(app)["roles"].get(role) or {}
    s.commit()
    out = run_job("check_upload", {
        "prepared": pdf, "upload": upload, "field": sig.field,
        "other_fields": [f for r, f, _w in STEPS if r != role], "expected_name": sig.signer_name,
        "cert_sha256": conf.get("cert_sha256") or _cert_file_sha256(conf.get("cert_file")),
        "roots": minutes.trust_roots(app)})
    return _land(app, s, m, draft, sig, upload, "external", out["subject"], who)


def _cert_file_sha256(path: Any) -> str | None:
    """SHA-256 of the DER of a configured signer certificate (PEM or DER file), to pin the external signer."""
    if not path or not Path(path).is_file():
        return None
    raw = Path(path).read_bytes()
    if b"-----BEGIN" in raw:
        from cryptography import x509
        from cryptography.hazmat.primitives import serialization

        raw = x509.load_pem_x509_certificate(raw).public_bytes(serialization.Encoding.DER)
    return hashlib.sha256(raw).hexdigest()


def _land(app: Flask, s: Session, m: Meeting, draft: MinutesDraft, sig: MinutesSignature, pdf: bytes,
          method: str, subject: str, who: Principal) -> Change:
    """Store a signature that landed; the last one makes the version final and logs "minutes.finalized"."""
    rel = Path("minutes") / f"bien-ban-ky-hop-{m.id}-v{draft.version}-{sig.role}.pdf"
    _write(app, rel, pdf)
    digest = hashlib.sha256(pdf).hexdigest()
    # Only one of two racing requests for the same step may land (two tabs, a double click).
    done = s.execute(update(MinutesSignature).where(MinutesSignature.id == sig.id,
                                                    MinutesSignature.status == "pending")
                     .values(status="signed", method=method, signed_at=utcnow(), cert_subject=subject,
                             pdf_path=str(rel), pdf_sha256=digest))
    if done.rowcount != 1:  # type: ignore[attr-defined]
        s.rollback()
        raise DomainError(_("Bước ký này đã xong."), "signing.already_signed")
    unit.bump(m)
    audit.record(s, m.id, "minutes.signed", who.actor, {
        "version": draft.version, "role": sig.role, "signer": sig.signer_name, "method": method,
        "pdf_sha256": digest})
    last = sig.position == len(STEPS)
    if last:
        draft.status = "final"
        draft.finalized_at = utcnow()
        draft.finalized_by = who.actor
        draft.pdf_path = str(rel)
        draft.pdf_sha256 = digest
        record_seq = _record_seq(draft)
        audit.record(s, m.id, "minutes.finalized", who.actor, {
            "version": draft.version, "record_sha256": draft.record_sha256, "pdf_sha256": digest,
            "audit_head": draft.audit_head, "audit_seq": record_seq,
            "previous_version": _previous_version(s, draft),
        })
    s.commit()
    if last:
        try:
            from meeting_server.services import backup

            if backup.automatic(app):
                backup.backup_soon(app, "finalize")
        except Exception:  # a backup failure must not undo the signed minutes; it is logged for the clerk
            log.exception("backup after signing the minutes failed")
    return unit.change(m, state=True, minutes_signing=True)


def _record_seq(draft: MinutesDraft) -> int | None:
    import json

    try:
        return int(json.loads(draft.record_json or "{}")["audit"]["seq"])
    except (KeyError, TypeError, ValueError):
        return None


def _previous_version(s: Session, draft: MinutesDraft) -> int | None:
    previous = s.get(MinutesDraft, draft.previous_id) if draft.previous_id else None
    return previous.version if previous is not None else None


def state(app: Flask, s: Session, m: Meeting) -> dict[str, Any]:
    """What the clerk's and the signers' screens show: the step, the prepared file, each signature (the first look
    creates version 1 of the minutes, committed here)."""
    with unit.of_work(s):
        draft = minutes.current(s, m)
    sigs = _signatures(s, draft)
    if draft.status == "final":
        stage = "final"
    elif draft.status == "prepared":
        stage = next((x.role for x in sigs if x.status != "signed"), "final")
    else:
        stage = "draft"
    current_sha = ""
    if draft.status == "prepared":
        done = [x for x in sigs if x.status == "signed"]
        current_sha = done[-1].pdf_sha256 if done else draft.prepared_sha256
    elif draft.status == "final":
        current_sha = draft.pdf_sha256
    settings = minutes.signing_settings(app)
    return {
        "meeting_id": m.id,
        "version": draft.version,
        "status": draft.status,
        "stage": stage,
        "label": LABELS[stage],
        "prepared_sha256": draft.prepared_sha256,
        "pages": draft.prepared_pages,
        "current_sha256": current_sha,
        "methods": ["pin", "external"] + (["token"] if settings["source"] == "pkcs11" else []),
        "steps": [{"role": x.role, "field": x.field, "signer_name": x.signer_name, "participant_id": x.participant_id,
                   "status": x.status, "method": x.method, "cert_subject": x.cert_subject,
                   "has_pin_key": _key(s, x.role, x.signer_name) is not None,
                   "signed_at": x.signed_at.isoformat() if x.signed_at else None, "pdf_sha256": x.pdf_sha256}
                  for x in sigs],
    }
