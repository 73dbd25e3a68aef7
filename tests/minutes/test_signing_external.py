"""External signing: each signer downloads the prepared PDF, signs it on "their own computer" (pyHanko here, with a
test CA standing in for a licensed Vietnamese CA) and uploads it. The server accepts only the prepared bytes plus
one valid incremental signature by the expected person, and says why otherwise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any

import pymupdf
import pytest
from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from meeting_server.minutes import sign
from tests.minutes.signing_kit import assert_pdfa, assert_signed_by, client_for, prepare


class OtherCa:
    """A small RSA CA, like a licensed CA's, that issues document-signing certificates."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CA thử nghiệm"),
                          x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")])
        now = datetime.now(UTC) - timedelta(minutes=5)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now).not_valid_after(now + timedelta(days=365))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                     .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False),
                                    critical=True)
                     .sign(self.key, hashes.SHA256()))

    def pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def signer(self, person: str) -> signers.SimpleSigner:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        now = datetime.now(UTC) - timedelta(minutes=5)
        cert = (x509.CertificateBuilder()
                .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, person),
                                         x509.NameAttribute(NameOID.COUNTRY_NAME, "VN")]))
                .issuer_name(self.cert.subject).public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now).not_valid_after(now + timedelta(days=30))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(True, True, False, False, False, False, False, False, False),
                               critical=True)
                .sign(self.key, hashes.SHA256()))

        def asn1(c: x509.Certificate) -> asn1_x509.Certificate:
            return asn1_x509.Certificate.load(c.public_bytes(serialization.Encoding.DER))

        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        return signers.SimpleSigner(signing_cert=asn1(cert), signing_key=asn1_keys.PrivateKeyInfo.load(der),
                                    cert_registry=SimpleCertificateStore.from_certs([asn1(self.cert)]))


def own_tool(pdf: bytes, signer: signers.Signer, field: str, name: str) -> bytes:
    """What the signer's CA software does on their computer: one incremental PAdES signature in the field."""
    return sign.sign_minutes(pdf, signer, field, reason="Ký biên bản", location="Máy tính riêng", signer_name=name)


def edit_page(pdf: bytes) -> bytes:
    """An incremental update that writes something onto page 1 (as a tampering tool would)."""
    w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    page_ref = w.root["/Pages"]["/Kids"][0]
    page = page_ref.get_object()
    extra = w.add_object(generic.StreamObject(stream_data=b"BT /F1 24 Tf 100 700 Td (DA SUA) Tj ET"))
    contents = page["/Contents"]
    arr = generic.ArrayObject(list(contents) if isinstance(contents, generic.ArrayObject) else [contents])
    arr.append(extra)
    page["/Contents"] = arr
    w.update_container(page)
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def append_update(pdf: bytes) -> bytes:
    """A harmless-looking incremental update after the signature (a new object)."""
    w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    w.add_object(generic.DictionaryObject({generic.NameObject("/Note"): generic.TextStringObject("sau khi ký")}))
    w.update_root()
    out = BytesIO()
    w.write(out)
    return out.getvalue()


def second_signature(pdf: bytes, signer: signers.Signer) -> bytes:
    """One more signature in a new field after the first."""
    meta = signers.PdfSignatureMetadata(field_name="Sig_Them", md_algorithm="sha256",
                                        subfilter=fields.SigSeedSubFilter.PADES)
    w = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    return signers.PdfSigner(meta, signer=signer, new_field_spec=fields.SigFieldSpec(
        "Sig_Them", on_page=0, box=(10, 10, 60, 40))).sign_pdf(w).getvalue()


@pytest.fixture
def trusted_ca(app: Any, tmp_path: Path) -> OtherCa:
    ca = OtherCa()
    root = tmp_path / "ca-thu-nghiem.pem"
    root.write_bytes(ca.pem())
    app.config["MINUTES_TRUST_ROOTS"] = [str(root)]
    return ca


