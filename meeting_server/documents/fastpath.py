"""Signed page URLs of non-confidential documents: the one rule both the WSGI fast path (web/pagefiles.py) and the
Flask route behind it check, and the marker file that lets the fast path serve a document without the database.

A signed URL is a capability: the server hands it only to cards that may see the document, and holding it is the
authorization. It is stable per page (not per viewer), so browsers and their caches share it across cards. The
signature covers the document id and its content hash; it grants nothing for a confidential document, because the
fast path also needs the document's public marker, which exists only while the document is ready and not
confidential (see docs/DOCUMENTS.md, "Page URLs"). Stdlib only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from pathlib import Path

from meeting_server.documents.cache import STANDARD_WIDTHS, document_cache_dir

__all__ = [
    "PATH",
    "PREFIX",
    "SIG_CHARS",
    "derive_key",
    "etag",
    "file_path",
    "marker_path",
    "page_url",
    "signature",
    "url_template",
    "verify",
]

PREFIX = "/pages/"
#: /pages/<document id>/<content hash>/<page>-w<width>.<fmt>; only the standard widths and formats exist.
PATH = re.compile(
    r"^/pages/([1-9][0-9]{0,9})/([0-9a-f]{64})/([1-9][0-9]{0,4})-w("
    + "|".join(str(w) for w in STANDARD_WIDTHS)
    + r")\.(webp|jpeg)$"
)
#: 22 base64 characters carry 132 bits of the HMAC: out of reach of guessing over the network.
SIG_CHARS = 22
_KEY_LABEL = b"meeting-server signed page URLs v1"


def derive_key(secret: str | bytes) -> bytes:
    """The signing key of page URLs, derived from the app's secret key (a key used for nothing else)."""
    raw = secret.encode("utf-8") if isinstance(secret, str) else bytes(secret)
    return hmac.new(raw, _KEY_LABEL, hashlib.sha256).digest()


def signature(key: bytes, document_id: int, content_hash: str) -> str:
    """The signature of every page URL of one document: HMAC-SHA256 over (document id, content hash, "public")."""
    msg = f"{int(document_id)}:{content_hash}:public".encode("ascii")
    return base64.urlsafe_b64encode(hmac.new(key, msg, hashlib.sha256).digest())[:SIG_CHARS].decode("ascii")


def verify(key: bytes, document_id: int, content_hash: str, sig: str | None) -> bool:
    """Whether `sig` is the signature of this document's page URLs (constant-time comparison)."""
    if not sig or len(sig) != SIG_CHARS or not sig.isascii():
        return False
    return hmac.compare_digest(signature(key, document_id, content_hash).encode("ascii"), sig.encode("ascii"))


def url_template(key: bytes, document_id: int, content_hash: str) -> str:
    """The page URL with `{page}`, `{width}` and `{fmt}` left for the client to fill in."""
    sig = signature(key, document_id, content_hash)
    return f"{PREFIX}{int(document_id)}/{content_hash}/{{page}}-w{{width}}.{{fmt}}?s={sig}"


def page_url(key: bytes, document_id: int, content_hash: str, page: int, width: int, fmt: str) -> str:
    """One page's signed URL (page 1-based)."""
    return url_template(key, document_id, content_hash).format(page=page, width=width, fmt=fmt)


def etag(content_hash: str, page: int, width: int, fmt: str) -> str:
    """The ETag of a page image without a watermark: the same on the fast path and on /documents/<id>/pages/…."""
    return f'"{content_hash[:20]}-{page}-{width}-{fmt}"'


def marker_path(cache_dir: Path | str, document_id: int, content_hash: str) -> Path:
    """The marker file whose presence lets the fast path serve this document's pages: `.public-<document id>`
    beside the page images (one per document: the same bytes may be a public document and a confidential one)."""
    return document_cache_dir(cache_dir, content_hash) / f".public-{int(document_id)}"


def file_path(cache_dir: str, document_id: str, content_hash: str, page: str, width: str, fmt: str) -> tuple[str, str]:
    """(marker, image) paths for the fast path, from the matched URL parts, as plain strings (no Path objects on the
    hot path); equal to `marker_path` and `cache_path` (a test checks)."""
    folder = os.path.join(cache_dir, content_hash[:2], content_hash)
    return (os.path.join(folder, ".public-" + document_id),
            os.path.join(folder, f"p{int(page) - 1:05d}-w{width}.{fmt}"))

