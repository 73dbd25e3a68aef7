"""inspect_file on real files: the Vietnamese samples, images, office files, and files it must refuse."""

from __future__ import annotations

import hashlib
import shutil
import sys
import zipfile
from pathlib import Path

import pymupdf
import pytest

from meeting_server.documents import INGEST_CODES, IngestError, Limits, libreoffice_available
from meeting_server.documents.ingest import derived_pdf_path, inspect_file
from meeting_server.documents.render import FONT_CANDIDATES
from meeting_server.documents.sniff import sniff_format
from tests.documents.conftest import VI_SAMPLES, is_vietnamese, make_docx, make_image

# The first page's heading, all its wrapped lines joined (not the metadata's "Kế hoạch chuyển đổi số HĐND" that the
# five share, nor the heading's first line).
EXPECTED_TITLES = {
    "ke-hoach-cds-dong-le.pdf": "KẾ HOẠCH Thực hiện Nghị quyết số 57 - NQ/TW, ngày 22/12/2024 của Bộ Chính trị và về "
    "đột phá phát triển khoa học, công nghệ, đổi mới sáng tạo và chuyển đổi số quốc gia và Kế hoạch số 02 - "
    "KH/BCĐTW…",
    "ke-hoach-cds-loi-bac.pdf": "KẾ HOẠCH Chuyển đổi số trong hoạt động của HĐND xã Lợi Bác năm 2026",
    "ke-hoach-cds-phuc-loi.pdf": "KẾ HOẠCH Đổi mới sáng tạo và chuyển đổi số, nâng cao chất lượng, hiệu quả hoạt "
    "động của HĐND phường Phúc Lợi giai đoạn 2026 - 2031",
    "ke-hoach-cds-vinh-lai.pdf": "KẾ HOẠCH Chuyển đổi số của Hội đồng nhân dân xã Vĩnh Lại",
    "ke-hoach-nq57-chu-se.pdf": "KẾ HOẠCH thực hiện Nghị quyết số 57-NQ/TW ngày 22/12/2024 của Bộ Chính trị về đột "
    "phá phát triển khoa học, công nghệ, đổi mới sáng tạo và chuyển đổi số quốc gia trên địa bàn xã Chư Sê",
}
EXPECTED_PAGES = {
    "ke-hoach-cds-dong-le.pdf": 6,
    "ke-hoach-cds-loi-bac.pdf": 6,
    "ke-hoach-cds-phuc-loi.pdf": 7,
    "ke-hoach-cds-vinh-lai.pdf": 3,
    "ke-hoach-nq57-chu-se.pdf": 5,
}
needs_libreoffice = pytest.mark.skipif(
    not libreoffice_available(), reason="LibreOffice (soffice) is not installed: apt-get install libreoffice"
)


def refused(path: Path, **kwargs: object) -> IngestError:
    with pytest.raises(IngestError) as info:
        inspect_file(path, **kwargs)  # type: ignore[arg-type]
    error = info.value
    assert error.code in INGEST_CODES
    assert is_vietnamese(error.message), error.message
    return error


@pytest.mark.parametrize("sample", VI_SAMPLES, ids=lambda p: p.name)
def test_vietnamese_samples_give_page_count_title_and_text(sample: Path) -> None:
    info = inspect_file(sample)
    assert info.page_count == EXPECTED_PAGES[sample.name]
    assert len(info.page_texts) == len(info.page_sizes) == info.page_count
    assert info.title == EXPECTED_TITLES[sample.name]
    assert info.page_sizes[0] == (595.0, 842.0)
    assert info.source_format == "pdf" and not info.converted and info.pdf_path == sample
    assert info.content_hash == hashlib.sha256(sample.read_bytes()).hexdigest()
    text = "\n".join(info.page_texts)
    assert "Hội đồng nhân dân" in text or "HỘI ĐỒNG NHÂN DÂN" in text or "HĐND" in text
    assert "chuyển đổi số" in text.lower()


