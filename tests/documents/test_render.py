"""render_page and the cache layout: real pages drawn, decoded back and measured."""

from __future__ import annotations

import io
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageChops

from meeting_server.documents import IngestError
from meeting_server.documents.render import (
    LARGE_WIDTH,
    PHONE_WIDTH,
    DocCache,
    cache_path,
    render_page,
    watermark_key,
)
from tests.documents.conftest import VI_SAMPLES

SAMPLE = next(p for p in VI_SAMPLES if p.name == "ke-hoach-cds-phuc-loi.pdf")
HASH = "38c1d700ff3084a05a7da52822d122ad4b72e37ba0844c10b29a29798f746cb8"


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize("fmt, pil_format", [("webp", "WEBP"), ("jpeg", "JPEG")])
@pytest.mark.parametrize("width", [PHONE_WIDTH, LARGE_WIDTH])
def test_page_image_has_the_format_and_width_asked(fmt: str, pil_format: str, width: int) -> None:
    image = decode(render_page(SAMPLE, 0, width, fmt))
    assert image.format == pil_format
    assert image.width == width
    assert abs(image.height - width * 842 / 595) <= 1  # A4 keeps its proportions (MuPDF rounds up)


def test_phone_webp_is_compact() -> None:
    data = render_page(SAMPLE, 1, PHONE_WIDTH, "webp")
    assert len(data) < 200_000
    assert len(data) < len(render_page(SAMPLE, 1, PHONE_WIDTH, "jpeg"))


def test_the_watermark_changes_the_page_and_depends_on_the_viewer() -> None:
    plain = decode(render_page(SAMPLE, 0, PHONE_WIDTH, "jpeg", quality=90))
    marked = decode(render_page(SAMPLE, 0, PHONE_WIDTH, "jpeg", quality=90, watermark="Nguyễn Thị Hồng Nhung"))
    other = decode(render_page(SAMPLE, 0, PHONE_WIDTH, "jpeg", quality=90, watermark="Trần Văn Đức"))
    assert marked.size == plain.size
    diff = ImageChops.difference(plain.convert("L"), marked.convert("L"))
    # Spread over the page, not one corner: every quarter of the page carries some of the name.
    for box in [(0, 0, 360, 509), (360, 0, 720, 509), (0, 509, 360, 1018), (360, 509, 720, 1018)]:
        assert diff.crop(box).getbbox() is not None
    assert ImageChops.difference(marked.convert("L"), other.convert("L")).getbbox() is not None
    # Semi-transparent: the page stays mostly as it was.
    changed = diff.point(lambda v: 255 if v > 40 else 0).histogram()[255]
    assert changed < 0.25 * plain.width * plain.height


def test_pages_are_drawn_with_their_rotation(tmp_path: Path) -> None:
    doc = pymupdf.open(SAMPLE)
    doc[0].set_rotation(90)
    rotated = tmp_path / "rotated.pdf"
    doc.save(rotated)
    image = decode(render_page(rotated, 0, 1000, "jpeg"))
    assert image.width == 1000 and abs(image.height - 1000 * 595 / 842) <= 1


def test_a_very_tall_page_is_drawn_narrower_rather_than_huge(tmp_path: Path) -> None:
    doc = pymupdf.open()
    doc.new_page(width=100, height=14_000)
    tall = tmp_path / "tall.pdf"
    doc.save(tall)
    image = decode(render_page(tall, 0, LARGE_WIDTH, "jpeg", max_pixels=4_000_000))
    assert image.width * image.height <= 4_000_000
    assert image.width < LARGE_WIDTH


def test_bad_requests_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        render_page(SAMPLE, 99, PHONE_WIDTH)
    with pytest.raises(ValueError):
        render_page(SAMPLE, 0, PHONE_WIDTH, "gif")
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\nthis is not a PDF body")
    with pytest.raises(IngestError) as info:
        render_page(broken, 0, PHONE_WIDTH)
    assert info.value.code == "doc.damaged"


def test_doc_cache_reopens_a_changed_file(tmp_path: Path) -> None:
    docs = DocCache(size=2)
    path = tmp_path / "doc.pdf"
    path.write_bytes(SAMPLE.read_bytes())
    first = decode(render_page(path, 0, 300, "jpeg", docs=docs))
    one_page = pymupdf.open()
    one_page.new_page(width=842, height=595)  # landscape now
    one_page.save(path)
    second = decode(render_page(path, 0, 300, "jpeg", docs=docs))
    assert first.height > first.width and second.width > second.height
    docs.close()


def test_cache_path_is_keyed_by_hash_page_width_format_and_viewer(tmp_path: Path) -> None:
    path = cache_path(tmp_path, HASH, 4, 720, "webp")
    assert path == tmp_path / "38" / HASH / "p00004-w720.webp"
    key = watermark_key("Nguyễn Thị Hồng Nhung")
    assert key == watermark_key("  Nguyễn Thị  Hồng Nhung ")  # spacing does not make a new key
    marked = cache_path(tmp_path, HASH, 4, 720, "webp", key)
    assert marked.parent == path.parent and marked != path and key in marked.name
    assert cache_path(tmp_path, HASH, 4, 1600, "webp") != path
    assert cache_path(tmp_path, HASH, 4, 720, "jpeg") != path
    for bad in [("../etc", 0, 720, "webp", None), (HASH, 0, 720, "png", None), (HASH, 0, 720, "webp", "a/b")]:
        with pytest.raises(ValueError):
            cache_path(tmp_path, *bad)


def test_the_watermark_font_has_every_vietnamese_letter() -> None:
    from meeting_server.documents.render import font_path

    letters = "ĂÂĐÊÔƠƯăâđêôơưẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ"
    font = pymupdf.Font(fontfile=str(font_path()))
    assert [ch for ch in letters if not font.has_glyph(ord(ch))] == []
