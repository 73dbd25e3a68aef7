"""Signing with keys on a PKCS#11 token (SoftHSM2 standing in for a VNPT-CA/Viettel-CA USB token): each signer types
their token's PIN on their own screen at signing time, a wrong PIN is a clear refusal that leaves the step open, and
nothing of the PIN is kept."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from meeting_server.minutes import certs
from meeting_server.minutes.verify import verify_pdf
from tests.minutes.signing_kit import assert_signed_by, client_for, prepare
from tests.minutes.test_signer import SOFTHSM

PINS = {"secretary": "111111", "chair": "222222"}


@pytest.fixture
def token_app(app: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Two SoftHSM2 tokens, one per signer, each with its key (certificates given as files), and signing.json."""
    if SOFTHSM is None:
        pytest.skip("softhsm2 is not installed")
    root = tmp_path / "softhsm"
    (root / "tokens").mkdir(parents=True)
    conf = root / "softhsm2.conf"
    conf.write_text(f"directories.tokendir = {root / 'tokens'}\nobjectstore.backend = file\nlog.level = ERROR\n")
    monkeypatch.setenv("SOFTHSM2_CONF", str(conf))  # the worker process inherits it
    ca = certs.ensure_local_ca(tmp_path / "vn-ca", "xã Đồng Lê")
    roles: dict[str, Any] = {}
    for role, name in (("secretary", "Nông Thị Mai"), ("chair", "Hoàng Quốc Cường")):
        ident = certs.issue_signer(ca, role, name, "xã Đồng Lê")
        p12 = pkcs12.load_pkcs12(ident.p12_path.read_bytes(), ident.passphrase())
        key = root / f"{role}.pem"
        key.write_bytes(p12.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
        cert = root / f"{role}-cert.pem"
        cert.write_bytes(p12.cert.certificate.public_bytes(serialization.Encoding.PEM))
        env = dict(os.environ)
        subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", f"token-{role}", "--pin", PINS[role],
                        "--so-pin", "13579135"], check=True, capture_output=True, env=env)
        subprocess.run(["softhsm2-util", "--import", str(key), "--token", f"token-{role}", "--label", role,
                        "--id", "01", "--pin", PINS[role]], check=True, capture_output=True, env=env)
        key.unlink()
        roles[role] = {"token_label": f"token-{role}", "key_label": role, "cert_file": str(cert),
                       "raw_mechanism": True}
    (Path(app.config["DATA_DIR"]) / "signing.json").write_text(
        json.dumps({"source": "pkcs11", "module": str(SOFTHSM), **roles}), encoding="utf-8")
    return app


def test_each_signer_signs_with_their_own_token(token_app: Any, app_links: dict[str, Any], tmp_path: Path) -> None:
    """The old flow had both PINs typed on the clerk's screen; now each signer types their own on their own screen."""
    clerk = client_for(token_app, app_links, "clerk")
    secretary, chair = client_for(token_app, app_links, "secretary"), client_for(token_app, app_links, "chair")
    base = clerk.base
    # The editor asks the clerk for no PIN.
    html = clerk.get("/clerk/minutes").get_data(as_text=True)
    assert "data-pin" not in html
    st = prepare(clerk)
    assert "token" in st["methods"]
    # The signer's page offers the token.
    assert 'data-method="token"' in secretary.get("/sign").get_data(as_text=True)

    def sign_token(client: Any, role: str, pin: str) -> Any:
        sha = client.get(base + "/minutes/signing").get_json()["current_sha256"]
        return client.post(base + f"/minutes/signatures/{role}", json={"method": "token", "pin": pin,
                                                                         "pdf_sha256": sha})

    r = sign_token(secretary, "secretary", "")
    assert r.status_code == 400 and r.get_json()["error"] == "signer.pin_required"
    r = sign_token(secretary, "secretary", "000000")
    assert r.status_code == 400 and r.get_json()["error"] == "signer.pin_incorrect"
    assert "PIN" in r.get_json()["message"]
    assert clerk.get(base + "/minutes/signing").get_json()["stage"] == "secretary"
    # The clerk cannot use the secretary's token, nor the chair sign out of order.
    assert clerk.post(base + "/minutes/signatures/secretary",
                      json={"method": "token", "pin": PINS["secretary"]}).status_code == 403
    assert sign_token(chair, "chair", PINS["chair"]).get_json()["error"] == "signing.out_of_order"
    r = sign_token(secretary, "secretary", PINS["secretary"])
    assert r.status_code == 200, r.get_json()
    r = sign_token(chair, "chair", PINS["chair"])
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["label"] == "Đã ký" and [s["method"] for s in r.get_json()["steps"]] == ["token", "token"]
    pdf = clerk.get(base + "/minutes.pdf").data
    assert_signed_by(pdf, ["Nông Thị Mai", "Hoàng Quốc Cường"], tmp_path)
    report = verify_pdf(pdf)
    assert all(not s.trusted for s in report.signatures)  # the test CA is no trust root of this server
    data_dir = Path(token_app.config["DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".json", ".pdf", ".log", ""):
            blob = path.read_bytes()
            assert PINS["chair"].encode() not in blob and b'"pins"' not in blob, path