def test_text_is_nfc_even_when_the_pdf_stores_decomposed_letters(tmp_path: Path) -> None:
    pdf = tmp_path / "nfd.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    font = str(FONT_CANDIDATES[0])  # the vendored Liberation Sans 2.x: no system font needed
    page.insert_text((72, 72), "Bie\u0302\u0301n ba\u0309n", fontfile=font, fontname="lib")
    doc.save(pdf)
    info = inspect_file(pdf)
    assert info.page_texts[0] == "Biến bản"
    assert info.title == "Biến bản"  # no metadata title: the first line of text


def test_a_title_wrapped_over_lines_is_read_whole(tmp_path: Path) -> None:
    pdf = tmp_path / "to-trinh.pdf"
    doc = pymupdf.open()
    page = doc.new_page()
    font = str(FONT_CANDIDATES[0])
    page.insert_text((72, 60), "ỦY BAN NHÂN DÂN XÃ TÂN LẬP", fontfile=font, fontname="lib")
    page.insert_text((72, 120), "TỜ TRÌNH", fontfile=font, fontname="lib", fontsize=14)
    page.insert_text((72, 138), "về việc thông qua Kế\nhoạch sử dụng đất năm 2027 của\nxã Tân Lập",
                     fontfile=font, fontname="lib", fontsize=14)
    page.insert_text((72, 220), "Kính gửi: Hội đồng nhân dân xã Tân Lập", fontfile=font, fontname="lib")
    doc.set_metadata({"title": "Tờ trình"})
    doc.save(pdf)
    info = inspect_file(pdf)
    assert info.title == "TỜ TRÌNH về việc thông qua Kế hoạch sử dụng đất năm 2027 của xã Tân Lập"


@pytest.mark.parametrize("fmt", ["jpeg", "png"])
def test_an_image_becomes_a_one_page_pdf(tmp_path: Path, fmt: str) -> None:
    image = make_image(tmp_path / "photo.upload", fmt, size=(800, 600))
    info = inspect_file(image)
    assert info.source_format == fmt and info.converted
    assert info.page_count == 1
    assert info.pdf_path == derived_pdf_path(image) and info.pdf_path.is_file()
    width, height = info.page_sizes[0]
    assert width > height and round(height) == 595  # landscape, short side A4 width
    assert pymupdf.open(info.pdf_path).page_count == 1
    assert info.content_hash == hashlib.sha256(image.read_bytes()).hexdigest()


def test_a_phone_photo_is_turned_upright_by_its_exif_orientation(tmp_path: Path) -> None:
    # Stored 800x600 but tagged "rotate 90° clockwise", as phones do for a portrait shot.
    image = make_image(tmp_path / "portrait.jpg", "jpeg", size=(800, 600), exif_orientation=6)
    info = inspect_file(image, pdf_out=tmp_path / "out" / "portrait.pdf")
    width, height = info.page_sizes[0]
    assert height > width
    assert info.pdf_path == tmp_path / "out" / "portrait.pdf"


def test_type_comes_from_content_not_from_the_name(tmp_path: Path) -> None:
    pdf_named_jpg = tmp_path / "scan.jpg"
    shutil.copy(VI_SAMPLES[0], pdf_named_jpg)
    assert inspect_file(pdf_named_jpg).source_format == "pdf"
    png_named_pdf = make_image(tmp_path / "report.pdf", "png")
    assert inspect_file(png_named_pdf).source_format == "png"


def test_a_renamed_program_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "bao-cao.pdf"
    shutil.copy(sys.executable, fake)
    error = refused(fake)
    assert error.code == "doc.unsupported"
    assert "PDF" in error.message


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.pdf", "Đây là văn bản thường, không phải PDF.".encode()),
        ("archive.docx", None),  # a zip that is no office document
        ("empty.pdf", b""),
    ],
)
def test_other_contents_are_refused(tmp_path: Path, name: str, content: bytes | None) -> None:
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("readme.txt", "hello")
    else:
        path.write_bytes(content)
    assert refused(path).code == "doc.unsupported"


