"""The fast path for static files (`static/`): compressed once, versioned by content, cached for a year.

A phone on the room's Wi-Fi (or a weak 4G link, ~1 Mbit/s) used to fetch 149 KiB of uncompressed scripts and styles
on every visit, and to ask again on every reload (`no-cache`). Here, at start:
- every file under `static/` gets a content hash; `url_for('static', filename=…)` adds it as `?v=<hash>` (the
  templates keep calling `url_for` as before: `app.url_defaults` does it), and such a URL is answered with
  `Cache-Control: public, max-age=31536000, immutable`, so a warm reload asks for nothing. A URL without the
  hash, or with a stale one (a page loaded before a restart with new files), still works, with `no-cache`;
- text files (scripts, styles, SVG, fonts in TTF) are compressed once with gzip (and brotli where the `brotli`
  package is installed) into a cache directory on disk named by content hash, so a restart or a second server
  process compresses nothing again; already compressed formats (WOFF2, PNG, JPEG, WebP, PDF) are sent as they are.
- bundles (`BUNDLES`): the delegate phone's page needs 6 styles and 9 scripts; over 150 ms of latency each request
  waits its turn, so they are joined at start into one stylesheet, one script for the first screen (Socket.IO's
  client and live.js) and one for the rest (fetched by live.js once the connection is up), each versioned and
  compressed like any file. A part changed on disk makes its bundle again on the bundle's next request.
Each request is then a dictionary look-up and one `stat` before Flask, Socket.IO or the database: nothing is
compressed on the eventlet loop while phones wait, except a small file changed on disk since the start (a developer
editing a script), which is hashed and compressed again on its first request (a few ms).
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["BUNDLES", "IMMUTABLE", "PREFIX", "REVALIDATE", "StaticFiles"]

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

PREFIX = "/static/"
IMMUTABLE = "public, max-age=31536000, immutable"
#: An unversioned (or stale) URL: the browser may keep the file, but asks each time (a 304 when unchanged).
REVALIDATE = "no-cache"
#: Formats worth compressing; the others (woff2, images, PDF) are compressed already.
COMPRESSIBLE = frozenset({".js", ".css", ".svg", ".json", ".txt", ".md", ".ttf", ".otf", ".html", ".map"})
#: Smaller than this, the compressed copy saves less than its headers cost.
MIN_COMPRESS = 512
#: Files kept in memory (every variant): all the scripts and styles. Bigger ones (fonts) are read per request.
MEMORY_MAX = 256 * 1024
#: Brotli's best quality costs ~0.3 s for the whole static/ tree once; beyond this size, a faster quality.
BROTLI_BEST_MAX = 256 * 1024
HASH_LEN = 12
SOURCE_MAP = (b"//# sourceMappingURL=", b"/*# sourceMappingURL=")
#: name -> its parts under static/, in the order the page used to load them (styles cascade, scripts depend on
#: what came before: comments.js on documents.js's DocView). templates/base.html uses them on the delegate page.
BUNDLES: dict[str, tuple[str, ...]] = {
    "bundle/delegate.css": ("css/app.css", "css/dialog.css", "css/voting.css", "css/speakers.css",
                            "css/questions.css", "css/documents.css"),
    # What the first screen needs: the connection and the renderer of the name card, attendance and agenda.
    "bundle/delegate-first.js": ("vendor/socket.io/socket.io.min.js", "js/live.js"),
    # Ballot, speakers, documents, questions, comments, dialogs: loaded by live.js after the first screen.
    "bundle/delegate-later.js": ("js/dialog.js", "js/signing.js", "js/panel.js", "js/speakers.js", "js/documents.js",
                                 "js/voting.js", "js/questions.js", "js/comments.js"),
}

log = logging.getLogger(__name__)

try:  # optional: gzip alone already saves ~70 %; brotli another ~10 % where the package is installed
    import brotli as _brotli
except ImportError:  # pragma: no cover - depends on the machine
    _brotli = None


class _Variant(NamedTuple):
    path: str
    size: int
    body: bytes | None  # kept in memory when small


class _File(NamedTuple):
    source: str
    stamp: tuple[int, int]  # (mtime_ns, size) of the source when hashed
    version: str
    mime: str
    variants: dict[str, _Variant]  # "identity", "gzip", "br"


def _stamp(st: os.stat_result) -> tuple[int, int]:
    return st.st_mtime_ns, st.st_size


def _write_atomically(path: Path, data: bytes) -> None:
    """Another server process on the same cache may write the same file at the same time: each writes a temporary
    file and renames it over, so a reader sees either nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _compressed(cache_dir: Path, version: str, suffix: str, raw: bytes) -> dict[str, Path]:
    """The compressed copies of one file's content (made now if the cache has none), only those that are smaller."""
    made: dict[str, Path] = {}
    if suffix not in COMPRESSIBLE or len(raw) < MIN_COMPRESS:
        return made
    encoders: list[tuple[str, str, Callable[[bytes], bytes]]] = [
        ("gzip", ".gz", lambda b: gzip.compress(b, 9, mtime=0))]
    if _brotli is not None:
        quality = 11 if len(raw) <= BROTLI_BEST_MAX else 5
        encoders.append(("br", ".br", lambda b: _brotli.compress(b, quality=quality)))
    for encoding, ext, encode in encoders:
        path = cache_dir / f"{version}{suffix}{ext}"
        if not path.exists():
            data = encode(raw)
            if len(data) >= len(raw):
                continue  # a miss is cheap to find again: such a file is small
            try:
                _write_atomically(path, data)
            except OSError as exc:  # a full or read-only disk must not stop the server: the file goes as it is
                log.warning("static file %s not compressed (%s): sent uncompressed", path.name, exc)
                continue
        made[encoding] = path
    return made


