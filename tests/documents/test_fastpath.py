"""The signed page URL rule (documents/fastpath.py): what the signature covers, what it refuses, and that the fast
path's own file names are the render cache's."""

from __future__ import annotations

from pathlib import Path

from meeting_server.documents import cache_path
from meeting_server.documents.fastpath import (
    PATH,
    SIG_CHARS,
    derive_key,
    etag,
    file_path,
    marker_path,
    page_url,
    signature,
    url_template,
    verify,
)

H = "ab" * 32
OTHER = "cd" * 32
KEY = derive_key("0123456789abcdef" * 4)


def test_the_url_names_document_hash_page_width_format_and_carries_a_short_signature() -> None:
    url = page_url(KEY, 7, H, 3, 720, "webp")
    path, _, query = url.partition("?")
    assert path == f"/pages/7/{H}/3-w720.webp"
    assert query.startswith("s=") and len(query) == 2 + SIG_CHARS
    assert PATH.match(path).groups() == ("7", H, "3", "720", "webp")  # type: ignore[union-attr]
    assert url_template(KEY, 7, H).format(page=3, width=720, fmt="webp") == url


def test_the_signature_is_the_same_for_everyone_and_bound_to_document_and_bytes() -> None:
    sig = signature(KEY, 7, H)
    assert signature(KEY, 7, H) == sig  # stable: one URL per page for every card, so browser caches are shared
    assert verify(KEY, 7, H, sig)
    assert not verify(KEY, 8, H, sig)  # another document
    assert not verify(KEY, 7, OTHER, sig)  # other bytes
    assert not verify(derive_key("another server's secret"), 7, H, sig)
    assert derive_key("s") != derive_key(b"t") and derive_key("s") == derive_key(b"s")


def test_tampered_short_long_empty_or_non_ascii_signatures_are_refused() -> None:
    sig = signature(KEY, 7, H)
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    for bad in (flipped, sig[:-1], sig + "A", "", None, "đ" * SIG_CHARS, sig.upper() if sig != sig.upper() else "x"):
        assert not verify(KEY, 7, H, bad), bad


def test_only_standard_widths_and_formats_and_positive_pages_match() -> None:
    for path in (f"/pages/7/{H}/0-w720.webp", f"/pages/7/{H}/1-w800.webp", f"/pages/7/{H}/1-w720.png",
                 f"/pages/0/{H}/1-w720.webp", f"/pages/7/{H[:-1]}/1-w720.webp", f"/pages/7/{H.upper()}/1-w720.webp",
                 f"/pages/7/{H}/1-w720.webp/x", f"/pages/7/../{H}/1-w720.webp"):
        assert PATH.match(path) is None, path
    assert PATH.match(f"/pages/7/{H}/12-w1600.jpeg")


def test_fast_path_file_names_are_the_render_caches(tmp_path: Path) -> None:
    marker, image = file_path(str(tmp_path), "7", H, "3", "1600", "jpeg")
    assert Path(image) == cache_path(tmp_path, H, 2, 1600, "jpeg")
    assert Path(marker) == marker_path(tmp_path, 7, H)
    assert Path(marker).parent == Path(image).parent and Path(marker).name == ".public-7"


def test_etag_is_the_one_the_authenticated_route_always_gave() -> None:
    assert etag(H, 3, 720, "webp") == f'"{H[:20]}-3-720-webp"'