def test_encrypted_pdf_asks_for_the_password_and_opens_with_it(tmp_path: Path) -> None:
    plain = pymupdf.open(VI_SAMPLES[0])
    locked = tmp_path / "mat.pdf"
    plain.save(locked, encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="hdnd2026", owner_pw="owner-secret")
    error = refused(locked)
    assert error.code == "doc.encrypted"
    assert "mật khẩu" in error.message
    wrong = refused(locked, password="sai")
    assert wrong.code == "doc.encrypted" and "không đúng" in wrong.message

    info = inspect_file(locked, password="hdnd2026")
    assert info.page_count == plain.page_count and info.converted
    assert info.pdf_path == derived_pdf_path(locked)
    assert not pymupdf.open(info.pdf_path).needs_pass  # workers render the decrypted copy
    assert info.content_hash == hashlib.sha256(locked.read_bytes()).hexdigest()


def test_a_pdf_with_no_page_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "no-pages.pdf"
    body = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n"
    xref = body.index(b"1 0 obj"), body.index(b"2 0 obj")
    trailer = (
        f"xref\n0 3\n0000000000 65535 f \n{xref[0]:010d} 00000 n \n{xref[1]:010d} 00000 n \n"
        f"trailer<</Size 3/Root 1 0 R>>\nstartxref\n{len(body)}\n%%EOF\n"
    )
    path.write_bytes(body + trailer.encode())
    error = refused(path)
    assert error.code == "doc.empty"
    assert error.message.startswith("Tệp PDF không có trang nào")


def test_a_truncated_pdf_is_damaged_not_a_crash(tmp_path: Path) -> None:
    path = tmp_path / "cut.pdf"
    path.write_bytes(VI_SAMPLES[0].read_bytes()[:400])
    error = refused(path)
    assert error.code in {"doc.damaged", "doc.empty"}


def test_limits_size_pages_and_page_side(tmp_path: Path) -> None:
    sample = next(p for p in VI_SAMPLES if p.name == "ke-hoach-cds-phuc-loi.pdf")
    too_large = refused(sample, limits=Limits(max_upload_bytes=50_000))
    assert too_large.code == "doc.too_large"
    assert "MB" in too_large.message and "vượt giới hạn" in too_large.message

    too_many = refused(sample, limits=Limits(max_pages=5))
    assert not derived_pdf_path(sample).exists()
    assert too_many.code == "doc.too_many_pages"
    assert too_many.message.startswith("Tài liệu có 7 trang, vượt giới hạn 5 trang")

    banner = tmp_path / "banner.pdf"
    doc = pymupdf.open()
    doc.new_page(width=595, height=842)
    doc.new_page(width=14_400, height=842)  # 5080 mm wide: the PDF maximum itself
    doc.save(banner)
    assert inspect_file(banner).page_count == 2
    big = refused(banner, limits=Limits(max_page_side_mm=2000))
    assert big.code == "doc.page_too_big"
    assert big.details["page"] == 2
    assert "Trang 2 có khổ quá lớn (5080 × 297 mm)" in big.message


def test_a_refused_upload_leaves_no_derived_pdf(tmp_path: Path) -> None:
    image = make_image(tmp_path / "tall.png", "png", size=(100, 3000))  # a strip 6.3 m long once on a page
    error = refused(image)
    assert error.code == "doc.page_too_big"
    assert not derived_pdf_path(image).exists()


def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path: Path) -> None:
    image = make_image(tmp_path / "huge.png", "png", size=(3000, 2000))
    error = refused(image, limits=Limits(max_image_pixels=5_000_000))
    assert error.code == "doc.too_large"
    assert "megapixel" in error.message


def test_a_damaged_image_is_refused(tmp_path: Path) -> None:
    image = make_image(tmp_path / "photo.jpg", "jpeg")
    cut = tmp_path / "cut.jpg"
    cut.write_bytes(image.read_bytes()[:300])
    error = refused(cut)
    assert error.code == "doc.damaged"
    assert error.message.startswith("Tệp ảnh bị hỏng")


