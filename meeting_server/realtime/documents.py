"""Page sync: the presenter's `present`, the chair's `present.grant`, and the live progress of uploads.

`presented` is the hot path of the meeting room: one emit to the meeting room with a small payload, the same bytes
for every client; only a confidential document splits it by role room (whoever may not see it gets document_id null).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask

from meeting_server.documents import STANDARD_WIDTHS, Priority
from meeting_server.domain import payload
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.realtime import announce
from meeting_server.realtime.registry import fast_socket_event, socket_event
from meeting_server.services import documents, meetings
from meeting_server.services.unit import Change
from meeting_server.store import db
from meeting_server.store.prepared import DBConn
from meeting_server.store.tables import Document

log = logging.getLogger(__name__)


def _socketio() -> Any:
    from meeting_server.extensions import socketio

    return socketio




@fast_socket_event("present", requires=Permission.DOCUMENT_READ)
def on_present(app: Flask, conn: DBConn, who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the presenter (chair, clerk, or the delegate the chair handed it to) with {document_id, page} and,
    for ◀ ▶, `step` (±1: move from the page the server has stored, when the room shows that document, so quick taps
    each move one page; `page` is shown otherwise); every screen of the meeting receives `presented`.
    `document_id` null returns the projector to its idle screen.
    Permission: DOCUMENT_PRESENT, or the presenter grant (checked in services.documents.present).

    The room's hot path: no Flask request context and no ORM Session for another page of the document already
    shown (registry.fast_socket_event, documents.turn), a commit without fsync, and the broadcast before
    anything else. Another document goes through the Session, since the audit log keeps it."""
    fields = payload.fields(data)
    document_id = payload.integer(fields, "document_id", allow_none=True)
    page = payload.integer(fields, "page", default=1) if document_id is not None else 1
    projector = payload.flag(fields, "projector", default=None)
    step = payload.integer(fields, "step", allow_none=True)
    assert page is not None
    presented = documents.turn(app, conn, who.meeting_id, who, document_id, page, projector, step)
    announce.presented(presented)
    _socketio().sleep(0)  # let the page go out to every screen before the rest of this handler
    if presented.content_hash is not None:
        _warm(app, presented.content_hash, presented.page, presented.page_count)
    return {"ok": True, "seq": presented.seq}


def _warm(app: Flask, content_hash: str, page: int, page_count: int) -> None:
    """Put the presented page at the front of the render queue, and the next one after it."""
    p = documents.pool(app)
    path = documents.pdf_path(app, content_hash)
    for width in STANDARD_WIDTHS:
        p.submit_render(path, content_hash, page - 1, width, priority=Priority.HIGH)
    if page < page_count:
        p.submit_render(path, content_hash, page, STANDARD_WIDTHS[0], priority=Priority.NORMAL)


@socket_event("present.grant", requires=Permission.AGENDA_CONTROL)
def on_grant(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair to hand presenting to a delegate ({participant_id}) or take it back (null);
    every screen gets a fresh `state`."""
    pid = payload.integer(payload.fields(data), "participant_id", allow_none=True)
    s = db.session()
    change = documents.grant(s, meetings.get(s, who.meeting_id), pid, who.actor)
    announce.announce(change)
    return {"ok": True, "seq": change.seq}


def start_processing(app: Flask, document_id: int, password: str | None = None) -> None:
    """Process an upload in a background green thread; clerk screens get `document` progress, everyone a new
    `state` once it is ready or failed."""

    def notify(_kind: str, doc: Document, change: Change | None) -> None:
        announce.document_progress(doc)
        announce.announce(change)  # ready or failed: every role its list

    def run() -> None:
        with app.app_context():
            try:
                documents.process(app, document_id, notify, password=password)
            except Exception:
                log.exception("document %s: processing crashed", document_id)

    _socketio().start_background_task(run)
