"""The projector follows the agenda (issue 21): moving to another item or opening a vote takes the presented
document off every screen, audited with the reason, unless the chair keeps it; a sitting once ended stays ended."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import attendance, documents, meetings, voting
from meeting_server.services.unit import Change
from meeting_server.store.tables import Document, Meeting


def _chair(m: Meeting) -> Principal:
    p = next(p for p in m.participants if p.role == "chair")
    return Principal(Role.CHAIR, m.id, p.id, p.full_name)


def _presenting(s: Session, m: Meeting, page: int = 5) -> Document:
    """Page `page` of a ready 8-page document of item 2 on every screen, as the chair put it there."""
    doc = Document(meeting_id=m.id, agenda_item_id=m.items[1].id, content_hash="ab" * 32, original_name="to-trinh.pdf",
                   title="Tờ trình", page_count=8, pages_rendered=8, status="ready")
    s.add(doc)
    s.commit()
    meetings.set_current_item(s, m, m.items[1].id, "chair:test")
    documents.present(s, m.id, _chair(m), doc.id, page)
    s.commit()
    return doc


def _shown(stored: Callable[[str], Any], m: Meeting) -> Any:
    return stored(f"SELECT document_id FROM presentation WHERE meeting_id = {m.id}")


def _last_audit(stored: Callable[[str], Any], kind: str) -> dict[str, Any]:
    return json.loads(stored(f"SELECT CAST(data AS TEXT) FROM audit_event WHERE kind = '{kind}' "
                             "ORDER BY seq DESC LIMIT 1"))


def test_moving_to_another_item_ends_the_presentation(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    doc = _presenting(s, m)
    assert _shown(stored, m) == doc.id
    change = meetings.set_current_item(s, m, m.items[3].id, "chair:test")
    assert change == Change(m.id, m.seq, state=True)
    assert _shown(stored, m) is None
    assert _last_audit(stored, "document.presentation_ended") == {"document_id": doc.id, "page": 5,
                                                                    "because": "agenda.current"}
    assert stored(f"SELECT current_item_id FROM meeting WHERE id = {m.id}") == m.items[3].id

def test_the_chair_may_keep_the_document_on_the_projector(s: Session, m: Meeting,
                                                          stored: Callable[[str], Any]) -> None:
    doc = _presenting(s, m)
    meetings.set_current_item(s, m, m.items[3].id, "chair:test", keep_presentation=True)
    assert _shown(stored, m) == doc.id
    assert stored(f"SELECT page FROM presentation WHERE meeting_id = {m.id}") == 5
    assert _last_audit(stored, "agenda.current") == {"item_id": m.items[3].id, "keep_presentation": True}
    assert stored("SELECT count(*) FROM audit_event WHERE kind = 'document.presentation_ended'") == 0


def test_staying_on_the_same_item_keeps_the_page(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    doc = _presenting(s, m)
    meetings.set_current_item(s, m, m.items[1].id, "chair:test")  # tapped again: nothing moves
    assert _shown(stored, m) == doc.id


def test_opening_a_vote_ends_the_presentation_unless_kept(s: Session, m: Meeting,
                                                           stored: Callable[[str], Any]) -> None:
    for p in [p for p in m.participants if p.role in ("delegate", "chair", "secretary")][:20]:
        attendance.joined(s, m, p)
    doc = _presenting(s, m)
    kept = voting.create(s, m, {"kind": "open", "title": "Thông qua Nghị quyết"}, "clerk:test").value
    assert voting.open_poll(s, m, kept, "chair:test", keep_presentation=True) == Change(
        m.id, m.seq, poll_id=kept.id, poll_event="opened")  # nothing else changed: no new state
    assert _shown(stored, m) == doc.id
    voting.close(s, m, kept, "chair:test")

    p = voting.create(s, m, {"kind": "open", "title": "Thông qua Nghị quyết lần 2"}, "clerk:test").value
    opened = voting.open_poll(s, m, p, "chair:test")
    # The vote takes the screens: a new state (nothing presented) besides the poll, with one seq.
    assert opened == Change(m.id, m.seq, state=True, poll_id=p.id, poll_event="opened")
    assert _shown(stored, m) is None
    assert _last_audit(stored, "document.presentation_ended") == {"document_id": doc.id, "page": 5,
                                                                    "because": "vote.opened"}


def test_a_refused_opening_leaves_the_presentation(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    doc = _presenting(s, m)
    p = voting.create(s, m, {"kind": "open", "title": "Thông qua Nghị quyết"}, "clerk:test").value
    with pytest.raises(DomainError) as err:
        voting.open_poll(s, m, p, "chair:test")  # nobody present
    assert err.value.code == "vote.nobody_present"
    assert _shown(stored, m) == doc.id


def test_an_ended_sitting_is_not_opened_again(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    meetings.set_status(s, m, "in_progress", "chair:test", below_quorum_ok=True)
    meetings.set_status(s, m, "ended", "chair:test")
    with pytest.raises(DomainError) as err:
        meetings.set_status(s, m, "in_progress", "chair:test", below_quorum_ok=True)
    assert err.value.code == "meeting.ended"
    assert "đã bế mạc" in str(err.value.message)
    assert stored(f"SELECT status FROM meeting WHERE id = {m.id}") == "ended"
