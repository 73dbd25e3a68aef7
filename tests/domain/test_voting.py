"""Voting rules: thresholds, ballot validation, tally, announcement and lifecycle of a poll."""

import json
from collections.abc import Mapping, Sequence
from fractions import Fraction

import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.domain.voting import (
    NormalizedChoice,
    Outcome,
    PaperTotals,
    Person,
    PollKind,
    PollSpec,
    PollState,
    RatingBase,
    RatingConsequence,
    Threshold,
    cancel_poll,
    check_can_cast,
    close_poll,
    may_change_choice,
    open_poll,
    options_for,
    required_votes,
    tally,
    validate_choice,
)

CANDIDATES = (Person("a", "Nguyễn Văn An"), Person("b", "Trần Thị Bình"), Person("c", "Lê Văn Cường"),
              Person("d", "Phạm Thị Dung"))
OFFICIALS = (Person("p1", "Nguyễn Văn An"), Person("p2", "Trần Thị Bình"))


def many(spec: PollSpec, choice: object, times: int) -> list[NormalizedChoice]:
    """The same choice cast by `times` delegates."""
    return [validate_choice(spec, choice)] * times


def election_ballots(spec: PollSpec, counts: Mapping[str, int], n_ballots: int) -> list[NormalizedChoice]:
    """Electronic ballots giving each candidate its count, each keeping at most `seats` names.

    Names are dealt round-robin over the ballots, so no ballot gets a name twice or more than `seats` names
    when every count is at most n_ballots and the total at most n_ballots * seats.
    """
    names: list[list[str]] = [[] for _ in range(n_ballots)]
    slot = 0
    for key, count in counts.items():
        for _ in range(count):
            names[slot % n_ballots].append(key)
            slot += 1
    return [validate_choice(spec, kept) for kept in names]


def error_of(fn, *args, **kwargs) -> DomainError:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        fn(*args, **kwargs)
    return caught.value


# --- thresholds ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seated", "half", "two_thirds", "over_two_thirds"), [(15, 8, 10, 11), (30, 16, 20, 21)])
def test_threshold_examples_of_the_rules(seated: int, half: int, two_thirds: int, over_two_thirds: int) -> None:
    assert required_votes(Threshold.MORE_THAN_HALF, seated) == half
    assert required_votes(Threshold.TWO_THIRDS, seated) == two_thirds
    assert required_votes(Threshold.MORE_THAN_TWO_THIRDS, seated) == over_two_thirds


def smallest(predicate) -> int:  # type: ignore[no-untyped-def]
    return next(k for k in range(0, 1000) if predicate(k))


@pytest.mark.parametrize("seated", range(1, 101))
def test_thresholds_match_an_independent_formulation(seated: int) -> None:
    assert required_votes(Threshold.MORE_THAN_HALF, seated) == smallest(lambda k: k * 2 > seated)
    assert required_votes(Threshold.TWO_THIRDS, seated) == smallest(lambda k: k * 3 >= 2 * seated)
    assert required_votes(Threshold.MORE_THAN_TWO_THIRDS, seated) == smallest(lambda k: k * 3 > 2 * seated)
    # And with exact fractions: the share reached by k votes, and not by k - 1.
    for threshold, reached in [
        (Threshold.MORE_THAN_HALF, lambda k: Fraction(k, seated) > Fraction(1, 2)),
        (Threshold.TWO_THIRDS, lambda k: Fraction(k, seated) >= Fraction(2, 3)),
        (Threshold.MORE_THAN_TWO_THIRDS, lambda k: Fraction(k, seated) > Fraction(2, 3)),
    ]:
        k = required_votes(threshold, seated)
        assert reached(k) and not reached(k - 1)
        assert 1 <= k <= seated


@pytest.mark.parametrize("seated", [0, -1, True, 2.0])
def test_threshold_needs_a_positive_whole_number_of_delegates(seated: object) -> None:
    err = error_of(required_votes, Threshold.MORE_THAN_HALF, seated)
    assert err.code == "vote.invalid_seated"
    assert "Tổng số đại biểu" in err.message


# --- poll specs --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "election"},
        {"kind": "election", "candidates": CANDIDATES[:2], "seats": 0},
        {"kind": "election", "candidates": CANDIDATES[:2], "seats": 3},
        {"kind": "election", "candidates": (CANDIDATES[0], CANDIDATES[0])},
        {"kind": "confidence_rating"},
        {"kind": "confidence_vote", "officials": OFFICIALS},
    ],
)
def test_spec_that_cannot_make_a_ballot_is_refused(kwargs: dict) -> None:
    assert error_of(PollSpec, **kwargs).code == "vote.invalid_spec"


def test_spec_accepts_plain_strings_for_enums() -> None:
    spec = PollSpec("secret", threshold="two_thirds")  # type: ignore[arg-type]  # as read back from storage
    assert spec.kind is PollKind.SECRET and spec.threshold is Threshold.TWO_THIRDS
    assert error_of(PollSpec, "referendum").code == "vote.invalid_spec"
    assert error_of(PollSpec, PollKind.OPEN, threshold="most").code == "vote.invalid_spec"


