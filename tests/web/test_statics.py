"""Static files: compressed once, versioned URLs cached for a year, unversioned ones still answered (web/statics.py)."""

from __future__ import annotations

import gzip
import re
from pathlib import Path
from typing import Any

import pytest

from meeting_server.web.statics import BUNDLES, IMMUTABLE, REVALIDATE, StaticFiles

ROOT = Path(__file__).resolve().parent.parent.parent
STATIC = ROOT / "static"


@pytest.mark.parametrize("role", ["delegate", "chair", "kiosk", "clerk"])
def test_every_static_url_on_a_page_carries_its_content_hash(login: Any, role: str) -> None:
    client = login(role)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    urls = re.findall(r'(?:src|href|data-later)="(/static/[^"]+)"', html)
    # The phone's page asks for its three bundles (the later one through live.js), the others for the files.
    wanted = "bundle/delegate-first.js" if role == "delegate" else "socket.io.min.js"
    assert any(wanted in u for u in urls) or role == "clerk"
    if role == "delegate":
        assert sorted(u.split("?")[0] for u in urls if "/bundle/" in u) == sorted("/static/" + b for b in BUNDLES)
        assert not [u for u in urls if "/js/" in u or "/css/" in u or "socket.io" in u]
    assert urls
    for url in urls:
        assert re.search(r"\?v=[0-9a-f]{12}$", url), url
        r = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert r.status_code == 200, url
        assert r.headers["Cache-Control"] == IMMUTABLE, url


def test_a_script_is_sent_compressed_and_unchanged(login: Any) -> None:
    client = login("chair")
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    url = re.search(r'src="(/static/vendor/socket\.io/socket\.io\.min\.js\?v=[0-9a-f]+)"', html)
    assert url
    r = client.get(url.group(1), headers={"Accept-Encoding": "gzip, deflate"})
    assert r.headers["Content-Encoding"] == "gzip"
    assert r.headers["Vary"] == "Accept-Encoding"
    assert r.headers["Content-Type"].startswith("text/javascript")
    original = (STATIC / "vendor/socket.io/socket.io.min.js").read_bytes()
    assert gzip.decompress(r.data) == original
    assert int(r.headers["Content-Length"]) == len(r.data) < len(original) // 2
    # A browser that accepts nothing compressed gets the file itself.
    plain = client.get(url.group(1))
    assert "Content-Encoding" not in plain.headers and plain.data == original


def test_unversioned_and_stale_urls_still_work_but_are_revalidated(app: Any) -> None:
    client = app.test_client()
    original = (STATIC / "js/live.js").read_bytes()
    for url in ("/static/js/live.js", "/static/js/live.js?v=000000000000"):
        r = client.get(url)
        assert r.status_code == 200 and r.data == original
        assert r.headers["Cache-Control"] == REVALIDATE
        again = client.get(url, headers={"If-None-Match": r.headers["ETag"]})
        assert again.status_code == 304 and again.data == b""
    assert client.get("/static/js/nothing-here.js").status_code == 404
    assert client.get("/static/../meeting_server/app.py").status_code == 404


def test_a_bundle_is_its_parts_in_order_versioned_compressed_and_made_again_when_a_part_changes(
        tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "js").mkdir(parents=True)
    (static / "js" / "a.js").write_text("var a = 1;\n" * 100 + "//# sourceMappingURL=a.js.map\n")
    (static / "js" / "b.js").write_text("var b = a + 1\n" * 100)  # no final ";": the bundle adds one between
    files = StaticFiles(lambda environ, start: [b"flask"], static, tmp_path / "cache",
                        {"bundle/ab.js": ("js/a.js", "js/b.js")})

    def get(path: str, query: str = "") -> tuple[str, dict[str, str], bytes]:
        seen: dict[str, Any] = {}

        def start(status: str, hdrs: list[tuple[str, str]]) -> None:
            seen["status"], seen["headers"] = status, dict(hdrs)

        body = b"".join(files({"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": query,
                               "HTTP_ACCEPT_ENCODING": "gzip"}, start))
        return seen["status"], seen["headers"], body

    version = files.version("bundle/ab.js")
    assert version and re.fullmatch(r"[0-9a-f]{12}", version)
    status, headers, body = get("/static/bundle/ab.js", "v=" + version)
    assert status == "200 OK" and headers["Cache-Control"] == IMMUTABLE and headers["Content-Encoding"] == "gzip"
    assert headers["Content-Type"].startswith("text/javascript")
    text = gzip.decompress(body).decode()
    assert text.index("var a = 1;") < text.index("var b = a + 1") and "sourceMappingURL" not in text
    assert "var a = 1;\n;\n/* js/b.js */" in text
    # A part edited on disk (a developer's change) makes the bundle again, under a new version.
    (static / "js" / "b.js").write_text("var b = 2;\n" * 100)
    status, headers, body = get("/static/bundle/ab.js")
    assert "var b = 2;" in gzip.decompress(body).decode() and files.version("bundle/ab.js") != version
    assert headers["Cache-Control"] == REVALIDATE