def test_external_signatures_accepted_only_as_prepared_plus_one_by_the_signer(
        app: Any, app_links: dict[str, Any], trusted_ca: OtherCa, tmp_path: Path) -> None:
    clerk = client_for(app, app_links, "clerk")
    secretary, chair = client_for(app, app_links, "secretary"), client_for(app, app_links, "chair")
    base = clerk.base
    st = prepare(clerk)
    sec_name, chair_name = (s["signer_name"] for s in st["steps"])

    def upload(client: Any, role: str, data: bytes) -> Any:
        return client.post(base + f"/minutes/signatures/{role}/upload",
                           data={"file": (BytesIO(data), "bien-ban-da-ky.pdf")}, content_type="multipart/form-data")

    # The secretary downloads the prepared PDF, signs it at home, uploads it.
    prepared = secretary.get(base + "/minutes/signing/document.pdf?download=1").data
    r = upload(secretary, "secretary", own_tool(prepared, trusted_ca.signer(sec_name), "Sig_Secretary", sec_name))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["stage"] == "chair" and r.get_json()["steps"][0]["method"] == "external"

    # The chair's step: every wrong upload is refused with its reason, and changes nothing.
    current = chair.get(base + "/minutes/signing/document.pdf").data
    assert current.startswith(prepared)
    good = trusted_ca.signer(chair_name)
    with pymupdf.open(stream=current) as doc:  # a page edited and the whole file saved anew
        doc[0].insert_text((72, 72), "ĐÃ SỬA", fontname="helv")
        rewritten = doc.tobytes()
    cases = [
        (b"not a pdf", "upload.not_pdf"),
        (current, "upload.not_prepared"),  # nothing added
        (own_tool(rewritten, good, "Sig_Chair", chair_name), "upload.not_prepared"),
        (own_tool(edit_page(current), good, "Sig_Chair", chair_name), "upload.changed"),
        (second_signature(own_tool(current, good, "Sig_Chair", chair_name), good), "upload.many_signatures"),
        (append_update(own_tool(current, good, "Sig_Chair", chair_name)), "upload.not_whole"),
        (own_tool(current, trusted_ca.signer("Nguyễn Văn Khác"), "Sig_Chair", chair_name), "upload.wrong_signer"),
        (append_update(current), "upload.no_signature"),
    ]
    for data, code in cases:
        r = upload(chair, "chair", data)
        assert r.status_code == 400 and r.get_json()["error"] == code, (code, r.get_json())
        assert r.get_json()["message"]
    # The reason is in English for an English session.
    with chair.session_transaction() as sess:
        sess["lang"] = "en"
    r = upload(chair, "chair", own_tool(current, trusted_ca.signer("Nguyễn Văn Khác"), "Sig_Chair", chair_name))
    assert r.get_json()["message"].startswith("The new signature is not by the person who must sign this step")
    # The secretary cannot upload the chair's signature; the clerk cannot upload at all.
    right = own_tool(current, good, "Sig_Chair", chair_name)
    assert upload(secretary, "chair", right).status_code == 403
    assert upload(clerk, "chair", right).status_code == 403
    assert chair.get(base + "/minutes/signing").get_json()["stage"] == "chair"
    # A name written by the CA without diacritics, in capitals, is the same person.
    plain = chair_name.upper().replace("Đ", "D")
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFD", plain) if not unicodedata.combining(c))
    r = upload(chair, "chair", own_tool(current, trusted_ca.signer(plain), "Sig_Chair", chair_name))
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "final"
    pdf = clerk.get(base + "/minutes.pdf").data
    assert pdf.startswith(current)
    assert_signed_by(pdf, [sec_name, plain], tmp_path, roots=[trusted_ca.pem()])
    assert_pdfa(pdf)
    report = clerk.post("/verify", data=pdf, headers={"Accept": "application/json"}).get_json()
    assert report["ok"] and not any(s["self_issued"] for s in report["signatures"])
    assert all(s["trusted"] for s in report["signatures"]) and report["chain"]["record_logged"]