def test_option_labels_in_vietnamese() -> None:
    assert options_for(PollKind.OPEN) == (("for", "Tán thành"), ("against", "Không tán thành"),
                                          ("abstain", "Không biểu quyết"))
    assert options_for(PollKind.SECRET) == (("yes", "Đồng ý"), ("no", "Không đồng ý"))
    assert options_for(PollKind.CONFIDENCE_VOTE) == (("yes", "Tín nhiệm"), ("no", "Không tín nhiệm"))
    assert options_for(PollKind.ELECTION) == ()


# --- choices -----------------------------------------------------------------------------------------------

SINGLE = [(PollKind.OPEN, ["for", "against", "abstain"]), (PollKind.SECRET, ["yes", "no"]),
          (PollKind.CONFIDENCE_VOTE, ["yes", "no"])]


@pytest.mark.parametrize(("kind", "keys"), SINGLE)
def test_single_choice_kinds_accept_their_options(kind: PollKind, keys: list[str]) -> None:
    for key in keys:
        choice = validate_choice(PollSpec(kind), key)
        assert (choice.option, choice.valid, choice.kind) == (key, True, kind)


@pytest.mark.parametrize(("kind", "keys"), SINGLE)
@pytest.mark.parametrize("bad", ["FOR", "maybe", "", None, 1, ["for"], {"yes": 1}])
def test_single_choice_kinds_refuse_anything_else(kind: PollKind, keys: list[str], bad: object) -> None:
    err = error_of(validate_choice, PollSpec(kind), bad)
    assert err.code == "vote.invalid_choice"
    assert err.message.startswith("Lựa chọn không hợp lệ. Hãy chọn một trong:")


def test_open_vote_options_are_not_secret_ballot_options() -> None:
    assert error_of(validate_choice, PollSpec(PollKind.OPEN), "yes").message == (
        "Lựa chọn không hợp lệ. Hãy chọn một trong: Tán thành, Không tán thành, Không biểu quyết."
    )
    assert error_of(validate_choice, PollSpec(PollKind.SECRET), "for").code == "vote.invalid_choice"
    assert "Tín nhiệm, Không tín nhiệm" in error_of(validate_choice, PollSpec(PollKind.CONFIDENCE_VOTE), "for").message


ELECTION2 = PollSpec(PollKind.ELECTION, "Bầu Phó Chủ tịch HĐND xã", seats=2, candidates=CANDIDATES[:3])


@pytest.mark.parametrize(
    ("kept", "normalized"),
    [(["a"], ("a",)), (["b", "a"], ("a", "b")), (("c",), ("c",)), (["c", "a"], ("a", "c"))],
)
def test_election_ballot_keeps_up_to_seats_names_in_ballot_order(kept: Sequence[str], normalized: tuple) -> None:
    choice = validate_choice(ELECTION2, kept)
    assert choice.valid and choice.candidates == normalized and choice.invalid_reason is None


@pytest.mark.parametrize(
    ("kept", "reason"),
    [([], "vote.no_names"), (["a", "b", "c"], "vote.too_many_names")],
)
def test_election_ballot_with_no_names_or_too_many_is_an_invalid_ballot_not_an_error(kept: list, reason: str) -> None:
    choice = validate_choice(ELECTION2, kept)
    assert not choice.valid and choice.invalid_reason == reason
    assert choice.candidates == tuple(kept)  # recorded as cast, never trimmed to fit


@pytest.mark.parametrize(
    ("kept", "code"),
    [
        (["x"], "vote.unknown_candidate"),
        (["a", "a"], "vote.duplicate_candidate"),
        ("a", "vote.invalid_choice"),
        (None, "vote.invalid_choice"),
        ([1], "vote.invalid_choice"),
        ({"a"}, "vote.invalid_choice"),
        ({"a": True}, "vote.invalid_choice"),
    ],
)
def test_election_ballot_that_is_not_a_ballot_is_refused(kept: object, code: str) -> None:
    err = error_of(validate_choice, ELECTION2, kept)
    assert err.code == code and err.message


def test_duplicate_name_message_names_the_candidate() -> None:
    assert error_of(validate_choice, ELECTION2, ["b", "b"]).message == "Ứng cử viên Trần Thị Bình bị ghi hai lần."


RATING = PollSpec(PollKind.CONFIDENCE_RATING, "Lấy phiếu tín nhiệm", officials=OFFICIALS)


def test_rating_ballot_rates_every_official() -> None:
    choice = validate_choice(RATING, {"p2": "low", "p1": "high"})
    assert choice.valid and [(k, str(v)) for k, v in choice.ratings] == [("p1", "high"), ("p2", "low")]


@pytest.mark.parametrize("ratings", [{"p1": "normal"}, {"p1": "normal", "p2": None}])
def test_rating_left_blank_for_one_official_stays_valid_for_the_others(ratings: dict) -> None:
    choice = validate_choice(RATING, ratings)
    assert choice.valid and [k for k, _ in choice.ratings] == ["p1"]


