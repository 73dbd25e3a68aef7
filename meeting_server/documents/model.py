"""Values of the document core: limits, what inspection found, and the error an upload can end in.

Stdlib only, so the web process can use these types without loading PyMuPDF.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any

from meeting_server.domain.errors import N_, DomainError

MB = 1024 * 1024
MM_PER_POINT = 25.4 / 72


@dataclass(frozen=True)
class Limits:
    """Settings that bound what an upload may cost; the defaults suit a 2-core mini-PC."""

    max_upload_bytes: int = 100 * MB
    max_pages: int = 2000
    # 200 inches, the largest page side PDF allows (14 400 units, ISO 32000-1 Annex C.2).
    max_page_side_mm: float = 5080.0
    # A phone photo is 12-50 MP; 100 MP stops decompression bombs before Pillow or MuPDF decodes them.
    max_image_pixels: int = 100_000_000
    render_timeout_s: float = 20.0
    inspect_timeout_s: float = 60.0
    # One page's OCR (tesseract, one thread): about 3-5 s for an A4 page here; the worker is killed past this.
    ocr_timeout_s: float = 60.0
    # LibreOffice starts in about 1.5 s here, but a large spreadsheet can take a minute to lay out.
    convert_timeout_s: float = 120.0
    # Address-space ceiling of LibreOffice (hard: it cannot raise it); a 2000-row table peaks at ~550 MB.
    convert_memory_mb: int = 2048
    # Address-space ceiling of a worker, so a hostile file fails there instead of starving the server.
    worker_memory_mb: int = 3072
    # A page image never exceeds this many pixels, whatever its shape (a 1600 px wide A4 page is 3.6 MP).
    max_render_pixels: int = 16_000_000

    def to_dict(self) -> dict[str, Any]:
        """The limits as JSON-ready values, for the worker pipe."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        """Limits from `to_dict` output."""
        return cls(**data)


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class DocInfo:
    """What inspection learnt about one upload; `pdf_path` is the PDF to render (the upload or its conversion)."""

    content_hash: str  # sha256 hex of the uploaded bytes, the key of the render cache
    pdf_path: Path
    source_format: str  # pdf, jpeg, png, docx, xlsx, pptx, odt, ods, odp, doc, xls, ppt
    page_count: int
    title: str
    page_sizes: tuple[tuple[float, float], ...]  # (width, height) in points, rotation applied
    page_texts: tuple[str, ...] = field(repr=False)  # NFC text of each page, "" for a scanned page
    file_size: int = 0
    converted: bool = False  # True when pdf_path is a PDF derived from the upload (image, office, decrypted)
    # Each page's reading blocks ([{"k": "h" | "p", "t": text}], documents/reading.py), [] for a scanned page.
    page_blocks: tuple[list[dict[str, str]], ...] = field(default=(), repr=False)
    # Pages (1-based) with no text layer but an image: OCR (RenderPool.recognize) reads them after ingest.
    ocr_pages: tuple[int, ...] = ()
    # Each page's text folded for the search index (textsearch.fold_vietnamese), done where the text was read, in
    # the worker: folding a 300-page upload's 0.5 million characters takes 60 ms, which on the server's loop would
    # hold every phone's page turn that long.
    page_folded: tuple[str, ...] = field(default=(), repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The info as JSON-ready values."""
        data = asdict(self)
        data["pdf_path"] = str(self.pdf_path)
        data["page_sizes"] = [list(size) for size in self.page_sizes]
        data["page_texts"] = list(self.page_texts)
        data["page_blocks"] = list(self.page_blocks)
        data["ocr_pages"] = list(self.ocr_pages)
        data["page_folded"] = list(self.page_folded)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DocInfo:
        """DocInfo from `to_dict` output."""
        return cls(
            content_hash=data["content_hash"],
            pdf_path=Path(data["pdf_path"]),
            source_format=data["source_format"],
            page_count=int(data["page_count"]),
            title=data["title"],
            page_sizes=tuple((float(w), float(h)) for w, h in data["page_sizes"]),
            page_texts=tuple(data["page_texts"]),
            file_size=int(data.get("file_size", 0)),
            converted=bool(data.get("converted", False)),
            page_blocks=tuple(data.get("page_blocks", ())),
            ocr_pages=tuple(int(n) for n in data.get("ocr_pages", ())),
            page_folded=tuple(data.get("page_folded", ())),
        )


class Priority(IntEnum):
    """Queue order of pool jobs: lower runs first."""

    HIGH = 0  # the page being presented right now
    NORMAL = 1  # an upload being checked, a page a delegate opened
    BACKGROUND = 2  # rendering ahead of time


