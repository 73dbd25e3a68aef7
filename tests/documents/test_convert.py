"""LibreOffice conversion on its own: availability, a real conversion, and the error without LibreOffice."""

from __future__ import annotations

from pathlib import Path

import pymupdf
import pytest

from meeting_server.documents import IngestError
from meeting_server.documents.convert import convert_to_pdf, libreoffice_available
from tests.documents.conftest import make_docx

needs_libreoffice = pytest.mark.skipif(
    not libreoffice_available(), reason="LibreOffice (soffice) is not installed: apt-get install libreoffice"
)


@needs_libreoffice
def test_docx_converts_to_a_pdf_with_the_text(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "to-trinh.docx", ["TỜ TRÌNH", "Về việc thông qua kế hoạch năm 2026"])
    out = tmp_path / "out" / "to-trinh.pdf"
    convert_to_pdf(docx, out, source_format="docx", timeout_s=120)
    doc = pymupdf.open(out)
    assert doc.page_count == 1
    assert "Về việc thông qua kế hoạch năm 2026" in doc[0].get_text()


@needs_libreoffice
def test_a_garbled_office_file_gives_a_vietnamese_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.docx"
    bad.write_bytes(b"PK\x03\x04" + b"\x00" * 200)
    with pytest.raises(IngestError) as info:
        convert_to_pdf(bad, tmp_path / "bad.pdf", source_format="docx", timeout_s=120)
    assert info.value.code == "doc.damaged"
    assert "LibreOffice không chuyển được" in info.value.message


def test_without_libreoffice_the_error_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The setting naming the executable points nowhere: the same as a machine without LibreOffice.
    monkeypatch.setenv("MEETING_SOFFICE", str(tmp_path / "no-soffice"))
    assert not libreoffice_available()
    with pytest.raises(IngestError) as info:
        convert_to_pdf(make_docx(tmp_path / "x.docx", ["x"]), tmp_path / "x.pdf", source_format="docx", timeout_s=5)
    assert info.value.code == "doc.convert_unavailable"
    assert "chưa cài LibreOffice" in info.value.message


@needs_libreoffice
def test_a_conversion_over_time_is_stopped(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "a.docx", ["Nội dung"])
    with pytest.raises(IngestError) as info:
        convert_to_pdf(docx, tmp_path / "a.pdf", source_format="docx", timeout_s=0.2)
    assert info.value.code == "doc.timeout"
    assert not (tmp_path / "a.pdf").exists()


@needs_libreoffice
def test_without_the_box_conversion_is_refused_unless_the_administrator_chose_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from meeting_server import office
    from meeting_server.doctor import check_libreoffice

    soffice = office.soffice_path()
    assert soffice is not None
    # A machine where the box cannot start: no unshare to be found (as where the kernel refuses namespaces).
    monkeypatch.setenv("MEETING_SOFFICE", soffice)
    monkeypatch.setenv("PATH", str(tmp_path))
    office._probe.cache_clear()
    try:
        docx = make_docx(tmp_path / "a.docx", ["Nội dung"])
        with pytest.raises(IngestError) as info:
            convert_to_pdf(docx, tmp_path / "a.pdf", source_format="docx", timeout_s=60, work_root=tmp_path / "w")
        assert info.value.code == "doc.convert_unavailable"
        assert "vùng cách ly không có mạng" in info.value.message
        assert not (tmp_path / "a.pdf").exists()
        doctor = check_libreoffice()
        assert doctor.level == "fail" and "unshare" in doctor.detail_en and office.BOX_SETTING in doctor.detail_vi
        # The explicit setting converts without the box (the profile's settings and the limits still apply).
        monkeypatch.setenv(office.BOX_SETTING, "off")
        monkeypatch.setenv("PATH", "/usr/bin:/bin")
        convert_to_pdf(docx, tmp_path / "a.pdf", source_format="docx", timeout_s=120, work_root=tmp_path / "w")
        assert pymupdf.open(tmp_path / "a.pdf").page_count == 1
        assert check_libreoffice().level == "warn"
    finally:
        office._probe.cache_clear()
