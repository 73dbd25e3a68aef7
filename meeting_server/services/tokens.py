"""Join tokens: issuing, resolving, revoking, and slowing down guessers."""

from __future__ import annotations

import math
import secrets
import time
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import audit, unit
from meeting_server.services.unit import Change
from meeting_server.store import db
from meeting_server.store.prepared import DBConn, Prepared
from meeting_server.store.tables import JoinFailure, Meeting, Participant, RevokedToken, core_table, utcnow


def new_token() -> str:
    """A join secret of 192 random bits, URL-safe (the issue asks for at least 128)."""
    return secrets.token_urlsafe(24)


class TokenRevoked(DomainError):
    """The card was reported lost and replaced."""

    code = "token.revoked"


class TokenUnknown(DomainError):
    """No card, projector or room link has this token."""

    code = "token.unknown"


_participants = core_table(Participant)
_meetings = core_table(Meeting)
_revoked = core_table(RevokedToken)
_CARD_COLUMNS = select(_participants.c.token, _participants.c.role, _participants.c.meeting_id, _participants.c.id,
                       _participants.c.full_name)
_CARDS = _CARD_COLUMNS.where(_participants.c.token.in_(bindparam("tokens", expanding=True)))
_CARD = Prepared(_CARD_COLUMNS.where(_participants.c.token == bindparam("token")))  # one card: no IN list
_KIOSK = Prepared(select(_meetings.c.id).where(_meetings.c.kiosk_token == bindparam("token")))
_GUEST = Prepared(select(_meetings.c.id).where(_meetings.c.guest_token == bindparam("token")))
_REVOKED = Prepared(select(_revoked.c.token).where(_revoked.c.token == bindparam("token")))


def _card(row: Any) -> Principal:
    """A card's principal from a `_CARD_COLUMNS` row (the driver's tuple or SQLAlchemy's Row)."""
    _token, role, meeting_id, participant_id, full_name = row
    return Principal(Role(role), meeting_id, participant_id, full_name)


def resolve(s: Session, token: str) -> Principal:
    """The principal a token stands for, or TokenUnknown / TokenRevoked."""
    return resolve_on(db.dbapi(s), token)


def resolve_principal(s: Session, token: str | None) -> Principal | None:
    """The principal of a token, or None when there is none or it is unknown or revoked: how an HTTP request
    (web/guards.py) and a Socket.IO connection or event (realtime/) find who is asking."""
    if not token:
        return None
    try:
        return resolve(s, token)
    except DomainError:
        return None


def resolve_on(conn: DBConn, token: str) -> Principal:
    """`resolve` on a DBAPI connection (the page turn's, which has no Session)."""
    if not token or len(token) > 64:
        raise TokenUnknown("Mã tham gia không đúng.")
    # Every request and Socket.IO event resolves its token again (so revocation is immediate): prebuilt statements
    # on the DBAPI connection (store.prepared), the cheapest check there is.
    row = _CARD.first(conn, token=token)
    if row is not None:
        return _card(row)
    found = _KIOSK.first(conn, token=token)
    if found is not None:
        return Principal(Role.KIOSK, found[0], None, "Màn hình chiếu")
    found = _GUEST.first(conn, token=token)
    if found is not None:
        return Principal(Role.GUEST, found[0], None, "Khách")
    if _REVOKED.first(conn, token=token) is not None:
        raise TokenRevoked("Thẻ này đã bị thu hồi. Hãy nhận thẻ mới tại bàn thư ký.")
    raise TokenUnknown("Mã tham gia không đúng.")


def resolve_many(s: Session, given: list[str]) -> dict[str, Principal | DomainError]:
    """`resolve` for a batch of tokens (the ballot writer's): one query for the cards, the same answers."""
    cards = [t for t in set(given) if t and len(t) <= 64]
    found: dict[str, Principal | DomainError] = {}
    if cards:
        rows = s.connection().execute(_CARDS, {"tokens": cards})
        found = {r.token: _card(r) for r in rows}
    for t in set(given) - found.keys():
        try:
            found[t] = resolve(s, t)  # not a card: a projector, a guest, revoked or unknown (rare, one by one)
        except DomainError as err:
            found[t] = err
    return found


def revoke_and_reissue(s: Session, participant: Participant, actor: str) -> Change:
    """Replace a lost card's token: the old QR stops working with this commit, and the card's open connections
    are hung up (`Change.revoked`; no seq: no screen shows a token)."""
    with unit.of_work(s):
        s.add(RevokedToken(token=participant.token, participant_id=participant.id))
        participant.token = new_token()
        participant.token_issued_at = utcnow()
        audit.record(s, participant.meeting_id, "card.reissued", actor, {"participant_id": participant.id})
    seq = s.scalar(select(Meeting.seq).where(Meeting.id == participant.meeting_id)) or 0
    return Change(participant.meeting_id, seq, revoked=(participant.id,))


def note_failure(s: Session, address: str) -> int:
    """Count one bad token from an address in this minute; returns the count so far."""
    minute = int(time.time() // 60)
    s.execute(delete(JoinFailure).where(JoinFailure.minute < minute - 10))
    row = s.get(JoinFailure, (address, minute))
    if row is None:
        row = JoinFailure(address=address, minute=minute, count=0)
        s.add(row)
    row.count += 1
    s.commit()
    return row.count


def failures(s: Session, address: str) -> int:
    """Bad tokens from an address in the last 60 seconds, estimated from the counts of this minute and the one
    before (the previous minute's count weighted by how much of it is still inside the window), so that a burst
    of guesses does not start again from zero when the clock passes a full minute."""
    now = time.time()
    minute = int(now // 60)
    rows = dict(s.execute(select(JoinFailure.minute, JoinFailure.count)
                          .where(JoinFailure.address == address, JoinFailure.minute >= minute - 1)).all())
    before = rows.get(minute - 1, 0) * (1 - (now - minute * 60) / 60)
    return rows.get(minute, 0) + math.ceil(before)
