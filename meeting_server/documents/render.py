"""Draw one PDF page as a WebP or JPEG image of a given width, optionally watermarked with the viewer's name.

MuPDF draws, Pillow encodes: Pillow's encoders are ~12 times faster than MuPDF's JPEG (docs perf-floors).
Call it from a worker process (RenderPool.render): MuPDF is neither thread-safe nor safe from hostile files.
"""

from __future__ import annotations

import io
import math
import os
import unicodedata
from collections import OrderedDict
from functools import lru_cache
from pathlib import Path

import pymupdf
from PIL import Image, ImageDraw, ImageFont

from meeting_server.documents.cache import (
    FORMATS,
    LARGE_WIDTH,
    PHONE_WIDTH,
    STANDARD_WIDTHS,
    cache_path,
    watermark_key,
)
from meeting_server.documents.model import DEFAULT_LIMITS, IngestError

__all__ = [
    "FORMATS",
    "LARGE_WIDTH",
    "PHONE_WIDTH",
    "STANDARD_WIDTHS",
    "DocCache",
    "apply_watermark",
    "cache_path",
    "encode",
    "render_page",
    "watermark_key",
    "write_atomic",
]

DEFAULT_QUALITY = {"webp": 75, "jpeg": 80}
# WebP method 4 (Pillow's default) costs ~2x the time of method 2 for ~3% fewer bytes on text pages.
_WEBP_METHOD = 2
MAX_WIDTH = 4096

# The project vendors Liberation Sans 2.x in static/fonts/ because it covers all of Vietnamese; the 1.x files
# (Debian's fonts-liberation) miss 92 letters such as ơ, ư, ấ, ệ, and a delegate's name would show boxes.
# Debian's fonts-liberation2 is the fallback when the vendored copy is absent (a bare checkout of this package).
FONT_CANDIDATES = (
    Path(__file__).resolve().parents[2] / "static" / "fonts" / "LiberationSans-Regular.ttf",
    Path("/usr/share/fonts/truetype/liberation2/LiberationSans-Regular.ttf"),
)


class DocCache:
    """A few open documents of one process, reopened when the file changes; not thread-safe, like MuPDF."""

    def __init__(self, size: int = 4) -> None:
        self._size = size
        self._docs: OrderedDict[tuple[str, int, int], pymupdf.Document] = OrderedDict()

    def open(self, pdf_path: Path) -> pymupdf.Document:
        """The open document at `pdf_path`."""
        st = os.stat(pdf_path)
        key = (str(pdf_path), st.st_mtime_ns, st.st_size)
        doc = self._docs.get(key)
        if doc is not None:
            self._docs.move_to_end(key)
            return doc
        doc = pymupdf.open(pdf_path, filetype="pdf")
        self._docs[key] = doc
        while len(self._docs) > self._size:
            _, old = self._docs.popitem(last=False)
            old.close()
        return doc

    def close(self) -> None:
        """Close every cached document."""
        while self._docs:
            _, doc = self._docs.popitem()
            doc.close()


