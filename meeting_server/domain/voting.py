"""Voting rules of a commune People's Council: thresholds, ballot forms, validation, tally, lifecycle.

Every threshold is a share of the TOTAL number of seated delegates N, never of those present
(Law 77/2015/QH13 Art. 91.3, carried on in Law 72/2025/QH15 Art. 35); arithmetic is on integers and Fractions only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from typing import Any, NoReturn

from .announce import announce_line, format_int, format_percent, percent_of
from .errors import N_, DomainError

__all__ = [
    "Threshold",
    "required_votes",
    "PollKind",
    "PollState",
    "RatingLevel",
    "RatingBase",
    "Outcome",
    "RatingConsequence",
    "Person",
    "PollSpec",
    "NormalizedChoice",
    "PaperTotals",
    "OptionCount",
    "OfficialRating",
    "Result",
    "OPTIONS",
    "RATING_LEVELS",
    "options_for",
    "validate_choice",
    "tally",
    "open_poll",
    "close_poll",
    "cancel_poll",
    "check_can_cast",
    "check_can_open",
    "check_proxy",
    "may_change_choice",
    "verdict_vi",
]


# ---------------------------------------------------------------------------------------------------------------
# Thresholds


class Threshold(StrEnum):
    """A share of the total delegates N that a count must reach."""

    MORE_THAN_HALF = "more_than_half"  # quá nửa: ⌊N/2⌋+1 (Law 77/2015 Art. 91.3)
    TWO_THIRDS = "two_thirds"  # ít nhất hai phần ba: ⌈2N/3⌉ (Law 77/2015 Art. 102.3, dismissal of a delegate)
    MORE_THAN_TWO_THIRDS = "more_than_two_thirds"  # trên hai phần ba: ⌊2N/3⌋+1

    @property
    def label_vi(self) -> str:
        """The Vietnamese phrase for the threshold, as minutes write it."""
        return _THRESHOLD_VI[self]


_THRESHOLD_VI = {
    Threshold.MORE_THAN_HALF: "quá nửa",
    Threshold.TWO_THIRDS: "ít nhất hai phần ba",
    Threshold.MORE_THAN_TWO_THIRDS: "trên hai phần ba",
}


def required_votes(threshold: Threshold, seated: int) -> int:
    """Smallest number of votes that meets the threshold among `seated` delegates (N=15 → 8 / 10 / 11)."""
    if not isinstance(seated, int) or isinstance(seated, bool) or seated < 1:
        raise DomainError("Tổng số đại biểu HĐND phải là số nguyên dương.", "vote.invalid_seated")
    if threshold == Threshold.MORE_THAN_HALF:
        return seated // 2 + 1
    if threshold == Threshold.TWO_THIRDS:
        return -(-2 * seated // 3)  # ceiling of 2N/3 on integers
    if threshold == Threshold.MORE_THAN_TWO_THIRDS:
        return 2 * seated // 3 + 1
    raise DomainError("Ngưỡng biểu quyết không hợp lệ: %(threshold)r.", "vote.invalid_threshold",
                      params={"threshold": threshold})


# ---------------------------------------------------------------------------------------------------------------
# Poll kinds, options and specs


class PollKind(StrEnum):
    """The ballot forms of the council (hdnd-rules.md, "Ballot forms")."""

    OPEN = "open"  # biểu quyết công khai
    SECRET = "secret"  # bỏ phiếu kín on a yes/no matter
    ELECTION = "election"  # bầu cử
    CONFIDENCE_RATING = "confidence_rating"  # lấy phiếu tín nhiệm (Resolution 96/2023/QH15)
    CONFIDENCE_VOTE = "confidence_vote"  # bỏ phiếu tín nhiệm

    @property
    def is_secret(self) -> bool:
        """Whether the kind is a secret ballot (everything except the open vote)."""
        return self != PollKind.OPEN


class PollState(StrEnum):
    """Lifecycle of a poll: draft → open → closed; draft/open → cancelled."""

    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class RatingLevel(StrEnum):
    """The three levels of a confidence rating (Resolution 96/2023/QH15)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


class RatingBase(StrEnum):
    """Denominator of the confidence-rating consequences; sources differ, so it is a setting."""

    SEATED = "seated"  # total delegates N (default, hdnd-rules.md)
    BALLOTS = "ballots"  # the valid ballots for that official


OPTIONS: dict[PollKind, tuple[tuple[str, str], ...]] = {
    PollKind.OPEN: (("for", "Tán thành"), ("against", "Không tán thành"), ("abstain", "Không biểu quyết")),
    PollKind.SECRET: (("yes", "Đồng ý"), ("no", "Không đồng ý")),
    PollKind.CONFIDENCE_VOTE: (("yes", "Tín nhiệm"), ("no", "Không tín nhiệm")),
}
RATING_LEVELS: tuple[tuple[RatingLevel, str], ...] = (
    (RatingLevel.HIGH, "Tín nhiệm cao"),
    (RatingLevel.NORMAL, "Tín nhiệm"),
    (RatingLevel.LOW, "Tín nhiệm thấp"),
)


