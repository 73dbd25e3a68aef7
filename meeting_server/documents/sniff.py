"""Tell an upload's format from its bytes, never from the name the browser sent."""

from __future__ import annotations

import zipfile
from pathlib import Path

PDF = "pdf"
IMAGE_FORMATS = frozenset({"jpeg", "png"})
OFFICE_FORMATS = frozenset({"docx", "xlsx", "pptx", "odt", "ods", "odp", "doc", "xls", "ppt"})
# An OOXML file saved with a password is an OLE2 container holding this stream instead of a zip.
ENCRYPTED_OFFICE = "office-encrypted"

_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ODF_MIMETYPES = {
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
    "application/vnd.oasis.opendocument.presentation": "odp",
}
_OOXML_PARTS = {"word/": "docx", "xl/": "xlsx", "ppt/": "pptx"}
# Stream names in an OLE2 directory are UTF-16LE; the first match names the application.
_OLE2_STREAMS = (
    ("EncryptedPackage", ENCRYPTED_OFFICE),
    ("WordDocument", "doc"),
    ("Workbook", "xls"),
    ("Book", "xls"),
    ("PowerPoint Document", "ppt"),
)


def sniff_format(path: Path) -> str | None:
    """The format name of the file at `path` (see the *_FORMATS sets), or None when it is none we accept."""
    with open(path, "rb") as f:
        head = f.read(1024)
    # ISO 32000-1 7.5.2 puts the header at the start; readers accept it within the first 1024 bytes.
    if b"%PDF-" in head:
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"PK\x03\x04"):
        return _sniff_zip(path)
    if head.startswith(_OLE2_MAGIC):
        return _sniff_ole2(path)
    return None


def may_need_conversion(path: Path) -> bool:
    """True when the first bytes say zip or OLE2, the containers of office files (a cheap check, no parsing)."""
    with open(path, "rb") as f:
        head = f.read(8)
    return head.startswith(b"PK\x03\x04") or head.startswith(_OLE2_MAGIC)


def _sniff_zip(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            if "mimetype" in names:
                info = zf.getinfo("mimetype")
                if info.file_size > 200:
                    return None
                return _ODF_MIMETYPES.get(zf.read("mimetype").decode("ascii", "replace").strip())
            if "[Content_Types].xml" in names:
                for prefix, fmt in _OOXML_PARTS.items():
                    if any(name.startswith(prefix) for name in names):
                        return fmt
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        return None
    return None


def _sniff_ole2(path: Path) -> str | None:
    # The directory sectors may sit anywhere in the file, so scan it all, in chunks that overlap
    # by the longest name so a name split across two chunks is still seen.
    needles = [(name.encode("utf-16-le"), fmt) for name, fmt in _OLE2_STREAMS]
    overlap = max(len(n) for n, _ in needles)
    found: set[str] = set()
    tail = b""
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            window = tail + chunk
            for needle, fmt in needles:
                if needle in window:
                    found.add(fmt)
            tail = window[-overlap:]
    for _, fmt in _OLE2_STREAMS:
        if fmt in found:
            return fmt
    return None