@pytest.mark.parametrize("ratings", [{}, {"p1": None, "p2": None}])
def test_rating_blank_for_everyone_is_an_invalid_ballot(ratings: dict) -> None:
    choice = validate_choice(RATING, ratings)
    assert not choice.valid and choice.invalid_reason == "vote.blank_rating"


@pytest.mark.parametrize(
    ("ratings", "code"),
    [
        ({"zz": "low"}, "vote.unknown_official"),
        ({"p1": "very_low"}, "vote.invalid_level"),
        ({"p1": 3}, "vote.invalid_level"),
        (["p1"], "vote.invalid_choice"),
        ("low", "vote.invalid_choice"),
        (None, "vote.invalid_choice"),
    ],
)
def test_rating_ballot_that_is_not_a_ballot_is_refused(ratings: object, code: str) -> None:
    assert error_of(validate_choice, RATING, ratings).code == code


def test_invalid_level_message_names_the_official_and_the_levels() -> None:
    assert error_of(validate_choice, RATING, {"p2": "x"}).message == (
        "Mức tín nhiệm của Trần Thị Bình không hợp lệ. Hãy chọn: Tín nhiệm cao, Tín nhiệm hoặc Tín nhiệm thấp."
    )


@pytest.mark.parametrize(
    ("spec", "choice"),
    [(PollSpec(PollKind.OPEN), "abstain"), (PollSpec(PollKind.SECRET), "no"), (ELECTION2, ["b"]),
     (ELECTION2, ["a", "b", "c"]), (ELECTION2, []), (RATING, {"p1": "low"}), (RATING, {})],
)
def test_choice_survives_storage_as_json(spec: PollSpec, choice: object) -> None:
    normalized = validate_choice(spec, choice)
    assert NormalizedChoice.from_dict(json.loads(json.dumps(normalized.to_dict()))) == normalized


# --- tally: open and secret votes ---------------------------------------------------------------------------


def test_open_vote_result_as_announced() -> None:
    spec = PollSpec(PollKind.OPEN, "Nghị quyết về dự toán ngân sách xã năm 2027")
    ballots = many(spec, "for", 25) + many(spec, "against", 2) + many(spec, "abstain", 1)
    result = tally(spec, ballots, seated=30, eligible=29)
    assert (result.count("for"), result.count("against"), result.count("abstain")) == (25, 2, 1)
    assert (result.issued, result.returned, result.valid, result.invalid) == (29, 28, 28, 0)
    assert result.required == 16 and result.passed is True and result.outcome == Outcome.PASSED
    assert result.options[0].percent == Fraction(250, 3) and result.options[0].percent_text == "83,33%"
    assert result.lines_vi("xã") == [
        "Kết quả biểu quyết: Nghị quyết về dự toán ngân sách xã năm 2027.",
        "Tổng số đại biểu HĐND xã: 30 đại biểu.",
        "Số đại biểu tham gia biểu quyết: 28/30 đại biểu, chiếm 93,33% tổng số đại biểu HĐND xã.",
        "Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã.",
        "Không tán thành: 2/30 đại biểu, chiếm 6,67% tổng số đại biểu HĐND xã.",
        "Không biểu quyết: 1/30 đại biểu, chiếm 3,33% tổng số đại biểu HĐND xã.",
        "Kết quả: Thông qua (cần ít nhất 16/30 đại biểu tán thành, quá nửa tổng số đại biểu HĐND xã).",
    ]
    assert "tổng số đại biểu HĐND phường." in result.lines_vi("phường")[3]


@pytest.mark.parametrize("kind", [PollKind.OPEN, PollKind.SECRET])
@pytest.mark.parametrize("threshold", list(Threshold))
@pytest.mark.parametrize("seated", [15, 16, 17, 22, 29, 30])
def test_passes_exactly_at_the_required_number_of_the_total(kind: PollKind, threshold: Threshold, seated: int) -> None:
    spec = PollSpec(kind, threshold=threshold)
    yes = "for" if kind == PollKind.OPEN else "yes"
    need = required_votes(threshold, seated)
    # Everyone else present votes against: the share counts the total delegates, not those present.
    for votes, passed in [(need - 1, False), (need, True)]:
        result = tally(spec, many(spec, yes, votes), seated=seated, eligible=votes)
        assert result.passed is passed
        assert result.outcome == (Outcome.PASSED if passed else Outcome.REJECTED)


def test_absentees_and_abstentions_count_against_a_motion() -> None:
    spec = PollSpec(PollKind.OPEN)
    # 20 of 30 present, 15 for and nobody against: still not more than half of the 30.
    result = tally(spec, many(spec, "for", 15) + many(spec, "abstain", 5), seated=30, eligible=20)
    assert result.passed is False
    assert result.lines_vi()[-1] == (
        "Kết quả: Không thông qua (cần ít nhất 16/30 đại biểu tán thành, quá nửa tổng số đại biểu HĐND xã)."
    )


