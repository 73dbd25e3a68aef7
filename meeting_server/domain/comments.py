"""Comments on draft documents (góp ý dự thảo): when a delegate may comment, where a comment points (a passage
marked on a page, a whole page or the whole document), the answers the drafting body gives (tiếp thu, giải trình,
không tiếp thu) and who sees what. Pure rules: the services ask them, the screens show what they answered.

Practice (hdnd-rules.md, "Comments on drafts"): drafts go to the delegates before the session; they comment in the
groups and in the hall; the drafting body reports how it took the comments in or why not (báo cáo tiếp thu, giải
trình) before the council votes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from meeting_server.domain.documents import document_rights
from meeting_server.domain.errors import N_, DomainError, Msgid
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal

__all__ = [
    "ANSWERED",
    "MAX_RECTS",
    "OUTCOME_LABELS",
    "OUTCOMES",
    "PENDING",
    "Anchor",
    "Counts",
    "anchor_of",
    "check_answer",
    "check_may_comment",
    "counts",
    "counts_line",
    "group_key",
    "may_see",
    "sees_quote",
]

#: The answers, in the order of the summary table: tiếp thu (taken in), giải trình (explained), không tiếp thu.
OUTCOMES = ("accepted", "explained", "not_accepted")
PENDING = ""
ANSWERED = frozenset(OUTCOMES)
OUTCOME_LABELS: dict[str, Msgid] = {
    "accepted": N_("Tiếp thu"),
    "explained": N_("Giải trình"),
    "not_accepted": N_("Không tiếp thu"),
    PENDING: N_("Chưa trả lời"),
}
#: A marked passage spans at most this many rectangles (one per line of text it covers).
MAX_RECTS = 40
#: An answer other than "tiếp thu" must say why.
_NEEDS_REASON = frozenset({"explained", "not_accepted"})


@dataclass(frozen=True)
class Anchor:
    """Where a comment points: a page (None: the whole document), the passage quoted (may be empty: the whole page)
    and its rectangles on the page in PDF points (x0, y0, x1, y1, origin at the top left, as PyMuPDF gives them)."""

    page: int | None
    quote: str
    rects: tuple[tuple[float, float, float, float], ...]

    @property
    def scope(self) -> str:
        """"document", "page" or "passage"."""
        if self.page is None:
            return "document"
        return "passage" if self.quote else "page"

    def to_dict(self) -> dict[str, Any]:
        return {"page": self.page, "quote": self.quote, "rects": [list(r) for r in self.rects], "scope": self.scope}


def check_may_comment(*, meeting_status: str, document_item_id: int | None, current_item_id: int | None,
                      frozen: bool = False) -> None:
    """A delegate may comment on a draft before the session opens (documents are sent out beforehand), and during
    the session only while the document's agenda item is the one under discussion; never after it ended."""
    if frozen or meeting_status == "ended":
        raise DomainError("Kỳ họp đã bế mạc: không nhận góp ý nữa.", "comment.closed")
    if meeting_status == "draft":
        return
    if document_item_id is None:
        raise DomainError("Tài liệu này không thuộc nội dung nào của chương trình: trong kỳ họp chỉ góp ý được "
                          "khi nội dung có tài liệu đó đang được thảo luận.", "comment.not_now")
    if document_item_id != current_item_id:
        raise DomainError("Chỉ góp ý được trước kỳ họp hoặc khi nội dung có dự thảo này đang được thảo luận.",
                          "comment.not_now")


