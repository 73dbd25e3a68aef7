"""Faults of the machine, told as what happened: the data disk is full, or it has turned read-only.

`disk_fault(exc)` looks at an exception and everything it was raised from (an OSError's errno, SQLite's own
words, which SQLAlchemy wraps) and returns the refusal a person reads, a `DomainError` with its own code, or None
when the exception is something else. The unit of work (services/unit.py), the error pages (web/errors.py), the
ballot writer and the workers ask it, so a full disk is never "the PDF is damaged" or a generic 500, and nothing
is acknowledged that was not stored.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from meeting_server.domain.errors import N_, DomainError

__all__ = ["DiskFault", "DiskFull", "DiskReadOnly", "causes", "disk_fault", "free_bytes", "LOW_FREE_BYTES"]

#: Below this much free space on the data disk, `doctor` and the clerk console warn (a sitting's documents,
#: page images and backups take a few hundred MB; an hour of the audit log a few MB).
LOW_FREE_BYTES = 1024 * 1024 * 1024


class DiskFault(DomainError):
    """The data disk refused a write: nothing of this action was stored."""

    code = "disk.fault"


class DiskFull(DiskFault):
    code = "disk.full"

    def __init__(self) -> None:
        super().__init__(N_("Ổ đĩa dữ liệu của máy chủ đã đầy nên thao tác này chưa được lưu. "
                            "Hãy báo kỹ thuật viên giải phóng chỗ trống rồi làm lại."), self.code)


class DiskReadOnly(DiskFault):
    code = "disk.readonly"

    def __init__(self) -> None:
        super().__init__(N_("Ổ đĩa dữ liệu của máy chủ đang ở chế độ chỉ đọc (có thể đã bị lỗi) nên thao tác "
                            "này chưa được lưu. Hãy báo kỹ thuật viên kiểm tra ổ đĩa."), self.code)


_FULL_ERRNOS = frozenset({errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)})
#: SQLite's words (sqlite3_errstr) for SQLITE_FULL and SQLITE_READONLY, and the OS's for EROFS.
_FULL_WORDS = ("database or disk is full", "no space left on device")
_READONLY_WORDS = ("attempt to write a readonly database", "read-only file system")


def disk_fault(exc: BaseException | None) -> DiskFault | None:
    """The disk fault behind `exc` (itself, what it was raised from, SQLAlchemy's `orig`), or None."""
    for e in causes(exc):
        if isinstance(e, DiskFault):
            return e
        if isinstance(e, OSError) and e.errno is not None:
            if e.errno in _FULL_ERRNOS:
                return DiskFull()
            if e.errno == errno.EROFS:
                return DiskReadOnly()
        text = str(e).lower()
        if any(w in text for w in _FULL_WORDS):
            return DiskFull()
        if any(w in text for w in _READONLY_WORDS):
            return DiskReadOnly()
    return None


def causes(exc: BaseException | None) -> Iterator[BaseException]:
    """`exc`, then what it was raised from, each once: the DBAPI error SQLAlchemy wraps (`orig`), else the cause or
    the exception being handled when it was raised."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        orig = getattr(exc, "orig", None)
        exc = orig if isinstance(orig, BaseException) else (exc.__cause__ or exc.__context__)


def raise_disk_fault(exc: BaseException) -> None:
    """Raise the disk fault behind `exc` (from it), if there is one; otherwise return."""
    fault = disk_fault(exc)
    if fault is not None and fault is not exc:
        raise fault from exc


def free_bytes(path: str | os.PathLike[str]) -> int:
    """Free space for this user on the disk that holds `path` (its nearest existing parent)."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    return shutil.disk_usage(p).free