def test_secret_ballot_announces_ballots_issued_returned_valid_invalid() -> None:
    spec = PollSpec(PollKind.SECRET, "Bãi nhiệm đại biểu HĐND xã", threshold=Threshold.TWO_THIRDS)
    result = tally(spec, many(spec, "yes", 20) + many(spec, "no", 8), seated=30, eligible=29)
    assert result.passed is True and result.required == 20
    assert result.lines_vi() == [
        "Kết quả biểu quyết: Bãi nhiệm đại biểu HĐND xã.",
        "Tổng số đại biểu HĐND xã: 30 đại biểu.",
        "Số phiếu phát ra: 29 phiếu.",
        "Số phiếu thu vào: 28 phiếu.",
        "Số phiếu hợp lệ: 28 phiếu.",
        "Số phiếu không hợp lệ: 0 phiếu.",
        "Đồng ý: 20 phiếu, chiếm 66,67% tổng số đại biểu HĐND xã.",
        "Không đồng ý: 8 phiếu, chiếm 26,67% tổng số đại biểu HĐND xã.",
        "Kết quả: Thông qua (cần ít nhất 20/30 phiếu đồng ý, ít nhất hai phần ba tổng số đại biểu HĐND xã).",
    ]


def test_paper_totals_are_added_to_electronic_ballots_and_recorded() -> None:
    spec = PollSpec(PollKind.SECRET)
    paper = PaperTotals(issued=10, returned=9, invalid=1, counts={"yes": 6, "no": 2})
    result = tally(spec, many(spec, "yes", 12) + many(spec, "no", 6), seated=30, eligible=19, paper_totals=paper)
    assert (result.issued, result.returned, result.valid, result.invalid) == (29, 27, 26, 1)
    assert (result.count("yes"), result.count("no")) == (18, 8)
    assert result.passed is True
    assert (result.electronic_issued, result.electronic_returned) == (19, 18)
    assert "(Gồm 18 phiếu điện tử và 9 phiếu giấy theo biên bản kiểm phiếu.)" in result.lines_vi()
    data = result.to_dict()
    assert data["paper"] == {"issued": 10, "returned": 9, "invalid": 1, "valid": 8,
                             "counts": {"yes": 6, "no": 2}, "ratings": {}}
    assert data["electronic"] == {"issued": 19, "returned": 18}


def test_all_paper_secret_ballot() -> None:
    spec = PollSpec(PollKind.SECRET)
    result = tally(spec, [], seated=15, eligible=0,
                   paper_totals=PaperTotals(issued=15, returned=15, invalid=2, counts={"yes": 7, "no": 6}))
    assert (result.valid, result.invalid, result.required, result.passed) == (13, 2, 8, False)


@pytest.mark.parametrize(
    "paper",
    [
        PaperTotals(issued=5, returned=6, counts={"yes": 6}),
        PaperTotals(issued=5, returned=5, invalid=6, counts={}),
        PaperTotals(issued=5, returned=5, counts={"yes": 3, "no": 1}),  # one valid ballot missing
        PaperTotals(issued=5, returned=5, counts={"yes": 5, "maybe": 0}),
        PaperTotals(issued=5, returned=5, counts={"yes": 6, "no": -1}),
        PaperTotals(issued=5, returned=5, counts={"yes": 5}, ratings={"p1": {"low": 1}}),
    ],
)
def test_inconsistent_counting_minutes_are_refused(paper: PaperTotals) -> None:
    err = error_of(tally, PollSpec(PollKind.SECRET), [], seated=30, eligible=0, paper_totals=paper)
    assert err.code == "vote.invalid_paper_totals"
    assert err.message.startswith("Số liệu biên bản kiểm phiếu không hợp lệ:")


def test_more_ballots_than_delegates_is_refused() -> None:
    spec = PollSpec(PollKind.OPEN)
    assert error_of(tally, spec, many(spec, "for", 3), seated=30, eligible=2).code == "vote.invalid_tally"
    assert error_of(tally, spec, [], seated=15, eligible=16).code == "vote.invalid_tally"
    assert error_of(tally, spec, [], seated=15, eligible=-1).code == "vote.invalid_tally"
    paper = PaperTotals(issued=10, returned=0)
    assert error_of(tally, spec, [], seated=15, eligible=10, paper_totals=paper).code == "vote.invalid_tally"


def test_ballot_of_another_kind_is_refused() -> None:
    other = validate_choice(PollSpec(PollKind.SECRET), "yes")
    assert error_of(tally, PollSpec(PollKind.OPEN), [other], seated=15, eligible=15).code == "vote.invalid_choice"


# --- tally: vote of confidence ------------------------------------------------------------------------------

CONFIDENCE = PollSpec(PollKind.CONFIDENCE_VOTE, "Bỏ phiếu tín nhiệm", officials=(OFFICIALS[0],))


@pytest.mark.parametrize(("no", "outcome"), [(15, Outcome.CONFIDENCE_RETAINED), (16, Outcome.DISMISSAL_PROPOSED)])
def test_vote_of_confidence_proposes_dismissal_above_half_of_the_total(no: int, outcome: Outcome) -> None:
    ballots = many(CONFIDENCE, "no", no) + many(CONFIDENCE, "yes", 30 - no)
    result = tally(CONFIDENCE, ballots, seated=30, eligible=30)
    assert result.outcome == outcome and result.passed is None
    assert "Người được bỏ phiếu tín nhiệm: Nguyễn Văn An." in result.lines_vi()
    assert f"Không tín nhiệm: {no} phiếu" in "\n".join(result.lines_vi())
    if outcome == Outcome.DISMISSAL_PROPOSED:
        assert result.lines_vi()[-1] == (
            "Kết quả: quá nửa tổng số đại biểu HĐND xã không tín nhiệm (từ 16/30 phiếu); đề nghị miễn nhiệm, bãi nhiệm."
        )


