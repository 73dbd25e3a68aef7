"""Electronic voting: drafts, opening with a countdown, casting (also by proxy), paper totals, closing and results.

Every rule comes from domain.voting; this module only stores and reads. Secret ballots are written so that nothing
stored links a choice to a delegate (docs/SECRECY.md): participation goes to `poll_voter`, the choice to
`secret_ballot` under a random key, in one transaction, and nothing about the choice reaches the audit trail or logs.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session, object_session

from meeting_server.domain import limits, payload
from meeting_server.domain import voting as rules
from meeting_server.domain.errors import N_, DomainError, Msgid, NotFound
from meeting_server.domain.permissions import DELEGATE_ROLES, Permission, Role
from meeting_server.domain.principal import Principal
from meeting_server.services import audit, unit
from meeting_server.services.unit import Change, Done
from meeting_server.store import db
from meeting_server.store.prepared import Prepared
from meeting_server.store.tables import (
    AgendaItem,
    Attendance,
    Meeting,
    OpenBallot,
    Participant,
    Poll,
    PollVoter,
    SecretBallot,
    core_table,
    utcnow,
)

log = logging.getLogger(__name__)

KIND_LABELS = {
    rules.PollKind.OPEN: "Biểu quyết công khai",
    rules.PollKind.SECRET: "Bỏ phiếu kín",
    rules.PollKind.ELECTION: "Bầu cử",
    rules.PollKind.CONFIDENCE_RATING: "Lấy phiếu tín nhiệm",
    rules.PollKind.CONFIDENCE_VOTE: "Bỏ phiếu tín nhiệm",
}
MAX_COUNTDOWN = 3600
MAX_PEOPLE = 50


# ---------------------------------------------------------------------------------------------------------------
# Reading


def spec_of(p: Poll) -> rules.PollSpec:
    """The domain spec of a stored poll."""
    d = p.spec or {}
    return rules.PollSpec(
        kind=rules.PollKind(p.kind),
        title=p.title,
        threshold=rules.Threshold(d.get("threshold", "more_than_half")),
        seats=int(d.get("seats", 1)),
        candidates=tuple(rules.Person(c["key"], c["name"]) for c in d.get("candidates", ())),
        officials=tuple(rules.Person(c["key"], c["name"]) for c in d.get("officials", ())),
        rating_base=rules.RatingBase(d.get("rating_base", "seated")),
    )


def get(s: Session, poll_id: int, meeting_id: int) -> Poll:
    """A poll of this meeting, or NotFound (a poll of another meeting looks absent)."""
    p = s.get(Poll, poll_id)
    if p is None or p.meeting_id != meeting_id:
        raise NotFound("Không tìm thấy cuộc biểu quyết.")
    return p


def polls_of(s: Session, meeting_id: int) -> list[Poll]:
    """The meeting's polls, oldest first."""
    return list(s.scalars(select(Poll).where(Poll.meeting_id == meeting_id).order_by(Poll.id)))


def _present_query(meeting_id: int) -> Any:
    return (select(Participant.id)
            .join(Attendance, Attendance.participant_id == Participant.id)
            .where(Participant.meeting_id == meeting_id, Attendance.status == "present",
                   Participant.role.in_([r.value for r in DELEGATE_ROLES])))


def _present_delegates(s: Session, meeting_id: int) -> set[int]:
    return set(s.scalars(_present_query(meeting_id)))


def _voters(s: Session, poll_id: int) -> dict[int, PollVoter]:
    return {v.participant_id: v for v in s.scalars(select(PollVoter).where(PollVoter.poll_id == poll_id))}


def eligible_ids(s: Session, p: Poll) -> set[int]:
    """Who may vote: those fixed at opening, plus delegates present now (marked present while it is open)."""
    fixed = set(s.scalars(select(PollVoter.participant_id).where(PollVoter.poll_id == p.id)))
    if p.state == rules.PollState.OPEN:
        return fixed | _present_delegates(s, p.meeting_id)
    return fixed


def progress(s: Session, p: Poll) -> dict[str, int]:
    """How many have voted out of how many may: the only live figure of an open poll (counted in SQL, since it
    is sent after every group commit)."""
    voted = s.scalar(select(func.count()).select_from(PollVoter)
                     .where(PollVoter.poll_id == p.id, PollVoter.voted.is_(True))) or 0
    fixed = select(PollVoter.participant_id).where(PollVoter.poll_id == p.id)
    both = fixed.union(_present_query(p.meeting_id)) if p.state == rules.PollState.OPEN else fixed
    eligible = s.scalar(select(func.count()).select_from(both.subquery())) or 0
    return {"poll_id": p.id, "voted": int(voted), "eligible": int(eligible)}


def _people(spec: rules.PollSpec) -> dict[str, list[dict[str, str]]]:
    return {"candidates": [{"key": c.key, "name": c.name} for c in spec.candidates],
            "officials": [{"key": c.key, "name": c.name} for c in spec.officials]}


