"""The one place that loads signing keys: returns a pyHanko `Signer` from a PKCS#12 file or a PKCS#11 token.

Three sources, so that a council can move from the server's own certificates to a licensed CA's USB token
without touching the signing code: the server's local CA (`from_server_identity`), a person's PKCS#12 file
(`from_pkcs12_file`), a PKCS#11 token (`open_pkcs11_signer`, a context manager; the PIN is used for the session
and never stored).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyhanko.sign import signers

from meeting_server.domain.errors import DomainError
from meeting_server.minutes.certs import LocalCa, issued

__all__ = ["SignerError", "from_pkcs12_file", "from_server_identity", "open_pkcs11_signer"]

log = logging.getLogger(__name__)


class SignerError(DomainError):
    """The signing key could not be loaded; the message tells the clerk what to check."""

    code = "signer.unavailable"


def from_pkcs12_file(path: Path | str, passphrase: bytes | str | None) -> signers.SimpleSigner:
    """A signer from a PKCS#12 (.p12/.pfx) file and its passphrase, e.g. one issued by a licensed CA."""
    p = Path(path)
    if not p.is_file():
        raise SignerError("Không tìm thấy tệp chứng thư số %(path)s.", "signer.p12_missing", params={"path": str(p)})
    if isinstance(passphrase, str):
        passphrase = passphrase.encode("utf-8")
    try:
        return signers.SimpleSigner.load_pkcs12_data(p.read_bytes(), other_certs=[], passphrase=passphrase)
    except ValueError as exc:
        raise SignerError(
            "Không mở được tệp chứng thư số %(name)s: sai mật khẩu hoặc tệp hỏng.", "signer.p12_unreadable",
            params={"name": p.name},
        ) from exc


def from_server_identity(ca: LocalCa, role: str) -> signers.SimpleSigner:
    """A signer from the certificate the server's local CA issued for `role` ("secretary" or "chair")."""
    identity = issued(ca, role)
    if identity is None:
        raise SignerError("Máy chủ chưa cấp chứng thư ký số cho vai trò %(role)s.", "signer.not_issued",
                          params={"role": role})
    return from_pkcs12_file(identity.p12_path, identity.passphrase())


@contextmanager
def open_pkcs11_signer(
    module_path: Path | str,
    token_label: str,
    pin: str,
    *,
    key_label: str | None = None,
    cert_label: str | None = None,
    key_id: bytes | None = None,
    signing_cert: object | None = None,
    raw_mechanism: bool = False,
) -> Iterator[signers.Signer]:
    """Open a session on a PKCS#11 token and yield a signer; the session closes when the block ends.

    `signing_cert` (an asn1crypto certificate) is for tokens that hold the key but not the certificate;
    `raw_mechanism` hashes in Python and asks the token for raw ECDSA/RSA, for tokens (SoftHSM2 with EC
    keys) that lack the combined hash-and-sign mechanisms.
    """
    module = Path(module_path)
    if not module.is_file():
        raise SignerError(
            "Không tìm thấy thư viện PKCS#11 của thiết bị ký số: %(module)s. Hãy cài trình điều khiển của USB token.",
            "signer.pkcs11_module_missing", params={"module": str(module)},
        )
    try:
        import pkcs11
        from pyhanko.config.pkcs11 import TokenCriteria
        from pyhanko.sign.pkcs11 import PKCS11Signer, open_pkcs11_session
    except ImportError as exc:  # python-pkcs11 is an optional extra of pyHanko
        raise SignerError("Máy chủ chưa cài gói python-pkcs11.", "signer.pkcs11_unsupported") from exc
    try:
        session = open_pkcs11_session(str(module), token_criteria=TokenCriteria(label=token_label), user_pin=pin)
    except pkcs11.PinIncorrect as exc:
        raise SignerError("Mã PIN của thiết bị ký số không đúng.", "signer.pin_incorrect") from exc
    except pkcs11.PKCS11Error as exc:
        detail = f"{type(exc).__name__} {exc}".strip()
        raise SignerError("Không mở được thiết bị ký số %(label)r: %(detail)s", "signer.token_unavailable",
                          params={"label": token_label, "detail": detail}) from exc
    try:
        yield PKCS11Signer(
            session,
            cert_label=cert_label,
            key_label=key_label,
            key_id=key_id,
            signing_cert=signing_cert,
            use_raw_mechanism=raw_mechanism,
        )
    finally:
        session.close()