@dataclass(frozen=True)
class Person:
    """A candidate of an election or an official being rated: a stable key and the name to announce."""

    key: str
    name: str


@dataclass(frozen=True)
class PollSpec:
    """What is being voted on and how; `candidates` for elections, `officials` for confidence rating/vote.

    `threshold` applies to `for`/`yes` (open, secret), to `no` (confidence vote) and to each candidate (election);
    the two confidence-rating thresholds are fixed by Resolution 96/2023/QH15.
    """

    kind: PollKind
    title: str = ""
    threshold: Threshold = Threshold.MORE_THAN_HALF
    seats: int = 1
    candidates: tuple[Person, ...] = ()
    officials: tuple[Person, ...] = ()
    rating_base: RatingBase = RatingBase.SEATED

    def __post_init__(self) -> None:
        """Reject specs that could not produce a meaningful ballot."""
        try:
            # Specs are rebuilt from stored strings; a bad one is a domain error, not a crash.
            object.__setattr__(self, "kind", PollKind(self.kind))
            object.__setattr__(self, "threshold", Threshold(self.threshold))
            object.__setattr__(self, "rating_base", RatingBase(self.rating_base))
        except ValueError as exc:
            raise DomainError("Thiết lập biểu quyết không hợp lệ: %(detail)s.", "vote.invalid_spec",
                              params={"detail": str(exc)}) from exc
        object.__setattr__(self, "candidates", tuple(self.candidates))
        object.__setattr__(self, "officials", tuple(self.officials))
        for people in (self.candidates, self.officials):
            keys = [p.key for p in people]
            if len(set(keys)) != len(keys):
                raise DomainError("Danh sách có người bị trùng.", "vote.invalid_spec")
        if self.kind == PollKind.ELECTION:
            if not self.candidates:
                raise DomainError("Cuộc bầu cử phải có ít nhất một ứng cử viên.", "vote.invalid_spec")
            if not 1 <= self.seats <= len(self.candidates):
                raise DomainError(
                    "Số người được bầu phải từ 1 đến số ứng cử viên trong danh sách.", "vote.invalid_spec"
                )
        if self.kind == PollKind.CONFIDENCE_RATING and not self.officials:
            raise DomainError("Lấy phiếu tín nhiệm phải có ít nhất một người.", "vote.invalid_spec")
        if self.kind == PollKind.CONFIDENCE_VOTE and len(self.officials) > 1:
            raise DomainError("Mỗi lần bỏ phiếu tín nhiệm chỉ đối với một người.", "vote.invalid_spec")

    def name_of(self, key: str) -> str:
        """Name of a candidate or official by key."""
        for person in (*self.candidates, *self.officials):
            if person.key == key:
                return person.name
        return key


def options_for(kind: PollKind) -> tuple[tuple[str, str], ...]:
    """The (key, Vietnamese label) options of a single-choice kind; empty for elections and ratings."""
    return OPTIONS.get(PollKind(kind), ())


# ---------------------------------------------------------------------------------------------------------------
# Choices


