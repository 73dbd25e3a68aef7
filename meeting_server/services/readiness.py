"""The readiness check: the facts of a meeting read from the database, handed to domain/readiness.py."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain import readiness as rules
from meeting_server.domain.permissions import DELEGATE_ROLES, Role
from meeting_server.services import audit, unit
from meeting_server.store.tables import AuditEvent, Document, Meeting, Poll, PollVoter

#: The audit entry written when join cards are printed (all of them, or one after a reissue).
CARDS_PRINTED = "cards.printed"


def facts(s: Session, m: Meeting) -> rules.Facts:
    """Everything the check asks, read now."""
    people = [p for p in m.participants if p.role != Role.CLERK]
    absent = frozenset(p.full_name for p in people
                       if p.attendance is not None and p.attendance.status in ("absent", "left"))
    chairs = tuple(p.full_name for p in people if p.role == Role.CHAIR)
    chair_ids = {p.id for p in people if p.role == Role.CHAIR}
    polls = list(s.scalars(select(Poll).where(Poll.meeting_id == m.id).order_by(Poll.id)))
    with_docs = set(s.scalars(select(Document.agenda_item_id).where(Document.meeting_id == m.id,
                                                                   Document.agenda_item_id.is_not(None))))
    titles = {it.id: it.title for it in m.items}
    voted_items = [i for i in dict.fromkeys(p.agenda_item_id for p in polls if p.state != "cancelled")
                   if i is not None and i in titles and i not in with_docs]
    not_voted: list[str] = []
    closed = [p.id for p in polls if p.state == "closed"]
    if closed and chair_ids:
        missed = set(s.scalars(select(PollVoter.poll_id).where(
            PollVoter.poll_id.in_(closed), PollVoter.participant_id.in_(chair_ids), PollVoter.voted.is_(False))))
        not_voted = [p.title for p in polls if p.id in missed]
    return rules.Facts(
        chairs=chairs,
        secretaries=tuple(p.full_name for p in people if p.role == Role.SECRETARY),
        absent=absent,
        delegates=sum(1 for p in people if Role(p.role) in DELEGATE_ROLES),
        seated=m.seated_count,
        items_voted_without_documents=tuple(titles[i] for i in voted_items),
        cards_unprinted=_cards_unprinted(s, m),
        open_polls=tuple(p.title for p in polls if p.state == "open"),
        chair_not_voted=tuple(not_voted),
    )


def _cards_unprinted(s: Session, m: Meeting) -> int:
    """Cards issued after the last print that covered them (the audit entries say which cards were printed)."""
    printed: dict[int, str] = {}
    for at, data in s.execute(select(AuditEvent.at, AuditEvent.data)
                              .where(AuditEvent.meeting_id == m.id, AuditEvent.kind == CARDS_PRINTED)):
        for pid in (data or {}).get("participant_ids") or ():
            if isinstance(pid, int) and at > printed.get(pid, ""):
                printed[pid] = at
    count = 0
    for p in m.participants:
        if p.role == Role.CLERK:
            continue
        at = printed.get(p.id)
        if at is None or datetime.fromisoformat(at) < p.token_issued_at:
            count += 1
    return count


def before_sitting(s: Session, m: Meeting) -> list[rules.Line]:
    """What the clerk should fix before the sitting."""
    return rules.before_sitting(facts(s, m))


def before_signing(s: Session, m: Meeting) -> list[rules.Line]:
    """What the clerk should fix before the minutes are prepared for signing."""
    return rules.before_signing(facts(s, m))


def check_signing(s: Session, m: Meeting) -> None:
    """Refuse to prepare the minutes for signing on the first blocking line (no chair, no secretary, a poll open)."""
    for line in rules.blocking(before_signing(s, m)):
        raise line.error()


def cards_printed(s: Session, m: Meeting, participant_ids: list[int], actor: str) -> None:
    """Note that these cards were printed (the readiness check counts the cards not printed since they were issued).
    Nothing a screen shows changes: no seq. A meeting whose minutes are signed prints without a note."""
    if audit.is_frozen(s, m.id):
        return
    with unit.of_work(s):
        audit.record(s, m.id, CARDS_PRINTED, actor, {"participant_ids": sorted(participant_ids)})