def test_the_real_bundles_parse_as_the_parts_they_join(app: Any) -> None:
    client = app.test_client()
    statics = app.extensions["static_files"]
    for name, parts in BUNDLES.items():
        r = client.get(f"/static/{name}?v={statics.version(name)}")
        assert r.status_code == 200 and r.headers["Cache-Control"] == IMMUTABLE, name
        body = r.get_data(as_text=True)
        for part in parts:  # each part whole, in order
            src = (STATIC / part).read_text()
            first = next(ln for ln in src.splitlines() if ln.strip() and "sourceMappingURL" not in ln)
            assert first in body, (name, part)
        positions = [body.index(f"/* {part} */") for part in parts]
        assert positions == sorted(positions), name


def test_compressed_formats_are_not_compressed_again_and_the_cache_is_reused(tmp_path: Path) -> None:
    static = tmp_path / "static"
    (static / "fonts").mkdir(parents=True)
    woff2 = bytes(range(256)) * 40
    (static / "fonts" / "a.woff2").write_bytes(woff2)
    (static / "app.css").write_text("body { color: black; }\n" * 200)
    cache = tmp_path / "cache"
    files = StaticFiles(lambda environ, start: [b"flask"], static, cache)
    assert ".gz" in {p.suffix for p in cache.iterdir()}
    assert not [p for p in cache.iterdir() if ".woff2" in p.name]

    def get(path: str, **headers: str) -> tuple[str, dict[str, str], bytes]:
        seen: dict[str, Any] = {}

        def start(status: str, hdrs: list[tuple[str, str]]) -> None:
            seen["status"], seen["headers"] = status, dict(hdrs)

        environ = {"PATH_INFO": path, "REQUEST_METHOD": "GET", "QUERY_STRING": "",
                   **{"HTTP_" + k.upper(): v for k, v in headers.items()}}
        body = b"".join(files(environ, start))
        return seen.get("status", ""), seen.get("headers", {}), body

    status, headers, body = get("/static/fonts/a.woff2", accept_encoding="gzip, br")
    assert status == "200 OK" and "Content-Encoding" not in headers and body == woff2
    status, headers, body = get("/static/app.css", accept_encoding="gzip")
    assert headers["Content-Encoding"] == "gzip" and gzip.decompress(body).startswith(b"body")
    # A second server on the same cache finds the copies made: nothing is written again.
    before = {p.name: p.stat().st_mtime_ns for p in cache.iterdir()}
    StaticFiles(lambda environ, start: [b"flask"], static, cache)
    assert {p.name: p.stat().st_mtime_ns for p in cache.iterdir()} == before
    # A file edited on disk after the start is hashed and served anew.
    (static / "app.css").write_text("body { color: red; }\n" * 200)
    status, headers, body = get("/static/app.css", accept_encoding="gzip")
    assert gzip.decompress(body).startswith(b"body { color: red")
    assert files.version("app.css") in headers["ETag"]


def test_a_page_is_sent_compressed_to_a_browser_that_accepts_it(login: Any) -> None:
    client = login("delegate")
    plain = client.get("/", follow_redirects=True)
    r = client.get(plain.request.path, headers={"Accept-Encoding": "gzip, deflate, br"})
    assert r.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in r.headers["Vary"]
    page = gzip.decompress(r.data).decode()
    assert page.startswith("<!doctype html>") and 'data-bind="agenda"' in page
    assert "Content-Encoding" not in plain.headers


def test_a_cache_that_cannot_be_written_leaves_the_files_uncompressed_not_the_server_down(tmp_path: Path) -> None:
    static = tmp_path / "static"
    static.mkdir()
    (static / "app.js").write_text("var a = 1;\n" * 300)
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache directory should be")  # as a full or read-only disk refuses
    files = StaticFiles(lambda environ, start: [b"flask"], static, blocked)
    seen: list[Any] = []
    body = b"".join(files({"PATH_INFO": "/static/app.js", "REQUEST_METHOD": "GET", "QUERY_STRING": "",
                           "HTTP_ACCEPT_ENCODING": "gzip"}, lambda status, headers: seen.append((status, headers))))
    assert seen[0][0] == "200 OK" and "Content-Encoding" not in dict(seen[0][1])
    assert body == (static / "app.js").read_bytes()
