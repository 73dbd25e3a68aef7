"""Where page images live: the render cache, keyed by the document's content hash (stdlib only)."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

PHONE_WIDTH = 720
LARGE_WIDTH = 1600  # tablets, laptops and the projector
STANDARD_WIDTHS = (PHONE_WIDTH, LARGE_WIDTH)
FORMATS = {"webp": "WEBP", "jpeg": "JPEG"}

_HEX = re.compile(r"^[0-9a-f]{16,128}$")
_KEY = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def watermark_key(text: str) -> str:
    """A short file-name-safe key for a watermark text, for `cache_path`."""
    normalized = unicodedata.normalize("NFC", " ".join(text.split()))
    return hashlib.sha256(normalized.encode("utf-8")).hexdigest()[:16]


def cache_path(
    cache_dir: Path | str,
    content_hash: str,
    page_index: int,
    width: int,
    fmt: str,
    watermark_key: str | None = None,
) -> Path:
    """Where the image of page `page_index` (0-based) at `width` px lives in the render cache.

    Keyed by the content hash, so a re-upload of the same bytes reuses the images and a changed file never
    shows stale ones; removing a document is removing `document_cache_dir(...)`.
    """
    if page_index < 0 or width <= 0:
        raise ValueError("page_index and width must be positive")
    if fmt not in FORMATS:
        raise ValueError(f"unknown image format {fmt!r}")
    name = f"p{page_index:05d}-w{width}"
    if watermark_key is not None:
        if not _KEY.match(watermark_key):
            raise ValueError("watermark_key must be [0-9A-Za-z_-]{1,64}")
        name += f"-wm{watermark_key}"
    return document_cache_dir(cache_dir, content_hash) / f"{name}.{fmt}"


def document_cache_dir(cache_dir: Path | str, content_hash: str) -> Path:
    """The directory holding every image of one document."""
    if not _HEX.match(content_hash):
        raise ValueError("content_hash must be lowercase hex")
    return Path(cache_dir) / content_hash[:2] / content_hash
