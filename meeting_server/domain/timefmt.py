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


def vi_datetime(dt: datetime | None) -> str:
    """"08 giờ 00 phút, ngày 15 tháng 12 năm 2026", as Vietnamese documents write it."""
    if dt is None:
        return ""
    d = to_local(dt)
    return f"{d:%H} giờ {d:%M} phút, ngày {d.day:02d} tháng {d.month:02d} năm {d.year}"
