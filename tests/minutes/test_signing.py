"""Signatures are the signers' own act (issue #17): the clerk prepares, the secretary then the chair sign from
their own cards, with their PIN-sealed key on the box; the clerk can sign for no one. Each signed file is checked
by pdfsig and by pyHanko, and as PDF/A-3b."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from meeting_server.store import db
from meeting_server.store.tables import SignerKey
from tests.minutes.signing_kit import (
    PIN,
    assert_pdfa,
    assert_signed_by,
    client_for,
    prepare,
    sign_with_pin,
)


@pytest.fixture
def cards(app: Any, app_links: dict[str, Any]) -> dict[str, Any]:
    return {role: client_for(app, app_links, role) for role in ("clerk", "secretary", "chair", "delegate")}


def test_the_clerk_signs_for_no_one_and_the_order_holds(cards: dict[str, Any]) -> None:
    clerk, secretary, chair = cards["clerk"], cards["secretary"], cards["chair"]
    base = clerk.base
    # The old one-click signing with the server's keys is gone.
    assert clerk.post(base + "/minutes/finalize", json={}).status_code in (404, 405)
    # Before preparing there is nothing to sign.
    r = secretary.post(base + "/minutes/signatures/secretary", json={"method": "pin", "pin": "1", "pdf_sha256": ""})
    assert r.status_code == 400 and r.get_json()["error"] == "signing.not_prepared"
    st = prepare(clerk)
    assert st["stage"] == "secretary" and st["label"] == "Chờ thư ký ký" and st["pages"] >= 2
    assert [s["role"] for s in st["steps"]] == ["secretary", "chair"]
    sha = st["current_sha256"]
    body = {"method": "pin", "pin": "123456", "pdf_sha256": sha}
    for role in ("secretary", "chair"):
        for path in (f"/minutes/signatures/{role}", f"/minutes/signatures/{role}/key",
                     f"/minutes/signatures/{role}/upload"):
            assert clerk.post(base + path, json=body).status_code == 403, path
            assert cards["delegate"].post(base + path, json=body).status_code == 403, path
    # The secretary cannot sign as the chair, nor the chair as the secretary.
    r = secretary.post(base + "/minutes/signatures/chair", json=body)
    assert r.status_code == 403 and r.get_json()["error"] == "signing.not_signer"
    r = chair.post(base + "/minutes/signatures/secretary/key", json={"pin": "123456", "pin_again": "123456"})
    assert r.status_code == 403 and r.get_json()["error"] == "signing.not_signer"
    # The chair cannot sign before the secretary.
    r = chair.post(base + "/minutes/signatures/chair/key", json={"pin": PIN["chair"], "pin_again": PIN["chair"]})
    assert r.status_code == 400 and r.get_json()["error"] == "signing.out_of_order"
    r = chair.post(base + "/minutes/signatures/chair", json=body)
    assert r.status_code == 400 and r.get_json()["error"] == "signing.out_of_order"
    # The meeting is frozen from the moment it is prepared.
    r = clerk.patch(base, json={"place": "Hội trường xã"})
    assert r.status_code == 400 and r.get_json()["error"] == "meeting.frozen"
    r = clerk.put(base + "/minutes/draft", json={"changes": {"opening": "x"}})
    assert r.get_json()["error"] == "minutes.frozen"
    assert clerk.get(base + "/minutes/signing").get_json()["label"] == "Chờ thư ký ký"


def test_pin_keys_sign_in_order_and_pass_pdfsig_pyhanko_and_pdfa(app: Any, cards: dict[str, Any],
                                                                tmp_path: Path) -> None:
    clerk, secretary, chair = cards["clerk"], cards["secretary"], cards["chair"]
    base = clerk.base
    st = prepare(clerk)
    names = [s["signer_name"] for s in st["steps"]]
    # What the signer confirms is what they sign: the prepared PDF as downloaded, its SHA-256, pages, version.
    prepared = secretary.get(base + "/minutes/signing/document.pdf").data
    import hashlib

    assert hashlib.sha256(prepared).hexdigest() == st["prepared_sha256"] == st["current_sha256"]
    assert_pdfa(prepared)
    # The PIN is chosen by the signer on first use: 6+ digits, typed twice.
    r = secretary.post(base + "/minutes/signatures/secretary/key", json={"pin": "12", "pin_again": "12"})
    assert r.status_code == 400 and r.get_json()["error"] == "signer.pin_format"
    r = secretary.post(base + "/minutes/signatures/secretary/key", json={"pin": "123456", "pin_again": "654321"})
    assert r.status_code == 400 and r.get_json()["error"] == "signer.pin_mismatch"
    # Signing something other than what was shown is refused.
    r = secretary.post(base + "/minutes/signatures/secretary/key",
                       json={"pin": PIN["secretary"], "pin_again": PIN["secretary"]})
    assert r.status_code == 201 and r.get_json()["steps"][0]["has_pin_key"]
    r = secretary.post(base + "/minutes/signatures/secretary",
                       json={"method": "pin", "pin": PIN["secretary"], "pdf_sha256": "0" * 64})
    assert r.status_code == 400 and r.get_json()["error"] == "signing.not_confirmed"
    r = sign_with_pin(secretary, "secretary", pin="999999", first_use=False)
    assert r.status_code == 400 and r.get_json() == {"error": "signer.pin_incorrect", "message": "Mã PIN không đúng."}
    with secretary.session_transaction() as sess:
        sess["lang"] = "en"
    r = sign_with_pin(secretary, "secretary", pin="999999", first_use=False)
    assert r.get_json()["message"] == "The PIN is wrong."
    r = sign_with_pin(secretary, "secretary", first_use=False)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["stage"] == "chair" and r.get_json()["steps"][0]["status"] == "signed"
    assert clerk.get(base + "/minutes/signing").get_json()["label"] == "Chờ chủ tọa ký"
    # The secretary's step is done; the chair's own key and PIN make the second signature.
    r = sign_with_pin(secretary, "secretary", first_use=False)
    assert r.status_code == 400 and r.get_json()["error"] == "signing.already_signed"
    r = sign_with_pin(chair, "chair")
    assert r.status_code == 200, r.get_json()
    final = r.get_json()
    assert final["status"] == "final" and final["label"] == "Đã ký"
    assert [s["method"] for s in final["steps"]] == ["pin", "pin"]
    pdf = clerk.get(base + "/minutes.pdf").data
    assert hashlib.sha256(pdf).hexdigest() == final["current_sha256"]
    assert pdf.startswith(prepared)  # the signatures only append
    ca = Path(app.config["DATA_DIR"]) / "signing" / "ca-cert.pem"
    assert_signed_by(pdf, names, tmp_path, roots=[ca.read_bytes()])
    assert_pdfa(pdf)
    # The self-issued mode stays labelled as such, in the certificate and in /verify.
    report = clerk.post("/verify", data=pdf, headers={"Accept": "application/json"}).get_json()
    assert report["ok"] and all(s["self_issued"] for s in report["signatures"])
    assert report["chain"]["record_logged"] and report["chain"]["head_in_chain"]
    # The private keys are stored only sealed: no PEM/DER key, no PIN anywhere in the data directory.
    with db.standalone_session(app) as s:
        keys = list(s.scalars(select(SignerKey)))
        assert {k.role for k in keys} == {"secretary", "chair"}
        assert all(k.sealed_key.startswith(b"MSK1") for k in keys)
    for path in Path(app.config["DATA_DIR"]).rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            assert b"PRIVATE KEY" not in blob or path.name in ("ca.p12",), path
            assert PIN["chair"].encode() not in blob and PIN["secretary"].encode() not in blob, path
    events = [e["kind"] for e in clerk.get(base + "/audit-events").get_json()] \
        if clerk.get(base + "/audit-events").status_code == 200 else []
    if events:
        assert events[-3:] == ["minutes.signed", "minutes.signed", "minutes.finalized"]


def test_wrong_pins_lock_the_key(cards: dict[str, Any]) -> None:
    secretary = cards["secretary"]
    prepare(cards["clerk"])
    codes = []
    for i in range(5):
        r = sign_with_pin(secretary, "secretary", pin="000000", first_use=(i == 0))
        codes.append(r.get_json()["error"])
    assert codes == ["signer.pin_incorrect"] * 4 + ["signer.pin_locked"]
    r = sign_with_pin(secretary, "secretary", first_use=False)
    assert r.status_code == 400 and r.get_json()["error"] == "signer.pin_locked"
    assert "15" in r.get_json()["message"]


def test_cancel_returns_to_the_draft(cards: dict[str, Any]) -> None:
    clerk, secretary = cards["clerk"], cards["secretary"]
    prepare(clerk)
    assert sign_with_pin(secretary, "secretary").status_code == 200
    assert secretary.post(clerk.base + "/minutes/prepare/cancel").status_code == 200  # secretary keeps the minutes
    st = clerk.get(clerk.base + "/minutes/signing").get_json()
    assert st["stage"] == "draft" and st["steps"] == []
    assert clerk.patch(clerk.base, json={"place": "Hội trường xã"}).status_code == 200
    st = prepare(clerk)
    assert st["stage"] == "secretary"
