"""Is the meeting ready? Before the sitting and before signing the minutes: what is missing or inconsistent, each
line a sentence saying what to do. Pure: the service (services/readiness.py) gathers the facts.

A line is `blocking` where a rule refuses the step: the minutes cannot be prepared for signing without a chair and a
secretary (Decree 30/2020/NĐ-CP, Appendix I, form 1.9: the minutes are signed by the secretary and the chair of the
sitting) or while a poll is open (services/minutes.check_settled). The other lines warn; the clerk decides.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from meeting_server.domain.errors import N_, DomainError


@dataclass(frozen=True)
class Facts:
    """What the service read from the database, as plain values."""

    chairs: tuple[str, ...] = ()  #: names of the participants with the chair's role
    secretaries: tuple[str, ...] = ()  #: names of the participants with the secretary's role
    absent: frozenset[str] = frozenset()  #: names marked absent or gone early (chair and secretary matter here)
    delegates: int = 0  #: participants who are council delegates (chair, secretary, delegate)
    seated: int = 0  #: N, as the clerk set it
    items_voted_without_documents: tuple[str, ...] = ()  #: agenda items with a poll but no document
    cards_unprinted: int = 0  #: cards issued (or reissued) since the last print
    open_polls: tuple[str, ...] = ()  #: titles of the polls still open
    chair_not_voted: tuple[str, ...] = ()  #: closed polls where the chair was on the list and did not vote


@dataclass(frozen=True)
class Line:
    """One thing to fix: a Vietnamese msgid with its params (translated where it is shown), and whether a rule
    refuses the step until it is fixed."""

    code: str
    message: str
    params: Mapping[str, Any] = field(default_factory=dict)
    blocking: bool = False

    def error(self) -> DomainError:
        """The refusal for a blocking line (the signing path raises it)."""
        return DomainError(self.message, self.code, params=dict(self.params))


def _roles(f: Facts) -> list[Line]:
    out: list[Line] = []
    if not f.chairs:
        out.append(Line("readiness.no_chair",
                        N_("Chưa có chủ tọa: hãy đổi vai trò của một đại biểu thành «Chủ tọa» ở mục Đại biểu và "
                           "vai trò."),
                        blocking=True))
    if not f.secretaries:
        out.append(Line("readiness.no_secretary",
                        N_("Chưa có thư ký kỳ họp: hãy đổi vai trò của một đại biểu thành «Thư ký kỳ họp» ở mục Đại "
                        "biểu và vai trò. Không có thư ký thì không ký được biên bản."), blocking=True))
    for name in f.chairs:
        if name in f.absent:
            out.append(Line("readiness.chair_absent",
                            N_("Chủ tọa %(name)s được ghi vắng mặt: hãy cử người khác làm chủ tọa hoặc sửa điểm danh."),
                            {"name": name}))
    for name in f.secretaries:
        if name in f.absent:
            out.append(Line("readiness.secretary_absent",
                            N_("Thư ký kỳ họp %(name)s được ghi vắng mặt: hãy cử người khác làm thư ký hoặc sửa điểm "
                            "danh."), {"name": name}))
    return out


def before_sitting(f: Facts) -> list[Line]:
    """What to fix before the sitting is opened: roles, the list against N, documents for votes, printed cards."""
    out = _roles(f)
    if f.delegates != f.seated:
        out.append(Line("readiness.seated_mismatch",
                        N_("Danh sách có %(n)d đại biểu nhưng tổng số đại biểu (N) là %(seated)d: hãy kiểm tra ô «Tổng "
                        "số đại biểu»."), {"n": f.delegates, "seated": f.seated}))
    for title in f.items_voted_without_documents:
        out.append(Line("readiness.no_documents",
                        N_("Nội dung «%(title)s» có biểu quyết nhưng chưa có tài liệu: hãy tải tài liệu lên."),
                        {"title": title}))
    if f.cards_unprinted:
        out.append(Line("readiness.cards_unprinted",
                        N_("%(n)d thẻ tham gia chưa được in (hoặc đã cấp lại sau lần in trước): hãy in thẻ."),
                        {"n": f.cards_unprinted}))
    return out


def before_signing(f: Facts) -> list[Line]:
    """What to fix before the minutes are prepared for signing: open polls and the signers first (blocking)."""
    out: list[Line] = []
    for title in f.open_polls:
        out.append(Line("readiness.poll_open",
                        N_("Cuộc biểu quyết «%(title)s» vẫn đang mở: chủ tọa hãy kết thúc nó trước khi ký biên bản."),
                        {"title": title}, blocking=True))
    out += _roles(f)
    for title in f.chair_not_voted:
        out.append(Line("readiness.chair_not_voted",
                        N_("Chủ tọa chưa biểu quyết ở «%(title)s»: hãy kiểm tra lại trước khi ký biên bản."),
                        {"title": title}))
    return out


def blocking(lines: list[Line]) -> list[Line]:
    """The lines that refuse the step."""
    return [line for line in lines if line.blocking]