class StaticFiles:
    """WSGI middleware: answers GET/HEAD `/static/<file>` from a table built at start; the rest goes on to `app`."""

    def __init__(self, app: WSGIApp, static_dir: Path | str, cache_dir: Path | str,
                 bundles: dict[str, tuple[str, ...]] | None = None) -> None:
        self.app = app
        self.static_dir = Path(static_dir).resolve()
        self.cache_dir = Path(cache_dir)
        self._lock = threading.Lock()
        self._files: dict[str, _File] = {}
        self._bundles: dict[str, tuple[str, ...]] = {}
        for path in sorted(self.static_dir.rglob("*")):
            if path.is_file() and not path.name.startswith("."):
                name = path.relative_to(self.static_dir).as_posix()
                self._files[name] = self._load(name, path)
        for name, parts in (bundles or {}).items():
            self._files[name] = self._bundle(name, parts)
            self._bundles[name] = parts

    # -- the table -------------------------------------------------------------------------------------------------

    def _load(self, name: str, path: Path) -> _File:
        st = path.stat()
        raw = path.read_bytes()
        version = hashlib.sha256(raw).hexdigest()[:HASH_LEN]
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if mime.startswith("text/") or mime in ("application/javascript", "image/svg+xml", "application/json"):
            mime += "; charset=utf-8"
        keep = len(raw) <= MEMORY_MAX
        variants = {"identity": _Variant(str(path), len(raw), raw if keep else None)}
        for encoding, cached in _compressed(self.cache_dir, version, path.suffix.lower(), raw).items():
            data = cached.read_bytes()
            variants[encoding] = _Variant(str(cached), len(data), data if keep else None)
        return _File(str(path), _stamp(st), version, mime, variants)

    def _bundle(self, name: str, parts: tuple[str, ...]) -> _File:
        """One file made of `parts` (each as it is, its source-map comment left out: the map is not served under
        the bundle's name), kept in memory; its stamp is the parts' stamps, so an edited part is noticed."""
        chunks: list[bytes] = []
        stamps: list[tuple[int, int]] = []
        for part in parts:
            entry = self._current(part)
            if entry is None:
                raise FileNotFoundError(f"static bundle {name}: no static/{part}")
            stamps.append(entry.stamp)
            raw = Path(entry.source).read_bytes()
            lines = [ln for ln in raw.split(b"\n") if not ln.startswith(SOURCE_MAP)]
            chunks.append(f"/* {part} */\n".encode() + b"\n".join(lines).rstrip() + b"\n")
        # Between scripts a ";" ends a statement left open; between styles nothing is needed.
        raw = (b";\n" if name.endswith(".js") else b"").join(chunks)
        version = hashlib.sha256(raw).hexdigest()[:HASH_LEN]
        mime = (mimetypes.guess_type(name)[0] or "application/octet-stream") + "; charset=utf-8"
        variants = {"identity": _Variant("", len(raw), raw)}
        for encoding, cached in _compressed(self.cache_dir, version, Path(name).suffix, raw).items():
            data = cached.read_bytes()
            variants[encoding] = _Variant(str(cached), len(data), data)
        return _File("", (hash(tuple(stamps)), len(raw)), version, mime, variants)

    def _bundle_stamp(self, parts: tuple[str, ...]) -> tuple[int, int] | None:
        stamps = []
        for part in parts:
            entry = self._files.get(part)
            if entry is None:
                return None
            try:
                stamps.append(_stamp(os.stat(entry.source)))
            except OSError:
                return None
        return hash(tuple(stamps)), 0

    def version(self, filename: str) -> str | None:
        """The content hash `url_for('static', filename=…)` puts in the URL (None for a file not there at start)."""
        entry = self._files.get(filename)
        return entry.version if entry is not None else None

    def _current(self, name: str) -> _File | None:
        """The file's entry, hashed again if it changed on disk since (a developer's edit); None if it is gone."""
        entry = self._files.get(name)
        if entry is None:
            return None
        parts = self._bundles.get(name)
        if parts is not None:
            now = self._bundle_stamp(parts)
            if now is None:
                return None
            if now[0] != entry.stamp[0]:
                entry = self._bundle(name, parts)
                with self._lock:
                    self._files[name] = entry
            return entry
        try:
            st = os.stat(entry.source)
        except OSError:
            return None
        if _stamp(st) != entry.stamp:
            entry = self._load(name, Path(entry.source))
            with self._lock:
                self._files[name] = entry
        return entry

    # -- the requests ----------------------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if not path.startswith(PREFIX) or method not in ("GET", "HEAD"):
            return self.app(environ, start_response)
        entry = self._current(path[len(PREFIX):])
        if entry is None:
            return self.app(environ, start_response)  # Flask answers 404 (or a file added since the start)
        time.sleep(0)  # take turns with the other phones (web/pagefiles.py says why)
        query = environ.get("QUERY_STRING", "")
        cache_control = IMMUTABLE if query == "v=" + entry.version else REVALIDATE
        accepted = environ.get("HTTP_ACCEPT_ENCODING", "")
        encoding = "identity"
        for candidate in ("br", "gzip"):
            if candidate in entry.variants and candidate in accepted:
                encoding = candidate
                break
        variant = entry.variants[encoding]
        tag = f'"{entry.version}-{encoding}"'
        headers = [("Cache-Control", cache_control), ("ETag", tag), ("X-Content-Type-Options", "nosniff")]
        if len(entry.variants) > 1:
            headers.append(("Vary", "Accept-Encoding"))
        inm = environ.get("HTTP_IF_NONE_MATCH")
        if inm and (tag in inm or inm.strip() == "*"):
            start_response("304 Not Modified", headers)
            return []
        body = variant.body
        if body is None and method == "GET":
            try:
                with open(variant.path, "rb") as f:
                    body = f.read()
            except OSError:
                return self.app(environ, start_response)
        headers += [("Content-Type", entry.mime), ("Content-Length", str(variant.size))]
        if encoding != "identity":
            headers.append(("Content-Encoding", encoding))
        start_response("200 OK", headers)
        return [b""] if method == "HEAD" else [body or b""]
