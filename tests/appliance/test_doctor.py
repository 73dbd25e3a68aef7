"""doctor's checks on a temporary data directory and loopback ports."""

import datetime as dt
import json
import os
import socket
import uuid
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from meeting_server.discovery import Advertiser
from meeting_server.doctor import (
    DoctorConfig,
    as_json,
    check_certificate,
    check_clock,
    check_data_dir,
    check_fonts,
    check_port,
    exit_code,
    format_report,
    run_checks,
)
from tests.appliance.conftest import free_port

NOW = dt.datetime(2026, 11, 24, 8, 0, tzinfo=dt.UTC)


def by_name(checks: list) -> dict:
    return {c.name: c for c in checks}


def test_fresh_machine_report(tmp_path: Path) -> None:
    config = DoctorConfig(
        data_dir=tmp_path / "data", host="127.0.0.1", port=free_port(), static_dir=tmp_path / "static"
    )
    checks = by_name(run_checks(config, now=NOW))
    assert list(checks) == [
        "address",
        "port",
        "data_dir",
        "disk",
        "fonts",
        "libreoffice",
        "certificate",
        "tls",
        "clock",
    ]
    assert checks["tls"].level == "warn" and "mã thẻ" in checks["tls"].detail_vi
    assert checks["address"].level == "warn" and "127.0.0.1" in checks["address"].detail_en
    assert checks["port"].ok and "free" in checks["port"].detail_en
    assert checks["data_dir"].level == "warn" and "will be created" in checks["data_dir"].detail_en
    assert checks["disk"].ok and "GB" in checks["disk"].detail_vi
    assert checks["fonts"].level == "fail" and "LiberationSerif-Regular.ttf" in checks["fonts"].detail_vi
    assert checks["certificate"].level == "warn" and "không được ký" in checks["certificate"].detail_vi
    assert checks["clock"].ok
    assert exit_code(list(checks.values())) == 1
    report = format_report(list(checks.values()))
    assert "[FAIL] fonts:" in report and "[OK]   clock: Đồng hồ máy: 24/11/2026 08:00 UTC." in report
    assert json.loads(as_json(list(checks.values())))[0]["name"] == "address"


def test_ready_machine_passes(tmp_path: Path, healthz_server: int) -> None:
    (tmp_path / "data").mkdir()
    fonts = tmp_path / "static" / "fonts"
    fonts.mkdir(parents=True)
    for style in ("Regular", "Bold", "Italic", "BoldItalic"):
        (fonts / f"LiberationSerif-{style}.ttf").write_bytes(b"\0")
    cert = tmp_path / "signer.pem"
    cert.write_bytes(self_signed(NOW + dt.timedelta(days=365)))
    config = DoctorConfig(
        data_dir=tmp_path / "data",
        host="127.0.0.1",
        port=healthz_server,
        static_dir=tmp_path / "static",
        cert_path=cert,
    )
    checks = by_name(run_checks(config, now=NOW))
    assert "/healthz: ok" in checks["port"].detail_en
    assert checks["data_dir"].level == "ok"
    assert checks["fonts"].level == "ok"
    assert checks["certificate"].level == "ok" and "24/11/2027" in checks["certificate"].detail_vi
    assert not list((tmp_path / "data").iterdir()), "the write probe must clean up"


def test_port_taken_by_another_program(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        check = check_port(DoctorConfig(data_dir=tmp_path, host="127.0.0.1", port=port))
    assert check.level == "fail" and "another program" in check.detail_en


def test_data_dir_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("x")
    assert check_data_dir(tmp_path / "data").level == "fail"


def test_some_font_styles_missing(tmp_path: Path) -> None:
    (tmp_path / "fonts").mkdir()
    (tmp_path / "fonts" / "LiberationSerif-Regular.ttf").write_bytes(b"\0")
    check = check_fonts(tmp_path)
    assert check.level == "warn" and "LiberationSerif-BoldItalic.ttf" in check.detail_en


def self_signed(not_after: dt.datetime) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "HĐND xã Tân Phú")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(not_after - dt.timedelta(days=730))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM)


