"""The `state` snapshot: everything a role may see of a meeting, with its seq.

The part of a snapshot that is the same for everyone of a role (heading, agenda, attendance, the named roster,
polls, documents) is kept in a small cache in process memory, `_SHARED`, so that 500 phones reconnecting after a
restart do not each run the same dozen queries (scripts/bench/room_loop.py reconnect). It is a pure cache, never a
source of truth, and it cannot be stale across several server processes sharing the database:

- its key is (database URL, meeting id, the meeting's `created_at`, `meeting.seq`, role, the key signing page
  URLs). Every committed change
  that alters what a role's snapshot shows bumps `meeting.seq` in the same transaction (services/unit.bump), and
  every process reads `seq` from the database before it looks in the cache, so a change made by any process gives a
  new key; the URL and `created_at` tell apart two databases (tests, a restore) whose meeting has the same id;
- what changes without a seq bump is left out of the cache and computed for each snapshot: the personal `me` part
  (attendance, whether one may present) and a delegate's own ballots (`voting.mine`), by prebuilt statements
  (store.prepared: one small query each, asked for every phone that connects); the speakers' list and question
  time while a clock runs (someone speaking, a question on the floor), and otherwise only their `server_now_ms`
  (and question time is built again on another calendar day: its `today` and what is overdue); a poll's
  `ends_in_ms` (recomputed from `ends_at`); the
  documents part is not stored while a document is still being processed (its title and page count are written
  before the seq bump that makes it ready) nor for the roles that manage documents (they see `pages_rendered`,
  which moves without a bump);
- SQLite reads here are not one transaction: a part is stored only when `seq` is still the same after it was built,
  so no change committed meanwhile can be filed under the older seq.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from datetime import datetime
from typing import Any

from flask import has_app_context
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, object_session

from meeting_server.domain.permissions import ROLE_PERMISSIONS, Permission, Role
from meeting_server.domain.principal import Principal
from meeting_server.services import attendance, documents, questions, speakers, voting
from meeting_server.store import db
from meeting_server.store.prepared import Prepared
from meeting_server.store.tables import Attendance, Meeting, core_table, utcnow

#: One person's attendance, asked for every phone that connects (store.prepared: no ORM work per phone).
_ATTENDANCE = Prepared(select(core_table(Attendance).c.status)
                       .where(core_table(Attendance).c.participant_id == bindparam("p")))

#: (database URL, meeting id, created_at, seq, role, page URL key) -> the role's shared parts (module docstring).
_SHARED: OrderedDict[tuple[Any, ...], dict[str, Any]] = OrderedDict()
_SHARED_MAX = 64  # a few meetings × 7 roles × the last seqs: old seqs are never asked for again


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


def _session(m: Meeting) -> Session:
    s = object_session(m)
    if s is None:
        raise RuntimeError("meeting is not attached to a session")
    return s


def _key(s: Session, m: Meeting, role: Role) -> tuple[Any, ...]:
    bind = s.get_bind()
    # The key that signs page URLs is the app's (its secret key): two apps of one process never share a part.
    signer = documents.page_key() if has_app_context() else None
    return (str(bind.engine.url), m.id, m.created_at, m.seq, role, signer)


def _shared(m: Meeting, role: Role) -> dict[str, Any]:
    """What every principal of `role` sees the same, at the meeting's seq: from the cache when it holds it."""
    s = _session(m)
    key = _key(s, m, role)
    hit = _SHARED.get(key)
    if hit is not None:
        try:
            _SHARED.move_to_end(key)
        except KeyError:  # dropped meanwhile by another thread (threading mode): it is still the right part
            pass
        return hit
    part = _build_shared(m, Principal(role, m.id))
    now_seq = s.scalar(select(Meeting.seq).where(Meeting.id == m.id))
    if now_seq == m.seq:
        _SHARED[key] = part
        while len(_SHARED) > _SHARED_MAX:
            _SHARED.popitem(last=False)
    return part


def _build_shared(m: Meeting, who: Principal) -> dict[str, Any]:
    """The parts of a role's snapshot that are the same for all its principals (a principal with no person).
    The `documents` entry is None when it must not be stored (the module's docstring says when)."""
    part: dict[str, Any] = {
        "meeting": meeting_public(m),
        "agenda": agenda(m),
        "current_item_id": m.current_item_id,
        "attendance": attendance.summary(m).to_dict(),
        "voting": voting.voting_state(m, who),
    }
    if who.can(Permission.ATTENDANCE_SEE_NAMES):
        part["attendees"] = attendance.roster(m)
    docs = documents.documents_state(m, who)
    cacheable = not who.can(Permission.DOCUMENT_MANAGE) and all(
        d.get("status") != "processing" for d in docs["documents"])
    part["documents_part"] = docs if cacheable else None
    # The speakers' list and question time while nothing counts down (nobody speaking, no question on the floor):
    # then they move only with a seq bump, but for the server's clock and, for question time, the calendar day
    # (`_idle`). While a clock runs they are built for each snapshot (None here).
    now = utcnow()
    spk = speakers.speakers_state(m, who, now)
    part["speakers_idle"] = spk if spk["speaking"] is None else None
    qs = questions.questions_state(m, now)
    part["questions_idle"] = qs if qs["current"] is None else None
    return part


