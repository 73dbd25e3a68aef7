"""Reading mode's text, made in real render workers: a sample page's paragraphs with their diacritics, and the
words of a scanned page recognised by tesseract in Vietnamese."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pymupdf
import pytest

from meeting_server.documents import RenderPool, reading
from tests.documents.conftest import VI_SAMPLES

SAMPLE = next(p for p in VI_SAMPLES if p.name == "ke-hoach-cds-dong-le.pdf")
HAVE_TESSERACT = shutil.which("tesseract") is not None and reading.tessdata() is not None
NO_TESSERACT = "tesseract-ocr / tesseract-ocr-vie not installed (scripts/_packages.sh installs them)"


def make_scan(source: Path, out: Path, page: int = 0, dpi: int = 200) -> Path:
    """A PDF whose only page is a grey picture of `source`'s page: no text layer, as from a scanner."""
    with pymupdf.open(source) as doc:
        src = doc[page]
        png = src.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY).tobytes("png")
        rect = src.rect
    scan = pymupdf.open()
    p = scan.new_page(width=rect.width, height=rect.height)
    p.insert_image(p.rect, stream=png)
    scan.save(out)
    scan.close()
    return out


def test_a_sample_page_is_headings_and_joined_paragraphs_with_diacritics(pool: RenderPool) -> None:
    info = pool.inspect(SAMPLE)
    blocks = info.page_blocks[0]
    assert info.ocr_pages == ()
    assert {"k": "h", "t": "KẾ HOẠCH"} in blocks
    assert {"k": "h", "t": "II. MỤC ĐÍCH, YÊU CẦU"} in blocks
    # The PDF's seven lines of the opening paragraph are one paragraph, words across wraps kept whole.
    opening = next(b["t"] for b in blocks if b["t"].startswith("Căn cứ Kế hoạch hành động số 17"))
    assert "Thường trực Hội đồng nhân dân xã Đồng Lê xây dựng Kế hoạch chuyển đổi số" in opening
    assert opening.endswith("cụ thể như sau:") and "\n" not in opening
    # List items stay paragraphs of their own.
    items = [b["t"] for b in blocks if b["t"].startswith("- ")]
    assert len(items) >= 2 and items[0].endswith("chuyển đổi số quốc gia.")
    # NFC Vietnamese: precomposed letters, no stray combining marks.
    text = " ".join(b["t"] for b in blocks)
    assert "đẩy mạnh" in text.lower() and "\u0301" not in text and "\u0323" not in text


def test_hyphen_wraps_are_joined(tmp_path: Path) -> None:
    doc = pymupdf.open()
    page = doc.new_page()
    font = pymupdf.Font(fontfile="/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
    writer = pymupdf.TextWriter(page.rect)
    for i, line in enumerate(("Hội đồng nhân dân xã thông qua kế hoạch thực hi-", "ện chuyển đổi số năm 2026.")):
        writer.append((72, 100 + 16 * i), line, font=font, fontsize=12)
    writer.write_text(page)
    assert reading.page_blocks(page) == [
        {"k": "p", "t": "Hội đồng nhân dân xã thông qua kế hoạch thực hiện chuyển đổi số năm 2026."}]


@pytest.mark.skipif(not HAVE_TESSERACT, reason=NO_TESSERACT)
def test_a_scanned_page_is_recognised_in_vietnamese(pool: RenderPool, tmp_path: Path) -> None:
    scan = make_scan(SAMPLE, tmp_path / "scan.pdf")
    info = pool.inspect(scan)
    assert info.page_texts == ("",) and info.ocr_pages == (1,) and info.page_blocks == ([],)
    started = time.perf_counter()
    result = pool.recognize(scan, info.content_hash, 0)
    seconds = time.perf_counter() - started
    print(f"OCR of one A4 page (200 dpi scan, read at 300 dpi): {seconds:.1f} s")
    assert "failed" not in result
    text = " ".join(b["t"] for b in result["blocks"])
    for words in ("Kế hoạch chuyển đổi số", "Hội đồng nhân dân xã Đồng Lê", "Thường trực", "đổi mới sáng tạo"):
        assert words in text, words
    assert {"k": "h", "t": "KẾ HOẠCH"} in result["blocks"]
