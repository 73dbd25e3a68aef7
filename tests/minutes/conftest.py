"""Shared fixtures for the minutes tests: one realistic record, its PDF, a local CA and the signed minutes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from meeting_server.domain.minutes import MinutesDoc, build_minutes
from meeting_server.minutes import certs, sign, signer
from meeting_server.minutes.render import render_minutes_pdf
from tests.minutes.record_sample import make_record

COUNCIL = "xã Tân Lập"
AUDIT_HEAD = "5f2c" * 16


@pytest.fixture(scope="session")
def record() -> dict:
    return make_record(n_delegates=30, n_items=6, n_polls=6, n_speeches=12)


@pytest.fixture(scope="session")
def minutes_doc(record: dict) -> MinutesDoc:
    return build_minutes(record)


@pytest.fixture(scope="session")
def minutes_pdf(minutes_doc: MinutesDoc) -> bytes:
    return render_minutes_pdf(minutes_doc)


@pytest.fixture(scope="session")
def local_ca(tmp_path_factory: pytest.TempPathFactory, record: dict) -> certs.LocalCa:
    ca = certs.ensure_local_ca(tmp_path_factory.mktemp("ca"), COUNCIL)
    certs.issue_signer(ca, "secretary", record["secretaries"][0]["name"], COUNCIL)
    certs.issue_signer(ca, "chair", record["chairs"][0]["name"], COUNCIL)
    return ca


@pytest.fixture(scope="session")
def signed_once(minutes_pdf: bytes, local_ca: certs.LocalCa, record: dict) -> bytes:
    return sign.sign_minutes(
        minutes_pdf,
        signer.from_server_identity(local_ca, "secretary"),
        "Sig_Secretary",
        reason="Thư ký kỳ họp ký biên bản",
        location=COUNCIL,
        signer_name=record["secretaries"][0]["name"],
        embed={"record_json": json.dumps(record, ensure_ascii=False).encode("utf-8"), "audit_head": AUDIT_HEAD},
    )


@pytest.fixture(scope="session")
def signed_twice(signed_once: bytes, local_ca: certs.LocalCa, record: dict) -> bytes:
    return sign.sign_minutes(
        signed_once,
        signer.from_server_identity(local_ca, "chair"),
        "Sig_Chair",
        reason="Chủ tọa ký biên bản",
        location=COUNCIL,
        signer_name=record["chairs"][0]["name"],
    )


@pytest.fixture()
def signed_file(tmp_path: Path, signed_twice: bytes) -> Path:
    path = tmp_path / "bien-ban.pdf"
    path.write_bytes(signed_twice)
    return path