def view(s: Session, p: Poll, who: Principal, now: datetime | None = None) -> dict[str, Any]:
    """A poll as a screen shows it: never a running choice; the result once closed; names only to those allowed."""
    spec = spec_of(p)
    m = s.get(Meeting, p.meeting_id)
    assert m is not None
    now = now or utcnow()
    out: dict[str, Any] = {
        "id": p.id,
        "meeting_id": p.meeting_id,
        "agenda_item_id": p.agenda_item_id,
        "kind": p.kind,
        "kind_label": KIND_LABELS[rules.PollKind(p.kind)],
        "secret": rules.PollKind(p.kind).is_secret,
        "title": p.title,
        "state": p.state,
        "threshold": str(spec.threshold),
        "threshold_label": spec.threshold.label_vi,
        "required": rules.required_votes(spec.threshold, m.seated_count),
        "seated": m.seated_count,
        "seats": spec.seats if spec.kind == rules.PollKind.ELECTION else None,
        "options": [{"key": k, "label": label} for k, label in rules.options_for(spec.kind)],
        "levels": [{"key": str(k), "label": label} for k, label in rules.RATING_LEVELS]
        if spec.kind == rules.PollKind.CONFIDENCE_RATING else [],
        **_people(spec),
        "allow_change": rules.may_change_choice(spec.kind, p.allow_change),
        "countdown_seconds": p.countdown_seconds,
        "ends_at": p.ends_at.isoformat() if p.ends_at else None,
        # Phones' clocks drift: they count down from this, not from ends_at.
        "ends_in_ms": max(0, int((p.ends_at - now).total_seconds() * 1000)) if p.ends_at and p.state == "open"
        else None,
        "opened_at": p.opened_at.isoformat() if p.opened_at else None,
        "closed_at": p.closed_at.isoformat() if p.closed_at else None,
        "closed_by": "countdown" if p.closed_by == "countdown" else ("chair" if p.closed_by else ""),
        "cancel_reason": p.cancel_reason,
        "revote_of_id": p.revote_of_id,
        "paper": p.paper,
        "progress": progress(s, p),
    }
    if p.state == rules.PollState.CLOSED and p.result is not None:
        out["result"] = p.result
        # What the result decided, said first on every screen ("Không thông qua" before a title that reads
        # "Thông qua …"; who is elected): the same short verdict the record and the minutes' tables give.
        out["headline"] = rules.verdict_vi(p.result)
        if not out["secret"] and who.can(Permission.VOTE_SEE_NAMES):
            out["voters"] = named_list(s, p)
    return out


def named_list(s: Session, p: Poll) -> list[dict[str, Any]]:
    """Who chose what in an open vote (chair, secretary, clerk and the minutes), with those who did not vote."""
    if rules.PollKind(p.kind).is_secret:
        raise DomainError("Bỏ phiếu kín không có danh sách người chọn.", "vote.secret")
    labels = dict(rules.options_for(rules.PollKind(p.kind)))
    ballots = {b.participant_id: b for b in s.scalars(select(OpenBallot).where(OpenBallot.poll_id == p.id))}
    people = {x.id: x for x in s.scalars(select(Participant).where(Participant.meeting_id == p.meeting_id))}
    out = []
    for pid in sorted(eligible_ids(s, p) | set(ballots), key=lambda i: (people[i].position, i)):
        b = ballots.get(pid)
        option = b.choice.get("option") if b else None
        out.append({"participant_id": pid, "name": people[pid].full_name, "choice": option,
                    "choice_label": labels.get(option or "", "Không tham gia biểu quyết"),
                    "proxy": bool(b and b.proxy_by)})
    return out


_pv, _poll = core_table(PollVoter), core_table(Poll)
#: The polls a delegate has voted in, with their kind: asked for every delegate's phone that connects (a prebuilt
#: statement on the DBAPI connection, store.prepared: the ORM's per-query work was most of its cost).
_VOTED = Prepared(select(_pv.c.poll_id, _poll.c.kind).select_from(_pv.join(_poll, _poll.c.id == _pv.c.poll_id))
                  .where(_poll.c.meeting_id == bindparam("m"), _pv.c.participant_id == bindparam("p"),
                         _pv.c.voted.is_(True)))


def my_ballots(s: Session, meeting_id: int, participant_id: int) -> dict[str, Any]:
    """For a reconnecting phone: per poll, whether this delegate's ballot is recorded (and their open choice)."""
    rows = _VOTED.rows(db.dbapi(s), m=meeting_id, p=participant_id)
    out: dict[str, Any] = {}
    for poll_id, kind in rows:
        entry: dict[str, Any] = {"voted": True}
        if kind == rules.PollKind.OPEN:
            b = s.get(OpenBallot, (poll_id, participant_id))
            if b is not None:
                entry["choice"] = b.choice.get("option")
                entry["proxy"] = bool(b.proxy_by)
        out[str(poll_id)] = entry
    return out


def shown_poll(polls: list[Poll], m: Meeting) -> Poll | None:
    """What the projector and phones put forward: the open poll, else the last closed or cancelled one of the
    current agenda item (moving to another item clears the screen)."""
    for p in polls:
        if p.state == rules.PollState.OPEN:
            return p
    done = [p for p in polls if p.state in (rules.PollState.CLOSED, rules.PollState.CANCELLED)]
    done.sort(key=lambda p: (p.closed_at or p.created_at, p.id))
    if done and (done[-1].agenda_item_id is None or done[-1].agenda_item_id == m.current_item_id):
        return done[-1]
    return None


