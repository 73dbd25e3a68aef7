"""The clerk's correction of the server clock: mini-PCs without a battery-backed clock boot with a wrong date.

The server does not set the machine's clock (it runs as an unprivileged service). It keeps the difference between
the clerk's phone and its own clock, shows the corrected time on the console, and the minutes use corrected times.
Stored times stay what the machine's clock said; the audit log records the correction itself.

The offset is the box's setting, not a meeting's: one correction moves the clock of every meeting on the box (the
console says so where it is set). So it is recorded as a box-level act: one `clock.corrected` entry with no
meeting (`meeting_id` NULL) in the box's one audit chain, which `verify-log` checks whole like every other link;
its data names the meetings not yet ended at that moment (`meetings`, whose times it moved) and the meeting whose
clerk set it (`from_meeting`). Being no meeting's change, it is not refused when some meeting's minutes are
signed: a signed record keeps its signed times, and the next meetings need the right clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.services import audit, unit
from meeting_server.store.tables import Meeting, Setting, utcnow

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
    """Take the time of the clerk's phone as real time for the whole box; returns the offset now in force (ms),
    committed, with its box-level audit entry (`meeting_id` is the clerk's meeting, kept in the entry's data). No
    screen shows the offset: nothing to announce."""
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
        previous = int(row.value) if row is not None and row.value else 0
        if row is None:
            s.add(Setting(key=KEY, value=new))
        else:
            row.value = new
        moved = list(s.scalars(select(Meeting.id).where(Meeting.status != "ended").order_by(Meeting.id)))
        audit.record(s, None, "clock.corrected", actor,
                     {"scope": "box", "offset_ms": new, "previous_offset_ms": previous, "server_ms": server_ms,
                      "device_ms": device_ms, "from_meeting": meeting_id, "meetings": moved})
    return new
