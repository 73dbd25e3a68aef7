"""Where a change ends: the unit of work of one use case, the one place `meeting.seq` moves, and `Change`, the small
frozen value a use case returns to say what changed, for `realtime.announce` to tell the screens.

A use case (a function of services/) runs inside `of_work(s)`: it changes rows, bumps the meeting's `seq` once with
`bump` and appends its audit entry; leaving the block commits (SQLite WAL with `synchronous=FULL`, set in
store/db.py: on disk before anything is announced), and a refusal (any exception) rolls back, so it changed nothing
and commits nothing; a write the disk refused (full, read-only) becomes `faults.DiskFull` / `DiskReadOnly`, the
refusal that says so. The use case then returns a `Change` (or a small frozen result carrying one); the skin
announces it and replies.

Two measured hot paths commit on their own, and are documented where they do: the ballot group commit
(realtime/voting.BallotWriter, many ballots in one transaction, `bump_many`) and the page turn on the DBAPI connection
(services.documents.turn, `synchronous=NORMAL`, its seq bumped by a prebuilt statement).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

from meeting_server import faults
from meeting_server.store.tables import Meeting

T = TypeVar("T")

#: The `event` of a `poll` announcement (docs/PROTOCOL-voting.md).
POLL_EVENTS = ("created", "opened", "closed", "cancelled", "paper", "changed")


@dataclass(frozen=True)
class Change:
    """What one use case changed in one meeting, committed, with the meeting's `seq` after it.

    Each flag names a part of what the screens show; `realtime.announce` turns them into the events of
    docs/PROTOCOL.md, every emit carrying this `seq`, so every screen sees every seq exactly once.
    """

    meeting_id: int
    seq: int
    state: bool = False  #: heading, agenda, current item, status, presenter, minutes: a fresh `state` per role
    attendance: bool = False  #: counts to everyone, names to the roles that may see them
    documents: bool = False  #: the document list each role may see
    speakers: bool = False  #: the speakers' list, the same for everyone
    questions: bool = False  #: question time (chất vấn): the list, the one on the floor, the answers owed
    poll_id: int | None = None  #: the poll that changed …
    poll_event: str | None = None  #: … and how (POLL_EVENTS): each role its view of the poll
    progress: tuple[int, int] | None = None  #: (voted, eligible) of `poll_id`: counts only, never a choice
    revoked: tuple[int, ...] = ()  #: participants whose card stopped working: their connections are hung up
    people: tuple[int, ...] = ()  #: with `state`: participants whose own part (`me`) changed too, each told apart
    minutes_signing: bool = False  #: a step of signing the minutes (prepared, signed, cancelled, a key issued)

    def __post_init__(self) -> None:
        if self.poll_event is not None and (self.poll_event not in POLL_EVENTS or self.poll_id is None):
            raise ValueError(f"poll_event {self.poll_event!r} needs one of {POLL_EVENTS} and a poll_id")
        if self.progress is not None and self.poll_id is None:
            raise ValueError("progress needs a poll_id")

    def but(self, **parts: object) -> Change:
        """The same change with more parts (a use case that touches two)."""
        return replace(self, **parts)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Done(Generic[T]):
    """A use case's result when the caller needs more than the change: what it made (a row, a count) and the
    `Change` to announce."""

    value: T
    change: Change


def bump(m: Meeting) -> int:
    """The meeting's next `seq`: the one place it is incremented (in the caller's unit of work). Returns it."""
    m.seq += 1
    return m.seq


def bump_locked(s: Session, m: Meeting) -> int:
    """`bump` as an UPDATE sent at once, then `m` read again: the write takes the database's write lock before
    the caller reads what its rule checks, so two changes cannot both pass on the same old state (SQLite
    serialises writers; PostgreSQL locks the row)."""
    s.execute(update(Meeting).where(Meeting.id == m.id).values(seq=Meeting.seq + 1))
    s.refresh(m)  # seq, and the current item or status as they are now that no one else can write
    return m.seq


def bump_many(s: Session, meeting_ids: Iterable[int]) -> None:
    """One seq for each meeting of a ballot batch (the group commit; it also takes the meetings' locks).

    One statement per meeting, in id order: `UPDATE … WHERE id IN (…)` locks rows in the order it finds them on
    disk, which every update changes, so two processes' batches naming the same meetings deadlocked on PostgreSQL
    (tests/services/test_ballots_across_meetings.py). A batch names a few meetings at most."""
    for meeting_id in sorted(set(meeting_ids)):
        s.execute(update(Meeting).where(Meeting.id == meeting_id).values(seq=Meeting.seq + 1))


def change(m: Meeting, **parts: object) -> Change:
    """The `Change` of meeting `m` as it stands after the commit (its seq), with the parts named."""
    return Change(m.id, m.seq, **parts)  # type: ignore[arg-type]


_DEPTH = "meeting_server.unit_depth"


@contextmanager
def of_work(s: Session) -> Iterator[Session]:
    """One use case's transaction: commit when the block ends, roll back when it raises (a refusal changes nothing).

    The commit keeps store/db.py's durability: `synchronous=FULL`, so what is announced afterwards is on disk.
    A use case called inside another's unit (the demo meeting is made of several) joins it: only the outermost
    block commits or rolls back.
    """
    depth = s.info.get(_DEPTH, 0)
    s.info[_DEPTH] = depth + 1
    try:
        yield s
    except BaseException as exc:
        s.info[_DEPTH] = depth
        if depth == 0:
            s.rollback()
        faults.raise_disk_fault(exc)  # a full or read-only disk is said as such, not as a 500
        raise
    s.info[_DEPTH] = depth
    if depth == 0:
        try:
            s.commit()
        except Exception as exc:
            s.rollback()
            faults.raise_disk_fault(exc)
            raise


def nested(s: Session) -> bool:
    """Whether `s` is inside a unit of work now (a write made here would be committed with that unit's)."""
    return bool(s.info.get(_DEPTH, 0))


def commit(s: Session) -> None:
    """End a unit of work that needed no block (a read that created a row on first use)."""
    s.commit()
