"""Quorum of a sitting: how many delegates must be present for the council to proceed."""

from .errors import DomainError
from .voting import Threshold, required_votes

__all__ = ["DEFAULT_QUORUM", "quorum_required", "is_quorate"]

# Not found in Law 72/2025/QH15; practice and older rules require two-thirds of the total delegates present,
# so it is a setting with that default (hdnd-rules.md, "Quorum").
DEFAULT_QUORUM = Threshold.TWO_THIRDS


def quorum_required(seated: int, rule: Threshold = DEFAULT_QUORUM) -> int:
    """Delegates who must be present among `seated` (two-thirds by default: ⌈2N/3⌉, N=30 → 20)."""
    return required_votes(rule, seated)


def is_quorate(present: int, seated: int, rule: Threshold = DEFAULT_QUORUM) -> bool:
    """Whether `present` delegates make a quorum of a council of `seated`."""
    if present < 0 or present > seated:
        raise DomainError("Số đại biểu có mặt phải từ 0 đến tổng số đại biểu HĐND.", "quorum.invalid_present")
    return present >= quorum_required(seated, rule)