@dataclass(frozen=True)
class NormalizedChoice:
    """One ballot after validation. An election or rating ballot can be a valid submission and still an
    invalid ballot (`valid=False`, with `invalid_reason`): it is counted as such, never silently fixed."""

    kind: PollKind
    option: str | None = None  # open, secret, confidence_vote
    candidates: tuple[str, ...] = ()  # election: the names kept, in the spec's order
    ratings: tuple[tuple[str, RatingLevel], ...] = ()  # confidence_rating: officials rated, in the spec's order
    valid: bool = True
    invalid_reason: str | None = None  # "vote.too_many_names", "vote.no_names", "vote.blank_rating"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for storage."""
        return {
            "kind": str(self.kind),
            "option": self.option,
            "candidates": list(self.candidates),
            "ratings": {key: str(level) for key, level in self.ratings},
            "valid": self.valid,
            "invalid_reason": self.invalid_reason,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NormalizedChoice:
        """Rebuild a stored choice (the inverse of `to_dict`)."""
        return cls(
            kind=PollKind(data["kind"]),
            option=data.get("option"),
            candidates=tuple(data.get("candidates") or ()),
            ratings=tuple((k, RatingLevel(v)) for k, v in (data.get("ratings") or {}).items()),
            valid=bool(data.get("valid", True)),
            invalid_reason=data.get("invalid_reason"),
        )


def _invalid_choice(message: str, code: str = "vote.invalid_choice", **params: object) -> DomainError:
    return DomainError(message, code, params=params)


def validate_choice(spec: PollSpec, choice: object) -> NormalizedChoice:
    """Check a delegate's choice against the poll and normalize it; raise DomainError for a choice not offered.

    Elections: a list of candidate keys; more names than seats, or none, is an invalid ballot (counted, not raised).
    Confidence rating: {official_key: "high" | "normal" | "low" | None}; an official left out or None is blank,
    which makes the ballot invalid for that official only, as a paper ballot left unmarked for one person; a ballot
    blank for everyone is an invalid ballot.
    """
    kind = spec.kind
    if kind in OPTIONS:
        keys = [key for key, _ in OPTIONS[kind]]
        if not isinstance(choice, str) or choice not in keys:
            labels = ", ".join(label for _, label in OPTIONS[kind])
            raise _invalid_choice("Lựa chọn không hợp lệ. Hãy chọn một trong: %(labels)s.", labels=labels)
        return NormalizedChoice(kind=kind, option=choice)

    if kind == PollKind.ELECTION:
        if isinstance(choice, (str, bytes)) or not isinstance(choice, Sequence):
            raise _invalid_choice("Phiếu bầu phải là danh sách các ứng cử viên được giữ lại.")
        known = {p.key for p in spec.candidates}
        seen: set[str] = set()
        for key in choice:
            if not isinstance(key, str):
                raise _invalid_choice("Phiếu bầu có mục không phải là ứng cử viên.")
            if key not in known:
                raise _invalid_choice(
                    "Phiếu bầu có người không có trong danh sách ứng cử viên.", "vote.unknown_candidate"
                )
            if key in seen:
                raise _invalid_choice("Ứng cử viên %(name)s bị ghi hai lần.", "vote.duplicate_candidate",
                                      name=spec.name_of(key))
            seen.add(key)
        kept = tuple(p.key for p in spec.candidates if p.key in seen)
        if not kept:
            return NormalizedChoice(kind=kind, valid=False, invalid_reason="vote.no_names")
        if len(kept) > spec.seats:
            return NormalizedChoice(kind=kind, candidates=kept, valid=False, invalid_reason="vote.too_many_names")
        return NormalizedChoice(kind=kind, candidates=kept)

    if kind == PollKind.CONFIDENCE_RATING:
        if not isinstance(choice, Mapping):
            raise _invalid_choice("Phiếu tín nhiệm phải ghi mức tín nhiệm cho từng người.")
        known = {p.key for p in spec.officials}
        levels = {str(level) for level, _ in RATING_LEVELS}
        for key, level in choice.items():
            if key not in known:
                raise _invalid_choice(
                    "Phiếu có người không thuộc danh sách lấy phiếu tín nhiệm.", "vote.unknown_official"
                )
            if level is not None and (not isinstance(level, str) or level not in levels):
                raise _invalid_choice(
                    "Mức tín nhiệm của %(name)s không hợp lệ. "
                    "Hãy chọn: Tín nhiệm cao, Tín nhiệm hoặc Tín nhiệm thấp.",
                    "vote.invalid_level", name=spec.name_of(key),
                )
        ratings = tuple(
            (p.key, RatingLevel(choice[p.key])) for p in spec.officials if choice.get(p.key) is not None
        )
        if not ratings:
            return NormalizedChoice(kind=kind, valid=False, invalid_reason="vote.blank_rating")
        return NormalizedChoice(kind=kind, ratings=ratings)

    raise DomainError("Loại biểu quyết không hợp lệ: %(kind)r.", "vote.invalid_spec",  # pragma: no cover
                      params={"kind": kind})


# ---------------------------------------------------------------------------------------------------------------
# Paper ballots


@dataclass(frozen=True)
class PaperTotals:
    """Totals of the paper ballots from the counting committee's minutes (biên bản kiểm phiếu).

    `invalid` counts wholly invalid ballots; `counts` maps option or candidate keys to votes; `ratings` maps
    official keys to {level: votes} (an official's blanks are the valid ballots not rating them).
    """

    issued: int
    returned: int
    invalid: int = 0
    counts: Mapping[str, int] = field(default_factory=dict)
    ratings: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    @property
    def valid(self) -> int:
        """Paper ballots that were valid."""
        return self.returned - self.invalid

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "issued": self.issued,
            "returned": self.returned,
            "invalid": self.invalid,
            "valid": self.valid,
            "counts": dict(self.counts),
            "ratings": {k: dict(v) for k, v in self.ratings.items()},
        }


def _bad_paper(reason: str) -> DomainError:
    return DomainError("Số liệu biên bản kiểm phiếu không hợp lệ: %(reason)s", "vote.invalid_paper_totals",
                       params={"reason": N_(reason)})