# --- tally: elections ---------------------------------------------------------------------------------------


def election(seats: int, n: int = 4) -> PollSpec:
    return PollSpec(PollKind.ELECTION, "Bầu Ủy viên Thường trực", seats=seats, candidates=CANDIDATES[:n])


@pytest.mark.parametrize(
    ("seats", "counts", "elected", "tied", "tie_seats", "outcome"),
    [
        (1, {"a": 16, "b": 14}, ("a",), (), 0, Outcome.ELECTED),
        (1, {"a": 15, "b": 15}, (), (), 0, Outcome.SEATS_UNFILLED),  # tie below the threshold: nobody elected
        (1, {"a": 17, "b": 13}, ("a",), (), 0, Outcome.ELECTED),
        # A tie above half for a single seat cannot happen (each would hold more than half the ballots).
        (2, {"a": 16, "b": 16, "c": 16}, (), ("a", "b", "c"), 2, Outcome.TIE),
        (2, {"a": 18, "b": 20, "c": 10}, ("b", "a"), (), 0, Outcome.ELECTED),  # ranked by votes
        (2, {"a": 18, "b": 18, "c": 10}, ("a", "b"), (), 0, Outcome.ELECTED),  # a tie inside the seats is fine
        (2, {"a": 20, "b": 18, "c": 18}, ("a",), ("b", "c"), 1, Outcome.TIE),
        (2, {"a": 20, "b": 17, "c": 16}, ("a", "b"), (), 0, Outcome.ELECTED),  # more above than seats
        (3, {"a": 20, "b": 17, "c": 17, "d": 17}, ("a",), ("b", "c", "d"), 2, Outcome.TIE),
        (3, {"a": 17, "b": 17, "c": 17, "d": 17}, (), ("a", "b", "c", "d"), 3, Outcome.TIE),
        (2, {"a": 20, "b": 15, "c": 15}, ("a",), (), 0, Outcome.SEATS_UNFILLED),
        (2, {"a": 0, "b": 0}, (), (), 0, Outcome.SEATS_UNFILLED),
    ],
)
@pytest.mark.parametrize("source", ["electronic", "paper"])
def test_election_result(seats: int, counts: dict, elected: tuple, tied: tuple, tie_seats: int,
                         outcome: Outcome, source: str) -> None:
    spec = election(seats)
    if source == "electronic":
        result = tally(spec, election_ballots(spec, counts, 30), seated=30, eligible=30)
    else:
        paper = PaperTotals(issued=30, returned=30, counts=counts)
        result = tally(spec, [], seated=30, eligible=0, paper_totals=paper)
    assert (result.elected, result.tied, result.tie_seats, result.outcome) == (elected, tied, tie_seats, outcome)
    assert result.required == 16
    for key, votes in counts.items():
        assert result.count(key) == votes


def test_election_counts_invalid_ballots_without_their_names() -> None:
    spec = election(seats=1, n=3)
    ballots = (
        many(spec, ["a"], 17) + many(spec, ["b"], 9)
        + many(spec, ["a", "b"], 2)  # more names than seats
        + many(spec, [], 1)  # every name struck out
    )
    result = tally(spec, ballots, seated=30, eligible=30)
    assert (result.issued, result.returned, result.valid, result.invalid) == (30, 29, 26, 3)
    assert (result.count("a"), result.count("b"), result.count("c")) == (17, 9, 0)
    assert result.elected == ("a",)
    assert result.lines_vi() == [
        "Kết quả biểu quyết: Bầu Ủy viên Thường trực.",
        "Tổng số đại biểu HĐND xã: 30 đại biểu.",
        "Số phiếu phát ra: 30 phiếu.",
        "Số phiếu thu vào: 29 phiếu.",
        "Số phiếu hợp lệ: 26 phiếu.",
        "Số phiếu không hợp lệ: 3 phiếu.",
        "Nguyễn Văn An: 17 phiếu, chiếm 56,67% tổng số đại biểu HĐND xã.",
        "Trần Thị Bình: 9 phiếu, chiếm 30,00% tổng số đại biểu HĐND xã.",
        "Lê Văn Cường: 0 phiếu, chiếm 0,00% tổng số đại biểu HĐND xã.",
        "Số người được bầu: 1; cần ít nhất 16/30 phiếu (quá nửa tổng số đại biểu HĐND xã).",
        "Trúng cử: Nguyễn Văn An.",
    ]


