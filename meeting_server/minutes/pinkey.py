"""A signer's own key on the box, unlocked only by that signer's PIN: the private key is kept sealed, never in clear.

The signer chooses the PIN on first use, on their own screen; the server's CA then makes a key pair and a
certificate for them (`seal_new`), seals the private key with AES-256-GCM under a key derived from the PIN by
scrypt, and forgets both the PIN and the clear key. Signing (`open_signer`) unseals in the worker process that
signs and ends. A short PIN is weak against someone who copies the database and tries every PIN offline; scrypt
makes each try cost ~0.1 s and 32 MB, and the server counts wrong PINs (services/signing.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from pyhanko.sign import signers
from pyhanko_certvalidator.registry import SimpleCertificateStore

from meeting_server.domain.errors import DomainError
from meeting_server.minutes.certs import LocalCa, certify

__all__ = ["MAGIC", "SealedKey", "check_pin_format", "open_signer", "seal_new", "unseal"]

MAGIC = b"MSK1"
_N, _R, _P = 2**15, 8, 1
MIN_PIN, MAX_PIN = 6, 32
#: RSA, not the CA's ECDSA: an ECDSA signature makes pyHanko declare PDF 2.0 (ISO/TS 32002), which a PDF/A-3
#: file (based on PDF 1.7) should not; Vietnamese licensed CAs issue RSA keys too.
RSA_BITS = 3072


def _(text: str) -> str:
    """Marks a message for the catalog (translated where the web layer shows it)."""
    return text


@dataclass(frozen=True)
class SealedKey:
    """The certificate (PEM) and the private key sealed under the PIN."""

    cert_pem: str
    sealed: bytes


def check_pin_format(pin: object) -> str:
    """A PIN the signer may choose: 6 to 32 digits."""
    if not isinstance(pin, str) or not pin.isdigit() or not MIN_PIN <= len(pin) <= MAX_PIN:
        raise DomainError(_("Mã PIN phải gồm từ 6 đến 32 chữ số."), "signer.pin_format")
    return pin


def _kek(pin: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=_N, r=_R, p=_P).derive(pin.encode("utf-8"))


def seal(private_der: bytes, pin: str) -> bytes:
    """MAGIC | salt (16) | nonce (12) | AES-GCM(PKCS#8 DER)."""
    salt, nonce = os.urandom(16), os.urandom(12)
    return MAGIC + salt + nonce + AESGCM(_kek(pin, salt)).encrypt(nonce, private_der, MAGIC)


def unseal(blob: bytes, pin: str) -> bytes:
    """The PKCS#8 DER of the key; a wrong PIN is `signer.pin_incorrect`."""
    if blob[:4] != MAGIC:
        raise DomainError(_("Khóa ký của người ký bị hỏng."), "signer.key_damaged")
    salt, nonce, ct = blob[4:20], blob[20:32], blob[32:]
    try:
        return AESGCM(_kek(pin, salt)).decrypt(nonce, ct, MAGIC)
    except InvalidTag as exc:
        raise DomainError(_("Mã PIN không đúng."), "signer.pin_incorrect") from exc


def seal_new(ca: LocalCa, role: str, person_name: str, council_name: str, pin: str) -> SealedKey:
    """Make the signer's key pair and certificate; return them with the key sealed under `pin`."""
    check_pin_format(pin)
    key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    cert = certify(ca, role, person_name, council_name, key.public_key())
    der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    return SealedKey(cert.public_bytes(serialization.Encoding.PEM).decode("ascii"), seal(der, pin))


def open_signer(sealed: bytes, cert_pem: str, ca_cert_pem: bytes, pin: str) -> signers.SimpleSigner:
    """A pyHanko signer from the sealed key, unsealed with `pin` (in the worker that signs, then ends)."""
    der = unseal(sealed, pin)
    cert = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(cert_pem.encode()).public_bytes(
        serialization.Encoding.DER))
    ca = asn1_x509.Certificate.load(x509.load_pem_x509_certificate(ca_cert_pem).public_bytes(
        serialization.Encoding.DER))
    return signers.SimpleSigner(signing_cert=cert, signing_key=asn1_keys.PrivateKeyInfo.load(der),
                                cert_registry=SimpleCertificateStore.from_certs([ca]))
