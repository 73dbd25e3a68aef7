"""The one module that tells the screens: a use case's `Change` (services/unit.py) becomes the Socket.IO emits of
docs/PROTOCOL.md, each role getting only what it may see, every emit carrying the change's `seq`.

Handlers in web/ and realtime/ are parse → call the service → `announce(change)` → reply. The page turn's
`presented` (the room's hot path) and the clerk's upload progress (`document`, no seq) have their own functions here.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain.documents import document_rights
from meeting_server.domain.permissions import SCREEN_ROLES, Permission, Role
from meeting_server.domain.principal import Principal
from meeting_server.realtime import rooms
from meeting_server.services import attendance, documents, questions, signing, snapshot, speakers, voting
from meeting_server.services.unit import Change
from meeting_server.store import db
from meeting_server.store.tables import Document, Meeting, Participant, Poll

log = logging.getLogger(__name__)


def _socketio() -> Any:
    from meeting_server.extensions import socketio

    return socketio


def announce(change: Change | None) -> None:
    """Tell every screen of the meeting what `change` changed (nothing for None: the use case changed nothing).

    Called after the commit, in an app context (a request, an event, or a background task's `app.app_context()`).
    What the payloads need is read in a session of its own, closed at once: a background task holds no read
    transaction afterwards.
    """
    if change is None:
        return
    if change.revoked:
        from meeting_server.realtime.registry import disconnect_participant

        for participant_id in change.revoked:
            disconnect_participant(participant_id)
    if (change.state or change.attendance or change.documents or change.speakers or change.questions
            or change.poll_event
            or change.minutes_signing):
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        with db.standalone_session(app) as s:
            m = s.get(Meeting, change.meeting_id)
            if m is None:  # removed since: nobody to tell
                return
            if change.state:
                _state(s, m, change.people)
            if change.attendance:
                _attendance(m, change.seq)
            if change.documents:
                _documents(s, m, change.seq)
            if change.speakers:
                _speakers(m)
            if change.questions:
                _questions(m)
            if change.poll_event is not None:
                assert change.poll_id is not None
                _poll(s, change.meeting_id, change.seq, change.poll_id, change.poll_event)
            if change.minutes_signing:
                _minutes_signing(app, s, m)
    if change.progress is not None:
        voted, eligible = change.progress
        _socketio().emit("poll.progress", {"poll_id": change.poll_id, "voted": voted, "eligible": eligible,
                                           "seq": change.seq}, to=rooms.meeting(change.meeting_id))


def _state(s: Session, m: Meeting, people: tuple[int, ...] = ()) -> None:
    """A fresh snapshot per role (heading, agenda, current item, status, presenter, minutes).

    The `state` event carries everything a role may see; personal parts (`me`) are kept by the client from its own
    earlier snapshot, so a single emit per role room suffices. `people` are participants whose own part changed
    too (presenting handed to or taken from them): each then gets their whole `state`, `me` included, in their
    participant room, after their role's (same seq, so it is taken).
    """
    sio = _socketio()
    for role in SCREEN_ROLES:
        state = snapshot.build(m, Principal(role, m.id))
        state.pop("me", None)
        sio.emit("state", state, to=rooms.role(m.id, role))
    for pid in people:
        p = s.get(Participant, pid)
        if p is not None and p.meeting_id == m.id:
            who = Principal(Role(p.role), m.id, p.id, p.full_name)
            sio.emit("state", snapshot.build(m, who), to=rooms.participant(p.id))


def _attendance(m: Meeting, seq: int) -> None:
    """Counts to everyone, the named list to roles that may see names."""
    sio = _socketio()
    payload: dict[str, Any] = {"seq": seq, "attendance": attendance.summary(m).to_dict()}
    detail = dict(payload, attendees=attendance.roster(m))
    for role in SCREEN_ROLES:
        who = Principal(role, m.id)
        sio.emit("attendance", detail if who.can(Permission.ATTENDANCE_SEE_NAMES) else payload,
                 to=rooms.role(m.id, role))


def _documents(s: Session, m: Meeting, seq: int) -> None:
    """The list each role may see, with the seq.

    Lighter than a full `state` per role (no attendance), which matters while the clerk uploads a hundred files.
    """
    sio = _socketio()
    docs = list(s.scalars(select(Document).where(Document.meeting_id == m.id).order_by(Document.position, Document.id)))
    for role in SCREEN_ROLES:
        listing = documents.listing(s, Principal(role, m.id), docs)
        sio.emit("documents", {"seq": seq, "documents": listing}, to=rooms.role(m.id, role))


def _speakers(m: Meeting) -> None:
    """The speakers' list to the whole meeting room: it is public in the hall, the same for every role."""
    _socketio().emit("speakers", speakers.speakers_state(m), to=rooms.meeting(m.id))


def _questions(m: Meeting) -> None:
    """Question time to the whole meeting room: public in the hall, the same for every role."""
    _socketio().emit("questions", questions.questions_state(m), to=rooms.meeting(m.id))


def _minutes_signing(app: Any, s: Session, m: Meeting) -> None:
    """The signing step, to every screen of the meeting (the clerk's, the secretary's and the chair's show "Chờ thư
    ký ký", "Chờ chủ tọa ký", "Đã ký"): what anyone in the room may know of it, no key or PIN state."""
    st = signing.state(app, s, m)
    public = {k: st[k] for k in ("meeting_id", "version", "status", "stage", "label", "prepared_sha256", "pages",
                                 "current_sha256")}
    public["steps"] = [{k: step[k] for k in ("role", "signer_name", "status", "method", "signed_at")}
                       for step in st["steps"]]
    _socketio().emit("minutes.signing", public, to=rooms.meeting(m.id))


def _poll(s: Session, meeting_id: int, seq: int, poll_id: int, event: str) -> None:
    """Each role room gets the poll as that role may see it (drafts only to managers, names only to some)."""
    sio = _socketio()
    p = s.get(Poll, poll_id)
    assert p is not None
    views: dict[tuple[bool, bool], dict[str, Any] | None] = {}
    for role in SCREEN_ROLES:
        who = Principal(role, meeting_id)
        # Roles differ only in whether they see drafts and names: build each distinct view once.
        cls = (who.can(Permission.VOTE_MANAGE), who.can(Permission.VOTE_SEE_NAMES))
        if cls not in views:
            visible = p.state != "draft" or cls[0]
            views[cls] = voting.view(s, p, who) if visible else None
        sio.emit("poll", {"event": event, "seq": seq, "poll": views[cls]}, to=rooms.role(meeting_id, role))


def presented(p: documents.Presented) -> None:
    """The page turn (hot path): tell every screen which page is shown; `ts` is the server's clock in ms at sending.

    One emit to the meeting room, the same bytes for every client; only a confidential document splits it by role
    room (whoever may not see it gets document_id null).
    """
    sio = _socketio()
    ts = int(time.time() * 1000)
    if not p.confidential:
        sio.emit("presented", documents.presented_payload(p, ts), to=rooms.meeting(p.meeting_id))
        return
    shown = documents.presented_payload(p, ts)
    hidden = documents.presented_payload(p, ts, visible_doc=False)
    for role in SCREEN_ROLES:
        sees = document_rights(role, confidential=True, on_projector=p.on_projector).see
        sio.emit("presented", shown if sees else hidden, to=rooms.role(p.meeting_id, role))


def comments(meeting_id: int, counts: dict[str, int]) -> None:
    """`comments` {total, pending} to those who see every comment (the clerk's console, the drafting body's page),
    after a comment is posted or answered: counts only, each page fetches what its person may see."""
    _socketio().emit("comments", {"total": counts["total"], "pending": counts["pending"]},
                     to=rooms.comments(meeting_id))


def document_progress(doc: Document) -> None:
    """The `document` progress event of an upload being processed, for clerk screens (no seq: it changes nothing
    a screen keeps)."""
    _socketio().emit("document", {
        "id": doc.id, "status": doc.status, "page_count": doc.page_count, "pages_rendered": doc.pages_rendered,
        "title": doc.title, "error": {"code": doc.failure_code, "message": doc.failure_message}
        if doc.status == "failed" else None}, to=rooms.role(doc.meeting_id, Role.CLERK))