def test_election_tie_is_announced_with_the_tied_candidates() -> None:
    spec = election(seats=2, n=3)
    result = tally(spec, [], seated=30, eligible=0,
                   paper_totals=PaperTotals(issued=30, returned=30, counts={"a": 20, "b": 18, "c": 18}))
    assert result.lines_vi()[-2:] == [
        "Trúng cử: Nguyễn Văn An.",
        "Những người có số phiếu ngang nhau phải bầu lại cho 1 vị trí còn lại: Trần Thị Bình, Lê Văn Cường.",
    ]
    assert result.to_dict()["tied"] == ["b", "c"] and result.to_dict()["tie_seats"] == 1


def test_election_with_unfilled_seats_says_so() -> None:
    spec = election(seats=2, n=3)
    result = tally(spec, election_ballots(spec, {"a": 20, "b": 10, "c": 10}, 30), seated=30, eligible=30)
    assert result.lines_vi()[-2:] == ["Trúng cử: Nguyễn Văn An.", "Còn 1 vị trí chưa có người trúng cử."]


@pytest.mark.parametrize(
    "paper",
    [
        PaperTotals(issued=30, returned=30, counts={"a": 31}),
        PaperTotals(issued=30, returned=30, counts={"a": 30, "b": 30, "c": 1}),  # 61 names on 30 two-name ballots
        PaperTotals(issued=30, returned=30, counts={"z": 1}),
    ],
)
def test_inconsistent_election_minutes_are_refused(paper: PaperTotals) -> None:
    err = error_of(tally, election(seats=2, n=3), [], seated=30, eligible=0, paper_totals=paper)
    assert err.code == "vote.invalid_paper_totals"


# --- tally: confidence rating -------------------------------------------------------------------------------


