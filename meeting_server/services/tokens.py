"""Join tokens: issuing, resolving, revoking, and slowing down guessers."""

from __future__ import annotations

import secrets
import time

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import audit
from meeting_server.store.tables import JoinFailure, Meeting, Participant, RevokedToken, utcnow


def new_token() -> str:
    """A join secret of 192 random bits, URL-safe (the issue asks for at least 128)."""
    return secrets.token_urlsafe(24)


class TokenRevoked(DomainError):
    """The card was reported lost and replaced."""

    code = "token.revoked"


class TokenUnknown(DomainError):
    """No card, projector or room link has this token."""

    code = "token.unknown"


def resolve(s: Session, token: str) -> Principal:
    """The principal a token stands for, or TokenUnknown / TokenRevoked."""
    if not token or len(token) > 64:
        raise TokenUnknown("Mã tham gia không đúng.")
    # Every Socket.IO event resolves its token again (so revocation is immediate): plain column reads, one
    # indexed lookup for a card, keep that cheap.
    row = s.execute(select(Participant.role, Participant.meeting_id, Participant.id, Participant.full_name)
                    .where(Participant.token == token)).first()
    if row is not None:
        return Principal(Role(row.role), row.meeting_id, row.id, row.full_name)
    mid = s.scalar(select(Meeting.id).where(Meeting.kiosk_token == token))
    if mid is not None:
        return Principal(Role.KIOSK, mid, None, "Màn hình chiếu")
    mid = s.scalar(select(Meeting.id).where(Meeting.guest_token == token))
    if mid is not None:
        return Principal(Role.GUEST, mid, None, "Khách")
    if s.get(RevokedToken, token) is not None:
        raise TokenRevoked("Thẻ này đã bị thu hồi. Hãy nhận thẻ mới tại bàn thư ký.")
    raise TokenUnknown("Mã tham gia không đúng.")


def revoke_and_reissue(s: Session, participant: Participant, actor: str) -> str:
    """Replace a lost card's token: the old QR stops working with this commit."""
    s.add(RevokedToken(token=participant.token, participant_id=participant.id))
    participant.token = new_token()
    participant.token_issued_at = utcnow()
    audit.record(s, participant.meeting_id, "card.reissued", actor, {"participant_id": participant.id})
    return participant.token


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
    """Bad tokens from an address in the current minute."""
    row = s.get(JoinFailure, (address, int(time.time() // 60)))
    return 0 if row is None else row.count
