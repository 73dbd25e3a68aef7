"""Two signatures on the minutes, checked by pyHanko (our verify) and by Debian's pdfsig; tampering shows."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pymupdf
import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.minutes import certs, sign, signer
from meeting_server.minutes.verify import SELF_ISSUED_NOTE, verify_pdf
from tests.minutes.conftest import AUDIT_HEAD, COUNCIL

needs_pdfsig = pytest.mark.skipif(shutil.which("pdfsig") is None, reason="poppler-utils (pdfsig) is not installed")


def pdfsig(path: Path) -> str:
    run = subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, timeout=60)
    return run.stdout


def flip_signed_byte(pdf: bytes) -> bytes:
    """Change one byte of page content near the start of the file, inside every signature's byte range."""
    content_xref = pymupdf.open(stream=pdf)[0].get_contents()[0]
    obj = pdf.index(f"\n{content_xref} 0 obj".encode())
    at = pdf.index(b"stream", obj) + len(b"stream\n") + 10
    data = bytearray(pdf)
    data[at] ^= 0x01
    return bytes(data)


def test_both_signatures_intact_valid_and_first_still_valid(signed_twice: bytes, record: dict) -> None:
    report = verify_pdf(signed_twice, None)
    assert report.ok and report.error is None
    first, second = report.signatures
    assert (first.field, first.signer_name) == ("Sig_Secretary", record["secretaries"][0]["name"])
    assert (second.field, second.signer_name) == ("Sig_Chair", record["chairs"][0]["name"])
    assert first.intact and first.valid and second.intact and second.valid
    assert not first.covers_whole_document and first.changes_after == "signatures"
    assert second.covers_whole_document and second.changes_after == "none"
    assert first.signing_time is not None
    assert "toàn vẹn, hợp lệ" in first.message


def test_trust_comes_only_from_given_roots(signed_twice: bytes, local_ca: certs.LocalCa) -> None:
    untrusted = verify_pdf(signed_twice, None).signatures
    assert not any(s.trusted for s in untrusted)
    assert all(s.self_issued and s.trust_note == SELF_ISSUED_NOTE for s in untrusted)
    assert SELF_ISSUED_NOTE in untrusted[0].message
    trusted = verify_pdf(signed_twice, [local_ca.certificate()]).signatures
    assert all(s.trusted for s in trusted)
    # Still labelled as the server's own, even where the clerk chose to trust it.
    assert all(s.trust_note == SELF_ISSUED_NOTE for s in trusted)
    pem = local_ca.cert_path.read_bytes()
    assert all(s.trusted for s in verify_pdf(signed_twice, [pem]).signatures)


def test_record_and_audit_head_are_embedded_and_signed(signed_twice: bytes, record: dict) -> None:
    report = verify_pdf(signed_twice, None)
    assert report.audit_head == AUDIT_HEAD
    assert json.loads(report.record_json) == record
    doc = pymupdf.open(stream=signed_twice)
    assert "ho-so-ky-hop.json" in doc.embfile_names()


def test_stamp_shows_vietnamese_text(signed_twice: bytes, record: dict) -> None:
    doc = pymupdf.open(stream=signed_twice)
    last = doc[-1]
    assert {w.field_name for w in last.widgets()} == {"Sig_Secretary", "Sig_Chair"}
    doc.bake(annots=True, widgets=True)  # draw the appearances into the page to read them as text
    text = " ".join(doc[-1].get_text().split())
    assert f"Đã ký số {record['secretaries'][0]['name']} Ngày ký:" in text
    assert f"Đã ký số {record['chairs'][0]['name']} Ngày ký:" in text
    assert "(GMT+7)" in text


def test_flipped_byte_breaks_both_signatures(signed_twice: bytes) -> None:
    report = verify_pdf(flip_signed_byte(signed_twice), None)
    assert not report.ok
    assert [s.intact for s in report.signatures] == [False, False]
    assert "bị thay đổi" in report.signatures[0].message


def test_garbage_gives_a_report_not_a_crash() -> None:
    report = verify_pdf(b"%PDF-1.7\nnot really", None)
    assert not report.ok and report.error and report.signatures == ()


@needs_pdfsig
def test_pdfsig_lists_both_signatures_valid(signed_file: Path, record: dict) -> None:
    out = pdfsig(signed_file)
    assert "Signature #1:" in out and "Signature #2:" in out
    assert out.count("Signature Validation: Signature is Valid.") == 2
    assert "Signature Field Name: Sig_Secretary" in out and "Signature Field Name: Sig_Chair" in out
    assert f"Signer Certificate Common Name: {record['chairs'][0]['name']}" in out
    assert out.count("Signature Type: ETSI.CAdES.detached") == 2
    assert "Total document signed" in out


@needs_pdfsig
def test_pdfsig_sees_the_flipped_byte(tmp_path: Path, signed_twice: bytes) -> None:
    path = tmp_path / "tampered.pdf"
    path.write_bytes(flip_signed_byte(signed_twice))
    out = pdfsig(path)
    assert "Signature is Valid" not in out
    assert out.count("Signature Validation: Digest Mismatch.") == 2


def test_record_cannot_be_attached_after_signing(signed_once: bytes) -> None:
    with pytest.raises(DomainError) as err:
        sign.attach_record(signed_once, b"{}", AUDIT_HEAD)
    assert err.value.code == "sign.already_signed"


def test_a_filled_or_unknown_field_is_refused(signed_once: bytes, local_ca: certs.LocalCa) -> None:
    s = signer.from_server_identity(local_ca, "chair")
    for field, code in (("Sig_Secretary", "sign.field_filled"), ("Sig_Nobody", "sign.no_field")):
        with pytest.raises(DomainError) as err:
            sign.sign_minutes(signed_once, s, field, reason="r", location=COUNCIL, signer_name="X")
        assert err.value.code == code


def test_audit_head_must_be_a_sha256_hex(minutes_pdf: bytes) -> None:
    with pytest.raises(DomainError) as err:
        sign.attach_record(minutes_pdf, b"{}", "not-a-hash")
    assert err.value.code == "sign.bad_audit_head"