# Messages shown to the clerk (msgids, translated at the error boundary); %(placeholders)s are filled from
# IngestError.details after translation.
MESSAGES: dict[str, str] = {
    "doc.damaged": N_("Tệp PDF bị hỏng, không đọc được. Hãy xuất lại tệp từ phần mềm gốc rồi tải lên lại."),
    "doc.image_damaged": N_("Tệp ảnh bị hỏng, không đọc được. Hãy chụp hoặc xuất lại ảnh rồi tải lên lại."),
    "doc.office_damaged": N_(
        "LibreOffice không chuyển được tệp này sang PDF; tệp có thể bị hỏng. "
        "Hãy mở tệp bằng phần mềm gốc, lưu thành PDF rồi tải lên lại."
    ),
    "doc.crashed": N_(
        "Tệp làm hỏng bộ đọc PDF nên không xử lý được. Hãy xuất lại tệp từ phần mềm gốc rồi tải lên lại."
    ),
    "doc.encrypted": N_("Tệp PDF được đặt mật khẩu. Hãy nhập mật khẩu để mở tệp."),
    "doc.wrong_password": N_("Mật khẩu không đúng nên chưa mở được tệp PDF. Hãy kiểm tra lại mật khẩu."),
    "doc.office_encrypted": N_(
        "Tệp Word/Excel/PowerPoint được đặt mật khẩu. "
        "Hãy gỡ mật khẩu trong phần mềm gốc (hoặc lưu thành PDF) rồi tải lên lại."
    ),
    "doc.empty": N_("Tệp PDF không có trang nào. Hãy kiểm tra lại tệp rồi tải lên lại."),
    "doc.too_large": N_(
        "Tệp quá lớn (%(size_mb)s MB), vượt giới hạn %(limit_mb)s MB. "
        "Hãy giảm dung lượng hoặc tách tệp rồi tải lên lại."
    ),
    "doc.image_too_large": N_(
        "Ảnh quá lớn (%(megapixels)s megapixel), vượt giới hạn %(limit_megapixels)s megapixel. "
        "Hãy giảm kích thước ảnh rồi tải lên lại."
    ),
    "doc.page_image_too_large": N_(
        "Trang %(page)s có ảnh quá lớn (%(megapixels)s megapixel), vượt giới hạn %(limit_megapixels)s megapixel. "
        "Hãy giảm kích thước ảnh trong tài liệu rồi xuất lại tệp PDF."
    ),
    "doc.too_many_pages": N_(
        "Tài liệu có %(pages)s trang, vượt giới hạn %(limit)s trang. "
        "Hãy tách thành nhiều tệp rồi tải lên lại."
    ),
    "doc.page_too_big": N_(
        "Trang %(page)s có khổ quá lớn (%(width_mm)s × %(height_mm)s mm), vượt giới hạn %(limit_mm)s mm mỗi cạnh."
    ),
    "doc.unsupported": N_(
        "Định dạng tệp không được hỗ trợ. "
        "Hãy tải lên tệp PDF, ảnh JPEG/PNG, hoặc tài liệu Word, Excel, PowerPoint, OpenDocument."
    ),
    "doc.convert_unavailable": N_(
        "Máy chủ chưa cài LibreOffice nên chưa chuyển được tệp Word/Excel/PowerPoint sang PDF. "
        "Hãy lưu tệp thành PDF rồi tải lên lại."
    ),
    "doc.convert_part_missing": N_(
        "Máy chủ thiếu phần LibreOffice cần cho loại tệp này (gói %(package)s) nên chưa chuyển được sang PDF. "
        "Hãy báo người quản trị máy chủ cài gói đó, hoặc lưu tệp thành PDF rồi tải lên lại."
    ),
    "doc.convert_unsafe": N_(
        "Máy chủ không chạy được LibreOffice trong vùng cách ly không có mạng, nên không chuyển tệp "
        "Word/Excel/PowerPoint sang PDF. Hãy lưu tệp thành PDF rồi tải lên lại, và báo người quản trị "
        "chạy lệnh meeting-server doctor."
    ),
    "doc.timeout": N_(
        "Xử lý tệp quá lâu nên đã dừng. Tệp có thể bị hỏng hoặc quá phức tạp; "
        "hãy xuất lại tệp PDF rồi tải lên lại."
    ),
}

# Message variants share the stable code the program sees.
_CODE_OF_VARIANT = {
    "doc.image_damaged": "doc.damaged",
    "doc.office_damaged": "doc.damaged",
    "doc.crashed": "doc.damaged",
    "doc.wrong_password": "doc.encrypted",
    "doc.office_encrypted": "doc.encrypted",
    "doc.image_too_large": "doc.too_large",
    "doc.convert_part_missing": "doc.convert_unavailable",
    "doc.convert_unsafe": "doc.convert_unavailable",
    "doc.page_image_too_large": "doc.too_large",
}

INGEST_CODES = frozenset(code for code in MESSAGES if code not in _CODE_OF_VARIANT)


class IngestError(DomainError):
    """An upload or a page could not be used; `code` is one of INGEST_CODES, `message` is Vietnamese."""

    code = "doc.damaged"

    def __init__(self, message: str, code: str | None = None, details: dict[str, Any] | None = None, *,
                 params: dict[str, Any] | None = None) -> None:
        super().__init__(message, code, params=params)
        self.details = dict(details or {})

    @classmethod
    def of(cls, kind: str, **details: Any) -> IngestError:
        """The error for a message kind of MESSAGES, its message filled from `details` (after translation)."""
        return cls(MESSAGES[kind], _CODE_OF_VARIANT.get(kind, kind), details, params=details)

    def copy(self) -> IngestError:
        """The same error, as a new exception object."""
        return IngestError(self.template, self.code, self.details, params=self.params)

    def to_dict(self) -> dict[str, Any]:
        """The error as JSON-ready values, for the worker pipe (`template` and `params` for translation)."""
        return {"code": self.code, "message": self.message, "details": self.details, "template": self.template,
                "params": self.params}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestError:
        """IngestError from `to_dict` output."""
        return cls(data.get("template") or data["message"], data["code"], data.get("details"),
                   params=data.get("params"))
