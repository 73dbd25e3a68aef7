"""Voting over Socket.IO: `cast` (acknowledged only after the commit), the `poll` and `poll.progress` broadcasts,
the countdown timers, and the group-commit writer that lets 500 phones cast within one second.

Events:
- `cast` {poll_id, choice}: sent by a delegate's phone; ack {"ok": true, "poll_id", "changed"} after the ballot is
  on disk, or {"ok": false, "error", "code"}.
- `poll` {event: created|opened|closed|cancelled|paper|changed, poll, seq}: to every role room, each role getting
  what it may see (drafts only to managers, named lists of open votes only to chair, secretary and clerk).
- `poll.progress` {poll_id, voted, eligible, seq}: to the meeting room after each group commit; never a choice.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask
from sqlalchemy import select

from meeting_server.domain import payload
from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.faults import disk_fault
from meeting_server.realtime import links
from meeting_server.realtime.announce import announce
from meeting_server.realtime.registry import failed, forbidden, lean_socket_event, revoked
from meeting_server.services import tokens, unit, voting
from meeting_server.services.unit import Change
from meeting_server.store import db
from meeting_server.store.tables import Meeting, Poll, utcnow

log = logging.getLogger(__name__)

#: Most ballots written in one transaction; bounds how long one commit holds the event loop.
MAX_BATCH = 500
ACK_TIMEOUT = 30.0
#: Times a batch PostgreSQL ended as a deadlock's victim (or a serialization failure) is written again.
RETRIES = 3
BUSY = DomainError("Máy chủ bận, chưa ghi được phiếu. Hãy bấm gửi lại.", "vote.busy")


def _socketio() -> Any:
    from meeting_server.extensions import socketio

    return socketio


# ---------------------------------------------------------------------------------------------------------------
# After a poll closed


def back_up_after_close(app: Flask, poll_id: int) -> None:
    """A closed poll is a result the council announced: copy the database right away (SQLite's backup API in a real
    thread, pg_dump in an idle-class child), so a dead disk after the session loses nothing that was decided. The
    poll stays due (`poll.backed_up_at` NULL) until it is made: if this process dies first, another one's heartbeat
    makes it (`adopt_backups`), under the lease `poll:<id>:backup` so that one process makes it."""
    running: set[int] = app.extensions.setdefault("backups_running", set())
    if poll_id in running:
        return
    running.add(poll_id)
    _socketio().start_background_task(_backup_after_close, app, poll_id)


def _backup_after_close(app: Flask, poll_id: int) -> None:
    from meeting_server.domain.leases import backup_after_close as lease_name
    from meeting_server.services import backup, leases

    me = leases.owner(app)
    try:
        with app.app_context(), db.standalone_session(app) as s:
            p = s.get(Poll, poll_id)
            if p is None or p.backed_up_at is not None:
                return  # made meanwhile by another process
            if not leases.take(s, lease_name(poll_id), me, meeting_id=p.meeting_id):
                return  # another live process makes it
        try:
            if backup.automatic(app):
                backup.backup_now(app, f"poll-{poll_id}-closed")
        except Exception:  # a failed backup must not disturb the sitting; it is logged for the clerk
            log.exception("backup after poll %s closed failed", poll_id)
        with app.app_context(), db.standalone_session(app) as s:
            voting.backup_done(s, poll_id)
            leases.release(s, lease_name(poll_id), me)
    finally:
        app.extensions.setdefault("backups_running", set()).discard(poll_id)


def adopt_backups(app: Flask) -> list[int]:
    """Make the backup of every closed poll whose backup is still due and that no live process is making (its
    lease is free or ran out: the process that closed it died first). On each heartbeat. Returns the polls taken."""
    from meeting_server.domain.leases import backup_after_close as lease_name
    from meeting_server.services import leases

    running: set[int] = app.extensions.setdefault("backups_running", set())
    now = utcnow()
    with app.app_context(), db.standalone_session(app) as s:
        due = [pid for pid in voting.backups_due(s) if pid not in running]
        free = [pid for pid in due if (h := leases.holder(s, lease_name(pid))) is None or h.expires_at <= now]
    for pid in free:
        back_up_after_close(app, pid)
    return free


# ---------------------------------------------------------------------------------------------------------------
# Group commit


@dataclass
class _Pending:
    """A ballot as it arrived: the connection, its token (resolved by the writer, with the batch), and the data."""

    sid: str
    token: str | None
    poll_id: Any
    choice: Any
    done: threading.Event = field(default_factory=threading.Event)
    ack: dict[str, Any] | None = None


class BallotWriter:
    """One green thread that writes queued ballots together: one transaction, one fsync, then every ack.

    sqlite3 calls hold the eventlet loop, so 500 separate FULL commits would queue behind each other; writing what
    has gathered in one commit keeps the ack latency near one commit. No ack is sent before its commit.
    The measured hot path that owns its transaction here rather than in a service's `unit.of_work` (ballots of
    many phones in one unit); services.voting.cast_many writes them, `unit.bump_many` moves the seqs.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.q: queue.Queue[_Pending] = queue.Queue()
        self.batches = 0

    def submit(self, item: _Pending) -> dict[str, Any]:
        """Queue one ballot and wait for its commit; returns the ack."""
        self.q.put(item)
        if not item.done.wait(ACK_TIMEOUT):
            return failed(BUSY, item.sid)
        assert item.ack is not None
        return item.ack

    def run(self) -> None:
        """Forever: take the first waiting ballot, let the others that are ready join it, write them all."""
        sio = _socketio()
        while True:
            batch = [self.q.get()]
            sio.sleep(0)  # let handlers that already have a ballot in hand queue it
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.q.get_nowait())
                except queue.Empty:
                    break
            # Seen once in CI's PostgreSQL restart test: `get` returned a tuple nobody queued, a stale wake-up of
            # eventlet's green select that psycopg used to wait in (store/greenwait.py says how; it no longer
            # does, tests/store/test_postgresql_eventlet.py). Kept as a guard: such a value is dropped, the ballots
            # really queued are still in the queue.
            stray = [x for x in batch if not isinstance(x, _Pending)]
            if stray:
                log.warning("ballot writer: dropped %d value(s) nobody queued: %r", len(stray), stray[:3])
                batch = [x for x in batch if isinstance(x, _Pending)]
                if not batch:
                    continue
            try:
                self._write_safely(batch)
            except Exception:  # the writer must outlive anything, or every later ballot waits out ACK_TIMEOUT
                log.exception("ballot writer: a batch of %d failed beyond its own handling", len(batch))
                self._refuse(batch, None)

    def _write_safely(self, batch: list[_Pending], attempt: int = 1) -> None:
        try:
            with self.app.app_context():
                self._write(batch)
        except Exception as exc:  # never let the writer die: the phones would wait forever
            state = db.sqlstate(exc)
            if state in db.RETRY_STATES and attempt <= RETRIES:
                # Another process's batch and this one each held a row the other wanted, and PostgreSQL ended this
                # one (nothing of it committed): written again, as PostgreSQL asks, before any phone is answered.
                log.warning("ballot batch of %d: %s (attempt %d), written again", len(batch), state, attempt)
                self._write_safely(batch, attempt + 1)
                return
            # A full or read-only disk, or the database gone (not committed: realtime/links.py), or a lock waited
            # out: each phone is told so, and the ballot is not counted.
            fault = disk_fault(exc) or links.noticed(self.app, exc) or (
                BUSY if state == db.LOCK_TIMEOUT_STATE else None)
            if fault is None:
                log.exception("ballot batch of %d failed", len(batch))
            else:
                log.error("ballot batch of %d refused: %s (%s)", len(batch), fault.code, exc)
            if len(batch) > 1 and fault is None:
                # One bad apple must not cost the others their ballot: write them one by one.
                for item in batch:
                    if item.ack is None:
                        self._write_safely([item])
                return
            self._refuse(batch, fault)

    @staticmethod
    def _refuse(batch: list[_Pending], fault: DomainError | None) -> None:
        """Every ballot of the batch still unanswered is told it was not stored (why, when `fault` says)."""
        for item in batch:
            if item.ack is None:
                item.ack = failed(fault or DomainError("Chưa ghi được phiếu. Hãy bấm gửi lại.", "vote.not_stored"),
                                  item.sid)
                item.done.set()

    def _write(self, batch: list[_Pending]) -> None:
        self.batches += 1
        started = time.monotonic()
        touched: dict[int, int] = {}  # poll_id -> meeting_id
        acks: list[dict[str, Any] | None] = [None] * len(batch)
        with db.standalone_session(self.app) as s:
            # Who is casting: every token of the batch in one query, with the rules of every other event (a card
            # that no longer resolves is refused and hung up; a role without VOTE_CAST is refused).
            who = tokens.resolve_many(s, [item.token or "" for item in batch])
            casts: list[tuple[int, voting.Cast]] = []
            for i, item in enumerate(batch):
                w = who[item.token or ""]
                if isinstance(w, DomainError):
                    acks[i] = revoked(item.sid)  # unknown or revoked: the answer of every other event
                elif not w.can(Permission.VOTE_CAST):
                    acks[i] = forbidden(item.sid)
                else:
                    casts.append((i, voting.Cast(who=w, poll_id=item.poll_id, choice=item.choice)))
            meetings = sorted({c.who.meeting_id for _i, c in casts})
            if meetings:
                # A write before the checks: it takes SQLite's write lock, so what the checks read stays true until
                # the commit. (The tokens were read just before it, with no yield in between.)
                unit.bump_many(s, meetings)
                outcomes = voting.cast_many(s, [c for _i, c in casts], utcnow())
                for (i, _c), out in zip(casts, outcomes, strict=True):
                    if isinstance(out, DomainError):
                        acks[i] = failed(out, batch[i].sid)
                    else:
                        touched[out.poll_id] = out.meeting_id
                        acks[i] = {"ok": True, "poll_id": out.poll_id, "changed": out.changed}
            if not touched:
                s.rollback()
                self._answer(batch, acks)
                return
            figures = []
            for poll_id, meeting_id in touched.items():
                p = s.get(Poll, poll_id)
                assert p is not None
                figures.append((meeting_id, voting.progress(s, p)))
            seqs = dict(s.execute(select(Meeting.id, Meeting.seq).where(Meeting.id.in_(meetings))).tuples().all())
            s.commit()  # hot path, the group commit: synchronous=FULL, on disk when this returns
        self._answer(batch, acks)
        log.debug("wrote %d ballots in %.1f ms", len(batch), (time.monotonic() - started) * 1000)
        for meeting_id, prog in figures:
            announce(Change(meeting_id, seqs[meeting_id], poll_id=prog["poll_id"],
                            progress=(prog["voted"], prog["eligible"])))

    @staticmethod
    def _answer(batch: list[_Pending], acks: list[dict[str, Any] | None]) -> None:
        for item, ack in zip(batch, acks, strict=True):
            item.ack = ack
            item.done.set()


