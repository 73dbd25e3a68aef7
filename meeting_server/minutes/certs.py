"""The server's own small certification authority: one signing certificate per signer role, made offline.

On first run `ensure_local_ca` makes a CA key and self-signed CA certificate, named plainly as the council
server's own and not a licensed CA; `issue_signer` then issues a certificate for the person who signs as
secretary or chair, stored as a PKCS#12 file beside a generated passphrase file (mode 0600). A council
that has certificates from a licensed Vietnamese CA uses those instead (see `signer.py`).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.types import CertificatePublicKeyTypes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

__all__ = [
    "SELF_ISSUED_MARK",
    "IssuedIdentity",
    "LocalCa",
    "certify",
    "ensure_local_ca",
    "is_self_issued",
    "issue_signer",
    "issued",
]

log = logging.getLogger(__name__)

SELF_ISSUED_MARK = "Chứng thư do máy chủ tự cấp - không phải tổ chức chứng thực"
"""Organisational unit written in every certificate made here, so that readers and `verify` can tell."""

# ECDSA P-256: RSA-3072 keys cost pyHanko ~0.17 s to load (key check) at each of its 4 loads per 2 signatures.
CURVE = ec.SECP256R1()
CA_YEARS = 20
SIGNER_YEARS = 5
ROLES = ("secretary", "chair")
_ROLE_TITLES = {"secretary": "Thư ký kỳ họp", "chair": "Chủ tọa kỳ họp"}


@dataclass(frozen=True)
class LocalCa:
    """Where the CA lives: its certificate (PEM, to hand to verifiers) and its key (PKCS#12 + passphrase)."""

    directory: Path
    cert_path: Path
    p12_path: Path
    passphrase_path: Path

    def certificate(self) -> x509.Certificate:
        """The CA certificate, the trust root for signatures made with this server's certificates."""
        return x509.load_pem_x509_certificate(self.cert_path.read_bytes())


@dataclass(frozen=True)
class IssuedIdentity:
    """A signer's key and certificate as a PKCS#12 file, with the passphrase kept in its own file."""

    role: str
    common_name: str
    p12_path: Path
    passphrase_path: Path

    def passphrase(self) -> bytes:
        """The generated passphrase of the PKCS#12 file."""
        return self.passphrase_path.read_bytes().strip()


def ensure_local_ca(directory: Path | str, council_name: str) -> LocalCa:
    """Return the CA in `directory`, making it on first run (key, self-signed certificate, passphrase)."""
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    ca = LocalCa(d, d / "ca-cert.pem", d / "ca.p12", d / "ca.pass")
    if ca.cert_path.exists() and ca.p12_path.exists() and ca.passphrase_path.exists():
        return ca
    key = ec.generate_private_key(CURVE)
    name = _name(f"CA nội bộ máy chủ HĐND {council_name}", council_name)
    now = datetime.now(UTC) - timedelta(minutes=5)
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(ski, critical=False)
        .sign(key, hashes.SHA256())
    )
    passphrase = _passphrase()
    _write_secret(ca.passphrase_path, passphrase)
    _write_secret(ca.p12_path, _p12("ca", key, cert, [], passphrase))
    ca.cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    log.info("made the server's local CA in %s", d)
    return ca


def issue_signer(ca: LocalCa, role: str, person_name: str, council_name: str) -> IssuedIdentity:
    """Issue (or re-issue) the signing certificate of `person_name` for `role` ("secretary" or "chair")."""
    if role not in ROLES:
        raise ValueError(f"unknown signer role {role!r}")
    _, ca_cert = _load_ca(ca)
    key = ec.generate_private_key(CURVE)
    cert = certify(ca, role, person_name, council_name, key.public_key())
    person = unicodedata.normalize("NFC", person_name.strip())
    passphrase = _passphrase()
    p12_path = ca.directory / f"{role}.p12"
    pass_path = ca.directory / f"{role}.pass"
    _write_secret(pass_path, passphrase)
    _write_secret(p12_path, _p12(_slug(person), key, cert, [ca_cert], passphrase))
    log.info("issued a %s signing certificate for %s", role, person)
    return IssuedIdentity(role, person, p12_path, pass_path)


def certify(ca: LocalCa, role: str, person_name: str, council_name: str,
            public_key: CertificatePublicKeyTypes) -> x509.Certificate:
    """A signing certificate from this CA for `person_name` as `role`, over a key made elsewhere (e.g. one that
    will be kept only sealed under the signer's PIN, see `pinkey`)."""
    if role not in ROLES:
        raise ValueError(f"unknown signer role {role!r}")
    ca_key, ca_cert = _load_ca(ca)
    person = unicodedata.normalize("NFC", person_name.strip())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, person),
            x509.NameAttribute(NameOID.TITLE, _ROLE_TITLES[role]),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, SELF_ISSUED_MARK),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Hội đồng nhân dân {council_name}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        ]
    )
    now = datetime.now(UTC) - timedelta(minutes=5)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(min(now + timedelta(days=365 * SIGNER_YEARS), ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )


def issued(ca: LocalCa, role: str) -> IssuedIdentity | None:
    """The identity already issued for `role`, if any."""
    p12_path = ca.directory / f"{role}.p12"
    pass_path = ca.directory / f"{role}.pass"
    if not (p12_path.exists() and pass_path.exists()):
        return None
    loaded = pkcs12.load_pkcs12(p12_path.read_bytes(), pass_path.read_bytes().strip())
    if loaded.cert is None:
        return None
    cn = loaded.cert.certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    return IssuedIdentity(role, str(cn), p12_path, pass_path)


def is_self_issued(cert: x509.Certificate) -> bool:
    """True for certificates made by a server's local CA (they carry SELF_ISSUED_MARK)."""
    for name in (cert.subject, cert.issuer):
        for attr in name.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME):
            if attr.value == SELF_ISSUED_MARK:
                return True
    return False


def _name(common_name: str, council_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, SELF_ISSUED_MARK),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Hội đồng nhân dân {council_name}"),
            x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    # Signers get digitalSignature + nonRepudiation (contentCommitment), what PDF validators expect of a
    # document-signing certificate; the CA only signs certificates and revocation lists.
    return x509.KeyUsage(
        digital_signature=not cert_sign,
        content_commitment=not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _load_ca(ca: LocalCa) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key, cert, _ = pkcs12.load_key_and_certificates(ca.p12_path.read_bytes(), ca.passphrase_path.read_bytes().strip())
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert is None:
        raise ValueError(f"{ca.p12_path} does not hold the CA key and certificate")
    return key, cert


def _p12(
    friendly: str,
    key: ec.EllipticCurvePrivateKey,
    cert: x509.Certificate,
    extra: list[x509.Certificate],
    passphrase: bytes,
) -> bytes:
    # AES-256 PBES2 instead of the legacy 3DES/RC2 default, so OpenSSL 3 and NSS read it without legacy mode.
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(100_000)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    return pkcs12.serialize_key_and_certificates(friendly.encode("utf-8"), key, cert, extra or None, encryption)


def _passphrase() -> bytes:
    return secrets.token_urlsafe(32).encode("ascii")


def _write_secret(path: Path, data: bytes) -> None:
    """Write a file readable by the server's user only, created with that mode (no window of wider access)."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def _slug(text: str) -> str:
    ascii_only = unicodedata.normalize("NFKD", text.replace("Đ", "D").replace("đ", "d")).encode("ascii", "ignore")
    return re.sub(r"[^A-Za-z0-9]+", "-", ascii_only.decode()).strip("-").lower() or "signer"