def voting_state(m: Meeting, who: Principal) -> dict[str, Any]:
    """The `voting` part of the `state` snapshot (and `me.ballots` for a delegate)."""
    s = object_session(m)
    assert s is not None
    manage = who.can(Permission.VOTE_MANAGE)
    polls = [p for p in polls_of(s, m.id) if manage or p.state != rules.PollState.DRAFT]
    shown = shown_poll(polls, m)
    now = utcnow()
    out: dict[str, Any] = {
        "shown": view(s, shown, who, now) if shown is not None else None,
        "polls": [view(s, p, who, now) for p in polls] if manage else
        [{"id": p.id, "title": p.title, "state": p.state, "kind": p.kind} for p in polls],
    }
    if who.is_delegate and who.participant_id is not None:
        out["mine"] = my_ballots(s, m.id, who.participant_id)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Drafts


def _persons(raw: Any, what: Msgid) -> list[dict[str, str]]:
    """Candidates or officials from names (["Nguyễn Văn A", …]) or objects ({"key", "name"})."""
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > MAX_PEOPLE:
        raise DomainError("Danh sách %(what)s không hợp lệ (tối đa %(max)d người).", "payload.invalid",
                          params={"what": what, "max": MAX_PEOPLE})
    out = []
    for i, item in enumerate(raw, start=1):
        name: Any
        key: Any
        if isinstance(item, str):
            name, key = item, f"c{i}"
        elif isinstance(item, dict):
            name, key = item.get("name"), item.get("key") or f"c{i}"
        else:
            raise DomainError("Danh sách %(what)s không hợp lệ.", "payload.invalid", params={"what": what})
        name = limits.clean(limits.POLL_PERSON_NAME, name)
        key = limits.clean(limits.POLL_PERSON_KEY, key)
        if not name or not key:
            raise DomainError("Danh sách %(what)s có tên để trống.", "payload.invalid", params={"what": what})
        out.append({"key": key, "name": name})
    return out


def _changed(m: Meeting, p: Poll, event: str) -> Change:
    return unit.change(m, poll_id=p.id, poll_event=event)


def create(s: Session, m: Meeting, body: Mapping[str, Any], actor: str) -> Done[Poll]:
    """A draft poll from the clerk's or chair's form; the spec is checked by the domain before it is stored."""
    with unit.of_work(s):
        p = _create(s, m, body, actor)
    return Done(p, _changed(m, p, "created"))


def open_poll(s: Session, m: Meeting, p: Poll, actor: str, countdown: Any = None, *,
              keep_presentation: bool = False) -> Change:
    """Open a draft: who may vote is fixed now (the delegates present), an optional countdown starts (the caller
    arms its timer: `p.ends_at`). The presented document leaves the screens (the vote takes the projector) unless
    the chair keeps it (`keep_presentation`); then every screen gets a new `state` too."""
    from meeting_server.services import documents

    with unit.of_work(s):
        _open_poll(s, m, p, actor, countdown)
        ended = not keep_presentation and documents.stop_presenting(s, m, actor, "vote.opened")
    return unit.change(m, poll_id=p.id, poll_event="opened", state=ended)


def close(s: Session, m: Meeting, p: Poll, actor: str, *, at_start: bool = False) -> Change:
    """Close an open poll (the chair, or "countdown"), count it and keep the result; then empty the write-ahead
    log of its casts (`checkpoint_after_close`). The caller backs the database up (`backup.backup_now`).

    `at_start`: the countdown ran out while the server was down, and the poll is closed as the server starts; the
    audit entry says so, with the deadline it missed (ballots after that deadline were refused all the same)."""
    with unit.of_work(s):
        _close(s, m, p, actor, at_start=at_start)
    checkpoint_after_close(s)
    s.commit()  # the checkpoint's own (empty) transaction
    return _changed(m, p, "closed")


def cancel(s: Session, m: Meeting, p: Poll, reason: Any, actor: str) -> Change:
    """Cancel a draft or open poll; the record stays with its reason (ballots cast stay uncounted)."""
    with unit.of_work(s):
        _cancel(s, m, p, reason, actor)
    checkpoint_after_close(s)
    s.commit()
    return _changed(m, p, "cancelled")


def set_paper(s: Session, m: Meeting, p: Poll, body: Mapping[str, Any], actor: str) -> Change:
    """The counting committee's totals of paper ballots (biên bản kiểm phiếu) of a secret poll, marked as such."""
    with unit.of_work(s):
        _set_paper(s, m, p, body, actor)
    return _changed(m, p, "paper")


def proxy(s: Session, m: Meeting, p: Poll, who: Principal, participant_id: Any, choice: Any) -> Done[dict[str, int]]:
    """The secretary records the open vote of a delegate without a device, marked as such; everyone gets the
    progress counts (the answer carries them too)."""
    with unit.of_work(s):
        target = proxy_target(s, m.id, participant_id, p, who.actor)
        unit.bump(m)  # flushed by `cast` before its checks: the write lock is held while they read
        cast(s, Cast(who=who, poll_id=p.id, choice=choice, participant_id=target, proxy_by=who.actor))
        prog = progress(s, p)
    return Done(prog, unit.change(m, poll_id=p.id, progress=(prog["voted"], prog["eligible"])))