_writer_lock = threading.Lock()


def writer(app: Flask) -> BallotWriter:
    """The app's ballot writer, started on first use."""
    w = app.extensions.get("ballot_writer")
    if w is None:
        with _writer_lock:
            w = app.extensions.get("ballot_writer")
            if w is None:
                w = BallotWriter(app)
                app.extensions["ballot_writer"] = w
                _socketio().start_background_task(w.run)
    return w


@lean_socket_event("cast", requires=Permission.VOTE_CAST)
def on_cast(sid: str, token: str | None, data: Any) -> dict[str, Any]:
    """Sent by a delegate's phone: {poll_id, choice}. Acknowledged after the commit; progress goes to everyone.

    The lean path (no Flask request context, no token lookup of its own): the writer resolves the tokens of a
    whole batch in one query and checks VOTE_CAST there, so 500 ballots in one second cost the loop little more
    than their frames. Permission: VOTE_CAST, checked by BallotWriter._write.
    """
    if not isinstance(data, dict):
        return failed(payload.invalid(), sid)
    from meeting_server.extensions import socketio

    environ = socketio.server.get_environ(sid)
    if not environ:  # the connection is already gone
        return failed(DomainError("Mất kết nối, hãy gửi lại.", "vote.disconnected"), sid)
    app = environ["flask.app"]
    return writer(app).submit(_Pending(sid, token, data.get("poll_id"), data.get("choice")))


