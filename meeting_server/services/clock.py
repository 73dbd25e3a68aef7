"""The clerk's correction of the server clock: mini-PCs without a battery-backed clock boot with a wrong date.

The server does not set the machine's clock (it runs as an unprivileged service). It keeps the difference between
the clerk's phone and its own clock, shows the corrected time on the console, and the minutes use corrected times.
Stored times stay what the machine's clock said; the audit log records the correction itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.services import audit, unit
from meeting_server.store.tables import Setting, utcnow

KEY = "clock_offset_ms"
#: A phone a few seconds off is not worth a correction; years off is a mistake, not a clock.
MIN_OFFSET_MS = 5_000
MAX_OFFSET_MS = 20 * 365 * 24 * 3600 * 1000


def offset(s: Session) -> timedelta:
    """How far the machine's clock is behind real time (negative: ahead)."""
    row = s.get(Setting, KEY)
    return timedelta(milliseconds=int(row.value)) if row is not None and row.value else timedelta(0)


def corrected(s: Session, dt: datetime | None = None) -> datetime:
    """A machine time (default: now) as real time."""
    return (dt or utcnow()) + offset(s)


def set_from_device(s: Session, device_ms: Any, actor: str, meeting_id: int | None = None) -> int:
    """Take the time of the clerk's phone as real time; returns the offset now in force (ms), committed. No screen
    shows the offset: nothing to announce."""
    if isinstance(device_ms, bool) or not isinstance(device_ms, int):
        raise DomainError("Thời gian gửi lên không hợp lệ.", "clock.invalid")
    server_ms = int(utcnow().timestamp() * 1000)
    diff = device_ms - server_ms
    if abs(diff) > MAX_OFFSET_MS:
        raise DomainError("Giờ của điện thoại lệch quá xa giờ máy chủ; hãy kiểm tra lại giờ điện thoại.",
                          "clock.implausible")
    new = 0 if abs(diff) < MIN_OFFSET_MS else diff
    with unit.of_work(s):
        row = s.get(Setting, KEY)
        if row is None:
            s.add(Setting(key=KEY, value=new))
        else:
            row.value = new
        audit.record(s, meeting_id, "clock.corrected", actor,
                     {"offset_ms": new, "server_ms": server_ms, "device_ms": device_ms})
    return new
