"""The register of resolutions (sổ theo dõi nghị quyết) and the council's archive of the term: pure rules.

A resolution is a poll that passed on a yes/no matter (an open vote or a secret ballot on a motion); elections and
confidence votes are recorded in the minutes but are not resolutions of their own. The clerk gives each its number
and date of issue after the session; the vote and its counts are the ones stored when the poll closed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from meeting_server.domain.errors import DomainError

__all__ = ["RESOLUTION_KINDS", "format_issued_on", "group_by_term", "is_resolution", "number_key",
           "parse_issued_on", "vote_summary"]

#: The poll kinds whose passing makes a resolution.
RESOLUTION_KINDS = frozenset({"open", "secret"})

_DMY = re.compile(r"^\s*(\d{1,2})\s*[/.-]\s*(\d{1,2})\s*[/.-]\s*(\d{4})\s*$")
_ISO = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})\s*$")


def is_resolution(kind: str, result: Mapping[str, Any] | None) -> bool:
    """Whether a closed poll of this kind and result is a resolution the council passed."""
    return kind in RESOLUTION_KINDS and bool(result) and result.get("passed") is True  # type: ignore[union-attr]


def parse_issued_on(value: Any) -> str:
    """The date of issue as typed ("15/7/2026", "15-07-2026" or "2026-07-15"; empty for none) → ISO "2026-07-15"."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if not isinstance(value, str):
        raise DomainError("Ngày ban hành không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ 15/07/2026.",
                          "register.invalid_date")
    m = _DMY.match(value)
    parts = (int(m.group(3)), int(m.group(2)), int(m.group(1))) if m else None
    if parts is None and (m := _ISO.match(value)):
        parts = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
    try:
        if parts is None:
            raise ValueError(value)
        day = date(*parts)
    except ValueError:
        raise DomainError("Ngày ban hành không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ 15/07/2026.",
                          "register.invalid_date") from None
    if not 2000 <= day.year <= 2100:
        raise DomainError("Ngày ban hành không hợp lệ; hãy nhập theo dạng ngày/tháng/năm, ví dụ 15/07/2026.",
                          "register.invalid_date")
    return day.isoformat()


def format_issued_on(iso: str) -> str:
    """"2026-07-15" → "15/07/2026" (empty stays empty)."""
    if not iso:
        return ""
    y, m, d = iso.split("-")
    return f"{d}/{m}/{y}"


def number_key(number: str) -> str:
    """What makes two numbers the same: case and spaces aside ("05/NQ-HĐND" = "05 / nq-hđnd")."""
    return "".join(number.split()).casefold()


def vote_summary(result: Mapping[str, Any] | None) -> str:
    """The counts of N of a closed poll, as the register shows them: "Tán thành 25/30 (83,33%); Không tán thành 2/30
    (6,67%); Không biểu quyết 1/30 (3,33%)". The shares are the ones announced (of the council's total delegates)."""
    if not result:
        return ""
    seated = result.get("seated")
    parts = []
    for o in result.get("options") or []:
        parts.append(f"{o.get('label')} {o.get('votes')}/{seated} ({o.get('percent')})")
    return "; ".join(parts)


def group_by_term(sessions: Iterable[Mapping[str, Any]]) -> list[tuple[str, list[Mapping[str, Any]]]]:
    """Sessions grouped by their term ("khóa I, nhiệm kỳ 2026 - 2031"), the newest term first and, within a term,
    the sessions in the order they sat (each session a mapping with "term" and "sort" keys)."""
    terms: dict[str, list[Mapping[str, Any]]] = {}
    for x in sessions:
        terms.setdefault(str(x.get("term") or ""), []).append(x)
    groups = [(term, sorted(rows, key=lambda r: r["sort"])) for term, rows in terms.items()]
    groups.sort(key=lambda g: max(r["sort"] for r in g[1]), reverse=True)
    return groups