def test_certificate_expired_or_expiring(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_bytes(self_signed(NOW - dt.timedelta(days=1)))
    assert check_certificate(cert, NOW).level == "fail"
    cert.write_bytes(self_signed(NOW + dt.timedelta(days=10)))
    assert check_certificate(cert, NOW).level == "warn"
    assert check_certificate(tmp_path / "absent.p12", NOW).level == "warn"
    (tmp_path / "c.p12").write_bytes(b"opaque pkcs12")
    assert check_certificate(tmp_path / "c.p12", NOW).level == "ok"


def test_clock_checks(tmp_path: Path) -> None:
    boot_epoch = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
    check = check_clock(boot_epoch)
    assert check.level == "fail" and "RTC" in check.detail_en and "01/01/2000" in check.detail_vi
    assert check_clock(dt.datetime(2099, 1, 1, tzinfo=dt.UTC)).level == "fail"
    # Data written "tomorrow" means the clock went back since (RTC lost, no NTP offline).
    db = tmp_path / "meeting.db"
    db.write_text("x")
    later = (NOW + dt.timedelta(days=1)).timestamp()
    os.utime(db, (later, later))
    assert check_clock(NOW, tmp_path).level == "fail"
    assert check_clock(NOW + dt.timedelta(days=2), tmp_path).level == "ok"


def test_mdns_check_finds_our_loopback_advertisement(tmp_path: Path) -> None:
    port = free_port()
    adv = Advertiser(f"Doctor {uuid.uuid4().hex[:6]}", port, "127.0.0.1", bind_host="127.0.0.1")
    assert adv.start().ok
    try:
        config = DoctorConfig(data_dir=tmp_path, host="127.0.0.1", port=port, check_mdns=True)
        checks = by_name(run_checks(config, now=NOW))
        assert checks["mdns"].level == "ok" and "Doctor" in checks["mdns"].detail_vi
    finally:
        adv.stop()


def test_libreoffice_check_names_the_box_and_what_is_missing(tmp_path: Path, monkeypatch) -> None:
    from meeting_server import office
    from meeting_server.doctor import check_libreoffice

    if office.soffice_path() is not None:
        ok = check_libreoffice()
        assert ok.level == "ok" and "vùng cách ly không có mạng" in ok.detail_vi
        monkeypatch.setenv(office.BOX_SETTING, "off")
        unboxed = check_libreoffice()
        assert unboxed.level == "warn" and "KHÔNG cách ly mạng" in unboxed.detail_vi
        monkeypatch.delenv(office.BOX_SETTING)
    monkeypatch.setenv("MEETING_SOFFICE", str(tmp_path / "no-soffice"))
    missing = check_libreoffice()
    assert missing.level == "fail" and "Chưa cài LibreOffice" in missing.detail_vi
    assert "libreoffice-writer-nogui libreoffice-calc-nogui" in missing.detail_en


def test_doctor_warns_about_a_small_data_disk(tmp_path: Path) -> None:
    """`doctor` on a data directory whose disk is a 200 MB tmpfs (in a mount namespace of its own): a warning with
    the free space in MB; on a 50 MB one, a failure."""
    import shutil
    import subprocess
    import sys

    import pytest

    from tests.conftest import ROOT, _env

    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is not installed")
    mnt = tmp_path / "disk"
    mnt.mkdir()
    levels = {}
    for size in ("200m", "50m"):
        r = subprocess.run(["unshare", "-rm", "sh", "-c", f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "$@"',
                            str(mnt), sys.executable, "-m", "meeting_server", "doctor", "--json", "--data-dir",
                            str(mnt), "--port", str(free_port())],
                           cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
        if "mount" in r.stderr and not r.stdout:
            pytest.skip(f"cannot mount a tmpfs in a user+mount namespace here: {r.stderr.strip()}")
        disk = next(c for c in json.loads(r.stdout) if c["name"] == "disk")
        levels[size] = disk["level"]
        assert "MB" in disk["detail_vi"] and "Ổ đĩa dữ liệu" in disk["detail_vi"], disk
    assert levels == {"200m": "warn", "50m": "fail"}
