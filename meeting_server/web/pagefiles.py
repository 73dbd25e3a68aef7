"""The fast path for page images of non-confidential documents: a WSGI middleware in front of Flask.

Fifty phones asking for cached pages at once wait for each other on the one eventlet loop, so each request must cost
a fraction of a millisecond; Flask with its guard, token lookup and document lookup costs ~2.4 ms. Here a signed URL
(`documents/fastpath.py`) is checked with one HMAC, the document's public marker with one `stat`, and the cached
file is answered: no Flask, no database. Whatever this cannot answer (a page not drawn yet, a missing marker, a
method other than GET/HEAD) falls through to the Flask route at the same URL, which checks the same signature and
then asks the database (web/documents.py `signed_page`). Declared in docs/PROTOCOL.md.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from meeting_server.documents.fastpath import PATH, PREFIX, etag, file_path, verify

__all__ = ["CACHE_CONTROL", "FORBIDDEN", "MIME", "PageFiles", "etag_matches", "signature_of"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

CACHE_CONTROL = "public, max-age=31536000, immutable"
MIME = {"webp": "image/webp", "jpeg": "image/jpeg"}
#: The answer to a URL whose signature does not match (shown only to someone typing URLs by hand).
FORBIDDEN = "Đường dẫn ảnh trang không hợp lệ.".encode()


def signature_of(query_string: str) -> str | None:
    """The `s` parameter of a query string (signatures are URL-safe base64: nothing to unquote)."""
    for part in query_string.split("&"):
        if part.startswith("s="):
            return part[2:]
    return None


def etag_matches(if_none_match: str | None, tag: str) -> bool:
    """Whether an If-None-Match header names this ETag (strong or weak) or says `*`."""
    if not if_none_match:
        return False
    return tag in if_none_match or if_none_match.strip() == "*"


class PageFiles:
    """WSGI middleware: answers `/pages/<document id>/<hash>/<page>-w<width>.<fmt>?s=<signature>` from the cache."""

    def __init__(self, app: WSGIApp, key: bytes, cache_dir: Path | str) -> None:
        self.app = app
        self.key = key
        self.cache_dir = str(cache_dir)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        m = PATH.match(path)
        method = environ.get("REQUEST_METHOD", "GET")
        if m is None or method not in ("GET", "HEAD"):
            return self.app(environ, start_response)  # Flask answers 404 or 405 in the person's language
        # Take turns: under eventlet a socket whose next request is already there is served again and again without
        # going back to the loop, and the other phones starve (p99 many times p50). One yield per request (time.sleep
        # is eventlet's once monkey-patched; a plain thread yield otherwise) makes it round-robin.
        time.sleep(0)
        document_id, content_hash, page, width, fmt = m.groups()
        if not verify(self.key, int(document_id), content_hash, signature_of(environ.get("QUERY_STRING", ""))):
            start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                             ("Content-Length", str(len(FORBIDDEN))), ("Cache-Control", "no-store")])
            return [FORBIDDEN]
        marker, image = file_path(self.cache_dir, document_id, content_hash, page, width, fmt)
        # The marker says the document is ready and not confidential (kept in step with the database by
        # services.documents.sync_fast_path). Without it, Flask and the database decide.
        if not os.path.exists(marker):
            return self.app(environ, start_response)
        tag = etag(content_hash, int(page), int(width), fmt)
        if etag_matches(environ.get("HTTP_IF_NONE_MATCH"), tag):
            start_response("304 Not Modified", [("ETag", tag), ("Cache-Control", CACHE_CONTROL)])
            return []
        try:
            with open(image, "rb") as f:
                body = f.read()
        except FileNotFoundError:
            return self.app(environ, start_response)  # not drawn yet: Flask has it drawn now
        start_response("200 OK", [
            ("Content-Type", MIME[fmt]),
            ("Content-Length", str(len(body))),
            ("ETag", tag),
            ("Cache-Control", CACHE_CONTROL),
            ("X-Content-Type-Options", "nosniff"),
        ])
        return [b""] if method == "HEAD" else [body]
