"""Tamper-evident record of a meeting: each entry's hash covers the previous hash and the entry itself.

An entry payload is a JSON-native dict with the keys ``meeting_id``, ``kind``, ``at`` (ISO 8601, UTC),
``actor`` and ``data``. The store appends ``AuditRecord(seq, entry, hash)`` rows, seq counting from 1,
where ``hash = next_hash(previous record's hash or GENESIS, entry, key)``. ``verify_chain`` re-derives the
hashes and names the first record that was changed, removed or put out of order.

Keyed links: from `ChainKey.from_seq` on, a link is an HMAC-SHA256 under a key kept outside the database, so someone
who can edit the database file but not read the key cannot re-derive a chain after an edit. Links before `from_seq`
(written by versions without a key) stay plain SHA-256 and still verify. Checkpoints are signed copies of a link
(seq, hash) kept outside the database too: a chain whose end lies before a checkpoint, or whose link at the
checkpoint's seq differs, has been cut or rewritten.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from meeting_server.domain.errors import DomainError

GENESIS = "0" * 64
"""The hash that stands before the first entry of a chain."""

ENTRY_KEYS = frozenset({"meeting_id", "kind", "at", "actor", "data"})

# One encoder built once: json.dumps would rebuild it on every call, which costs a third of the time.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)

BreakKind = Literal["changed", "removed", "reordered", "checkpoint"]


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


@dataclass(frozen=True)
class ChainKey:
    """The key of the keyed links and the first seq it covers (the links before it were written without a key)."""

    secret: bytes
    from_seq: int = 1

    def for_seq(self, seq: int) -> bytes | None:
        return self.secret if seq >= self.from_seq else None


_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))


def hmac_sha256_hex(key: bytes) -> Callable[[bytes], str]:
    """HMAC-SHA256 (RFC 2104, the same as `hmac.new(key, msg, "sha256")`) with the key's two pads hashed once, so a
    message costs what plain SHA-256 costs (`hmac.digest` per message is three times slower: verify-log's budget)."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    inner, outer = hashlib.sha256(key.translate(_IPAD)), hashlib.sha256(key.translate(_OPAD))

    def mac(msg: bytes) -> str:
        h = inner.copy()
        h.update(msg)
        o = outer.copy()
        o.update(h.digest())
        return o.hexdigest()

    return mac


def next_hash(prev_hash: str, entry: Mapping[str, Any], key: bytes | None = None) -> str:
    """SHA-256 hex over the previous hash (ASCII hex) followed by the canonical entry; with `key`, HMAC-SHA256 of
    the same bytes (a keyed link: only a holder of the key can make it)."""
    msg = prev_hash.encode("ascii") + canonical(entry)
    if key is None:
        return hashlib.sha256(msg).hexdigest()
    return hmac.digest(key, msg, "sha256").hex()


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


def append(prev: AuditRecord | None, entry: Mapping[str, Any], key: ChainKey | None = None) -> AuditRecord:
    """The record that follows `prev` (or starts the chain) for `entry`."""
    missing = ENTRY_KEYS - entry.keys()
    if missing:
        raise AuditError("Bản ghi nhật ký thiếu trường: %(fields)s.", params={"fields": ", ".join(sorted(missing))})
    seq, prev_hash = (1, GENESIS) if prev is None else (prev.seq + 1, prev.hash)
    return AuditRecord(seq, entry, next_hash(prev_hash, entry, key.for_seq(seq) if key else None))


def verify_chain(
    entries: Iterable[AuditRecord],
    *,
    start_seq: int = 1,
    start_hash: str = GENESIS,
    expected_head: str | None = None,
    key: ChainKey | None = None,
) -> ChainReport:
    """Re-derive every hash in stored order and report the first record changed, removed or reordered.

    A tail of a chain can be checked by giving the seq and hash it follows; `expected_head` (kept apart
    from the rows, e.g. printed in the signed minutes) also catches removal of the last records. With `key`,
    the links from `key.from_seq` on must be keyed: a link re-derived without the key is reported as changed.
    """
    records = entries if isinstance(entries, list) else list(entries)
    present = {r.seq for r in records}
    prev = start_hash
    expected = start_seq
    mac, keyed_from = (hmac_sha256_hex(key.secret), key.from_seq) if key is not None else (None, 2**63)
    sha256 = hashlib.sha256
    for r in records:
        if r.seq != expected:
            return _broken(len(records), prev, _misplaced(r.seq, expected, present))
        msg = prev.encode("ascii") + canonical(r.entry)
        if (mac(msg) if mac is not None and r.seq >= keyed_from else sha256(msg).hexdigest()) != r.hash:
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


# --- checkpoints: signed copies of a link, kept outside the database ---

#: Entries after which a checkpoint of the chain is written (services.audit): the acts the record must keep.
CHECKPOINT_KINDS = frozenset({"vote.closed", "minutes.finalized", "meeting.ended", "backup.restored"})
#: A checkpoint line with this event starts a new epoch: a restore that rolled the chain back on purpose.
ROLLBACK_EVENT = "restore.rollback"


@dataclass(frozen=True)
class Checkpoint:
    """One anchored link: the chain held `head` at `seq` when `event` happened; `source` says where it was read."""

    seq: int
    head: str
    event: str
    source: str
    meeting_id: int | None = None
    at: str = ""


def _checkpoint_key(secret: bytes) -> bytes:
    # A key of its own for checkpoints, so that a checkpoint line can never pass for a chain link or the reverse.
    return hmac.digest(secret, b"meeting-server checkpoint v1", "sha256")


def checkpoint_line(key: ChainKey, meeting_id: int | None, seq: int, head: str, at: datetime, event: str) -> str:
    """One JSON line (no newline) signed with an HMAC under the chain's key."""
    body = {"v": 1, "meeting_id": meeting_id, "seq": seq, "head": head,
            "at": at.astimezone(UTC).isoformat(timespec="microseconds"), "event": event}
    mac = hmac.digest(_checkpoint_key(key.secret), canonical(body), "sha256").hex()
    return _ENCODER.encode({**body, "mac": mac})


def parse_checkpoint_line(key: ChainKey, line: str, source: str) -> Checkpoint | None:
    """The checkpoint in a line, or None when its signature (or its form) is not right."""
    try:
        body = json.loads(line)
        mac = body.pop("mac")
        good = hmac.digest(_checkpoint_key(key.secret), canonical(body), "sha256").hex()
        if not (isinstance(mac, str) and hmac.compare_digest(mac, good)):
            return None
        return Checkpoint(int(body["seq"]), str(body["head"]), str(body["event"]), source,
                          body.get("meeting_id"), str(body.get("at", "")))
    except (ValueError, KeyError, TypeError, AttributeError, AuditError):
        return None


def check_checkpoints(last_seq: int, hash_at: Mapping[int, str],
                      checkpoints: Iterable[Checkpoint]) -> ChainBreak | None:
    """The first checkpoint the verified chain does not honour: its end (`last_seq`) lies before the checkpoint
    (the tail was cut), or its link at the checkpoint's seq (`hash_at`) differs (the chain was rewritten)."""
    for cp in checkpoints:
        if cp.seq > last_seq:
            return ChainBreak(last_seq + 1, "removed",
                              f"Thiếu bản ghi từ số {last_seq + 1}: nhật ký dừng ở số {last_seq}, nhưng điểm neo "
                              f"({cp.source}, {cp.event}) đã ghi nhận bản ghi số {cp.seq}.")
        if hash_at.get(cp.seq) != cp.head:
            return ChainBreak(cp.seq, "changed",
                              f"Bản ghi số {cp.seq} không khớp với điểm neo ({cp.source}, {cp.event}): nhật ký đã bị "
                              "viết lại.")
    return None
