"""Join tokens and the sessions they open: who is asking, for every path (the one place), revoking, and slowing
down guessers.

Every credential a client presents comes here: a join token (`/j/<token>`, `Authorization: Bearer`, Socket.IO's
`auth={"token"}`) or the random session id of the cookie (`login_session`, opened by `/j/`). `identify` resolves
either, and counts a wrong one against the source address (`join_failure`, in the database so every server
process shares it): from `JOIN_FAILURES_PER_MINUTE` wrong ones in the last minute on, a wrong credential from that
address is refused with `TooManyGuesses` (HTTP 429, a refused connection) after a pause, while a right one still
passes: the limit slows a guesser down and never locks out the delegate whose card is right (who may share the
room's address, behind the hotspot's NAT or a guesser's laptop). A token is 192 random bits: the limit is a second
line, the randomness the first.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from meeting_server.domain.errors import N_, DomainError
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import audit, unit
from meeting_server.services.unit import Change
from meeting_server.store import db
from meeting_server.store.prepared import DBConn, Prepared
from meeting_server.store.tables import (
    JoinFailure,
    LoginSession,
    Meeting,
    Participant,
    RevokedToken,
    core_table,
    utcnow,
)


def new_token() -> str:
    """A join secret of 192 random bits, URL-safe (the issue asks for at least 128)."""
    return secrets.token_urlsafe(24)


class TokenRevoked(DomainError):
    """The card was reported lost and replaced."""

    code = "token.revoked"


class TokenUnknown(DomainError):
    """No card, projector or room link has this token."""

    code = "token.unknown"


class TooManyGuesses(DomainError):
    """Too many wrong credentials from this address in the last minute (a right one would still have passed)."""

    code = "auth.too_many_attempts"


TOO_MANY = N_("Có quá nhiều lần thử mã sai từ địa chỉ này. Hãy đợi một phút rồi thử lại.")


class SessionEnded(DomainError):
    """The session id of a cookie is not (or no longer) open: logged out, its card revoked, or idle too long."""

    code = "auth.session_ended"


ENDED = N_("Phiên đã kết thúc. Hãy quét lại mã QR trên thẻ.")

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


@dataclass(frozen=True)
class Source:
    """Where a credential comes from and the limits that apply to it: the skins build it from the app's config."""

    address: str
    failures_per_minute: int = 10
    idle_s: int = 24 * 3600

    @classmethod
    def of(cls, config: Mapping[str, Any], address: str | None) -> Source:
        return cls(address or "?", int(config.get("JOIN_FAILURES_PER_MINUTE", 10)),
                   int(config.get("SESSION_IDLE_SECONDS", 24 * 3600)))


@dataclass(frozen=True)
class Identity:
    """Who is asking (`who`), with the card token behind it and, for a cookie, the session's hash (a connection
    keeps both: the token for the hot paths' card check, the session so that logout ends the connection too)."""

    who: Principal
    token: str
    session: str | None = None


#: A session's last use is written at most this often (seconds): idle expiry needs minutes, not every request.
TOUCH_EVERY_S = 60

_sessions = core_table(LoginSession)
_SESSION = Prepared(select(_sessions.c.token, _sessions.c.last_seen).where(_sessions.c.id_hash == bindparam("h")))


