"""Tamper-evident record of a meeting: each entry's hash covers the previous hash and the entry itself.

An entry payload is a JSON-native dict with the keys ``meeting_id``, ``kind``, ``at`` (ISO 8601, UTC),
``actor`` and ``data``. The store appends ``AuditRecord(seq, entry, hash)`` rows, seq counting from 1,
where ``hash = next_hash(previous record's hash or GENESIS, entry)``. ``verify_chain`` re-derives the
hashes and names the first record that was changed, removed or put out of order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from meeting_server.domain.errors import DomainError

GENESIS = "0" * 64
"""The hash that stands before the first entry of a chain."""

ENTRY_KEYS = frozenset({"meeting_id", "kind", "at", "actor", "data"})

# One encoder built once: json.dumps would rebuild it on every call, which costs a third of the time.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

BreakKind = Literal["changed", "removed", "reordered"]


class AuditError(DomainError):
    """An entry cannot go into the chain as given."""

    code = "audit.invalid_entry"


@dataclass(frozen=True)
class AuditRecord:
    """One stored link of the chain: its position, its payload and the hash stored with it."""

    seq: int
    entry: Mapping[str, Any]
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    """The first place where the stored chain differs from the one re-derived."""

    seq: int
    kind: BreakKind
    message: str


@dataclass(frozen=True)
class ChainReport:
    """Outcome of `verify_chain`: `head` is the hash of the last record that verified."""

    ok: bool
    count: int
    head: str
    first_break: ChainBreak | None

    @property
    def message(self) -> str:
        """One Vietnamese sentence for the clerk."""
        if self.first_break is None:
            return f"Chuỗi nhật ký toàn vẹn: {self.count} bản ghi, mã cuối {self.head[:16]}…"
        return self.first_break.message


def canonical(entry: Mapping[str, Any]) -> bytes:
    """Sorted-keys compact JSON in UTF-8: the exact bytes that are hashed."""
    try:
        return _ENCODER.encode(entry).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise AuditError("Bản ghi nhật ký không chuyển được sang JSON: %(detail)s",
                         params={"detail": str(exc)}) from exc


def next_hash(prev_hash: str, entry: Mapping[str, Any]) -> str:
    """SHA-256 hex over the previous hash (ASCII hex) followed by the canonical entry."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(entry)).hexdigest()


def make_entry(meeting_id: int | str | None, kind: str, at: datetime, actor: str | None,
               data: Mapping[str, Any]) -> dict[str, Any]:
    """Build an entry payload with `at` in UTC ISO form, refusing naive datetimes (their zone is unknown)."""
    if at.tzinfo is None:
        raise AuditError("Thời điểm ghi nhật ký phải có múi giờ.", "audit.naive_datetime")
    return {
        "meeting_id": meeting_id,
        "kind": kind,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "data": dict(data),
    }


def append(prev: AuditRecord | None, entry: Mapping[str, Any]) -> AuditRecord:
    """The record that follows `prev` (or starts the chain) for `entry`."""
    missing = ENTRY_KEYS - entry.keys()
    if missing:
        raise AuditError("Bản ghi nhật ký thiếu trường: %(fields)s.", params={"fields": ", ".join(sorted(missing))})
    if prev is None:
        return AuditRecord(1, entry, next_hash(GENESIS, entry))
    return AuditRecord(prev.seq + 1, entry, next_hash(prev.hash, entry))


def verify_chain(
    entries: Iterable[AuditRecord],
    *,
    start_seq: int = 1,
    start_hash: str = GENESIS,
    expected_head: str | None = None,
) -> ChainReport:
    """Re-derive every hash in stored order and report the first record changed, removed or reordered.

    A tail of a chain can be checked by giving the seq and hash it follows; `expected_head` (kept apart
    from the rows, e.g. printed in the signed minutes) also catches removal of the last records.
    """
    records = entries if isinstance(entries, list) else list(entries)
    present = {r.seq for r in records}
    prev = start_hash
    expected = start_seq
    for r in records:
        if r.seq != expected:
            return _broken(len(records), prev, _misplaced(r.seq, expected, present))
        if next_hash(prev, r.entry) != r.hash:
            return _broken(
                len(records),
                prev,
                ChainBreak(r.seq, "changed", f"Bản ghi số {r.seq} đã bị sửa: mã băm không khớp với nội dung."),
            )
        prev = r.hash
        expected += 1
    if expected_head is not None and prev != expected_head:
        brk = ChainBreak(
            expected,
            "removed",
            f"Thiếu bản ghi từ số {expected}: mã cuối của chuỗi không khớp với mã đã lưu riêng.",
        )
        return _broken(len(records), prev, brk)
    return ChainReport(True, len(records), prev, None)


def _misplaced(found: int, expected: int, present: set[int]) -> ChainBreak:
    """Name the first seq not in its place: removed if it is nowhere in the rows, else reordered."""
    if expected not in present:
        return ChainBreak(expected, "removed", f"Bản ghi số {expected} đã bị xóa khỏi nhật ký.")
    return ChainBreak(
        expected,
        "reordered",
        f"Bản ghi số {expected} nằm sai thứ tự: tại vị trí của nó là bản ghi số {found}.",
    )


def _broken(count: int, head: str, brk: ChainBreak) -> ChainReport:
    return ChainReport(False, count, head, brk)