def render_page(
    pdf_path: Path | str,
    page_index: int,
    width_px: int,
    fmt: str = "webp",
    quality: int | None = None,
    watermark: str | None = None,
    *,
    docs: DocCache | None = None,
    max_pixels: int = DEFAULT_LIMITS.max_render_pixels,
) -> bytes:
    """The encoded image of page `page_index` (0-based) at `width_px` wide; raises IngestError for a bad page.

    A page so tall that the image would pass `max_pixels` is drawn narrower instead.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}")
    if not 16 <= width_px <= MAX_WIDTH:
        raise ValueError(f"width {width_px} outside 16..{MAX_WIDTH}")
    pdf_path = Path(pdf_path)
    try:
        doc = docs.open(pdf_path) if docs is not None else pymupdf.open(pdf_path, filetype="pdf")
    except Exception:
        raise IngestError.of("doc.damaged") from None
    try:
        if doc.needs_pass:
            raise IngestError.of("doc.encrypted")
        if not 0 <= page_index < doc.page_count:
            raise ValueError(f"page {page_index} outside 0..{doc.page_count - 1}")
        image = _draw(doc, page_index, width_px, max_pixels)
    finally:
        if docs is None:
            doc.close()
    if watermark:
        image = apply_watermark(image, watermark)
    return encode(image, fmt, quality)


def _draw(doc: pymupdf.Document, page_index: int, width_px: int, max_pixels: int) -> Image.Image:
    try:
        page = doc.load_page(page_index)
        rect = page.rect
        if rect.width <= 0 or rect.height <= 0:
            raise IngestError.of("doc.damaged")
        zoom = width_px / rect.width
        if width_px * rect.height * zoom > max_pixels:
            zoom = math.sqrt(max_pixels / (rect.width * rect.height))
            width_px = max(1, int(rect.width * zoom))
        pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False, colorspace=pymupdf.csRGB)
    except IngestError:
        raise
    except Exception:
        raise IngestError.of("doc.damaged") from None
    # MuPDF stores rows with a stride; frombuffer reads them without a copy, copy() detaches from pix.
    image = Image.frombuffer("RGB", (pix.width, pix.height), pix.samples_mv, "raw", "RGB", pix.stride, 1).copy()
    if image.width != width_px:
        # Rounding can leave a pixel more or less than asked: crop or stretch that one pixel.
        if image.width > width_px:
            image = image.crop((0, 0, width_px, image.height))
        else:
            image = image.resize((width_px, image.height), Image.Resampling.BILINEAR)
    return image


def encode(image: Image.Image, fmt: str, quality: int | None = None) -> bytes:
    """Image bytes in `fmt` (webp or jpeg) with Pillow."""
    q = quality if quality is not None else DEFAULT_QUALITY[fmt]
    buf = io.BytesIO()
    if fmt == "webp":
        image.save(buf, format="WEBP", quality=q, method=_WEBP_METHOD)
    else:
        image.save(buf, format="JPEG", quality=q, optimize=False, progressive=False)
    return buf.getvalue()


# --- watermark -------------------------------------------------------------------------------------------------

_WATERMARK_ANGLE = 30  # degrees, counter-clockwise
_WATERMARK_ALPHA = 80  # of 255: readable through, yet it survives a phone photo of the screen
_WATERMARK_COLOR = (200, 30, 30)


def apply_watermark(image: Image.Image, text: str) -> Image.Image:
    """`image` with `text` written diagonally, semi-transparent, repeated over the whole page."""
    text = unicodedata.normalize("NFC", " ".join(text.split()))
    if not text:
        return image
    mask = _watermark_mask(text, image.width, image.height)
    marked = image.copy()
    marked.paste(_WATERMARK_COLOR, (0, 0), mask)
    return marked


@lru_cache(maxsize=8)  # at most ~30 MB of masks
def _watermark_mask(text: str, width: int, height: int) -> Image.Image:
    # Pages of one document share a size, so the mask is built once per viewer and page size.
    size = max(12, width // 26)
    font = _font(size)
    text_w = font.getlength(text)
    if text_w > width * 0.6:  # a long name still shows whole at least once across the page
        size = max(10, int(size * width * 0.6 / text_w))
        font = _font(size)
        text_w = font.getlength(text)
    # Write horizontal rows on a square canvas that covers the page at any angle, then turn it.
    side = math.ceil(math.hypot(width, height))
    canvas = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(canvas)
    step_x = int(text_w + size * 3)
    step_y = size * 5
    for row, y in enumerate(range(0, side, step_y)):
        # Alternate rows shift by half a step so the names form a lattice, not columns.
        for x in range(-(step_x // 2) * (row % 2), side, step_x):
            draw.text((x, y), text, font=font, fill=_WATERMARK_ALPHA)
    canvas = canvas.rotate(_WATERMARK_ANGLE, resample=Image.Resampling.BILINEAR)
    left, top = (side - width) // 2, (side - height) // 2
    return canvas.crop((left, top, left + width, top + height))


@lru_cache(maxsize=1)
def font_path() -> Path:
    """The TrueType font the watermark is written in: the first candidate that has the Vietnamese letters."""
    for candidate in FONT_CANDIDATES:
        if candidate.is_file():
            font = pymupdf.Font(fontfile=str(candidate))
            if all(font.has_glyph(ord(ch)) for ch in "ơưđệỗẫ"):
                return candidate
    raise FileNotFoundError("no Liberation Sans 2.x: put LiberationSans-Regular.ttf in static/fonts/")


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(font_path()), size)


# --- cache ---------------------------------------------------------------------------------------------------


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` so readers see the old file or the whole new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)
