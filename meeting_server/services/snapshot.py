"""The `state` snapshot: everything a role may see of a meeting, with its seq."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import object_session

from meeting_server.domain.permissions import ROLE_PERMISSIONS, Permission
from meeting_server.domain.principal import Principal
from meeting_server.services import attendance, documents, speakers, voting
from meeting_server.store.tables import Meeting, Participant


def meeting_public(m: Meeting) -> dict[str, Any]:
    """The meeting's heading, as every screen shows it."""
    return {
        "id": m.id,
        "council_name": m.council_name,
        "council_level": m.council_level,
        "locality": m.locality,
        "session_title": m.session_title,
        "term": m.term,
        "full_title": m.full_title,
        "place": m.place,
        "starts_at": m.starts_at.isoformat() if m.starts_at else None,
        "status": m.status,
        "seated_count": m.seated_count,
        "quorum_rule": m.quorum_rule,
    }


def agenda(m: Meeting) -> list[dict[str, Any]]:
    """The agenda in order."""
    return [{"id": it.id, "position": it.position, "title": it.title, "description": it.description}
            for it in m.items]


def build(m: Meeting, who: Principal) -> dict[str, Any]:
    """A full snapshot for one principal; what the role may not see is left out, not hidden client-side."""
    state: dict[str, Any] = {
        "seq": m.seq,
        "meeting": meeting_public(m),
        "agenda": agenda(m),
        "current_item_id": m.current_item_id,
        "attendance": attendance.summary(m).to_dict(),
        "me": {
            "role": who.role.value,
            "name": who.name,
            "participant_id": who.participant_id,
            "permissions": sorted(p.value for p in ROLE_PERMISSIONS[who.role]),
        },
    }
    if who.can(Permission.ATTENDANCE_SEE_NAMES):
        state["attendees"] = attendance.roster(m)
    state["speakers"] = speakers.speakers_state(m, who)
    state["voting"] = voting.voting_state(m, who)
    if who.participant_id is not None:
        # One row, not the whole roster: every phone that connects gets a snapshot.
        me = object_session(m).get(Participant, who.participant_id)  # type: ignore[union-attr]
        if me is not None and me.attendance is not None:
            state["me"]["attendance"] = me.attendance.status
    state["me"].update(documents.my_rights(m, who))
    state.update(documents.documents_state(m, who))
    return state
