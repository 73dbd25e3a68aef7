"""Loading signing keys: PKCS#12 files (ours and a user's) and a PKCS#11 token (SoftHSM2 when installed)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from meeting_server.domain.errors import DomainError
from meeting_server.minutes import certs, sign, signer
from meeting_server.minutes.verify import verify_pdf
from tests.minutes.conftest import COUNCIL

SOFTHSM_MODULES = [Path("/usr/lib/softhsm/libsofthsm2.so"), Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")]
SOFTHSM = next((p for p in SOFTHSM_MODULES if p.is_file()), None)
PIN = "246810"


def test_user_pkcs12_file_with_passphrase(local_ca: certs.LocalCa) -> None:
    ident = certs.issued(local_ca, "chair")
    s = signer.from_pkcs12_file(ident.p12_path, ident.passphrase().decode())
    assert s.signing_cert.subject.native["common_name"] == ident.common_name


def test_wrong_passphrase_is_a_clear_error(local_ca: certs.LocalCa) -> None:
    ident = certs.issued(local_ca, "chair")
    with pytest.raises(DomainError) as err:
        signer.from_pkcs12_file(ident.p12_path, "sai-mat-khau")
    assert err.value.code == "signer.p12_unreadable"
    assert "sai mật khẩu" in err.value.message


def test_missing_file_and_unissued_role(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as err:
        signer.from_pkcs12_file(tmp_path / "none.p12", "x")
    assert err.value.code == "signer.p12_missing"
    ca = certs.ensure_local_ca(tmp_path / "ca", COUNCIL)
    with pytest.raises(DomainError) as err:
        signer.from_server_identity(ca, "chair")
    assert err.value.code == "signer.not_issued"


def test_missing_pkcs11_module_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DomainError) as err:
        with signer.open_pkcs11_signer(tmp_path / "libnotoken.so", "token", "1234"):
            pass
    assert err.value.code == "signer.pkcs11_module_missing"
    assert "libnotoken.so" in err.value.message


@pytest.fixture(scope="module")
def softhsm_token(
    tmp_path_factory: pytest.TempPathFactory, local_ca: certs.LocalCa
) -> tuple[Path, asn1_x509.Certificate]:
    """A SoftHSM2 token labelled "council" holding the chair's key under the label "chair"."""
    if SOFTHSM is None:
        pytest.skip("softhsm2 is not installed")
    root = tmp_path_factory.mktemp("softhsm")
    (root / "tokens").mkdir()
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    # The module reads its configuration when first loaded, once per process.
    os.environ["SOFTHSM2_CONF"] = str(conf)
    run = {"check": True, "capture_output": True, "env": {**os.environ}}
    subprocess.run(
        ["softhsm2-util", "--init-token", "--free", "--label", "council", "--pin", PIN, "--so-pin", "13579135"], **run
    )
    ident = certs.issued(local_ca, "chair")
    p12 = pkcs12.load_pkcs12(ident.p12_path.read_bytes(), ident.passphrase())
    key_pem = root / "chair-key.pem"
    key_pem.write_bytes(
        p12.key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    subprocess.run(
        [
            "softhsm2-util",
            "--import",
            str(key_pem),
            "--token",
            "council",
            "--label",
            "chair",
            "--id",
            "01",
            "--pin",
            PIN,
        ],
        **run,
    )
    key_pem.unlink()
    cert = asn1_x509.Certificate.load(p12.cert.certificate.public_bytes(serialization.Encoding.DER))
    return SOFTHSM, cert


def test_pkcs11_token_signs_the_minutes(softhsm_token, signed_once: bytes, record: dict) -> None:
    module, cert = softhsm_token
    # SoftHSM2 offers raw ECDSA only, not ECDSA-with-SHA256: pyHanko hashes and the token signs the digest.
    with signer.open_pkcs11_signer(
        module, "council", PIN, key_label="chair", signing_cert=cert, raw_mechanism=True
    ) as s:
        out = sign.sign_minutes(
            signed_once,
            s,
            "Sig_Chair",
            reason="Chủ tọa ký bằng USB token",
            location=COUNCIL,
            signer_name=record["chairs"][0]["name"],
        )
    report = verify_pdf(out, None)
    assert report.ok
    assert [s.signer_name for s in report.signatures] == [record["secretaries"][0]["name"], record["chairs"][0]["name"]]


def test_pkcs11_wrong_pin_and_unknown_token(softhsm_token) -> None:
    module, _ = softhsm_token
    with pytest.raises(DomainError) as err:
        with signer.open_pkcs11_signer(module, "council", "000000"):
            pass
    assert err.value.code == "signer.pin_incorrect"
    with pytest.raises(DomainError) as err:
        with signer.open_pkcs11_signer(module, "no-such-token", PIN):
            pass
    assert err.value.code == "signer.token_unavailable"


def test_token_lacking_a_mechanism_gives_a_sign_error(softhsm_token, signed_once: bytes) -> None:
    module, cert = softhsm_token
    with signer.open_pkcs11_signer(module, "council", PIN, key_label="chair", signing_cert=cert) as s:
        with pytest.raises(DomainError) as err:
            sign.sign_minutes(signed_once, s, "Sig_Chair", reason="r", location=COUNCIL, signer_name="X")
    assert err.value.code == "sign.failed" and "MechanismInvalid" in err.value.message