def _idle(part: dict[str, Any] | None, now: datetime, day: str | None = None) -> dict[str, Any] | None:
    """A cached idle speakers' or questions' part with the server's clock of now; None when it has none (or, for
    question time, when it was built on another day: its due dates' `overdue` and `today` would be stale)."""
    if part is None or (day is not None and part.get("today") != day):
        return None
    return dict(part, server_now_ms=int(now.timestamp() * 1000))


def _clocked(view: dict[str, Any] | None, now: datetime) -> dict[str, Any] | None:
    """A poll's view with `ends_in_ms` counted from now (the rest of it does not move without a seq bump)."""
    if view is None or view.get("ends_in_ms") is None or not view.get("ends_at"):
        return view
    ends_at = datetime.fromisoformat(view["ends_at"])
    return dict(view, ends_in_ms=max(0, int((ends_at - now).total_seconds() * 1000)))


def build(m: Meeting, who: Principal) -> dict[str, Any]:
    """A full snapshot for one principal; what the role may not see is left out, not hidden client-side.

    The role's shared parts come from `_shared` (cached by seq); `me`, a delegate's own ballots, the speakers'
    list and the documents part when it may not be cached are computed here for each call."""
    shared = _shared(m, who.role)
    now = utcnow()
    vote = shared["voting"]
    state: dict[str, Any] = {
        "seq": m.seq,
        "meeting": shared["meeting"],
        "agenda": shared["agenda"],
        "current_item_id": shared["current_item_id"],
        "attendance": shared["attendance"],
        "me": {
            "role": who.role.value,
            "name": who.name,
            "participant_id": who.participant_id,
            "permissions": sorted(p.value for p in ROLE_PERMISSIONS[who.role]),
        },
    }
    if "attendees" in shared:
        state["attendees"] = shared["attendees"]
    s = _session(m)
    state["speakers"] = _idle(shared["speakers_idle"], now) or speakers.speakers_state(m, who, now)
    # Like the speakers' list it counts down against the server's clock (and marks what is overdue today).
    state["questions"] = (_idle(shared["questions_idle"], now, questions.today(s).isoformat())
                          or questions.questions_state(m, now))
    state["voting"] = {"shown": _clocked(vote["shown"], now), "polls": [_clocked(p, now) for p in vote["polls"]]}
    if who.is_delegate and who.participant_id is not None:
        state["voting"]["mine"] = voting.my_ballots(s, m.id, who.participant_id)
    if who.participant_id is not None:
        # One column of one row, not the whole roster (nor the person's row and then theirs): every phone that
        # connects gets a snapshot.
        found = _ATTENDANCE.first(db.dbapi(s), p=who.participant_id)
        if found is not None and found[0] is not None:
            state["me"]["attendance"] = found[0]
    state["me"].update(documents.my_rights(m, who))
    state.update(shared["documents_part"] or documents.documents_state(m, who))
    state["digest"] = digest(state)
    return state


def digest(state: dict[str, Any]) -> str | None:
    """A fingerprint of what a snapshot shows, so that a page that already has it (the phone's page carries its
    snapshot in its HTML) is not sent it again when its connection comes up (realtime/session.py): over a slow link
    that is 5 kB in the way of the first screen. The server's clock (`server_now_ms`) is left out; None, so always
    sent, while anything counts down (a speaker, a question on the floor, a timed vote): a page's copy of a running
    clock is as old as the page."""
    voting_part = state.get("voting") or {}
    polls = [voting_part.get("shown"), *(voting_part.get("polls") or [])]
    if ((state.get("speakers") or {}).get("speaking") or (state.get("questions") or {}).get("current")
            or any(p and p.get("ends_in_ms") is not None for p in polls)):
        return None
    shown = {k: v for k, v in state.items() if k != "digest"}
    for part in ("speakers", "questions"):
        if isinstance(shown.get(part), dict):
            shown[part] = {k: v for k, v in shown[part].items() if k != "server_now_ms"}
    text = json.dumps(shown, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]