def anchor_of(page: int | None, quote: str, rects: Any, *, page_count: int,
              page_size: tuple[float, float] | None) -> Anchor:
    """The anchor of a new comment, checked against the document: the page within it, at most MAX_RECTS
    rectangles of four finite numbers each, inside the page (with a little slack for rounding)."""
    if page is None:
        if quote or rects:
            raise DomainError("Góp ý cho cả văn bản không kèm đoạn văn được đánh dấu.", "comment.anchor")
        return Anchor(None, "", ())
    if not 1 <= page <= max(page_count, 0):
        raise DomainError("Trang %(page)s không có trong tài liệu này.", "comment.page", params={"page": page})
    if rects is None:
        rects = []
    if not isinstance(rects, list) or len(rects) > MAX_RECTS:
        raise DomainError("Đoạn văn được đánh dấu không hợp lệ (tối đa %(max)s dòng).", "comment.anchor",
                          params={"max": MAX_RECTS})
    out: list[tuple[float, float, float, float]] = []
    width, height = page_size or (math.inf, math.inf)
    for r in rects:
        if (not isinstance(r, list) or len(r) != 4
                or not all(isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in r)):
            raise DomainError("Đoạn văn được đánh dấu không hợp lệ.", "comment.anchor")
        x0, y0, x1, y1 = (round(float(v), 2) for v in r)
        if x1 < x0 or y1 < y0 or x0 < -2 or y0 < -2 or x1 > width + 2 or y1 > height + 2:
            raise DomainError("Đoạn văn được đánh dấu nằm ngoài trang.", "comment.anchor")
        out.append((x0, y0, x1, y1))
    if out and not quote:
        raise DomainError("Đoạn văn được đánh dấu không có chữ; hãy chọn lại hoặc góp ý cả trang.", "comment.anchor")
    return Anchor(page, quote, tuple(out))


def check_answer(outcome: str, answer: str) -> None:
    """An answer is one of OUTCOMES; explaining or not taking a comment in must say why."""
    if outcome not in ANSWERED:
        raise DomainError("Hãy chọn: tiếp thu, giải trình hoặc không tiếp thu.", "comment.outcome")
    if outcome in _NEEDS_REASON and not answer.strip():
        raise DomainError("Giải trình hoặc không tiếp thu thì phải ghi rõ nội dung trả lời.", "comment.answer")


def may_see(who: Principal, author_participant_id: int, *, shared_with_delegates: bool) -> bool:
    """Who sees a comment and its answer: its author; the clerk and the drafting body (comment.can_answer); the
    other members of the council only when the meeting's setting shares comments with them (default: not)."""
    if who.can(Permission.COMMENT_ANSWER):
        return True
    if not who.can(Permission.COMMENT_WRITE):
        return False
    return who.participant_id == author_participant_id or shared_with_delegates


def sees_quote(who: Principal, *, confidential: bool) -> bool:
    """Whether the passage quoted from the document is shown: the quote is the document's own text. Whoever sees
    the comment sees the quote of an ordinary draft (the drafting body wrote it); a confidential document's quotes
    go only to whoever may read it (domain/documents.py), so the drafting body's representative, who reads no
    documents here, sees those comments without the quote."""
    if not confidential:
        return who.can(Permission.COMMENT_ANSWER) or document_rights(who.role).see
    return document_rights(who.role, confidential=True).see


@dataclass(frozen=True)
class Counts:
    """How many comments a draft had and how they were answered (for the minutes and the summary)."""

    total: int = 0
    accepted: int = 0
    explained: int = 0
    not_accepted: int = 0
    pending: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"total": self.total, "accepted": self.accepted, "explained": self.explained,
                "not_accepted": self.not_accepted, "pending": self.pending}


def counts(outcomes: Iterable[str]) -> Counts:
    """Count the outcomes of one document's comments."""
    seen = list(outcomes)
    return Counts(total=len(seen), accepted=seen.count("accepted"), explained=seen.count("explained"),
                  not_accepted=seen.count("not_accepted"), pending=sum(1 for o in seen if o not in ANSWERED))


def counts_line(c: Mapping[str, int] | Counts) -> str:
    """"5 ý kiến góp ý: tiếp thu 2, giải trình 1, không tiếp thu 1, chưa trả lời 1" (the minutes' line)."""
    d = c.to_dict() if isinstance(c, Counts) else dict(c)
    parts = [f"{label} {d.get(key, 0)}" for key, label in (("accepted", "tiếp thu"), ("explained", "giải trình"),
                                                           ("not_accepted", "không tiếp thu"),
                                                           ("pending", "chưa trả lời")) if d.get(key, 0)]
    tail = f": {', '.join(parts)}" if parts else ""
    return f"{d.get('total', 0)} ý kiến góp ý{tail}"


def group_key(page: int | None, rects: Sequence[Sequence[float]]) -> tuple[int, float, float]:
    """The order of comments in the gathered list: whole document first, then by page and place on the page."""
    if page is None:
        return (0, 0.0, 0.0)
    if not rects:
        return (page, -1.0, 0.0)
    return (page, float(rects[0][1]), float(rects[0][0]))
