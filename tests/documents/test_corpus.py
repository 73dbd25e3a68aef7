"""Every file of the bad-PDF corpus goes through the pool: it ends ready or refused in Vietnamese, never hangs."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from meeting_server.documents import INGEST_CODES, DocInfo, IngestError, RenderPool
from tests.documents.conftest import CORPUS, SAMPLES, is_vietnamese


def outcome(pool: RenderPool, path: Path, out_dir: Path) -> DocInfo | IngestError:
    try:
        return pool.inspect(path, pdf_out=out_dir / (path.name + ".derived.pdf"))
    except IngestError as error:
        return error


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_file_ends_ready_or_refused(pool: RenderPool, path: Path, tmp_path: Path) -> None:
    result = outcome(pool, path, tmp_path)
    if isinstance(result, IngestError):
        assert result.code in INGEST_CODES
        assert is_vietnamese(result.message), result.message
        return
    assert result.page_count >= 1 and len(result.page_texts) == result.page_count
    try:
        image_path = pool.render(result.pdf_path, result.content_hash, 0, 720)
    except IngestError as error:  # the file opened but its first page cannot be drawn
        assert error.code in INGEST_CODES and is_vietnamese(error.message)
        return
    with Image.open(image_path) as image:
        assert image.format == "WEBP" and image.width == 720


EXPECTED = {
    # Need a user password to open.
    "issue6010_2.pdf": "doc.encrypted",
    "print_protection.pdf": "doc.encrypted",
    # Structurally sound files whose page tree holds no reachable page.
    "GHOSTSCRIPT-698804-1-fuzzed.pdf": "doc.empty",
    "issue18986.pdf": "doc.empty",
    "poppler-91414-0-53.pdf": "doc.empty",
    # MuPDF had to rebuild the cross-reference table and still found no page.
    "REDHAT-1531897-0.pdf": "doc.damaged",
    "issue9418.pdf": "doc.damaged",
    # Odd but usable: an owner-password-only file, broken xrefs MuPDF repairs, a 4000 pt wide page.
    "empty_protected.pdf": 1,
    "xref_command_missing.pdf": 1,
    "scan-bad.pdf": 1,
    "tiling-pattern-large-steps.pdf": 1,
    "outlines_for_editor.pdf": 5,
    "bug1708041.pdf": 6,
    "doc_1_3_pages.pdf": 3,
}


@pytest.mark.parametrize("name, expected", sorted(EXPECTED.items()))
def test_known_corpus_files_have_the_expected_outcome(
    pool: RenderPool, name: str, expected: str | int, tmp_path: Path
) -> None:
    result = outcome(pool, SAMPLES / "pdf-corpus" / name, tmp_path)
    if isinstance(expected, str):
        assert isinstance(result, IngestError) and result.code == expected
    else:
        assert isinstance(result, DocInfo) and result.page_count == expected
