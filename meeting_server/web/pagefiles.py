"""The fast path for page images of non-confidential documents: a WSGI middleware in front of Flask.

Fifty phones asking for cached pages at once wait for each other on the one eventlet loop, so each request must cost
a fraction of a millisecond; Flask with its guard, token lookup and document lookup costs ~2 ms. Here a signed URL
(`documents/fastpath.py`) is checked with one HMAC, the document's public marker with one `stat`, and the cached
image is answered: no Flask, no database. Whatever this cannot answer (a page not drawn yet, a missing marker, a
method other than GET/HEAD) falls through to the Flask route at the same URL, which checks the same signature and
then asks the database (web/documents.py `signed_page`). Declared in docs/PROTOCOL.md.
"""

from __future__ import annotations

import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

from meeting_server.documents.fastpath import PATH, PREFIX, etag, file_path, verify

__all__ = ["CACHE_CONTROL", "FORBIDDEN", "MIME", "PageFiles", "etag_matches", "signature_of"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

CACHE_CONTROL = "public, max-age=31536000, immutable"
MIME = {"webp": "image/webp", "jpeg": "image/jpeg"}
#: The answer to a URL whose signature does not match (shown only to someone typing URLs by hand).
FORBIDDEN = "Đường dẫn ảnh trang không hợp lệ.".encode()
#: Page images kept in memory (the most recently asked for): each hit saves an open, a read and the HMAC, about a
#: sixth of a request's cost. A 720 px page is ~90 kB, a 1600 px one ~230 kB.
DEFAULT_MEMORY_BYTES = 48 << 20


class _Page(NamedTuple):
    """A page image already answered once for this exact URL (so its signature was checked)."""

    marker: str
    image: str
    etag: str
    mime: str
    body: bytes | None


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

    def __init__(self, app: WSGIApp, key: bytes, cache_dir: Path | str,
                 memory_bytes: int = DEFAULT_MEMORY_BYTES) -> None:
        self.app = app
        self.key = key
        self.cache_dir = str(cache_dir)
        self.memory_bytes = memory_bytes
        self._pages: OrderedDict[str, _Page] = OrderedDict()  # full URL -> page, least recently used first
        self._held = 0
        self._lock = threading.Lock()  # a green lock under eventlet; real threads in tests

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.app(environ, start_response)
        method = environ.get("REQUEST_METHOD", "GET")
        if method not in ("GET", "HEAD"):
            return self.app(environ, start_response)  # Flask answers 405 in the person's language
        # Take turns: under eventlet a socket whose next request is already there is served again and again without
        # going back to the loop, and the other phones starve (p99 many times p50). One yield per request (time.sleep
        # is eventlet's once monkey-patched; a plain thread yield otherwise) makes it round-robin.
        time.sleep(0)
        query = environ.get("QUERY_STRING", "")
        url = path + "?" + query
        page = self._recall(url)
        if page is None:
            m = PATH.match(path)
            if m is None:
                return self.app(environ, start_response)  # Flask answers 404
            document_id, content_hash, number, width, fmt = m.groups()
            if not verify(self.key, int(document_id), content_hash, signature_of(query)):
                start_response("403 Forbidden", [("Content-Type", "text/plain; charset=utf-8"),
                                                 ("Content-Length", str(len(FORBIDDEN))),
                                                 ("Cache-Control", "no-store")])
                return [FORBIDDEN]
            marker, image = file_path(self.cache_dir, document_id, content_hash, number, width, fmt)
            page = _Page(marker, image, etag(content_hash, int(number), int(width), fmt), MIME[fmt], None)
        # The marker says the document is ready and not confidential (kept in step with the database by
        # services.documents.sync_fast_path); checked on every request, remembered pages too. Without it, Flask and
        # the database decide.
        if not os.path.exists(page.marker):
            return self.app(environ, start_response)
        if etag_matches(environ.get("HTTP_IF_NONE_MATCH"), page.etag):
            start_response("304 Not Modified", [("ETag", page.etag), ("Cache-Control", CACHE_CONTROL)])
            return []
        body = page.body
        if body is None:
            try:
                with open(page.image, "rb") as f:
                    body = f.read()
            except FileNotFoundError:
                return self.app(environ, start_response)  # not drawn yet: Flask has it drawn now
            self._remember(url, page._replace(body=body))
        start_response("200 OK", [
            ("Content-Type", page.mime),
            ("Content-Length", str(len(body))),
            ("ETag", page.etag),
            ("Cache-Control", CACHE_CONTROL),
            ("X-Content-Type-Options", "nosniff"),
        ])
        return [b""] if method == "HEAD" else [body]

    def _recall(self, url: str) -> _Page | None:
        with self._lock:
            page = self._pages.get(url)
            if page is not None:
                self._pages.move_to_end(url)
            return page

    def _remember(self, url: str, page: _Page) -> None:
        """Keep a page (its bytes never change: the file name carries the content hash), within the memory bound."""
        size = len(page.body or b"")
        if size > self.memory_bytes // 2:  # one huge image would push out everything else
            return
        with self._lock:
            old = self._pages.pop(url, None)
            if old is not None:
                self._held -= len(old.body or b"")
            self._pages[url] = page
            self._held += size
            while self._held > self.memory_bytes and self._pages:
                _, dropped = self._pages.popitem(last=False)
                self._held -= len(dropped.body or b"")
