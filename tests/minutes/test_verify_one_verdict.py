"""The /verify page and `meeting-server verify` are one use case (services.minutes.verify): for the same signed PDF,
the same trust and the same audit log they give the same verdict, intact or tampered."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from meeting_server.minutes import certs
from tests.minutes.test_sign_verify import flip_signed_byte

ROOT = Path(__file__).resolve().parent.parent.parent


def cli_verdict(pdf: Path, trust: Path, data_dir: Path, database_url: str | None = None) -> tuple[bool, str]:
    on_db = ["--database-url", database_url] if database_url else []
    out = subprocess.run([sys.executable, "-m", "meeting_server", "verify", str(pdf), "--trust", str(trust),
                          "--data-dir", str(data_dir), *on_db], capture_output=True, text=True, check=False, cwd=ROOT,
                         env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert out.returncode in (0, 1), out.stdout + out.stderr
    return out.returncode == 0, out.stdout


def web_verdict(app: Any, pdf: bytes) -> tuple[bool, dict[str, Any], str]:
    client = app.test_client()
    js = client.post("/verify", data=pdf, headers={"Accept": "application/json"}).get_json()
    html = client.post("/verify", data={"file": (__import__("io").BytesIO(pdf), "bien-ban.pdf")},
                       content_type="multipart/form-data").get_data(as_text=True)
    assert ('data-ok="yes"' in html) is js["ok"]
    return js["ok"], js, html


@pytest.mark.parametrize("tampered", [False, True], ids=["as-signed", "one-byte-changed"])
def test_page_and_command_line_agree(app: Any, signed_twice: bytes, local_ca: certs.LocalCa, tmp_path: Path,
                                     tampered: bool) -> None:
    """The minutes were signed by another server (their record is not in this log): the signatures hold, and both
    say the minutes cannot be confirmed here. (The page used to say "intact" while the command line said not.)"""
    pdf = flip_signed_byte(signed_twice) if tampered else signed_twice
    path = tmp_path / "bien-ban.pdf"
    path.write_bytes(pdf)
    app.config["MINUTES_TRUST_ROOTS"] = [str(local_ca.cert_path)]
    web_ok, js, html = web_verdict(app, pdf)
    cli_ok, said = cli_verdict(path, local_ca.cert_path, Path(app.config["DATA_DIR"]),
                                app.config["DATABASE_URL"] if "postgresql" in app.config["DATABASE_URL"] else None)
    assert web_ok is cli_ok is False
    assert js["signatures_ok"] is (not tampered) and js["record_matches"] is False
    assert js["chain"]["message"] in said and js["chain"]["message"] in html
    if tampered:
        assert "CẢNH BÁO" in html and "đã bị thay đổi sau khi ký" in said
    else:
        assert "không xác nhận được biên bản" in html and "KHÔNG toàn vẹn" in said


def _large_unsigned_pdf() -> bytes:
    """An unsigned PDF over Werkzeug's 500 kB in-memory spool (pages of incompressible noise)."""
    import pymupdf

    doc = pymupdf.open()
    for _ in range(4):
        page = doc.new_page()
        page.insert_image(page.rect, stream=pymupdf.Pixmap(pymupdf.csRGB, 300, 300,
                                                            os.urandom(300 * 300 * 3), False).tobytes("png"))
    data = bytes(doc.tobytes())
    assert len(data) > 600 * 1024
    return data


@pytest.mark.parametrize("large", [False, True], ids=["signed-small", "unsigned-past-the-in-memory-spool"])
def test_the_upload_reaches_the_validator_as_a_file_not_as_bytes(app: Any, signed_twice: bytes, local_ca: certs.LocalCa,
                                                                 monkeypatch: pytest.MonkeyPatch, large: bool) -> None:
    """The /verify upload (a form's file part, or the raw body) is handed to the validator child as the file it was
    spooled to (`pdf_fd`), never as bytes read and pickled on the server's loop; the verdict and the SHA-256 (now
    computed in the child) are those of the bytes sent."""
    import hashlib
    import io

    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    from meeting_server.services import minutes as minutes_service

    pdf = _large_unsigned_pdf() if large else signed_twice
    seen: list[set[str]] = []
    real = minutes_service.run_job

    def recording(job: str, payload: dict[str, Any], **kwargs: Any) -> Any:
        seen.append(set(payload))
        return real(job, payload, **kwargs)

    monkeypatch.setattr(minutes_service, "run_job", recording)
    app.config["MINUTES_TRUST_ROOTS"] = [str(local_ca.cert_path)]
    client = app.test_client()
    raw = client.post("/verify", data=pdf, headers={"Accept": "application/json"}).get_json()
    # The form encoded here in memory: the test client would spool a large one to a file it never closes.
    boundary, body = encode_multipart({"file": FileStorage(io.BytesIO(pdf), "bien-ban.pdf")})
    form = client.post("/verify", data=body, content_type=f"multipart/form-data; boundary={boundary}",
                       headers={"Accept": "application/json"}).get_json()
    assert seen == [{"pdf_fd", "roots"}, {"pdf_fd", "roots"}]
    for js in (raw, form):
        assert js["sha256"] == hashlib.sha256(pdf).hexdigest()
        assert [s["field"] for s in js["signatures"]] == ([] if large else ["Sig_Secretary", "Sig_Chair"])
        assert js["signatures_ok"] is (not large) and js["ok"] is False  # (signed elsewhere: not in this log)
    empty = client.post("/verify", data=b"", headers={"Accept": "application/json"})
    assert empty.status_code == 400 and empty.get_json()["error"] == "verify.no_file"