# ---------------------------------------------------------------------------------------------------------------
# Countdown


def schedule_close(app: Flask, poll_id: int, meeting_id: int | None = None) -> bool:
    """Close the poll at its deadline (the database refuses later ballots even if this task never runs).

    One process runs a poll's countdown: the one holding its lease (`domain.leases.countdown`). Whoever opens the
    poll takes it; if that process dies, its lease runs out and another process's heartbeat takes it over
    (`adopt_countdowns`), so the poll still closes at its deadline (late by at most the lease's time-to-live when
    the owner dies just before it) and is announced once. Returns whether this process now runs the countdown."""
    from meeting_server.domain.leases import countdown
    from meeting_server.services import leases

    armed: set[int] = app.extensions.setdefault("countdowns_armed", set())
    if poll_id in armed:
        return True
    me, name = leases.owner(app), countdown(poll_id)
    with app.app_context(), db.standalone_session(app) as s:
        if not leases.take(s, name, me, meeting_id=meeting_id):
            return False
    armed.add(poll_id)

    def task() -> None:
        try:
            while True:
                with app.app_context(), db.standalone_session(app) as s:
                    p = s.get(Poll, poll_id)
                    if p is None or p.state != "open" or p.ends_at is None:
                        return
                    # Still ours? A process whose loop stalled past the lease's life may have lost it to another.
                    if not leases.holds(s, name, me) and not leases.take(s, name, me, meeting_id=p.meeting_id):
                        log.info("poll %s: its countdown was taken over by another process", poll_id)
                        return
                    left = (p.ends_at - utcnow()).total_seconds()
                if left > 0:
                    _socketio().sleep(min(left, 1.0))
                    continue
                close_expired(app, only=poll_id)
                return
        except Exception:
            log.exception("poll %s: countdown failed", poll_id)
        finally:
            armed.discard(poll_id)
            with app.app_context(), db.standalone_session(app) as s:
                leases.release(s, name, me)

    _socketio().start_background_task(task)
    return True