def _check_paper(spec: PollSpec, paper: PaperTotals) -> None:
    numbers = [paper.issued, paper.returned, paper.invalid, *paper.counts.values()]
    numbers += [n for levels in paper.ratings.values() for n in levels.values()]
    if any(not isinstance(n, int) or isinstance(n, bool) or n < 0 for n in numbers):
        raise _bad_paper("các số phải là số nguyên không âm.")
    if paper.returned > paper.issued:
        raise _bad_paper("số phiếu thu vào nhiều hơn số phiếu phát ra.")
    if paper.invalid > paper.returned:
        raise _bad_paper("số phiếu không hợp lệ nhiều hơn số phiếu thu vào.")
    if spec.kind in OPTIONS:
        keys = {key for key, _ in OPTIONS[spec.kind]}
        if set(paper.counts) - keys or paper.ratings:
            raise _bad_paper("có lựa chọn không thuộc cuộc biểu quyết này.")
        # Each valid single-choice ballot carries exactly one option.
        if sum(paper.counts.values()) != paper.valid:
            raise _bad_paper("tổng số phiếu theo từng lựa chọn khác số phiếu hợp lệ.")
    elif spec.kind == PollKind.ELECTION:
        if set(paper.counts) - {p.key for p in spec.candidates} or paper.ratings:
            raise _bad_paper("có người không thuộc danh sách ứng cử viên.")
        if any(n > paper.valid for n in paper.counts.values()):
            raise _bad_paper("số phiếu của một ứng cử viên nhiều hơn số phiếu hợp lệ.")
        if sum(paper.counts.values()) > paper.valid * spec.seats:
            raise _bad_paper("tổng số phiếu bầu vượt quá số phiếu hợp lệ nhân số người được bầu.")
    else:  # confidence rating
        if set(paper.ratings) - {p.key for p in spec.officials} or paper.counts:
            raise _bad_paper("có người không thuộc danh sách lấy phiếu tín nhiệm.")
        levels = {str(level) for level, _ in RATING_LEVELS}
        for levels_count in paper.ratings.values():
            if set(levels_count) - levels:
                raise _bad_paper("có mức tín nhiệm không hợp lệ.")
            if sum(levels_count.values()) > paper.valid:
                raise _bad_paper("số phiếu đánh giá một người nhiều hơn số phiếu hợp lệ.")


# ---------------------------------------------------------------------------------------------------------------
# Results


class Outcome(StrEnum):
    """What a poll decided."""

    PASSED = "passed"  # open, secret
    REJECTED = "rejected"
    DISMISSAL_PROPOSED = "dismissal_proposed"  # confidence vote: `no` reached the threshold
    CONFIDENCE_RETAINED = "confidence_retained"
    ELECTED = "elected"  # election: every seat filled
    TIE = "tie"  # election: a tie above the threshold straddles the last seat; a new round among the tied
    SEATS_UNFILLED = "seats_unfilled"  # election: fewer candidates reached the threshold than there are seats
    RATED = "rated"  # confidence rating: see each official's consequence


class RatingConsequence(StrEnum):
    """Consequence of a confidence rating for one official (Resolution 96/2023/QH15)."""

    NONE = "none"
    MAY_RESIGN = "may_resign"  # trên 1/2 tín nhiệm thấp: may resign, otherwise a vote of confidence follows
    DISMISSAL_PROPOSED = "dismissal_proposed"  # từ 2/3 tín nhiệm thấp: dismissal is proposed


