"""Vietnam local time (UTC+7 all year, no daylight saving) and how dates are written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

VN = timezone(timedelta(hours=7), "ICT")


def to_local(dt: datetime) -> datetime:
    """An aware datetime in Vietnam time."""
    return dt.astimezone(VN)


def parse_local_input(text: str) -> datetime | None:
    """An HTML datetime-local value ("2026-12-15T08:00"), read as Vietnam time, as aware UTC; None when empty."""
    text = text.strip()
    if not text:
        return None
    return datetime.fromisoformat(text).replace(tzinfo=VN).astimezone(UTC)


def local_input(dt: datetime | None) -> str:
    """The value for a datetime-local input."""
    return "" if dt is None else to_local(dt).strftime("%Y-%m-%dT%H:%M")
