"""Quorum of a sitting (placeholder until the voting-domain branch lands)."""

from __future__ import annotations


def quorum_required(seated: int, rule: str = "two_thirds") -> int:
    """Delegates that must be present; default at least two-thirds of N, ⌈2N/3⌉ (practice, a setting)."""
    if rule == "more_than_half":
        return seated // 2 + 1
    return -(-2 * seated // 3)


def is_quorate(present: int, seated: int, rule: str = "two_thirds") -> bool:
    """Whether the sitting may proceed."""
    return present >= quorum_required(seated, rule)