@needs_libreoffice
def test_a_word_document_is_converted_with_its_vietnamese_text(tmp_path: Path) -> None:
    docx = make_docx(tmp_path / "upload.bin", ["BIÊN BẢN KỲ HỌP THỨ HAI", "Hội đồng nhân dân xã Đồng Lê"])
    assert sniff_format(docx) == "docx"
    info = inspect_file(docx)
    assert info.source_format == "docx" and info.converted
    assert info.page_count == 1
    assert info.title == "BIÊN BẢN KỲ HỌP THỨ HAI Hội đồng nhân dân xã Đồng Lê"  # the heading takes its subject line
    assert "Hội đồng nhân dân xã Đồng Lê" in info.page_texts[0]
    assert info.pdf_path.read_bytes().startswith(b"%PDF-")


@needs_libreoffice
def test_a_spreadsheet_is_converted(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Họ và tên", "Chức vụ"])
    sheet.append(["Nguyễn Văn Đức", "Đại biểu"])
    sheet.column_dimensions["A"].width = 40
    path = tmp_path / "danh-sach.xlsx"
    book.save(path)
    info = inspect_file(path)
    assert info.source_format == "xlsx"
    assert "Nguyễn Văn Đức" in info.page_texts[0]


def test_a_password_protected_office_file_is_refused_with_advice(tmp_path: Path) -> None:
    # The shape Office gives an encrypted .docx: an OLE2 container with an EncryptedPackage stream.
    ole = bytearray(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504))
    ole += "EncryptedPackage".encode("utf-16-le") + bytes(512)
    path = tmp_path / "locked.docx"
    path.write_bytes(bytes(ole))
    error = refused(path)
    assert error.code == "doc.encrypted"
    assert "gỡ mật khẩu" in error.message


def huge_png(path: Path, side: int = 20_000) -> Path:
    """A `side`×`side` black-and-white PNG, written row by row: 400 megapixels in ~60 kB, never in memory whole."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    z = zlib.compressobj(9)
    row = b"\0" * (1 + (side + 7) // 8)  # filter byte, then 1 bit per pixel
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0))
                     + chunk(b"IDAT", idat) + chunk(b"IEND", b""))
    return path


def pdf_with_huge_image(path: Path, side: int = 20_000) -> Path:
    """A one-page PDF whose page shows a `side`×`side` image (1 bit per pixel, Flate): ~60 kB, 400 MP to draw."""
    import zlib

    image = zlib.compress(b"\0" * ((side + 7) // 8 * side), 9)
    content = b"q 500 0 0 500 50 100 cm /Im0 Do Q"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /XObject << /Im0 4 0 R >> >>"
        b" /Contents 5 0 R >>",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 1"
        b" /Filter /FlateDecode /Length %d >>\nstream\n" % (side, side, len(image)) + image + b"\nendstream",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    out, offsets = b"%PDF-1.7\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    path.write_bytes(out)
    return path


def test_a_400_megapixel_image_is_too_large_not_damaged(tmp_path: Path) -> None:
    image = huge_png(tmp_path / "ban-do.png")
    assert image.stat().st_size < 1_000_000
    error = refused(image)
    assert error.code == "doc.too_large"
    assert error.message.startswith("Ảnh quá lớn (400 megapixel), vượt giới hạn 100 megapixel."), error.message


def test_a_pdf_page_with_a_400_megapixel_image_is_too_large_not_damaged(tmp_path: Path) -> None:
    pdf = pdf_with_huge_image(tmp_path / "ban-do.pdf")
    with pymupdf.open(pdf) as doc:
        assert [(w, h) for _x, _s, w, h, *_ in doc[0].get_images()] == [(20_000, 20_000)]
    error = refused(pdf)
    assert error.code == "doc.too_large"
    assert error.message.startswith("Trang 1 có ảnh quá lớn (400 megapixel), vượt giới hạn 100 megapixel."), \
        error.message