def rating_ballots(spec: PollSpec, low: int, total: int, key: str = "p1") -> list[NormalizedChoice]:
    """`low` ballots rating the official low, the rest of `total` split between high and normal."""
    rest = total - low
    return (many(spec, {key: "low"}, low) + many(spec, {key: "high"}, rest // 2)
            + many(spec, {key: "normal"}, rest - rest // 2))


@pytest.mark.parametrize(
    ("seated", "low", "consequence"),
    [
        (30, 15, RatingConsequence.NONE),
        (30, 16, RatingConsequence.MAY_RESIGN),  # more than half of 30
        (30, 19, RatingConsequence.MAY_RESIGN),
        (30, 20, RatingConsequence.DISMISSAL_PROPOSED),  # two-thirds of 30
        (30, 30, RatingConsequence.DISMISSAL_PROPOSED),
        (15, 7, RatingConsequence.NONE),
        (15, 8, RatingConsequence.MAY_RESIGN),
        (15, 9, RatingConsequence.MAY_RESIGN),
        (15, 10, RatingConsequence.DISMISSAL_PROPOSED),
        (0 + 16, 8, RatingConsequence.NONE),  # exactly half is not more than half
    ],
)
def test_confidence_rating_consequences_at_the_boundaries(seated: int, low: int,
                                                          consequence: RatingConsequence) -> None:
    spec = PollSpec(PollKind.CONFIDENCE_RATING, officials=OFFICIALS[:1])
    result = tally(spec, rating_ballots(spec, low, seated), seated=seated, eligible=seated)
    (rating,) = result.ratings
    assert rating.low == low and rating.consequence == consequence and result.outcome == Outcome.RATED


@pytest.mark.parametrize("seated", range(15, 31))
def test_confidence_rating_consequence_for_every_count_of_every_council_size(seated: int) -> None:
    spec = PollSpec(PollKind.CONFIDENCE_RATING, officials=OFFICIALS[:1])
    for low in range(seated + 1):
        # Absentees lower nothing: the base is the total delegates, so only `low` matters.
        (rating,) = tally(spec, many(spec, {"p1": "low"}, low), seated=seated, eligible=seated).ratings
        assert rating.more_than_half_low == (Fraction(low, seated) > Fraction(1, 2))
        assert rating.two_thirds_low == (Fraction(low, seated) >= Fraction(2, 3))


def test_confidence_rating_lines_and_blanks_per_official() -> None:
    spec = PollSpec(PollKind.CONFIDENCE_RATING, "Lấy phiếu tín nhiệm", officials=OFFICIALS)
    ballots = (
        many(spec, {"p1": "low", "p2": "high"}, 16)
        + many(spec, {"p1": "high", "p2": "low"}, 10)
        + many(spec, {"p1": "normal"}, 2)  # blank for p2: invalid for p2 only
        + many(spec, {}, 1)  # blank for everyone: an invalid ballot
    )
    result = tally(spec, ballots, seated=30, eligible=30)
    p1, p2 = result.ratings
    assert (result.returned, result.valid, result.invalid) == (29, 28, 1)
    assert (p1.valid, p1.invalid, p1.low, p1.consequence) == (28, 1, 16, RatingConsequence.MAY_RESIGN)
    assert (p2.valid, p2.invalid, p2.low, p2.consequence) == (26, 3, 10, RatingConsequence.NONE)
    assert result.lines_vi() == [
        "Kết quả biểu quyết: Lấy phiếu tín nhiệm.",
        "Tổng số đại biểu HĐND xã: 30 đại biểu.",
        "Số phiếu phát ra: 30 phiếu.",
        "Số phiếu thu vào: 29 phiếu.",
        "Số phiếu không hợp lệ (để trống toàn bộ): 1 phiếu.",
        "Nguyễn Văn An:",
        "- Tín nhiệm cao: 10 phiếu, chiếm 33,33% tổng số đại biểu HĐND xã.",
        "- Tín nhiệm: 2 phiếu, chiếm 6,67% tổng số đại biểu HĐND xã.",
        "- Tín nhiệm thấp: 16 phiếu, chiếm 53,33% tổng số đại biểu HĐND xã.",
        "- Phiếu không hợp lệ (bỏ trống) đối với người này: 1 phiếu.",
        "- Có trên 1/2 tổng số đại biểu HĐND xã đánh giá tín nhiệm thấp: có thể xin từ chức; "
        "nếu không xin từ chức thì HĐND bỏ phiếu tín nhiệm.",
        "Trần Thị Bình:",
        "- Tín nhiệm cao: 16 phiếu, chiếm 53,33% tổng số đại biểu HĐND xã.",
        "- Tín nhiệm: 0 phiếu, chiếm 0,00% tổng số đại biểu HĐND xã.",
        "- Tín nhiệm thấp: 10 phiếu, chiếm 33,33% tổng số đại biểu HĐND xã.",
        "- Phiếu không hợp lệ (bỏ trống) đối với người này: 3 phiếu.",
    ]


def test_confidence_rating_two_thirds_line() -> None:
    spec = PollSpec(PollKind.CONFIDENCE_RATING, officials=OFFICIALS[:1])
    result = tally(spec, rating_ballots(spec, 20, 30), seated=30, eligible=30)
    assert result.lines_vi()[-1] == (
        "- Có từ 2/3 tổng số đại biểu HĐND xã trở lên đánh giá tín nhiệm thấp: đề nghị miễn nhiệm, bãi nhiệm."
    )


@pytest.mark.parametrize(
    ("low", "valid", "base", "consequence"),
    [
        # 20 of 30 delegates returned a ballot rating the official.
        (10, 20, RatingBase.BALLOTS, RatingConsequence.NONE),
        (11, 20, RatingBase.BALLOTS, RatingConsequence.MAY_RESIGN),
        (14, 20, RatingBase.BALLOTS, RatingConsequence.DISMISSAL_PROPOSED),
        (14, 20, RatingBase.SEATED, RatingConsequence.NONE),
        (16, 20, RatingBase.SEATED, RatingConsequence.MAY_RESIGN),
    ],
)
def test_confidence_rating_denominator_is_a_setting(low: int, valid: int, base: RatingBase,
                                                    consequence: RatingConsequence) -> None:
    spec = PollSpec(PollKind.CONFIDENCE_RATING, officials=OFFICIALS[:1], rating_base=base)
    (rating,) = tally(spec, rating_ballots(spec, low, valid), seated=30, eligible=30).ratings
    assert rating.consequence == consequence
    assert rating.base == (valid if base == RatingBase.BALLOTS else 30)


def test_confidence_rating_with_paper_minutes() -> None:
    spec = PollSpec(PollKind.CONFIDENCE_RATING, officials=OFFICIALS)
    paper = PaperTotals(issued=10, returned=10, invalid=1,
                        ratings={"p1": {"low": 5, "high": 4}, "p2": {"normal": 8}})
    ballots = many(spec, {"p1": "low", "p2": "normal"}, 15) + many(spec, {"p1": "high"}, 5)
    result = tally(spec, ballots, seated=30, eligible=20, paper_totals=paper)
    p1, p2 = result.ratings
    assert (p1.low, p1.valid, p1.invalid, p1.consequence) == (20, 29, 1, RatingConsequence.DISMISSAL_PROPOSED)
    assert (p2.valid, p2.invalid, p2.consequence) == (23, 7, RatingConsequence.NONE)
    bad = PaperTotals(issued=10, returned=10, ratings={"p1": {"low": 11}})
    assert error_of(tally, spec, [], seated=30, eligible=0, paper_totals=bad).code == "vote.invalid_paper_totals"


# --- results as data ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "ballots"),
    [
        (PollSpec(PollKind.OPEN), [("for", 10)]),
        (PollSpec(PollKind.SECRET), [("no", 3)]),
        (CONFIDENCE, [("yes", 20)]),
        (ELECTION2, [(["a", "b"], 16), (["c"], 3), ([], 1)]),
        (RATING, [({"p1": "low", "p2": "high"}, 12)]),
    ],
)
def test_every_kind_of_result_is_json_and_announceable(spec: PollSpec, ballots: list) -> None:
    cast = [b for choice, n in ballots for b in many(spec, choice, n)]
    result = tally(spec, cast, seated=22, eligible=22)
    data = json.loads(json.dumps(result.to_dict(), ensure_ascii=False))
    assert data["kind"] == str(spec.kind) and data["seated"] == 22 and data["returned"] == len(cast)
    assert data["outcome"] == str(result.outcome)
    assert all(line.endswith((".", ":")) for line in result.lines_vi("phường"))
    for option in data["options"]:
        assert Fraction(option["percent_exact"]) == Fraction(100 * option["votes"], 22)


# --- lifecycle ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "code"),
    [(PollState.OPEN, "vote.already_open"), (PollState.CLOSED, "vote.closed"), (PollState.CANCELLED, "vote.cancelled")],
)
def test_only_a_draft_can_be_opened(state: PollState, code: str) -> None:
    assert open_poll(PollState.DRAFT) == PollState.OPEN
    assert error_of(open_poll, state).code == code


@pytest.mark.parametrize(
    ("state", "code"),
    [(PollState.DRAFT, "vote.not_open"), (PollState.CLOSED, "vote.closed"), (PollState.CANCELLED, "vote.cancelled")],
)
def test_only_an_open_poll_can_be_closed(state: PollState, code: str) -> None:
    assert close_poll(PollState.OPEN) == PollState.CLOSED
    assert error_of(close_poll, state).code == code


@pytest.mark.parametrize("state", [PollState.DRAFT, PollState.OPEN])
def test_draft_or_open_poll_can_be_cancelled_with_a_reason(state: PollState) -> None:
    assert cancel_poll(state, "Trùng nội dung đã biểu quyết") == PollState.CANCELLED
    for reason in ["", "   "]:
        err = error_of(cancel_poll, state, reason)
        assert err.code == "vote.reason_required" and err.message == "Phải nêu lý do hủy biểu quyết."


@pytest.mark.parametrize(
    ("state", "code"), [(PollState.CLOSED, "vote.closed"), (PollState.CANCELLED, "vote.cancelled")]
)
def test_closed_or_cancelled_poll_cannot_be_cancelled(state: PollState, code: str) -> None:
    assert error_of(cancel_poll, state, "lý do").code == code


@pytest.mark.parametrize("kind", list(PollKind))
@pytest.mark.parametrize("setting", [True, False])
def test_only_open_votes_may_change_and_only_if_the_setting_allows(kind: PollKind, setting: bool) -> None:
    assert may_change_choice(kind, setting) is (kind == PollKind.OPEN and setting)
    assert may_change_choice(kind) is (kind == PollKind.OPEN)


@pytest.mark.parametrize("kind", list(PollKind))
def test_casting_needs_an_open_poll_and_a_changeable_choice(kind: PollKind) -> None:
    for state in (PollState.DRAFT, PollState.CLOSED, PollState.CANCELLED):
        assert error_of(check_can_cast, state, kind, has_voted=False).code == "vote.not_open"
    check_can_cast(PollState.OPEN, kind, has_voted=False)
    if kind == PollKind.OPEN:
        check_can_cast(PollState.OPEN, kind, has_voted=True, allow_change=True)
        err = error_of(check_can_cast, PollState.OPEN, kind, has_voted=True, allow_change=False)
    else:
        err = error_of(check_can_cast, PollState.OPEN, kind, has_voted=True, allow_change=True)
    assert err.code == "vote.already_voted"


def test_a_poll_opens_only_if_it_can_be_counted() -> None:
    from meeting_server.domain.voting import check_can_open

    check_can_open(listed=30, present=22, seated=30)
    with pytest.raises(DomainError) as err:
        check_can_open(listed=30, present=28, seated=25)
    assert err.value.code == "vote.more_present_than_seated" and "28" in err.value.message
    with pytest.raises(DomainError) as err:
        check_can_open(listed=32, present=20, seated=30)
    assert err.value.code == "vote.more_listed_than_seated" and "32" in err.value.message


@pytest.mark.parametrize(("facts", "code"), [
    ({"present": False, "marked_by_recorder": False, "voted": False, "device_connected": False}, "vote.proxy_absent"),
    ({"present": True, "marked_by_recorder": True, "voted": False, "device_connected": False},
     "vote.proxy_self_marked"),
    ({"present": True, "marked_by_recorder": False, "voted": True, "device_connected": False},
     "vote.proxy_already_voted"),
    ({"present": True, "marked_by_recorder": False, "voted": False, "device_connected": True},
     "vote.proxy_device_connected"),
])
def test_a_vote_is_recorded_for_someone_only_when_they_cannot_cast_it(facts: dict, code: str) -> None:
    from meeting_server.domain.voting import check_proxy

    with pytest.raises(DomainError) as err:
        check_proxy(**facts)
    assert err.value.code == code
    check_proxy(present=True, marked_by_recorder=False, voted=False, device_connected=False)


def test_the_verdict_is_read_from_the_stored_result() -> None:
    from meeting_server.domain.voting import verdict_vi

    ballots = [validate_choice(PollSpec(PollKind.OPEN), "for")] * 16
    assert verdict_vi(tally(PollSpec(PollKind.OPEN), ballots, 30, 20).to_dict()) == "Thông qua"
    assert verdict_vi(tally(PollSpec(PollKind.OPEN), ballots[:15], 30, 20).to_dict()) == "Không thông qua"
    spec = PollSpec(PollKind.ELECTION, seats=1, candidates=(Person("a", "Lò Văn A"), Person("b", "Hà Thị B")))
    votes = [validate_choice(spec, ["a"])] * 16
    assert verdict_vi(tally(spec, votes, 30, 20).to_dict()) == "Trúng cử: Lò Văn A"
