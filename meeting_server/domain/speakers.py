"""Requests to speak (đăng ký phát biểu): a queue per agenda item and one floor per meeting, as pure functions.

Every function takes the meeting's request records and returns a new tuple; nothing is changed in place.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from .errors import DomainError

__all__ = [
    "RequestStatus",
    "SpeakRequest",
    "FloorStatus",
    "request_floor",
    "withdraw",
    "give_floor",
    "end_speech",
    "queue",
    "current_speaker",
    "next_speaker",
    "remaining_seconds",
    "floor_status",
]


class RequestStatus(StrEnum):
    """Where a request to speak stands."""

    WAITING = "waiting"
    SPEAKING = "speaking"
    DONE = "done"
    WITHDRAWN = "withdrawn"


@dataclass(frozen=True)
class SpeakRequest:
    """One delegate's request to speak on one agenda item; times are UTC-aware."""

    id: str
    delegate_id: str
    agenda_item_id: str
    requested_at: datetime
    status: RequestStatus = RequestStatus.WAITING
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (ISO 8601 times)."""
        return {
            "id": self.id,
            "delegate_id": self.delegate_id,
            "agenda_item_id": self.agenda_item_id,
            "requested_at": self.requested_at.isoformat(),
            "status": str(self.status),
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "ended_at": self.ended_at.isoformat() if self.ended_at else None,
        }


@dataclass(frozen=True)
class FloorStatus:
    """What the room screen shows: who speaks, how long is left (negative once over time), who is next."""

    speaking: SpeakRequest | None
    remaining_seconds: int | None
    next: SpeakRequest | None
    waiting: tuple[SpeakRequest, ...]

    @property
    def over_time(self) -> bool:
        """Whether the speaker has used up the time limit."""
        return self.remaining_seconds is not None and self.remaining_seconds <= 0


def request_floor(
    requests: Iterable[SpeakRequest], request_id: str, delegate_id: str, agenda_item_id: str, now: datetime
) -> tuple[SpeakRequest, ...]:
    """Add a waiting request; a delegate may not wait twice, or wait while speaking, on the same agenda item."""
    records = tuple(requests)
    if any(r.id == request_id for r in records):
        raise DomainError("Mã đăng ký phát biểu bị trùng.", "speak.duplicate_id")
    for r in records:
        if (
            r.delegate_id == delegate_id
            and r.agenda_item_id == agenda_item_id
            and r.status in (RequestStatus.WAITING, RequestStatus.SPEAKING)
        ):
            raise DomainError("Đại biểu đã đăng ký phát biểu ở nội dung này.", "speak.already_requested")
    return (*records, SpeakRequest(request_id, delegate_id, agenda_item_id, now))


def withdraw(requests: Iterable[SpeakRequest], request_id: str, now: datetime) -> tuple[SpeakRequest, ...]:
    """Withdraw a waiting request (by the delegate, or by the chair on their behalf)."""
    records = tuple(requests)
    target = _find(records, request_id)
    if target.status != RequestStatus.WAITING:
        raise DomainError("Chỉ rút được đăng ký đang chờ.", "speak.not_waiting")
    return _swap(records, replace(target, status=RequestStatus.WITHDRAWN, ended_at=now))


def give_floor(requests: Iterable[SpeakRequest], request_id: str, now: datetime) -> tuple[SpeakRequest, ...]:
    """The chair gives the floor to a waiting request; whoever was speaking ends now (one floor per meeting)."""
    records = tuple(requests)
    target = _find(records, request_id)
    if target.status != RequestStatus.WAITING:
        raise DomainError("Chỉ mời phát biểu được đại biểu đang chờ.", "speak.not_waiting")
    speaking = current_speaker(records)
    if speaking is not None:
        records = _swap(records, replace(speaking, status=RequestStatus.DONE, ended_at=now))
    return _swap(records, replace(target, status=RequestStatus.SPEAKING, started_at=now))


def end_speech(requests: Iterable[SpeakRequest], now: datetime) -> tuple[SpeakRequest, ...]:
    """End the current speech."""
    records = tuple(requests)
    speaking = current_speaker(records)
    if speaking is None:
        raise DomainError("Không có đại biểu nào đang phát biểu.", "speak.nobody_speaking")
    return _swap(records, replace(speaking, status=RequestStatus.DONE, ended_at=now))


def queue(requests: Iterable[SpeakRequest], agenda_item_id: str | None = None) -> tuple[SpeakRequest, ...]:
    """Waiting requests in order of request time (ties keep record order), optionally for one agenda item."""
    waiting = [
        r
        for r in requests
        if r.status == RequestStatus.WAITING and (agenda_item_id is None or r.agenda_item_id == agenda_item_id)
    ]
    return tuple(sorted(waiting, key=lambda r: r.requested_at))


def current_speaker(requests: Iterable[SpeakRequest]) -> SpeakRequest | None:
    """The request that holds the floor, if any."""
    return next((r for r in requests if r.status == RequestStatus.SPEAKING), None)


def next_speaker(requests: Iterable[SpeakRequest], agenda_item_id: str | None = None) -> SpeakRequest | None:
    """The earliest waiting request, optionally for one agenda item."""
    waiting = queue(requests, agenda_item_id)
    return waiting[0] if waiting else None


def remaining_seconds(request: SpeakRequest, limit_seconds: int, now: datetime) -> int:
    """Whole seconds left of the limit, counted down like a clock (negative when over time)."""
    if request.started_at is None:
        return limit_seconds
    end = request.ended_at or now
    elapsed = (end - request.started_at) // timedelta(seconds=1)  # whole seconds elapsed, integer arithmetic
    return limit_seconds - elapsed


def floor_status(
    requests: Iterable[SpeakRequest], limit_seconds: int, now: datetime, agenda_item_id: str | None = None
) -> FloorStatus:
    """Who is speaking, their remaining seconds, who is next and who waits."""
    records = tuple(requests)
    speaking = current_speaker(records)
    waiting = queue(records, agenda_item_id)
    return FloorStatus(
        speaking=speaking,
        remaining_seconds=remaining_seconds(speaking, limit_seconds, now) if speaking else None,
        next=waiting[0] if waiting else None,
        waiting=waiting,
    )


def _find(records: tuple[SpeakRequest, ...], request_id: str) -> SpeakRequest:
    for r in records:
        if r.id == request_id:
            return r
    raise DomainError("Không tìm thấy đăng ký phát biểu.", "speak.not_found")


def _swap(records: tuple[SpeakRequest, ...], new: SpeakRequest) -> tuple[SpeakRequest, ...]:
    return tuple(new if r.id == new.id else r for r in records)
