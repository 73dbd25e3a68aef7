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
