"""Finalizing with keys on a PKCS#11 token (SoftHSM2 standing in for a VNPT-CA/Viettel-CA USB token): the PINs are
typed on the clerk's screen at signing time, a wrong PIN is a clear refusal that leaves the meeting editable, and
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
from tests.conftest import token_of
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


def test_pins_typed_at_signing_time(token_app: Any, app_links: dict[str, Any]) -> None:
    client = token_app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token_of(app_links["clerk"])
    base = f"/api/v1/meetings/{app_links['meeting_id']}"
    # The editor asks for the two PINs.
    html = client.get("/clerk/minutes").get_data(as_text=True)
    assert 'data-pin="secretary"' in html and 'data-pin="chair"' in html
    r = client.post(base + "/minutes/finalize", json={})
    assert r.status_code == 400 and r.get_json()["error"] == "signer.pin_required"
    r = client.post(base + "/minutes/finalize", json={"pins": {"secretary": PINS["secretary"], "chair": "000000"}})
    assert r.status_code == 400 and r.get_json()["error"] == "signer.pin_incorrect"
    assert "PIN" in r.get_json()["message"]
    # A refused signature leaves the meeting open for edits.
    assert client.patch(base, json={"place": "Hội trường xã"}).status_code == 200
    r = client.post(base + "/minutes/finalize", json={"pins": PINS})
    assert r.status_code == 200, r.get_json()
    pdf = client.get(r.get_json()["url"]).data
    report = verify_pdf(pdf)
    assert report.ok and [s.signer_name for s in report.signatures] == ["Nông Thị Mai", "Hoàng Quốc Cường"]
    assert all(not s.trusted for s in report.signatures)  # the test CA is no trust root of this server
    data_dir = Path(token_app.config["DATA_DIR"])
    for path in data_dir.rglob("*"):
        if path.is_file() and path.suffix in (".db", ".json", ".pdf", ".log", ""):
            blob = path.read_bytes()
            assert PINS["chair"].encode() not in blob and b'"pins"' not in blob, path
