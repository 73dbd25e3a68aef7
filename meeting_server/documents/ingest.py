"""Check an upload and learn what the meeting room needs of it: pages, sizes, title and text.

Run `inspect_file` in a worker process (RenderPool.inspect): a malformed PDF can hang or crash MuPDF.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import re
import unicodedata
import warnings
from pathlib import Path

import pymupdf
from PIL import Image, ImageOps, UnidentifiedImageError

from meeting_server.documents import convert, reading
from meeting_server.documents.model import (
    DEFAULT_LIMITS,
    MB,
    MM_PER_POINT,
    DocInfo,
    IngestError,
    Limits,
)
from meeting_server.documents.sniff import ENCRYPTED_OFFICE, IMAGE_FORMATS, OFFICE_FORMATS, PDF, sniff_format
from meeting_server.documents.textsearch import fold_vietnamese

__all__ = ["DocInfo", "IngestError", "Limits", "derived_pdf_path", "inspect_file"]

log = logging.getLogger(__name__)

# A4 short side in points: an image becomes a page of this width (its long side scaled to match),
# so a photographed page prints at its natural size.
_IMAGE_PAGE_SHORT_SIDE = 595.0
_TITLE_MAX = 200
# Titles that PDF producers write on their own rather than the author's title.
_MEANINGLESS_TITLE = re.compile(
    r"^(untitled|document\d*|presentation\d*|book\d*|powerpoint presentation|microsoft word - .*"
    r"|.*\.(docx?|xlsx?|pptx?|odt|pdf))$",
    re.IGNORECASE,
)


def derived_pdf_path(path: Path) -> Path:
    """Where inspect_file writes the PDF it derives from `path` when no `pdf_out` is given."""
    return path.with_name(path.name + ".pdf")


def inspect_file(
    path: Path | str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    password: str | None = None,
    pdf_out: Path | str | None = None,
    convert_dir: Path | str | None = None,
) -> DocInfo:
    """Check the upload at `path` against `limits` and describe it; raises IngestError with a Vietnamese message.

    Images and office files are turned into a PDF at `pdf_out` (default `derived_pdf_path(path)`), as is an
    encrypted PDF opened with `password`; the upload itself is never modified. LibreOffice works in `convert_dir`
    (the server's is in its data directory, see convert.reap_leftovers).
    """
    path = Path(path)
    out = Path(pdf_out) if pdf_out is not None else derived_pdf_path(path)
    size = path.stat().st_size
    if size > limits.max_upload_bytes:
        raise IngestError.of("doc.too_large", size_mb=_mb(size), limit_mb=_mb(limits.max_upload_bytes))
    if size == 0:
        raise IngestError.of("doc.unsupported")
    content_hash = _sha256(path)
    fmt = sniff_format(path)
    if fmt is None:
        raise IngestError.of("doc.unsupported")
    if fmt == ENCRYPTED_OFFICE:
        raise IngestError.of("doc.office_encrypted")

    try:
        pdf_path = path
        if fmt in IMAGE_FORMATS:
            _image_to_pdf(path, out, limits)
            pdf_path = out
        elif fmt in OFFICE_FORMATS:
            convert.convert_to_pdf(path, out, source_format=fmt, timeout_s=limits.convert_timeout_s,
                                   memory_mb=limits.convert_memory_mb,
                                   work_root=Path(convert_dir) if convert_dir is not None else None)
            pdf_path = out
        elif fmt != PDF:
            raise IngestError.of("doc.unsupported")
        pdf_path, sizes, texts, blocks, ocr, title = _inspect_pdf(pdf_path, out, password, limits)
    except IngestError:
        # A derived PDF of a refused upload is of no use to anyone.
        if out != path:
            out.unlink(missing_ok=True)
        raise
    return DocInfo(
        content_hash=content_hash,
        pdf_path=pdf_path,
        source_format=fmt,
        page_count=len(sizes),
        title=title,
        page_sizes=tuple(sizes),
        page_texts=tuple(texts),
        file_size=size,
        converted=pdf_path != path,
        page_blocks=tuple(blocks),
        ocr_pages=tuple(ocr),
        page_folded=tuple(fold_vietnamese(t) for t in texts),
    )


def _inspect_pdf(
    pdf_path: Path, out: Path, password: str | None, limits: Limits
) -> tuple[Path, list[tuple[float, float]], list[str], list[list[dict[str, str]]], list[int], str]:
    doc = _open_pdf(pdf_path)
    try:
        if doc.needs_pass:
            if not password:
                raise IngestError.of("doc.encrypted")
            if not doc.authenticate(password):
                raise IngestError.of("doc.wrong_password")
            # Pages are drawn later by workers that do not know the password: give them a decrypted copy.
            _save_decrypted(doc, out)
            pdf_path = out
        sizes, texts, blocks, ocr = _check_pages(doc, limits)
        title = _title(doc, texts)
    except IngestError:
        raise
    except Exception as exc:  # whatever else MuPDF trips over in a broken file
        log.info("cannot inspect %s: %s", pdf_path, exc)
        raise IngestError.of("doc.damaged") from None
    finally:
        doc.close()
    return pdf_path, sizes, texts, blocks, ocr, title


def _open_pdf(path: Path) -> pymupdf.Document:
    try:
        doc = pymupdf.open(path, filetype="pdf")
    except Exception as exc:  # MuPDF reports damage as several exception types
        log.info("cannot open %s: %s", path, exc)
        raise IngestError.of("doc.damaged") from None
    try:
        needs_pass, page_count, repaired = doc.needs_pass, doc.page_count, doc.is_repaired
    except Exception as exc:  # a truncated file can open, then fail to count its pages
        log.info("cannot read %s: %s", path, exc)
        doc.close()
        raise IngestError.of("doc.damaged") from None
    if page_count == 0 and not needs_pass:
        # MuPDF rebuilds a broken file's xref; when that finds no page the file is damaged, not empty.
        doc.close()
        raise IngestError.of("doc.damaged" if repaired else "doc.empty")
    return doc


def _check_pages(
    doc: pymupdf.Document, limits: Limits
) -> tuple[list[tuple[float, float]], list[str], list[list[dict[str, str]]], list[int]]:
    count = doc.page_count
    if count == 0:  # an encrypted file shows its pages only once the password opened it
        raise IngestError.of("doc.empty")
    if count > limits.max_pages:
        raise IngestError.of("doc.too_many_pages", pages=count, limit=limits.max_pages)
    sizes: list[tuple[float, float]] = []
    texts: list[str] = []
    blocks: list[list[dict[str, str]]] = []
    ocr: list[int] = []
    for index in range(count):
        try:
            page = doc.load_page(index)
            rect = page.rect
            # One extraction for both the search text and reading mode's blocks (each costs ~7 ms a page here).
            textpage = page.get_textpage()
            text = page.get_text("text", textpage=textpage)
        except Exception as exc:
            log.info("page %d unreadable: %s", index + 1, exc)
            raise IngestError.of("doc.damaged") from None
        width, height = rect.width, rect.height
        if width <= 0 or height <= 0:
            raise IngestError.of("doc.damaged")
        if max(width, height) * MM_PER_POINT > limits.max_page_side_mm:
            raise IngestError.of(
                "doc.page_too_big",
                page=index + 1,
                width_mm=round(width * MM_PER_POINT),
                height_mm=round(height * MM_PER_POINT),
                limit_mm=round(limits.max_page_side_mm),
            )
        _check_images(page, index, limits)
        sizes.append((round(width, 2), round(height, 2)))
        texts.append(clean_text(text))
        try:
            blocks.append(reading.page_blocks(page, textpage=textpage))
        except Exception as exc:  # reading mode is a convenience: the page image still works without it
            log.info("page %d: no reading blocks: %s", index + 1, exc)
            blocks.append([])
        if reading.needs_ocr(page, text):
            ocr.append(index + 1)
    return sizes, texts, blocks, ocr


def _check_images(page: pymupdf.Page, index: int, limits: Limits) -> None:
    """Refuse a page that holds an image of more pixels than `max_image_pixels` (from its dictionary, without
    decoding it): drawing the page would decode the whole image, gigabytes for a few kB of file."""
    try:
        images = page.get_images(full=False)
    except Exception as exc:
        log.info("page %d images unreadable: %s", index + 1, exc)
        raise IngestError.of("doc.damaged") from None
    for image in images:
        width, height = int(image[2] or 0), int(image[3] or 0)
        if width * height > limits.max_image_pixels:
            raise IngestError.of(
                "doc.page_image_too_large",
                page=index + 1,
                megapixels=round(width * height / 1e6),
                limit_megapixels=round(limits.max_image_pixels / 1e6),
            )


def clean_text(text: str) -> str:
    """Page text in NFC with NULs and trailing blanks removed; PDFs often carry decomposed Vietnamese."""
    text = unicodedata.normalize("NFC", text.replace("\x00", ""))
    return "\n".join(line.rstrip() for line in text.splitlines()).strip("\n")


# The kinds of Vietnamese administrative document (Nghị định 30/2020/NĐ-CP, Phụ lục III): the heading that starts
# the title of a first page, in capitals ("TỜ TRÌNH", then "Về việc …" on the same or the next lines).
_DOC_KIND = re.compile(
    r"^(TỜ TRÌNH|KẾ HOẠCH|NGHỊ QUYẾT|BÁO CÁO|QUYẾT ĐỊNH|CHƯƠNG TRÌNH|THÔNG BÁO|ĐỀ ÁN|BIÊN BẢN|DỰ THẢO|CÔNG VĂN"
    r"|HƯỚNG DẪN|GIẤY MỜI|PHƯƠNG ÁN|QUY CHẾ|QUY ĐỊNH|ĐỀ CƯƠNG|DANH SÁCH|CHỈ THỊ|KẾT LUẬN|TỜ KHAI)(?![^\W\d_])")
# A block after a bare heading that is the body, not the title's subject.
_BODY_START = re.compile(r"^(Kính gửi|Căn cứ|Số:|I\.|1\.)", re.IGNORECASE)


def _joined(lines: list[str]) -> str:
    """Lines of one title wrapped by the layout, as one line: "… số 57-" + "NQ/TW" stays "57-NQ/TW", "KH/" +
    "BCĐTW" stays "KH/BCĐTW"."""
    out = ""
    for line in lines:
        line = " ".join(line.split())
        if not line:
            continue
        if out.endswith("/") or (out.endswith("-") and len(out) > 1 and not out[-2].isspace()):
            out += line
        else:
            out = f"{out} {line}" if out else line
    return out


def _fit_title(text: str) -> str:
    if len(text) <= _TITLE_MAX:
        return text
    cut = text[: _TITLE_MAX - 1]
    if " " in cut:
        cut = cut[: cut.rindex(" ")]
    return cut.rstrip(" ,;:-") + "…"


def _page_blocks(doc: pymupdf.Document) -> list[list[str]]:
    """The first page's text blocks, each a list of its lines (NFC), top to bottom."""
    if doc.page_count < 1:
        return []
    blocks = []
    for b in doc[0].get_text("blocks", sort=True):
        if b[6] != 0:  # an image block
            continue
        lines = [" ".join(x.split()) for x in unicodedata.normalize("NFC", b[4]).splitlines()]
        lines = [x for x in lines if x]
        if lines:
            blocks.append(lines)
    return blocks


def _title(doc: pymupdf.Document, texts: list[str]) -> str:
    """The document's title: the first page's heading ("TỜ TRÌNH Về việc thông qua Kế hoạch …", all of its wrapped
    lines joined), else the author's metadata title, else the first text block's first sentence, joined likewise."""
    blocks = _page_blocks(doc)
    for i, lines in enumerate(blocks):
        if _DOC_KIND.match(lines[0]):
            title = _joined(lines)
            bare = _DOC_KIND.fullmatch(title) is not None
            if bare and i + 1 < len(blocks) and not _BODY_START.match(blocks[i + 1][0]):
                title = _joined([title, *blocks[i + 1]])
            return _fit_title(title)
    meta_title = " ".join(((doc.metadata or {}).get("title") or "").split())
    meta_title = unicodedata.normalize("NFC", meta_title)
    if meta_title and not _MEANINGLESS_TITLE.match(meta_title):
        return meta_title[:_TITLE_MAX]
    for lines in blocks:
        if any(ch.isalpha() for ch in " ".join(lines)):
            taken: list[str] = []
            for line in lines:  # up to the line that ends the sentence
                taken.append(line)
                if line.endswith((".", ":", "?", "!")) or len(" ".join(taken)) > _TITLE_MAX:
                    break
            return _fit_title(_joined(taken))
    for text in texts[:3]:
        for line in text.splitlines():
            line = " ".join(line.split())
            if any(ch.isalpha() for ch in line):
                return line[:_TITLE_MAX]
    return ""


def _save_decrypted(doc: pymupdf.Document, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    doc.save(tmp, encryption=pymupdf.PDF_ENCRYPT_NONE, garbage=1)  # type: ignore[attr-defined]  # set at import
    os.replace(tmp, out)


def _image_to_pdf(path: Path, out: Path, limits: Limits) -> None:
    try:
        with warnings.catch_warnings():
            # Pillow warns between 89 and 179 MP and refuses above as if the file were bad; our own limit below
            # decides, with its own message ("too large", not "damaged"). Opening reads only the header.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            pillow_limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
            try:
                opened = Image.open(path)
            finally:
                Image.MAX_IMAGE_PIXELS = pillow_limit
        with opened:
            img: Image.Image = opened
            width, height = img.size
            if width * height > limits.max_image_pixels:
                raise IngestError.of(
                    "doc.image_too_large",
                    megapixels=round(width * height / 1e6),
                    limit_megapixels=round(limits.max_image_pixels / 1e6),
                )
            orientation = img.getexif().get(0x0112, 1)  # phones store the camera's rotation here
            img.load()  # decode now: a truncated file fails here, not in MuPDF later
            if orientation not in (1, None):
                img = ImageOps.exif_transpose(img)
                width, height = img.size
            if img.mode not in ("RGB", "L", "RGBA", "LA", "P", "1") or orientation not in (1, None):
                # Re-encode what MuPDF might not take as-is, or what had to be turned upright.
                data = _encode_lossless_or_jpeg(img)
            else:
                data = path.read_bytes()
    except IngestError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        log.info("bad image %s: %s", path, exc)
        raise IngestError.of("doc.image_damaged") from None

    scale = _IMAGE_PAGE_SHORT_SIDE / min(width, height)
    page_w, page_h = width * scale, height * scale
    pdf = pymupdf.open()
    try:
        page = pdf.new_page(width=page_w, height=page_h)
        page.insert_image(page.rect, stream=data)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".part")
        pdf.save(tmp, garbage=1, deflate=True)
        os.replace(tmp, out)
    except Exception as exc:
        log.info("cannot place image %s: %s", path, exc)
        raise IngestError.of("doc.image_damaged") from None
    finally:
        pdf.close()


def _encode_lossless_or_jpeg(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    if img.mode in ("RGBA", "LA", "P"):
        img.save(buf, format="PNG")
    else:
        img.convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _mb(size: int) -> str:
    # Vietnamese writes a decimal comma.
    return f"{size / MB:.1f}".replace(".", ",").removesuffix(",0")
