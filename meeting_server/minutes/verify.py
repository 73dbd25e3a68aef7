"""Check a signed minutes PDF: each signature's integrity, validity, trust and coverage, and the attached record.

Bytes in, a frozen report out; nothing is fetched from the network (the server is offline), so trust comes
only from the roots the caller passes, e.g. the server's own CA certificate or a licensed CA's root.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import Any

from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from meeting_server.minutes.certs import is_self_issued
from meeting_server.minutes.sign import RECORD_FILE_NAME, audit_head_from_description

__all__ = ["SELF_ISSUED_NOTE", "SignatureReport", "VerifyReport", "verify_pdf"]

log = logging.getLogger(__name__)
# pyHanko logs a full traceback when a self-issued certificate has no trust root; the report says it in words.
logging.getLogger("pyhanko.sign.validation.generic_cms").setLevel(logging.ERROR)

SELF_ISSUED_NOTE = "chứng thư do máy chủ tự cấp, không phải của tổ chức chứng thực"


@dataclass(frozen=True)
class SignatureReport:
    """What a reader needs to know about one signature."""

    field: str
    signer_name: str | None
    intact: bool  # the signed bytes hash to the signed digest
    valid: bool  # the signature over that digest checks with the certificate's key
    trusted: bool  # the certificate chains to one of the given trust roots
    self_issued: bool  # made by a meeting server's local CA
    covers_whole_document: bool  # nothing was appended after this signature
    changes_after: str  # "none", "signatures" (later signing/form filling), or "other"
    signing_time: datetime | None
    trust_note: str
    message: str

    @property
    def ok(self) -> bool:
        """Intact, valid and not followed by changes other than further signatures."""
        return self.intact and self.valid and self.changes_after != "other"


@dataclass(frozen=True)
class VerifyReport:
    """All signatures of the PDF in signing order, with the embedded record if there is one."""

    signatures: tuple[SignatureReport, ...]
    record_json: bytes | None
    audit_head: str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        """The file was read, has at least one signature, and every signature is ok."""
        return self.error is None and bool(self.signatures) and all(s.ok for s in self.signatures)


def verify_pdf(pdf_bytes: bytes, trust_roots: list[Any] | None = None) -> VerifyReport:
    """Validate every signature of `pdf_bytes`; `trust_roots` are certificates (cryptography, asn1crypto or PEM)."""
    try:
        reader = PdfFileReader(BytesIO(pdf_bytes), strict=False)
        sigs = list(reader.embedded_regular_signatures)
    except Exception as exc:  # a damaged file must give a report, not a crash
        log.info("unreadable PDF: %s", exc)
        return VerifyReport((), None, None, error=f"Không đọc được tệp PDF: {exc}")
    record_json, audit_head = _embedded_record(reader)
    roots = [_to_asn1(c) for c in trust_roots or []]
    reports = []
    for emb in sigs:
        # A fresh context per signature: a context caches path-building results between validations.
        context = ValidationContext(trust_roots=roots, allow_fetching=False, revocation_mode="soft-fail")
        reports.append(_check(emb, context))
    return VerifyReport(tuple(reports), record_json, audit_head)


def _check(emb: Any, context: ValidationContext) -> SignatureReport:
    field = str(emb.field_name)
    try:
        status = validate_pdf_signature(emb, signer_validation_context=context)
    except Exception as exc:  # a signature whose CMS cannot be parsed is reported as broken
        return SignatureReport(
            field,
            None,
            False,
            False,
            False,
            False,
            False,
            "other",
            None,
            "",
            f"Chữ ký {field} hỏng, không kiểm tra được: {exc}",
        )
    cert = x509.load_der_x509_certificate(status.signing_cert.dump())
    self_issued = is_self_issued(cert)
    try:
        name = status.signing_cert.subject.native.get("common_name")
    except Exception:
        name = None
    level = status.modification_level
    if status.coverage == SignatureCoverageLevel.ENTIRE_FILE or level == ModificationLevel.NONE:
        changes = "none"
    elif level in (ModificationLevel.LTA_UPDATES, ModificationLevel.FORM_FILLING) and status.docmdp_ok:
        changes = "signatures"
    else:
        changes = "other"
    trusted = bool(status.trusted)
    if self_issued:
        note = SELF_ISSUED_NOTE
    elif trusted:
        note = "chứng thư của tổ chức chứng thực được tin cậy"
    else:
        note = "chứng thư không thuộc tổ chức chứng thực nào được tin cậy trên máy chủ này"
    return SignatureReport(
        field=field,
        signer_name=name,
        intact=bool(status.intact),
        valid=bool(status.valid),
        trusted=trusted,
        self_issued=self_issued,
        covers_whole_document=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        changes_after=changes,
        signing_time=status.signer_reported_dt,
        trust_note=note,
        message=_message(field, name, bool(status.intact), bool(status.valid), changes, note),
    )


def _message(field: str, name: str | None, intact: bool, valid: bool, changes: str, note: str) -> str:
    who = f"Chữ ký của {name}" if name else f"Chữ ký {field}"
    if not intact:
        return f"{who}: nội dung đã bị thay đổi sau khi ký (mã băm không khớp)."
    if not valid:
        return f"{who}: chữ ký không hợp lệ về mật mã."
    tail = {
        "none": "bao trùm toàn bộ tài liệu",
        "signatures": "sau đó chỉ có thêm chữ ký khác",
        "other": "CẢNH BÁO: tài liệu bị sửa đổi sau khi ký",
    }[changes]
    return f"{who}: toàn vẹn, hợp lệ; {tail}; {note}."


def embedded_record(pdf_bytes: bytes) -> tuple[bytes | None, str | None]:
    """The record JSON and audit head attached to a signed minutes PDF (no signature check: `verify_pdf` does it)."""
    try:
        return _embedded_record(PdfFileReader(BytesIO(pdf_bytes), strict=False))
    except Exception:  # a damaged file has no anchor to give; `meeting-server verify` says what is wrong with it
        return None, None


def _embedded_record(reader: PdfFileReader) -> tuple[bytes | None, str | None]:
    """The record JSON attached by `sign.attach_record` and the audit head in its description."""
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None, None
    for i in range(0, len(names) - 1, 2):
        spec = names[i + 1].get_object()
        if str(spec.get("/UF", spec.get("/F", ""))) != RECORD_FILE_NAME:
            continue
        data = spec["/EF"]["/F"].get_object().data
        return data, audit_head_from_description(str(spec.get("/Desc", "")))
    return None, None


def _to_asn1(cert: Any) -> asn1_x509.Certificate:
    if isinstance(cert, asn1_x509.Certificate):
        return cert
    if isinstance(cert, x509.Certificate):
        return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))
    if isinstance(cert, bytes | str):
        raw = cert.encode() if isinstance(cert, str) else cert
        if raw.lstrip().startswith(b"-----BEGIN"):
            raw = x509.load_pem_x509_certificate(raw).public_bytes(serialization.Encoding.DER)
        return asn1_x509.Certificate.load(raw)
    raise TypeError(f"not a certificate: {type(cert).__name__}")


def load_certificates(pem_files: Iterable[str]) -> list[x509.Certificate]:
    """Read PEM certificate files, e.g. the local CA's ca-cert.pem, to pass as trust roots."""
    out = []
    for path in pem_files:
        with open(path, "rb") as f:
            out.append(x509.load_pem_x509_certificate(f.read()))
    return out
