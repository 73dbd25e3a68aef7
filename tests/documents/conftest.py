"""Fixtures of the document tests: the shared sample files, a render pool, and files made on the spot."""

from __future__ import annotations

import os
import random
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pymupdf
import pytest
from PIL import Image, ImageDraw

from meeting_server.documents import Limits, RenderPool
from tests.conftest import SHARED

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = Path(os.environ.get("MEETING_SAMPLES", SHARED / "samples"))
VI_SAMPLES = sorted((SAMPLES / "vi").glob("*.pdf"))
CORPUS = sorted((SAMPLES / "pdf-corpus").iterdir()) if (SAMPLES / "pdf-corpus").is_dir() else []
# Letters only Vietnamese uses: a message containing one is in Vietnamese, not an English fallback.
VIETNAMESE_LETTERS = set("ăâđêôơưạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹ")

if not VI_SAMPLES or not CORPUS:
    raise RuntimeError(f"sample files missing under {SAMPLES}; set MEETING_SAMPLES")


def is_vietnamese(message: str) -> bool:
    """True when `message` is written in Vietnamese."""
    return bool(VIETNAMESE_LETTERS & set(message.lower()))


@pytest.fixture(scope="session")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RenderPool]:
    """A two-worker pool with the default limits, shared by the tests that only use it."""
    with RenderPool(tmp_path_factory.mktemp("render-cache"), size=2) as p:
        yield p


@pytest.fixture(scope="session")
def slow_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid one-page PDF whose page takes MuPDF about a second to draw (30 000 curves)."""
    path = tmp_path_factory.mktemp("slow") / "slow.pdf"
    rng = random.Random(1)
    ops = ["0.2 w 0 0 1 RG"]
    for _ in range(30_000):
        x, y = rng.uniform(0, 595), rng.uniform(0, 842)
        ops.append(f"{x:.1f} {y:.1f} m {x + 30:.1f} {y + 5:.1f} {x - 20:.1f} {y + 40:.1f} {x + 3:.1f} {y + 9:.1f} c S")
    doc = pymupdf.open()
    page = doc.new_page()
    xref = doc.get_new_xref()
    doc.update_object(xref, "<<>>")
    doc.update_stream(xref, "\n".join(ops).encode())
    doc.xref_set_key(page.xref, "Contents", f"{xref} 0 R")
    doc.save(path, deflate=True)
    doc.close()
    return path


@pytest.fixture(scope="session")
def long_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 270-page PDF: the Vietnamese samples' 27 pages ten times over."""
    path = tmp_path_factory.mktemp("long") / "long.pdf"
    doc = pymupdf.open()
    sources = [pymupdf.open(p) for p in VI_SAMPLES]
    for _ in range(10):
        for src in sources:
            doc.insert_pdf(src)
    doc.save(path, garbage=3, deflate=True)
    return path


def make_docx(path: Path, paragraphs: list[str]) -> Path:
    """Write a minimal Word document (the three parts Word itself requires) holding `paragraphs`."""
    from xml.sax.saxutils import escape

    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paragraphs)
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="word/document.xml"/></Relationships>'
        ),
        "word/document.xml": (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
            '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body>{body}</w:body></w:document>"
        ),
    }
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in parts.items():
            zf.writestr(name, text)
    return path


def make_image(path: Path, fmt: str, size: tuple[int, int] = (800, 600), exif_orientation: int | None = None) -> Path:
    """Write a JPEG or PNG photo-like test image, optionally tagged with an EXIF orientation."""
    image = Image.new("RGB", size, (240, 240, 230))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, size[0] // 2, size[1] // 3), fill=(200, 0, 0))
    draw.line((0, 0, size[0], size[1]), fill=(0, 0, 0), width=5)
    kwargs = {}
    if exif_orientation is not None:
        exif = Image.Exif()
        exif[0x0112] = exif_orientation
        kwargs["exif"] = exif
    image.save(path, format=fmt, **kwargs)
    return path


def pool_with(tmp_path: Path, **limits: float) -> RenderPool:
    """A one-worker pool with some limits changed, for tests that kill or overload it."""
    return RenderPool(tmp_path / "cache", size=1, limits=Limits(**limits))