def _create(s: Session, m: Meeting, body: Mapping[str, Any], actor: str, revote_of: Poll | None = None) -> Poll:
    """A draft poll from the clerk's or chair's form; the spec is checked by the domain before it is stored."""
    try:
        kind = rules.PollKind(body.get("kind", "open"))
        threshold = rules.Threshold(body.get("threshold") or "more_than_half")
        base = rules.RatingBase(body.get("rating_base") or "seated")
    except ValueError as exc:
        raise DomainError("Loại biểu quyết hoặc ngưỡng không hợp lệ.", "vote.invalid_spec") from exc
    title = limits.clean(limits.POLL_TITLE, body.get("title", ""))
    if not title:
        raise DomainError("Hãy nhập nội dung biểu quyết.", "vote.invalid_spec")
    seats = body.get("seats", 1)
    if isinstance(seats, bool) or not isinstance(seats, int):
        raise DomainError("Số người được bầu phải là số nguyên.", "vote.invalid_spec")
    # A new poll belongs to the item under discussion unless the form says otherwise (null: no item).
    item_id = body.get("agenda_item_id") if "agenda_item_id" in body else m.current_item_id
    if item_id is not None:
        if isinstance(item_id, bool) or not isinstance(item_id, int):
            raise DomainError("Nội dung chương trình không hợp lệ.", "payload.invalid")
        item = s.get(AgendaItem, item_id)
        if item is None or item.meeting_id != m.id:
            raise NotFound("Không tìm thấy nội dung chương trình.")
    allow_change = body.get("allow_change", True)
    if not isinstance(allow_change, bool):
        raise DomainError("Thiết lập cho phép đổi lựa chọn không hợp lệ.", "payload.invalid")
    candidates = _persons(body.get("candidates"), N_("ứng cử viên"))
    officials = _persons(body.get("officials"), N_("người được lấy phiếu"))
    spec = rules.PollSpec(  # raises DomainError on a spec that could not give a meaningful ballot
        kind=kind, title=title, threshold=threshold, seats=seats,
        candidates=tuple(rules.Person(c["key"], c["name"]) for c in candidates),
        officials=tuple(rules.Person(c["key"], c["name"]) for c in officials),
        rating_base=base,
    )
    p = Poll(
        meeting_id=m.id, agenda_item_id=item_id, kind=str(kind), title=title, state=str(rules.PollState.DRAFT),
        spec={"threshold": str(spec.threshold), "seats": spec.seats, "candidates": candidates,
              "officials": officials, "rating_base": str(spec.rating_base)},
        # A secret ballot can never be changed once cast: it is no longer linked to its voter.
        allow_change=rules.may_change_choice(kind, allow_change),
        revote_of_id=revote_of.id if revote_of is not None else None,
        cancel_reason="", closed_by="",
    )
    s.add(p)
    s.flush()
    unit.bump(m)
    audit.record(s, m.id, "vote.created", actor,
                 {"poll_id": p.id, "kind": p.kind, "title": title, "spec": p.spec,
                  "agenda_item_id": item_id, "revote_of": p.revote_of_id})
    return p


def revote(s: Session, m: Meeting, old: Poll, actor: str) -> Done[Poll]:
    """A new draft with the same question, linked to the old poll (which keeps its record)."""
    with unit.of_work(s):
        p = _revote(s, m, old, actor)
    return Done(p, _changed(m, p, "created"))


def _revote(s: Session, m: Meeting, old: Poll, actor: str) -> Poll:
    if old.state not in (rules.PollState.CLOSED, rules.PollState.CANCELLED):
        raise DomainError("Chỉ biểu quyết lại khi cuộc biểu quyết đã kết thúc hoặc đã hủy.", "vote.not_done")
    body = dict(old.spec, kind=old.kind, title=old.title, agenda_item_id=old.agenda_item_id,
                allow_change=old.allow_change)
    return _create(s, m, body, actor, revote_of=old)


# ---------------------------------------------------------------------------------------------------------------
# Lifecycle


def _open_poll(s: Session, m: Meeting, p: Poll, actor: str, countdown: Any = None) -> None:
    """Open a draft: who may vote is fixed now (the delegates present), an optional countdown starts."""
    if countdown is not None and (isinstance(countdown, bool) or not isinstance(countdown, int)
                                  or not 5 <= countdown <= MAX_COUNTDOWN):
        raise DomainError("Thời gian đếm ngược phải từ 5 đến %(max)d giây.", "vote.invalid_countdown",
                          params={"max": MAX_COUNTDOWN})
    new_state = rules.open_poll(rules.PollState(p.state))
    other = s.scalar(select(Poll.id).where(Poll.meeting_id == m.id, Poll.state == rules.PollState.OPEN,
                                           Poll.id != p.id).limit(1))
    if other is not None:
        raise DomainError("Đang có một cuộc biểu quyết khác mở. Hãy kết thúc nó trước.", "vote.another_open")
    present = _present_delegates(s, m.id)
    if not present:
        raise DomainError("Chưa có đại biểu nào có mặt để biểu quyết.", "vote.nobody_present")
    listed = s.scalar(select(func.count()).select_from(Participant).where(
        Participant.meeting_id == m.id, Participant.role.in_([r.value for r in DELEGATE_ROLES]))) or 0
    # Decided now, not at close: a count cannot issue more ballots than N (domain.voting.tally).
    rules.check_can_open(int(listed), len(present), m.seated_count)
    now = utcnow()
    p.state = str(new_state)
    p.opened_at = now
    p.countdown_seconds = countdown
    p.ends_at = now + timedelta(seconds=countdown) if countdown else None
    for pid in sorted(present):
        s.add(PollVoter(poll_id=p.id, participant_id=pid, source="opened", voted=False))
    unit.bump(m)
    audit.record(s, m.id, "vote.opened", actor,
                 {"poll_id": p.id, "eligible": sorted(present), "countdown": countdown})


