"""A real upload processed in-process: stored, its row created on the demo meeting, then `documents.process` run to
its end with the app's real worker pools (closed again by `close_lanes`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from meeting_server.services import documents, meetings
from meeting_server.store import db


def process_upload(app: Any, path: Path, name: str) -> tuple[int, list[str]]:
    """(the document's id, the kinds `process` notified in order: "ready", "progress", …)."""
    with db.standalone_session(app) as s:
        m = meetings.current(s)
        assert m is not None
        with open(path, "rb") as f:
            up = documents.store_upload(app, f, 50 << 20)
        doc = documents.create(s, m, up, name, "application/pdf", item_id=None, confidential=False,
                               downloadable=True, actor="clerk:test").value
        doc_id = int(doc.id)
    said: list[str] = []
    documents.process(app, doc_id, lambda kind, _doc, _change: said.append(kind))
    return doc_id, said


def close_lanes(app: Any) -> None:
    """Stop the worker pools the processing started."""
    for lane in ("render_pool", "ahead_pool", "convert_pool"):
        if lane in app.extensions:
            app.extensions[lane].close()
