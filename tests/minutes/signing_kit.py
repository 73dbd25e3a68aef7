"""Helpers for the signing tests: clients per card, the PIN flow, and the independent checks of a signed file
(poppler's pdfsig, pyHanko's validator, the PDF/A properties we can check without veraPDF)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pymupdf
import requests

from meeting_server.minutes.verify import verify_pdf
from tests.conftest import token_of

PIN = {"secretary": "246810", "chair": "135791"}


def client_for(app: Any, app_links: dict[str, Any], role: str) -> Any:
    """A Bearer-authenticated client of one card, with `.base` the meeting's API base."""
    if role == "clerk":
        url = app_links["clerk"]
    elif role == "delegate":
        url = next(d["url"] for d in app_links["delegates"] if d["role"] == "delegate")
    else:
        url = app_links[role][0]
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = "Bearer " + token_of(url)
    client.base = f"/api/v1/meetings/{app_links['meeting_id']}"  # type: ignore[attr-defined]
    return client


def prepare(clerk: Any) -> dict[str, Any]:
    r = clerk.post(clerk.base + "/minutes/prepare", json={})
    assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def sign_with_pin(client: Any, role: str, pin: str | None = None, first_use: bool | None = None) -> Any:
    """What the signer's screen does: read the state (what they will sign), set the PIN on first use, sign."""
    st = client.get(client.base + "/minutes/signing").get_json()
    if first_use is None:
        first_use = not next(s["has_pin_key"] for s in st["steps"] if s["role"] == role)
    if first_use:
        r = client.post(client.base + f"/minutes/signatures/{role}/key",
                        json={"pin": PIN[role], "pin_again": PIN[role]})
        assert r.status_code == 201, r.get_json()
    return client.post(client.base + f"/minutes/signatures/{role}",
                       json={"method": "pin", "pin": pin or PIN[role], "pdf_sha256": st["current_sha256"]})


def sign_all_with_pins(app: Any, app_links: dict[str, Any]) -> dict[str, Any]:
    """The whole new flow: the clerk prepares, the secretary then the chair sign with their PINs."""
    prepare(client_for(app, app_links, "clerk"))
    for role in ("secretary", "chair"):
        r = sign_with_pin(client_for(app, app_links, role), role)
        assert r.status_code == 200, r.get_json()
    return r.get_json()  # type: ignore[no-any-return]


def sign_live(srv: Any, prepare_as: str | None = None) -> requests.Response:
    """The whole flow on a live server (`tests.conftest.LiveServer`), each card its own: the clerk prepares, the
    secretary then the chair sign with their PINs (set on first use). Answers the last response: the refusal of the
    first step that failed, or the chair's signing state. `prepare_as`: the card that prepares (the clerk's)."""
    base = f"{srv.url}/api/v1/meetings/{srv.links['meeting_id']}/minutes"

    def auth(url: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + token_of(url)}

    r = requests.post(base + "/prepare", headers=auth(prepare_as or srv.links["clerk"]), json={}, timeout=120)
    if r.status_code != 200:
        return r
    for role in ("secretary", "chair"):
        who = auth(srv.links[role][0])
        st = requests.get(base + "/signing", headers=who, timeout=10).json()
        if not next(x["has_pin_key"] for x in st["steps"] if x["role"] == role):
            k = requests.post(base + f"/signatures/{role}/key", headers=who, timeout=120,
                              json={"pin": PIN[role], "pin_again": PIN[role]})
            assert k.status_code == 201, k.text
        r = requests.post(base + f"/signatures/{role}", headers=who, timeout=120,
                          json={"method": "pin", "pin": PIN[role], "pdf_sha256": st["current_sha256"]})
        if r.status_code != 200:
            return r
    return r


def signed_pdf_url(srv: Any, version: int | None = None) -> str:
    """Where the signed minutes are served."""
    tail = f"?version={version}" if version is not None else ""
    return f"/api/v1/meetings/{srv.links['meeting_id']}/minutes.pdf{tail}"


def pdfsig(pdf: bytes, tmp_path: Path) -> str:
    """poppler's pdfsig report (an independent validator)."""
    assert shutil.which("pdfsig"), "poppler-utils (pdfsig) is not installed"
    path = tmp_path / "checked.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfsig", str(path)], capture_output=True, text=True, check=False).stdout


def assert_signed_by(pdf: bytes, names: list[str], tmp_path: Path, roots: list[Any] | None = None) -> None:
    """Both validators agree: the signatures are those of `names`, in order, valid and the last covers the file."""
    report = verify_pdf(pdf, roots or [])
    assert report.ok, [s.message for s in report.signatures]
    assert [s.signer_name for s in report.signatures] == names
    assert report.signatures[-1].covers_whole_document
    if roots:
        assert all(s.trusted for s in report.signatures)
    out = pdfsig(pdf, tmp_path)
    assert out.count("Signature is Valid.") == len(names), out
    for name in names:
        assert f"Common Name: {name}" in out, out
    assert "Total document signed" in out, out


def assert_pdfa(pdf: bytes) -> None:
    """The PDF/A-3b properties we can check without veraPDF (no independent PDF/A validator installs from Debian
    or PyPI here): header 1.x and no PDF 2.0 version, XMP pdfaid part 3 / conformance B, an sRGB output intent
    with its ICC profile, every font embedded, no encryption, no JavaScript, the record as an associated file."""
    assert re.match(rb"%PDF-1\.[4-7]", pdf[:8]), pdf[:8]
    with pymupdf.open(stream=pdf) as doc:
        catalog = doc.pdf_catalog()
        assert doc.xref_get_key(catalog, "Version")[1] in ("null", "/1.7"), doc.xref_get_key(catalog, "Version")
        xmp = doc.get_xml_metadata()
        assert re.search(r'pdfaid:part(="|>)3', xmp) and re.search(r'pdfaid:conformance(="|>)B', xmp), xmp
        kind, intents = doc.xref_get_key(catalog, "OutputIntents")
        assert kind == "array"
        intent = int(intents.strip("[]").split()[0])
        assert doc.xref_get_key(intent, "S")[1] == "/GTS_PDFA1"
        icc = int(doc.xref_get_key(intent, "DestOutputProfile")[1].split()[0])
        assert doc.xref_get_key(icc, "N")[1] == "3" and doc.xref_stream(icc)[36:40] == b"acsp"
        assert "Encrypt" not in doc.pdf_trailer() and not doc.is_encrypted
        fonts = 0
        for xref in range(1, doc.xref_length()):
            try:
                obj = doc.xref_object(xref, compressed=False)
            except RuntimeError:  # a free entry of the cross-reference table
                continue
            assert "/JavaScript" not in obj and "/JS " not in obj, obj
            if doc.xref_get_key(xref, "Type")[1] == "/FontDescriptor":
                fonts += 1
                assert any(doc.xref_get_key(xref, k)[0] == "xref" for k in ("FontFile", "FontFile2", "FontFile3")), obj
        assert fonts >= 2
        kind, af = doc.xref_get_key(catalog, "AF")
        assert kind == "array"
        spec = int(af.strip("[]").split()[0])
        assert doc.xref_get_key(spec, "AFRelationship")[1] == "/Source"
        for number in range(doc.page_count):
            for w in doc[number].widgets() or []:
                assert doc.xref_get_key(w.xref, "AP")[0] != "null"