def _add_arrivals(s: Session, p: Poll) -> None:
    """Delegates marked present while the poll is open join the voters (kept when the poll closes)."""
    known = set(_voters(s, p.id))
    for pid in sorted(_present_delegates(s, p.meeting_id) - known):
        s.add(PollVoter(poll_id=p.id, participant_id=pid, source="arrived", voted=False))
    s.flush()


def on_present(s: Session, m: Meeting, participant_id: int) -> None:
    """Hook for attendance: a delegate marked present while a poll is open may vote in it."""
    for p in s.scalars(select(Poll).where(Poll.meeting_id == m.id, Poll.state == rules.PollState.OPEN)):
        if s.get(PollVoter, (p.id, participant_id)) is None:
            s.add(PollVoter(poll_id=p.id, participant_id=participant_id, source="arrived", voted=False))


def _ballots(s: Session, p: Poll) -> list[rules.NormalizedChoice]:
    table = SecretBallot if rules.PollKind(p.kind).is_secret else OpenBallot
    return [rules.NormalizedChoice.from_dict(c) for c in s.scalars(select(table.choice).where(table.poll_id == p.id))]


def compute_result(s: Session, m: Meeting, p: Poll) -> dict[str, Any]:
    """The count by the domain's tally, with N = the meeting's seated delegates, and the announcement lines."""
    paper = None
    if p.paper:
        paper = rules.PaperTotals(issued=p.paper["issued"], returned=p.paper["returned"],
                                  invalid=p.paper.get("invalid", 0), counts=p.paper.get("counts", {}),
                                  ratings=p.paper.get("ratings", {}))
    result = rules.tally(spec_of(p), _ballots(s, p), m.seated_count, len(_voters(s, p.id)), paper)
    return dict(result.to_dict(), lines=result.lines_vi(m.council_level))


def _close(s: Session, m: Meeting, p: Poll, actor: str, *, at_start: bool = False) -> None:
    """Close an open poll (the chair, or "countdown"), count it and keep the result."""
    deadline = p.ends_at
    p.state = str(rules.close_poll(rules.PollState(p.state)))
    _add_arrivals(s, p)
    p.closed_at = utcnow()
    p.closed_by = actor
    p.result = compute_result(s, m, p)
    if rules.PollKind(p.kind).is_secret:
        reshuffle_secret_ballots(s, p)
    unit.bump(m)
    detail: dict[str, Any] = {"poll_id": p.id, "result": _audit_result(p.result)}
    if at_start and deadline is not None:
        detail.update(closed_at_start=True, deadline=deadline.isoformat())
    audit.record(s, m.id, "vote.closed", actor, detail)


def _audit_result(result: dict[str, Any]) -> dict[str, Any]:
    """The totals for the audit trail (what is announced in the hall; never a single ballot)."""
    return {k: result[k] for k in ("issued", "returned", "valid", "invalid", "outcome", "elected", "tied")} | {
        "options": {o["key"]: o["votes"] for o in result["options"]},
        "ratings": {r["key"]: {lv["key"]: lv["votes"] for lv in r["levels"]} for r in result["ratings"]},
    }


def reshuffle_secret_ballots(s: Session, p: Poll) -> None:
    """Rewrite a closed secret poll's ballots in key order, with SQLite's secure_delete on.

    Inside the database file a row's bytes sit where free space was when it was inserted, which follows the order
    of casting; rewriting them in key order, after zeroing the old copies, leaves a layout that depends on the random
    keys only (docs/SECRECY.md). The caller commits; `checkpoint_after_close` then empties the write-ahead log.
    """
    conn = s.connection()
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")
    rows = s.execute(select(SecretBallot.key, SecretBallot.choice)
                     .where(SecretBallot.poll_id == p.id).order_by(SecretBallot.key)).all()
    s.execute(delete(SecretBallot).where(SecretBallot.poll_id == p.id))
    for key, choice in rows:
        s.execute(insert(SecretBallot).values(key=key, poll_id=p.id, choice=choice))


#: The application name of the backups' pg_dump (services/pgbackup.py): the one connection a secret close ends.
BACKUP_APPLICATION = "meeting-server-backup"


def _cluster_secret_ballots(conn: Any) -> None:
    """CLUSTER needs the table alone, and a backup's pg_dump holds it (ACCESS SHARE) for as long as it copies: an
    idle-class child on a busy box took 30 s, and the close waited until its lock timeout, answered as the database
    away. So the CLUSTER waits 2 s at most; then this ends the backups' pg_dump (its copy is from before this close,
    and the backup after this close follows; the failed one is logged) and clusters again."""
    from sqlalchemy.exc import OperationalError

    conn.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
    try:
        with conn.begin_nested():
            conn.exec_driver_sql("CLUSTER secret_ballot USING secret_ballot_pkey")
    except OperationalError:
        ended = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = %(name)s "
            "AND datname = current_database() AND pid <> pg_backend_pid()", {"name": BACKUP_APPLICATION}).scalar()
        log.warning("a backup's pg_dump held the secret ballots at a close: %s ended, clustering again", ended)
        conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")
        conn.exec_driver_sql("CLUSTER secret_ballot USING secret_ballot_pkey")
    conn.exec_driver_sql("SET LOCAL lock_timeout = '30s'")


