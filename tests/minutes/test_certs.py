"""The server's local CA: made once, issues one certificate per signer role with the person's name."""

from __future__ import annotations

import stat

from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from meeting_server.minutes import certs


def test_ca_is_made_once_and_kept(tmp_path) -> None:
    first = certs.ensure_local_ca(tmp_path, "xã Tân Lập")
    again = certs.ensure_local_ca(tmp_path, "xã Tân Lập")
    assert first.certificate() == again.certificate()
    ca = first.certificate()
    assert ca.subject == ca.issuer
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert certs.is_self_issued(ca)
    for secret in (first.p12_path, first.passphrase_path):
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_signers_are_distinct_and_named(local_ca: certs.LocalCa, record: dict) -> None:
    loaded = {}
    for role in ("secretary", "chair"):
        ident = certs.issued(local_ca, role)
        assert ident is not None
        p12 = pkcs12.load_pkcs12(ident.p12_path.read_bytes(), ident.passphrase())
        loaded[role] = p12.cert.certificate
        assert stat.S_IMODE(ident.p12_path.stat().st_mode) == 0o600
    sec, chair = loaded["secretary"], loaded["chair"]
    assert sec.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == record["secretaries"][0]["name"]
    assert chair.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == record["chairs"][0]["name"]
    assert sec.public_key() != chair.public_key()
    ca = local_ca.certificate()
    for cert in (sec, chair):
        assert cert.issuer == ca.subject
        cert.verify_directly_issued_by(ca)
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        assert usage.digital_signature and usage.content_commitment and not usage.key_cert_sign
        assert certs.is_self_issued(cert)