def adopt_countdowns(app: Flask) -> list[int]:
    """Arm the countdown of every open poll with a deadline that no live process runs (its lease is free or ran
    out): at start, and on each heartbeat, so a dead process's polls still close. Returns the polls armed now."""
    armed: set[int] = app.extensions.setdefault("countdowns_armed", set())
    with app.app_context(), db.standalone_session(app) as s:
        polls = s.execute(select(Poll.id, Poll.meeting_id).where(Poll.state == "open", Poll.ends_at.is_not(None)))
        waiting = [(pid, mid) for pid, mid in polls if pid not in armed]
    return [pid for pid, mid in waiting if schedule_close(app, pid, mid)]


def close_expired(app: Flask, *, at_start: bool = False, only: int | None = None) -> list[int]:
    """Close every open poll whose countdown is over (or only the poll `only`) and tell the screens; returns the
    poll ids. `at_start`: the server is starting, so those deadlines passed while it was down (the audit entry says
    so). A poll whose countdown lease another live process holds is left to it: one process closes, one announces."""
    from meeting_server.domain.leases import countdown
    from meeting_server.services import leases

    me = leases.owner(app)
    closed = []
    with app.app_context(), db.standalone_session(app) as s:
        for p in voting.expired(s):
            if only is not None and p.id != only:
                continue
            if not leases.take(s, countdown(p.id), me, meeting_id=p.meeting_id):
                continue
            m = s.get(Meeting, p.meeting_id)
            assert m is not None
            try:
                change = voting.close(s, m, p, "countdown", at_start=at_start)
            except DomainError as err:
                log.error("poll %s could not be closed at its deadline: %s", p.id, err.code)
                continue
            closed.append(p.id)
            announce(change)
            back_up_after_close(app, p.id)
    return closed


def resume(app: Flask) -> None:
    """At start, before the server serves (`serve`): close polls whose deadline passed while the server was down,
    re-arm the countdown of every other open poll that no other live process runs (`serve` then starts the lease
    heartbeat, realtime/leases.py, which keeps adopting them), so a poll closes at its deadline whether or not
    anyone makes a request after a restart, and whichever process dies."""
    if app.extensions.get("voting_resumed"):
        return
    app.extensions["voting_resumed"] = True
    for poll_id in close_expired(app, at_start=True):
        log.info("poll %s: its countdown ran out while the server was down; closed at start", poll_id)
    from meeting_server.services import devices

    with app.app_context(), db.standalone_session(app) as s:
        devices.clear_stale(s)  # connections held by a process that died
    adopt_countdowns(app)