def checkpoint_after_close(s: Session) -> None:
    """Copy the write-ahead log into the database and truncate it, so the log's history of casts is gone.

    PostgreSQL's counterpart (docs/SECRECY.md): its heap has no WITHOUT ROWID order, so the table is rewritten in
    the order of its random primary key (`CLUSTER … USING secret_ballot_pkey`, a new file; the old one is unlinked)
    with its indexes. PostgreSQL's WAL cannot be emptied: the records of the casts stay in pg_wal until their
    segments are recycled and overwritten, which the operator's retention settles."""
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        _cluster_secret_ballots(conn)
        return
    if conn.dialect.name != "sqlite":
        return
    for _ in range(40):
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
        if not busy:
            return
        time.sleep(0.05)  # a reader still holds an older snapshot (eventlet's sleep when serving: others go on)
    log.warning("the write-ahead log could not be emptied after a poll closed; it will be at the next checkpoint")


def _cancel(s: Session, m: Meeting, p: Poll, reason: Any, actor: str) -> None:
    """Cancel a draft or open poll; the record stays with its reason (ballots cast stay uncounted)."""
    reason = limits.clean(limits.POLL_CANCEL_REASON, reason if reason is not None else "")
    p.state = str(rules.cancel_poll(rules.PollState(p.state), reason))
    p.cancel_reason = reason
    p.closed_at = utcnow()
    p.closed_by = actor
    if p.kind != rules.PollKind.OPEN:
        reshuffle_secret_ballots(s, p)
    unit.bump(m)
    audit.record(s, m.id, "vote.cancelled", actor, {"poll_id": p.id, "reason": reason})