@dataclass(frozen=True)
class OptionCount:
    """Votes for one option or candidate, with the exact share of the base in percent."""

    key: str
    label: str
    votes: int
    percent: Fraction

    @property
    def percent_text(self) -> str:
        """The share as announced, e.g. "83,33%"."""
        return format_percent(self.percent)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form; the exact share as a fraction string."""
        return {
            "key": self.key,
            "label": self.label,
            "votes": self.votes,
            "percent": self.percent_text,
            "percent_exact": str(self.percent),
        }


@dataclass(frozen=True)
class OfficialRating:
    """One official's confidence-rating count and consequence; `base` is the denominator applied."""

    key: str
    name: str
    levels: tuple[OptionCount, ...]  # high, normal, low
    valid: int
    invalid: int
    base: int
    low: int
    more_than_half_low: bool
    two_thirds_low: bool

    @property
    def consequence(self) -> RatingConsequence:
        """Dismissal proposed at two-thirds low or more; else may resign above half low."""
        if self.two_thirds_low:
            return RatingConsequence.DISMISSAL_PROPOSED
        if self.more_than_half_low:
            return RatingConsequence.MAY_RESIGN
        return RatingConsequence.NONE

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form."""
        return {
            "key": self.key,
            "name": self.name,
            "levels": [c.to_dict() for c in self.levels],
            "valid": self.valid,
            "invalid": self.invalid,
            "base": self.base,
            "low": self.low,
            "more_than_half_low": self.more_than_half_low,
            "two_thirds_low": self.two_thirds_low,
            "consequence": str(self.consequence),
        }


@dataclass(frozen=True)
class Result:
    """The count of one poll, electronic and paper together; percentages are of the seated delegates N
    (of an official's valid ballots for a rating with base `ballots`)."""

    spec: PollSpec
    seated: int
    required: int
    issued: int
    returned: int
    valid: int
    invalid: int
    options: tuple[OptionCount, ...]  # options (open, secret, confidence vote) or candidates in ballot order
    outcome: Outcome
    elected: tuple[str, ...] = ()  # ranked by votes
    tied: tuple[str, ...] = ()  # candidates to vote again, when outcome is TIE
    tie_seats: int = 0  # seats left to fill in the new round
    ratings: tuple[OfficialRating, ...] = ()
    electronic_issued: int = 0
    electronic_returned: int = 0
    paper: PaperTotals | None = None

    @property
    def kind(self) -> PollKind:
        """The poll's kind."""
        return self.spec.kind

    @property
    def passed(self) -> bool | None:
        """Whether an open or secret vote passed; None for the other kinds."""
        if self.outcome in (Outcome.PASSED, Outcome.REJECTED):
            return self.outcome == Outcome.PASSED
        return None

    def count(self, key: str) -> int:
        """Votes for an option or candidate key."""
        for option in self.options:
            if option.key == key:
                return option.votes
        raise KeyError(key)

    def lines_vi(self, level_word: str = "xã") -> list[str]:
        """The result as the council announces it, one line per item (level word "xã" or "phường")."""
        return _lines_vi(self, level_word)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form for the API and the minutes."""
        return {
            "kind": str(self.kind),
            "title": self.spec.title,
            "threshold": str(self.spec.threshold),
            "seated": self.seated,
            "required": self.required,
            "issued": self.issued,
            "returned": self.returned,
            "valid": self.valid,
            "invalid": self.invalid,
            "options": [o.to_dict() for o in self.options],
            "outcome": str(self.outcome),
            "passed": self.passed,
            "seats": self.spec.seats if self.kind == PollKind.ELECTION else None,
            "elected": list(self.elected),
            "tied": list(self.tied),
            "tie_seats": self.tie_seats,
            "ratings": [r.to_dict() for r in self.ratings],
            "rating_base": str(self.spec.rating_base) if self.kind == PollKind.CONFIDENCE_RATING else None,
            "electronic": {"issued": self.electronic_issued, "returned": self.electronic_returned},
            "paper": self.paper.to_dict() if self.paper is not None else None,
        }


def tally(
    spec: PollSpec,
    ballots: Iterable[NormalizedChoice],
    seated: int,
    eligible: int,
    paper_totals: PaperTotals | None = None,
) -> Result:
    """Count the electronic ballots (one per delegate who voted; `eligible` were issued) plus any paper totals."""
    required = required_votes(spec.threshold, seated)
    ballots = tuple(ballots)
    if any(b.kind != spec.kind for b in ballots):
        raise DomainError("Có phiếu không thuộc cuộc biểu quyết này.", "vote.invalid_choice")
    if eligible < 0 or len(ballots) > eligible:
        raise DomainError("Số phiếu điện tử nhiều hơn số đại biểu được phát phiếu.", "vote.invalid_tally")
    paper = paper_totals
    if paper is not None:
        _check_paper(spec, paper)
    issued = eligible + (paper.issued if paper else 0)
    returned = len(ballots) + (paper.returned if paper else 0)
    invalid = sum(not b.valid for b in ballots) + (paper.invalid if paper else 0)
    if issued > seated:
        # Said with its numbers: the secretary typing the counting committee's totals sees what to correct.
        raise DomainError("Số phiếu phát ra (%(issued)d: %(electronic)d phiếu điện tử và %(paper)d phiếu giấy) nhiều "
                          "hơn tổng số đại biểu HĐND (%(seated)d). Hãy kiểm tra lại biên bản kiểm phiếu.",
                          "vote.invalid_tally", params={"issued": issued, "electronic": eligible,
                                                        "paper": paper.issued if paper else 0, "seated": seated})
    common: dict[str, Any] = dict(
        spec=spec,
        seated=seated,
        required=required,
        issued=issued,
        returned=returned,
        valid=returned - invalid,
        invalid=invalid,
        electronic_issued=eligible,
        electronic_returned=len(ballots),
        paper=paper,
    )
    paper_counts: Mapping[str, int] = paper.counts if paper else {}

    if spec.kind in OPTIONS:
        votes = {key: paper_counts.get(key, 0) for key, _ in OPTIONS[spec.kind]}
        for b in ballots:
            if b.option not in votes:
                raise DomainError("Có phiếu với lựa chọn không hợp lệ.", "vote.invalid_choice")
            votes[b.option] += 1
        options = tuple(
            OptionCount(key, label, votes[key], percent_of(votes[key], seated)) for key, label in OPTIONS[spec.kind]
        )
        if spec.kind == PollKind.CONFIDENCE_VOTE:
            outcome = Outcome.DISMISSAL_PROPOSED if votes["no"] >= required else Outcome.CONFIDENCE_RETAINED
        else:
            decisive = "for" if spec.kind == PollKind.OPEN else "yes"
            outcome = Outcome.PASSED if votes[decisive] >= required else Outcome.REJECTED
        return Result(options=options, outcome=outcome, **common)

    if spec.kind == PollKind.ELECTION:
        votes = {p.key: paper_counts.get(p.key, 0) for p in spec.candidates}
        for b in ballots:
            if set(b.candidates) - set(votes):
                raise DomainError("Có phiếu ghi người không có trong danh sách.", "vote.unknown_candidate")
            if b.valid:  # names on an invalid ballot are not counted
                for key in b.candidates:
                    votes[key] += 1
        options = tuple(
            OptionCount(p.key, p.name, votes[p.key], percent_of(votes[p.key], seated)) for p in spec.candidates
        )
        elected, tied, tie_seats = _elect(spec, votes, required)
        if tied:
            outcome = Outcome.TIE
        elif len(elected) == spec.seats:
            outcome = Outcome.ELECTED
        else:
            outcome = Outcome.SEATS_UNFILLED
        return Result(options=options, outcome=outcome, elected=elected, tied=tied, tie_seats=tie_seats, **common)

    # Confidence rating: per official, with its own valid count (blanks are invalid for that official only).
    ratings = []
    for person in spec.officials:
        levels = {str(level): 0 for level, _ in RATING_LEVELS}
        if paper:
            for level, n in paper.ratings.get(person.key, {}).items():
                levels[level] += n
        for b in ballots:
            for key, level in b.ratings:
                if key == person.key:
                    levels[str(level)] += 1
        valid_for = sum(levels.values())
        base = seated if spec.rating_base == RatingBase.SEATED else valid_for
        low = levels[str(RatingLevel.LOW)]
        ratings.append(
            OfficialRating(
                key=person.key,
                name=person.name,
                levels=tuple(
                    OptionCount(str(level), label, levels[str(level)], percent_of(levels[str(level)], base))
                    for level, label in RATING_LEVELS
                ),
                valid=valid_for,
                invalid=returned - valid_for,
                base=base,
                low=low,
                # Integer forms of low > base/2 and low >= 2*base/3; nothing is triggered on an empty base.
                more_than_half_low=base > 0 and 2 * low > base,
                two_thirds_low=base > 0 and 3 * low >= 2 * base,
            )
        )
    return Result(options=(), outcome=Outcome.RATED, ratings=tuple(ratings), **common)


def _elect(spec: PollSpec, votes: Mapping[str, int], required: int) -> tuple[tuple[str, ...], tuple[str, ...], int]:
    """Rank candidates at or above the threshold; return (elected, tied, seats left for a new round).

    Elected: more than half of N and more votes than the rivals for the seats (hdnd-rules.md, "Election").
    """
    order = {p.key: i for i, p in enumerate(spec.candidates)}
    above = sorted((k for k in votes if votes[k] >= required), key=lambda k: (-votes[k], order[k]))
    if len(above) <= spec.seats:
        return tuple(above), (), 0
    cutoff = votes[above[spec.seats - 1]]
    if votes[above[spec.seats]] < cutoff:
        return tuple(above[: spec.seats]), (), 0
    # The last seat's vote count is shared by someone beyond the seats: everyone with that count votes again.
    elected = tuple(k for k in above if votes[k] > cutoff)
    tied = tuple(k for k in above if votes[k] == cutoff)
    return elected, tied, spec.seats - len(elected)


# ---------------------------------------------------------------------------------------------------------------
# Announcement


def _lines_vi(result: Result, level_word: str) -> list[str]:
    spec, n = result.spec, result.seated
    of_total = f"tổng số đại biểu HĐND {level_word}"
    lines: list[str] = []
    if spec.title:
        lines.append(f"Kết quả biểu quyết: {spec.title}.")
    lines.append(f"Tổng số đại biểu HĐND {level_word}: {format_int(n)} đại biểu.")

    if spec.kind == PollKind.OPEN:
        lines.append(
            f"Số đại biểu tham gia biểu quyết: {format_int(result.returned)}/{format_int(n)} đại biểu, "
            f"chiếm {format_percent(percent_of(result.returned, n))} {of_total}."
        )
        if result.paper is not None:
            lines.append(_paper_note(result))
        lines += [announce_line(o.label, o.votes, n, level_word) for o in result.options]
    else:
        lines += [
            f"Số phiếu phát ra: {format_int(result.issued)} phiếu.",
            f"Số phiếu thu vào: {format_int(result.returned)} phiếu.",
        ]
        if result.paper is not None:
            lines.append(_paper_note(result))
        if spec.kind != PollKind.CONFIDENCE_RATING:
            lines += [
                f"Số phiếu hợp lệ: {format_int(result.valid)} phiếu.",
                f"Số phiếu không hợp lệ: {format_int(result.invalid)} phiếu.",
            ]
        else:
            lines.append(f"Số phiếu không hợp lệ (để trống toàn bộ): {format_int(result.invalid)} phiếu.")
        if spec.kind == PollKind.CONFIDENCE_VOTE and spec.officials:
            lines.append(f"Người được bỏ phiếu tín nhiệm: {spec.officials[0].name}.")
        for o in result.options:
            lines.append(f"{o.label}: {format_int(o.votes)} phiếu, chiếm {o.percent_text} {of_total}.")

    required = f"{format_int(result.required)}/{format_int(n)}"
    if spec.kind == PollKind.OPEN:
        verdict = "Thông qua" if result.passed else "Không thông qua"
        lines.append(
            f"Kết quả: {verdict} (cần ít nhất {required} đại biểu tán thành, {spec.threshold.label_vi} {of_total})."
        )
    elif spec.kind == PollKind.SECRET:
        verdict = "Thông qua" if result.passed else "Không thông qua"
        lines.append(
            f"Kết quả: {verdict} (cần ít nhất {required} phiếu đồng ý, {spec.threshold.label_vi} {of_total})."
        )
    elif spec.kind == PollKind.CONFIDENCE_VOTE:
        if result.outcome == Outcome.DISMISSAL_PROPOSED:
            lines.append(
                f"Kết quả: {spec.threshold.label_vi} {of_total} không tín nhiệm (từ {required} phiếu); "
                "đề nghị miễn nhiệm, bãi nhiệm."
            )
        else:
            lines.append(
                f"Kết quả: số phiếu không tín nhiệm chưa đạt {spec.threshold.label_vi} {of_total} "
                f"(cần {required}); không đặt ra việc miễn nhiệm."
            )
    elif spec.kind == PollKind.ELECTION:
        lines.append(
            f"Số người được bầu: {format_int(spec.seats)}; "
            f"cần ít nhất {required} phiếu ({spec.threshold.label_vi} {of_total})."
        )
        names = ", ".join(spec.name_of(k) for k in result.elected)
        lines.append(f"Trúng cử: {names}." if result.elected else "Không có người trúng cử.")
        if result.tied:
            tied = ", ".join(spec.name_of(k) for k in result.tied)
            lines.append(
                "Những người có số phiếu ngang nhau phải bầu lại "
                f"cho {format_int(result.tie_seats)} vị trí còn lại: {tied}."
            )
        elif len(result.elected) < spec.seats:
            lines.append(f"Còn {format_int(spec.seats - len(result.elected))} vị trí chưa có người trúng cử.")
    else:
        base_words = of_total if spec.rating_base == RatingBase.SEATED else "số phiếu hợp lệ đối với người đó"
        for r in result.ratings:
            lines.append(f"{r.name}:")
            for o in r.levels:
                lines.append(f"- {o.label}: {format_int(o.votes)} phiếu, chiếm {o.percent_text} {base_words}.")
            lines.append(f"- Phiếu không hợp lệ (bỏ trống) đối với người này: {format_int(r.invalid)} phiếu.")
            if r.consequence == RatingConsequence.DISMISSAL_PROPOSED:
                lines.append(
                    f"- Có từ 2/3 {base_words} trở lên đánh giá tín nhiệm thấp: đề nghị miễn nhiệm, bãi nhiệm."
                )
            elif r.consequence == RatingConsequence.MAY_RESIGN:
                lines.append(
                    f"- Có trên 1/2 {base_words} đánh giá tín nhiệm thấp: có thể xin từ chức; "
                    "nếu không xin từ chức thì HĐND bỏ phiếu tín nhiệm."
                )
    return lines


def _paper_note(result: Result) -> str:
    assert result.paper is not None
    return (
        f"(Gồm {format_int(result.electronic_returned)} phiếu điện tử và "
        f"{format_int(result.paper.returned)} phiếu giấy theo biên bản kiểm phiếu.)"
    )


# ---------------------------------------------------------------------------------------------------------------
# Lifecycle


def open_poll(state: PollState) -> PollState:
    """Open a draft poll for voting."""
    if state == PollState.DRAFT:
        return PollState.OPEN
    _raise_for(state)


def close_poll(state: PollState) -> PollState:
    """Close an open poll; the count follows."""
    if state == PollState.OPEN:
        return PollState.CLOSED
    if state == PollState.DRAFT:
        raise DomainError("Biểu quyết chưa bắt đầu.", "vote.not_open")
    _raise_for(state)


def cancel_poll(state: PollState, reason: str) -> PollState:
    """Cancel a draft or open poll; the reason is required because the minutes record it."""
    if state in (PollState.CLOSED, PollState.CANCELLED):
        _raise_for(state)
    if not reason or not reason.strip():
        raise DomainError("Phải nêu lý do hủy biểu quyết.", "vote.reason_required")
    return PollState.CANCELLED


def check_can_cast(state: PollState, kind: PollKind, has_voted: bool, allow_change: bool = True) -> None:
    """Raise unless a delegate may cast (or change) a choice now."""
    if state != PollState.OPEN:
        raise DomainError("Biểu quyết không đang mở.", "vote.not_open")
    if has_voted and not may_change_choice(kind, allow_change):
        raise DomainError("Đại biểu đã bỏ phiếu; không thể thay đổi.", "vote.already_voted")


def check_can_open(listed: int, present: int, seated: int) -> None:
    """Raise unless a poll can be counted whoever of the listed delegates takes part.

    Every delegate present at opening, and every one marked present while it is open, is issued a ballot, and a
    count never issues more ballots than there are seats (N). So when more delegates are listed (or present) than
    N, the clerk's N is wrong: say so now, while it can be fixed, not when the chair closes the vote.
    """
    if present > seated:
        raise DomainError(
            f"Không thể bắt đầu biểu quyết: có {present} đại biểu có mặt, nhiều hơn tổng số đại biểu HĐND "
            f"({seated}) dùng để tính kết quả. Hãy đề nghị văn phòng kiểm tra lại điểm danh hoặc tổng số đại biểu.",
            "vote.more_present_than_seated",
        )
    if listed > seated:
        raise DomainError(
            f"Không thể bắt đầu biểu quyết: danh sách có {listed} đại biểu, nhiều hơn tổng số đại biểu HĐND "
            f"({seated}) dùng để tính kết quả. Hãy đề nghị văn phòng sửa tổng số đại biểu hoặc danh sách đại biểu.",
            "vote.more_listed_than_seated",
        )


def check_proxy(*, present: bool, marked_by_recorder: bool, voted: bool, device_connected: bool) -> None:
    """Raise unless the secretary may record this delegate's open vote for them ("thư ký ghi thay").

    Only for a delegate in the room (whose presence someone else confirmed: the secretary alone cannot both
    declare a person present and vote for them), who has not voted, and whose own screen is not connected: a
    recorded ballot never replaces, nor races, the delegate's own.
    """
    if not present:
        raise DomainError("Đại biểu này không có mặt: không thể ghi phiếu thay.", "vote.proxy_absent")
    if marked_by_recorder:
        raise DomainError(
            "Người ghi phiếu thay không thể đồng thời là người điểm danh đại biểu này có mặt. Hãy để đại biểu quét "
            "thẻ hoặc nhờ văn phòng điểm danh.", "vote.proxy_self_marked")
    if voted:
        raise DomainError("Đại biểu đã tự biểu quyết: không thể ghi phiếu thay.", "vote.proxy_already_voted")
    if device_connected:
        raise DomainError(
            "Thiết bị của đại biểu này đang kết nối: đại biểu tự biểu quyết trên thiết bị của mình.",
            "vote.proxy_device_connected")


def verdict_vi(result: Mapping[str, Any]) -> str:
    """The short verdict of a stored result ("Thông qua", "Trúng cử: …"), for tables that list results: read
    from the stored result, as the announced lines are, so every place says the same thing."""
    outcome = result.get("outcome")
    if outcome == Outcome.PASSED:
        return "Thông qua"
    if outcome == Outcome.REJECTED:
        return "Không thông qua"
    if outcome == Outcome.DISMISSAL_PROPOSED:
        return "Đề nghị miễn nhiệm, bãi nhiệm"
    if outcome == Outcome.CONFIDENCE_RETAINED:
        return "Không đặt ra việc miễn nhiệm"
    names = {o.get("key"): o.get("label") for o in result.get("options") or []}
    elected = ", ".join(str(names.get(k, k)) for k in result.get("elected") or [])
    if outcome == Outcome.ELECTED:
        return f"Trúng cử: {elected}"
    if outcome == Outcome.TIE:
        tied = ", ".join(str(names.get(k, k)) for k in result.get("tied") or [])
        return (f"Trúng cử: {elected}; " if elected else "") + f"bầu lại giữa: {tied}"
    if outcome == Outcome.SEATS_UNFILLED:
        return f"Trúng cử: {elected}" if elected else "Không có người trúng cử"
    if outcome == Outcome.RATED:
        parts = []
        for r in result.get("ratings") or []:
            consequence = r.get("consequence")
            if consequence == RatingConsequence.DISMISSAL_PROPOSED:
                parts.append(f"{r.get('name')}: đề nghị miễn nhiệm, bãi nhiệm")
            elif consequence == RatingConsequence.MAY_RESIGN:
                parts.append(f"{r.get('name')}: trên 1/2 tín nhiệm thấp")
        return "; ".join(parts) or "Đã lấy phiếu tín nhiệm"
    return ""


def may_change_choice(kind: PollKind, setting: bool = True) -> bool:
    """An open-vote choice may change while the poll is open if the setting allows; a secret ballot never,
    since a cast secret ballot is no longer linked to its voter."""
    return PollKind(kind) == PollKind.OPEN and setting


def _raise_for(state: PollState) -> NoReturn:
    if state == PollState.OPEN:
        raise DomainError("Biểu quyết đang mở.", "vote.already_open")
    if state == PollState.CLOSED:
        raise DomainError("Biểu quyết đã kết thúc.", "vote.closed")
    if state == PollState.CANCELLED:
        raise DomainError("Biểu quyết đã bị hủy.", "vote.cancelled")
    raise DomainError("Trạng thái không hợp lệ: %(state)r.", "vote.invalid_state", params={"state": state})
