"""A document's pages go into the search index without the server's loop doing the CPU work: the worker that read
the text folds it (a 300-page upload's 0.5 million characters take 60 ms to fold, which on the loop would hold every
phone's page turn), and a second upload of the same bytes copies its twin's folded rows in SQL."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pymupdf
import pytest
from sqlalchemy import select, text

from meeting_server.documents.textsearch import fold_vietnamese
from meeting_server.services import documents
from meeting_server.store import db
from meeting_server.store.tables import Document, DocumentPage
from tests.documents.conftest import VI_SAMPLES
from tests.services.upload_kit import close_lanes, process_upload


def _on_the_loop(_text: str) -> str:
    raise AssertionError("page text folded in the server's process")


@pytest.fixture
def processed(app: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Upload and process documents in-process with a real render pool, the server side unable to fold."""
    monkeypatch.setattr(documents, "fold_vietnamese", _on_the_loop)
    monkeypatch.setattr(documents, "pre_render", lambda *a, **k: None)  # page images are not what is tested

    def run(path: Any, name: str) -> int:
        doc_id, said = process_upload(app, path, name)
        assert said[-1] == "ready", said
        return doc_id

    yield run
    close_lanes(app)


def _index(app: Any, doc_id: int) -> dict[int, str]:
    with db.standalone_session(app) as s:
        return {int(p): f for f, p in s.execute(text(
            "SELECT folded, page_no FROM document_page_fts WHERE document_id = :d"), {"d": doc_id})}


def test_pages_are_indexed_folded_by_the_worker(app: Any, processed: Any) -> None:
    sample = VI_SAMPLES[0]
    doc_id = processed(sample, "ke-hoach.pdf")
    with db.standalone_session(app) as s:
        stored = {int(no): str(t) for no, t in s.execute(select(DocumentPage.page_no, DocumentPage.text)
                                                            .where(DocumentPage.document_id == doc_id))}
    assert len(stored) == pymupdf.open(sample).page_count
    # What the worker folded is what the server would have: "chuyển đổi số" is found as "chuyen doi so".
    assert _index(app, doc_id) == {no: fold_vietnamese(t) for no, t in stored.items()}
    assert any("chuyen doi so" in f for f in _index(app, doc_id).values())


def test_the_same_bytes_again_copy_their_twins_index(app: Any, processed: Any) -> None:
    sample = VI_SAMPLES[1]
    first = processed(sample, "a.pdf")
    second = processed(sample, "b.pdf")  # its twin is ready: nothing is read again, nothing folded
    assert second != first
    assert _index(app, second) == _index(app, first) != {}
    with db.standalone_session(app) as s:
        a, b = s.get(Document, first), s.get(Document, second)
        assert a is not None and b is not None and a.page_count == b.page_count > 0
