"""Page sync: the presenter's `present`, the chair's `present.grant`, and the live progress of uploads.

`presented` is the hot path of the meeting room: one emit to the meeting room with a small payload, the same bytes
for every client; only a confidential document splits it by role room (whoever may not see it gets document_id null).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import Flask

from meeting_server.documents import STANDARD_WIDTHS, Priority
from meeting_server.domain import payload
from meeting_server.domain.documents import document_rights
from meeting_server.domain.permissions import Permission, Role
from meeting_server.domain.principal import Principal
from meeting_server.realtime import broadcast, rooms
from meeting_server.realtime.registry import fast_socket_event, socket_event
from meeting_server.services import documents, meetings
from meeting_server.store import db
from meeting_server.store.prepared import DBConn
from meeting_server.store.tables import Document, Meeting

log = logging.getLogger(__name__)


def _socketio() -> Any:
    from meeting_server.extensions import socketio

    return socketio


def send_presented(p: documents.Presented) -> None:
    """Tell every screen of the meeting which page is shown; `ts` is the server's clock in ms at sending."""
    sio = _socketio()
    ts = int(time.time() * 1000)
    if not p.confidential:
        sio.emit("presented", documents.presented_payload(p, ts), to=rooms.meeting(p.meeting_id))
        return
    shown = documents.presented_payload(p, ts)
    hidden = documents.presented_payload(p, ts, visible_doc=False)
    for role in Role:
        sees = document_rights(role, confidential=True, on_projector=p.on_projector).see
        sio.emit("presented", shown if sees else hidden, to=rooms.role(p.meeting_id, role))


@fast_socket_event("present", requires=Permission.DOCUMENT_READ)
def on_present(app: Flask, conn: DBConn, who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the presenter (chair, clerk, or the delegate the chair handed it to) with {document_id, page};
    every screen of the meeting receives `presented`. `document_id` null returns the projector to its idle screen.
    Permission: DOCUMENT_PRESENT, or the presenter grant (checked in services.documents.present).

    The room's hot path: no Flask request context and no ORM Session for another page of the document already
    shown (registry.fast_socket_event, documents.turn_page), a commit without fsync, and the broadcast before
    anything else. Another document goes through the Session, since the audit log keeps it."""
    fields = payload.fields(data)
    document_id = payload.integer(fields, "document_id", allow_none=True)
    page = payload.integer(fields, "page", default=1) if document_id is not None else 1
    projector = payload.flag(fields, "projector", default=None)
    assert page is not None
    db.relax_durability(conn)  # a page turn decides nothing: no fsync before every screen turns
    presented = documents.turn_page(conn, who.meeting_id, who, document_id, page, projector)
    if presented is not None:
        conn.commit()
    else:
        with db.standalone_session(app) as s:
            db.relax_durability(s)
            presented = documents.present(s, who.meeting_id, who, document_id, page, projector)
            s.commit()
    send_presented(presented)
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
    m = meetings.get(s, who.meeting_id)
    handover = documents.grant(s, m, pid, who.actor)
    s.commit()
    broadcast.meeting_changed(m, handover.people)
    return {"ok": True, "seq": m.seq}


def documents_changed(s: Any, m: Meeting) -> None:
    """After an upload, a document ready or failed, or a clerk's change: the list each role may see, with the seq.

    Lighter than a full `state` per role (no attendance), which matters while the clerk uploads a hundred files.
    """
    from sqlalchemy import select

    sio = _socketio()
    docs = list(s.scalars(select(Document).where(Document.meeting_id == m.id).order_by(Document.position, Document.id)))
    for role in Role:
        listing = documents.listing(s, Principal(role, m.id), docs)
        sio.emit("documents", {"seq": m.seq, "documents": listing}, to=rooms.role(m.id, role))


def document_event(doc: Document) -> dict[str, Any]:
    """The `document` progress event for clerk screens."""
    return {"id": doc.id, "status": doc.status, "page_count": doc.page_count, "pages_rendered": doc.pages_rendered,
            "title": doc.title, "error": {"code": doc.failure_code, "message": doc.failure_message}
            if doc.status == "failed" else None}


def start_processing(app: Flask, document_id: int, password: str | None = None) -> None:
    """Process an upload in a background green thread; clerk screens get `document` progress, everyone a new
    `state` once it is ready or failed."""

    def notify(kind: str, doc: Document) -> None:
        sio = _socketio()
        sio.emit("document", document_event(doc), to=rooms.role(doc.meeting_id, Role.CLERK))
        if kind in ("ready", "failed"):
            with db.standalone_session(app) as s:
                m = s.get(Meeting, doc.meeting_id)
                if m is not None:
                    documents_changed(s, m)

    def run() -> None:
        with app.app_context():
            try:
                documents.process(app, document_id, notify, password=password)
            except Exception:
                log.exception("document %s: processing crashed", document_id)

    _socketio().start_background_task(run)