def session_hash(session_id: str) -> str:
    """How a session id is stored: its SHA-256 (the id itself is only in the browser's cookie)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


def identify(s: Session, source: Source, *, token: str | None = None, session_id: str | None = None
             ) -> Identity | None:
    """Who presents this join token (preferred) or, without one, this session id: the one way an HTTP request
    (web/guards.py, /j/) and a Socket.IO connection (realtime/session.py) find who is asking. None without a
    credential or for one that does not resolve (counted against the address); `TooManyGuesses` for a wrong one
    from an address over the limit."""
    try:
        if token:
            return Identity(check(s, token, source), token)
        if session_id:
            return open_session_of(s, session_id, source)
    except TooManyGuesses:
        raise
    except DomainError:
        return None
    return None


def check(s: Session, token: str, source: Source) -> Principal:
    """`resolve`, with a wrong token counted against `source.address`; over the limit, a wrong one raises
    `TooManyGuesses` instead (counted too, so that an address that keeps guessing stays limited: the window does
    not drain under a steady guesser, and a burst across a minute boundary is not let through). A right token
    always passes."""
    try:
        return resolve(s, token)
    except DomainError:
        _count_failure(s, source)
        raise


def _count_failure(s: Session, source: Source) -> None:
    over = failures(s, source.address) >= source.failures_per_minute
    note_failure(s, source.address)
    if over:
        raise TooManyGuesses(TOO_MANY) from None


def open_session_of(s: Session, session_id: str, source: Source) -> Identity:
    """The identity behind a cookie's session id, refreshing its last use (at most once a minute); `SessionEnded`
    (counted like a wrong token: a session id is a credential too) when it is not open or was idle too long."""
    h = session_hash(session_id)
    now = int(time.time())
    row = _SESSION.first(db.dbapi(s), h=h)
    if row is None or row[1] < now - source.idle_s:
        _count_failure(s, source)
        raise SessionEnded(ENDED)
    token, last_seen = row
    try:
        who = resolve(s, token)
    except DomainError:  # the card was revoked (its sessions are deleted with it: this is the belt to the braces)
        raise SessionEnded(ENDED) from None
    if now - last_seen >= TOUCH_EVERY_S:
        touch(s, h, now)
    return Identity(who, token, h)


def touch(s: Session, h: str, now: int | None = None) -> None:
    """Mark a session used now (a request, a connection opened or closed): its idle time starts again."""
    db.relax_durability(s)  # a last-use time lost to a power cut costs nothing; no fsync for it
    s.execute(update(LoginSession).where(LoginSession.id_hash == h).values(last_seen=now or int(time.time())))
    s.commit()


def open_session(s: Session, token: str, source: Source) -> str:
    """Open a session for a card token that just resolved (`/j/`): returns the random id for the cookie (256 bits);
    sessions idle past `source.idle_s` are removed on the way."""
    session_id = secrets.token_urlsafe(32)
    now = int(time.time())
    with unit.of_work(s):
        s.execute(delete(LoginSession).where(LoginSession.last_seen < now - source.idle_s))
        s.add(LoginSession(id_hash=session_hash(session_id), token=token, created_at=now, last_seen=now))
    return session_id


def end_session(s: Session, session_id: str) -> str:
    """Logout: the session stops resolving with this commit. Returns its hash (its connections' room)."""
    h = session_hash(session_id)
    with unit.of_work(s):
        s.execute(delete(LoginSession).where(LoginSession.id_hash == h))
    return h


def connection_principal(s: Session, token: str | None, session: str | None) -> Principal | None:
    """The principal of an open Socket.IO connection, at each of its events: its card still resolves and, for a
    connection opened with the cookie, its session is still open (not logged out). No idle check: an open
    connection is use (each event marks it, at most once a minute); its idle time counts from when it closes."""
    who = resolve_principal(s, token)
    if who is None or session is None:
        return who
    row = _SESSION.first(db.dbapi(s), h=session)
    if row is None:
        return None
    now = int(time.time())
    if now - row[1] >= TOUCH_EVERY_S:
        touch(s, session, now)
    return who


def revoke_and_reissue(s: Session, participant: Participant, actor: str) -> Change:
    """Replace a lost card's token: the old QR stops working with this commit, and the card's open connections
    are hung up (`Change.revoked`; no seq: no screen shows a token)."""
    with unit.of_work(s):
        s.add(RevokedToken(token=participant.token, participant_id=participant.id))
        s.execute(delete(LoginSession).where(LoginSession.token == participant.token))  # every browser it opened
        participant.token = new_token()
        participant.token_issued_at = utcnow()
        audit.record(s, participant.meeting_id, "card.reissued", actor, {"participant_id": participant.id})
    seq = s.scalar(select(Meeting.seq).where(Meeting.id == participant.meeting_id)) or 0
    return Change(participant.meeting_id, seq, revoked=(participant.id,))


def note_failure(s: Session, address: str) -> int:
    """Count one bad credential from an address in this minute; returns the count so far."""
    minute = int(time.time() // 60)
    # A count decides nothing worth an fsync (a power cut may forget the last few guesses): under a burst of them,
    # FULL sync would hold the loop for the disk at each one.
    db.relax_durability(s)
    s.execute(delete(JoinFailure).where(JoinFailure.minute < minute - 10))
    row = s.get(JoinFailure, (address, minute))
    if row is None:
        row = JoinFailure(address=address, minute=minute, count=0)
        s.add(row)
    row.count += 1
    s.commit()
    return row.count


def failures(s: Session, address: str) -> int:
    """Bad credentials from an address in the last 60 seconds, estimated from the counts of this minute and the one
    before (the previous minute's count weighted by how much of it is still inside the window), so that a burst
    of guesses does not start again from zero when the clock passes a full minute."""
    now = time.time()
    minute = int(now // 60)
    rows = dict(s.execute(select(JoinFailure.minute, JoinFailure.count)
                          .where(JoinFailure.address == address, JoinFailure.minute >= minute - 1)).all())
    before = rows.get(minute - 1, 0) * (1 - (now - minute * 60) / 60)
    return rows.get(minute, 0) + math.ceil(before)
