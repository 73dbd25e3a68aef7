"""Accept a signature made elsewhere: the signer downloads the prepared PDF, signs it with their own CA's tool on
their own computer, and uploads the result.

The upload is accepted only if it is exactly the PDF that was handed out plus one incremental signature: the
prepared bytes are a prefix of the upload, there is exactly one new signature, it covers the whole file, it is
intact and valid, nothing in the appended revisions changes the document beyond filling a signature field
(pyHanko's difference analysis), it does not fill another signer's field, and its certificate is the expected
person's (the configured certificate, else the name). Each refusal has its own code and a message that says why.
"""

from __future__ import annotations

import hashlib
import logging
import unicodedata
from dataclasses import dataclass
from io import BytesIO
from typing import Any

from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import DEFAULT_DIFF_POLICY, ModificationLevel, SuspiciousModification
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from meeting_server.domain.errors import DomainError

__all__ = ["REFUSALS", "Accepted", "refused", "check_upload", "same_person"]

log = logging.getLogger(__name__)


def _(text: str) -> str:
    """Marks a message for the catalog (the web layer translates it)."""
    return text


REFUSALS = {
    "upload.not_pdf": _("Tệp tải lên không đọc được như một tệp PDF."),
    "upload.not_prepared": _("Tệp tải lên không bắt đầu bằng đúng biên bản đã chuẩn bị: nội dung đã bị thay đổi "
                             "(ví dụ một trang bị sửa) hoặc đây là tệp khác."),
    "upload.no_signature": _("Tệp tải lên không có chữ ký mới."),
    "upload.many_signatures": _("Tệp tải lên có nhiều hơn một chữ ký mới: chỉ được thêm đúng một chữ ký."),
    "upload.not_whole": _("Chữ ký mới không bao trùm toàn bộ tệp: có nội dung được thêm vào sau khi ký."),
    "upload.invalid_signature": _("Chữ ký mới không hợp lệ: tệp đã bị sửa sau khi ký hoặc chữ ký hỏng."),
    "upload.changed": _("Tệp tải lên sửa nội dung biên bản, không chỉ thêm chữ ký."),
    "upload.wrong_field": _("Chữ ký mới nằm trong ô chữ ký của người khác."),
    "upload.wrong_signer": _("Chữ ký mới không phải của người phải ký bước này (chứng thư số của người khác)."),
}


def refused(code: str) -> DomainError:
    """The uploaded file is not the prepared minutes plus one valid signature by the expected person: the refusal
    of that `code`, with its message from REFUSALS (a function, not a DomainError subclass, so that the extraction
    of messages reads them where they are written, in REFUSALS)."""
    return DomainError(REFUSALS[code], code)


@dataclass(frozen=True)
class Accepted:
    """The new signature: its field, the certificate's subject and common name, and whether it is trusted."""

    field: str
    signer_name: str
    subject: str
    trusted: bool


def _plain(name: str) -> str:
    """A name compared without case, diacritics or extra spaces: CAs often write "NGUYEN VAN A"."""
    text = unicodedata.normalize("NFKD", name.replace("Đ", "D").replace("đ", "d"))
    return " ".join("".join(c for c in text if not unicodedata.combining(c)).casefold().split())


def same_person(expected: str, common_name: str) -> bool:
    """Does a certificate's common name name the expected person?"""
    return bool(expected.strip()) and _plain(expected) == _plain(common_name)


def check_upload(prepared: bytes, upload: bytes, *, field: str, other_fields: list[str], expected_name: str,
                 cert_sha256: str | None = None, trust_roots: list[Any] | None = None) -> Accepted:
    """Accept `upload` as `prepared` plus one signature by the expected person, or raise `refused`'s DomainError."""
    try:
        before = PdfFileReader(BytesIO(prepared), strict=False)
        n_before = len(before.embedded_regular_signatures)
        base_revision = before.xrefs.total_revisions - 1
    except Exception as exc:  # the prepared file is ours: failing here is a server fault
        raise DomainError(f"Không đọc được biên bản đã chuẩn bị: {exc}", "signing.prepared_unreadable") from exc
    if not upload.startswith(b"%PDF"):
        raise refused("upload.not_pdf")
    if len(upload) <= len(prepared) or upload[: len(prepared)] != prepared:
        raise refused("upload.not_prepared")
    try:
        reader = PdfFileReader(BytesIO(upload), strict=False)
        sigs = list(reader.embedded_regular_signatures)
    except Exception as exc:
        log.info("unreadable upload: %s", exc)
        raise refused("upload.not_pdf") from exc
    new = sigs[n_before:]
    if not new:
        raise refused("upload.no_signature")
    if len(new) > 1:
        raise refused("upload.many_signatures")
    emb = new[0]
    name = str(emb.field_name)
    if name in other_fields:
        raise refused("upload.wrong_field")
    context = ValidationContext(trust_roots=[_asn1(r) for r in trust_roots or []], allow_fetching=False,
                                revocation_mode="soft-fail")
    try:
        status = validate_pdf_signature(emb, signer_validation_context=context)
    except Exception as exc:
        raise refused("upload.invalid_signature") from exc
    if not (status.intact and status.valid):
        raise refused("upload.invalid_signature")
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        raise refused("upload.not_whole")
    diff = DEFAULT_DIFF_POLICY.review_file(reader, base_revision)
    if isinstance(diff, SuspiciousModification) or diff.modification_level > ModificationLevel.FORM_FILLING:
        raise refused("upload.changed")
    cert = status.signing_cert
    common_name = str(cert.subject.native.get("common_name", ""))
    if cert_sha256:
        if hashlib.sha256(cert.dump()).hexdigest() != cert_sha256.lower().replace(":", ""):
            raise refused("upload.wrong_signer")
    elif not same_person(expected_name, common_name):
        raise refused("upload.wrong_signer")
    return Accepted(name, common_name, cert.subject.human_friendly, bool(status.trusted))


def _asn1(cert: Any) -> asn1_x509.Certificate:
    from meeting_server.minutes.verify import _to_asn1

    return _to_asn1(cert)