def _set_paper(s: Session, m: Meeting, p: Poll, body: Mapping[str, Any], actor: str) -> None:
    """The counting committee's totals of paper ballots (biên bản kiểm phiếu) of a secret poll, marked as such."""
    if not rules.PollKind(p.kind).is_secret:
        raise DomainError("Chỉ nhập phiếu giấy cho bỏ phiếu kín; biểu quyết công khai do thư ký ghi thay.",
                          "vote.paper_open")
    if p.state not in (rules.PollState.OPEN, rules.PollState.CLOSED):
        raise DomainError("Chỉ nhập phiếu giấy khi cuộc bỏ phiếu đang mở hoặc đã kết thúc.", "vote.not_open")

    def count(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise DomainError("Số liệu biên bản kiểm phiếu phải là số nguyên không âm.", "vote.invalid_paper_totals")
        return v

    counts = body.get("counts") or {}
    ratings = body.get("ratings") or {}
    if not isinstance(counts, dict) or not isinstance(ratings, dict) or \
            not all(isinstance(v, dict) for v in ratings.values()):
        raise DomainError("Số liệu biên bản kiểm phiếu không hợp lệ.", "vote.invalid_paper_totals")
    paper = {"issued": count(body.get("issued")), "returned": count(body.get("returned")),
             "invalid": count(body.get("invalid", 0)),
             "counts": {str(k): count(v) for k, v in counts.items()},
             "ratings": {str(k): {str(lv): count(n) for lv, n in v.items()} for k, v in ratings.items()}}
    previous = p.paper
    p.paper = paper
    try:
        # The domain checks the totals against the poll (and N) before anything is kept.
        result = compute_result(s, m, p)
    except DomainError:
        p.paper = previous
        raise
    if p.state == rules.PollState.CLOSED:
        p.result = result
    unit.bump(m)
    audit.record(s, m.id, "vote.paper_totals", actor, {"poll_id": p.id, "paper": paper})


def expired(s: Session, now: datetime | None = None) -> list[Poll]:
    """Open polls whose countdown has run out (after a restart, or when the timer task died)."""
    now = now or utcnow()
    return [p for p in s.scalars(select(Poll).where(Poll.state == rules.PollState.OPEN, Poll.ends_at.is_not(None)))
            if p.ends_at is not None and p.ends_at <= now]


def backups_due(s: Session) -> list[int]:
    """Closed polls whose backup after the close is not done yet (`poll.backed_up_at`), oldest first."""
    return list(s.scalars(select(Poll.id).where(Poll.state == rules.PollState.CLOSED, Poll.backed_up_at.is_(None))
                          .order_by(Poll.id)))


def backup_done(s: Session, poll_id: int) -> None:
    """The backup after the poll's close is made (or was tried, its failure logged): nobody makes it again. Its own
    unit of work; no screen shows it, so `seq` does not move."""
    with unit.of_work(s):
        s.execute(update(Poll).where(Poll.id == int(poll_id)).values(backed_up_at=utcnow())
                  .execution_options(synchronize_session=False))


# ---------------------------------------------------------------------------------------------------------------
# Casting


@dataclass(frozen=True)
class Cast:
    """One delegate's ballot as it arrives (from the phone, or recorded by the secretary: `proxy_by`)."""

    who: Principal
    poll_id: Any
    choice: Any
    participant_id: int | None = None
    proxy_by: str = ""


@dataclass(frozen=True)
class Casted:
    """A stored ballot: which poll, whether it replaced an earlier open-vote choice."""

    poll_id: int
    meeting_id: int
    changed: bool


@dataclass
class _PollBatch:
    """One poll's state while a batch of ballots is written: read once, written with one statement per table."""

    poll: Poll
    spec: rules.PollSpec
    voters: dict[int, bool]  # participant -> voted
    open_choices: dict[int, dict[str, Any]]  # open votes: participant -> stored choice
    present: set[int] | None = None
    new_voters: list[dict[str, Any]] = field(default_factory=list)
    voted: list[dict[str, Any]] = field(default_factory=list)
    open_new: dict[int, dict[str, Any]] = field(default_factory=dict)  # participant -> row, first time in a batch
    open_changed: list[dict[str, Any]] = field(default_factory=list)
    secret_new: list[dict[str, Any]] = field(default_factory=list)


def cast(s: Session, c: Cast, now: datetime | None = None) -> Casted:
    """Store one ballot (raise DomainError on a refusal); the caller commits. See `cast_many`."""
    out = cast_many(s, [c], now)[0]
    if isinstance(out, DomainError):
        raise out
    return out


def cast_many(s: Session, casts: list[Cast], now: datetime | None = None) -> list[Casted | DomainError]:
    """Store a batch of ballots in the caller's transaction (one commit for all of them, done by the caller; no
    ack before it). Each ballot is checked on its own; a refused one changes nothing.

    Refusals: not a delegate, unknown poll, not open, countdown over (the stored deadline, whatever the timer
    does), not eligible, a choice not offered, already voted (secret, or open without changes allowed), a proxy for
    a secret ballot. A secret ballot writes participation and a row with a random key and no voter in the same
    transaction; the audit trail gets "participated" for it, never the choice. The caller should hold the write
    lock (the batch writer updates `meeting.seq` first) so that what is read here stays true until the commit.
    """
    now = now or utcnow()
    s.flush()
    polls: dict[int, _PollBatch] = {}
    audit_rows: list[tuple[int, str, str, dict[str, Any]]] = []
    out: list[Casted | DomainError] = []
    # A meeting whose minutes are being signed or are signed takes no ballot (audit.record's rule, which the
    # batched append below does not read): one indexed query per batch, not per ballot.
    frozen = audit.frozen_among(s, {c.who.meeting_id for c in casts})
    for c in casts:
        try:
            if c.who.meeting_id in frozen:
                raise DomainError(audit.FROZEN_MESSAGE, "meeting.frozen")
            out.append(_check_and_stage(s, polls, c, now, audit_rows))
        except DomainError as err:
            out.append(err)
    if audit_rows:
        _write_staged(s, polls, now)
        audit.record_many(s, audit_rows)
    return out


def _batch_for(s: Session, polls: dict[int, _PollBatch], poll_id: int, meeting_id: int) -> _PollBatch:
    b = polls.get(poll_id)
    if b is not None and b.poll.meeting_id != meeting_id:
        # A batch holds ballots of every meeting the deployment serves: the poll found for an earlier ballot is
        # another meeting's to this one, absent as `get` says (tests/services/test_ballots_across_meetings.py).
        raise NotFound("Không tìm thấy cuộc biểu quyết.")
    if b is None:
        p = get(s, poll_id, meeting_id)
        conn = s.connection()
        voters = {pid: bool(v) for pid, v in conn.execute(
            select(PollVoter.participant_id, PollVoter.voted).where(PollVoter.poll_id == p.id))}
        choices: dict[int, dict[str, Any]] = {}
        if p.kind == rules.PollKind.OPEN:
            choices = {pid: ch for pid, ch in conn.execute(
                select(OpenBallot.participant_id, OpenBallot.choice).where(OpenBallot.poll_id == p.id))}
        b = polls[poll_id] = _PollBatch(p, spec_of(p), voters, choices)
    return b


def _check_and_stage(s: Session, polls: dict[int, _PollBatch], c: Cast, now: datetime,
                     audit_rows: list[tuple[int, str, str, dict[str, Any]]]) -> Casted:
    who = c.who
    if not who.is_delegate or who.participant_id is None:
        raise DomainError("Chỉ đại biểu HĐND mới được biểu quyết.", "vote.not_delegate")
    if isinstance(c.poll_id, bool) or not isinstance(c.poll_id, int):
        raise payload.invalid()
    pid = c.participant_id if c.participant_id is not None else who.participant_id
    b = _batch_for(s, polls, c.poll_id, who.meeting_id)
    p = b.poll
    kind = b.spec.kind
    if kind.is_secret and c.proxy_by:
        raise DomainError("Không ai được bỏ phiếu kín thay người khác; hãy nhập phiếu giấy theo biên bản "
                          "kiểm phiếu.", "vote.proxy_secret")
    if p.state == rules.PollState.OPEN and p.ends_at is not None and now >= p.ends_at:
        # The deadline is the stored one: a ballot after it is refused even if the timer task never ran.
        raise DomainError("Đã hết thời gian biểu quyết.", "vote.time_up")
    rules.check_can_cast(rules.PollState(p.state), kind, b.voters.get(pid, False), p.allow_change)
    if c.proxy_by and b.voters.get(pid, False):
        # Checked again here, in the transaction that writes: a ballot recorded for someone never replaces theirs.
        raise DomainError("Đại biểu đã tự biểu quyết: không thể ghi phiếu thay.", "vote.proxy_already_voted")
    arrived = pid not in b.voters
    if arrived:
        if b.present is None:
            b.present = _present_delegates(s, p.meeting_id)
        if pid not in b.present:
            raise DomainError("Bạn không có tên trong danh sách biểu quyết (chưa điểm danh có mặt khi mở biểu "
                              "quyết).", "vote.not_eligible")
    choice = rules.validate_choice(b.spec, c.choice).to_dict()
    actor = c.proxy_by or who.actor
    if arrived:
        b.new_voters.append({"poll_id": p.id, "participant_id": pid, "source": "arrived", "voted": True})
    elif not b.voters[pid]:
        b.voted.append({"p": p.id, "pid": pid})
    b.voters[pid] = True
    if kind.is_secret:
        b.secret_new.append({"key": secrets.token_hex(16), "poll_id": p.id, "choice": choice})
        audit_rows.append((p.meeting_id, "vote.participated", actor, {"poll_id": p.id, "participant_id": pid}))
        return Casted(p.id, p.meeting_id, False)
    changed = pid in b.open_choices
    row = {"poll_id": p.id, "participant_id": pid, "choice": choice, "proxy_by": c.proxy_by}
    if changed:
        b.open_changed.append({"p": p.id, "pid": pid, "choice": choice, "proxy_by": c.proxy_by, "at": now})
    elif pid in b.open_new:  # twice in one batch: the later choice wins
        b.open_new[pid].update(row)
        changed = True
    else:
        b.open_new[pid] = dict(row, cast_at=now)
    b.open_choices.setdefault(pid, choice)
    audit_rows.append((p.meeting_id, "vote.cast", actor,
                       {"poll_id": p.id, "participant_id": pid, "choice": choice["option"],
                        "proxy": bool(c.proxy_by), "changed": changed}))
    return Casted(p.id, p.meeting_id, changed)


def _write_staged(s: Session, polls: dict[int, _PollBatch], now: datetime) -> None:
    """One statement per table and poll. Unique keys guard every row: a second ballot of one delegate fails in the
    database even if the checks above were somehow bypassed."""

    conn = s.connection()
    for b in polls.values():
        if b.new_voters:
            conn.execute(insert(PollVoter), b.new_voters)
        if b.voted:
            # Only a row not yet voted is updated: participation is set once, by the database's own check.
            pv = core_table(PollVoter)
            done = conn.execute(
                update(pv)
                .where(pv.c.poll_id == bindparam("p"), pv.c.participant_id == bindparam("pid"),
                       pv.c.voted.is_(False))
                .values(voted=True), b.voted)
            if done.rowcount != len(b.voted):
                raise DomainError("Đại biểu đã bỏ phiếu; không thể thay đổi.", "vote.already_voted")
        if b.secret_new:
            # Within a batch too, rows go in by random key, not by arrival.
            conn.execute(insert(SecretBallot), sorted(b.secret_new, key=lambda r: r["key"]))
        if b.open_new:
            conn.execute(insert(OpenBallot), list(b.open_new.values()))
        if b.open_changed:
            t = core_table(OpenBallot)
            conn.execute(update(t).where(t.c.poll_id == bindparam("p"), t.c.participant_id == bindparam("pid"))
                         .values(choice=bindparam("choice"), proxy_by=bindparam("proxy_by"),
                                 changed_at=bindparam("at")), b.open_changed)


def proxy_target(s: Session, meeting_id: int, participant_id: Any, poll: Poll | None = None,
                 recorder: str = "") -> int:
    """Check that the secretary (`recorder`) may record a vote in `poll` for this delegate of the meeting: present
    (as confirmed by someone else), not voted, and without their own device connected (domain.voting.check_proxy)."""
    if isinstance(participant_id, bool) or not isinstance(participant_id, int):
        raise DomainError("Hãy chọn đại biểu.", "payload.invalid")
    target = s.get(Participant, participant_id)
    if target is None or target.meeting_id != meeting_id:
        raise NotFound("Không tìm thấy đại biểu.")
    if Role(target.role) not in DELEGATE_ROLES:
        raise DomainError("Chỉ ghi phiếu cho đại biểu HĐND.", "vote.not_delegate")
    if poll is not None:
        from meeting_server.services import devices

        if rules.PollKind(poll.kind).is_secret:
            raise DomainError("Không ai được bỏ phiếu kín thay người khác; hãy nhập phiếu giấy theo biên bản "
                              "kiểm phiếu.", "vote.proxy_secret")
        a = target.attendance
        voter = s.get(PollVoter, (poll.id, target.id))
        rules.check_proxy(present=a is not None and a.status == "present",
                          marked_by_recorder=a is not None and bool(recorder) and a.marked_by == recorder,
                          voted=voter is not None and voter.voted,
                          device_connected=devices.has_live_device(s, target.id))
    return target.id
