"""Hash chain of the audit log (placeholder until the minutes-core branch lands)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

GENESIS = "0" * 64


def canonical(entry: dict[str, Any]) -> bytes:
    """Sorted-keys compact JSON."""
    return json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def next_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """Hash of an entry chained to the previous one."""
    return hashlib.sha256(prev_hash.encode() + canonical(entry)).hexdigest()
