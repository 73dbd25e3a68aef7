"""The register of resolutions' rules (domain/register.py): which polls are resolutions, dates as clerks type them,
numbers compared as people read them, the counts of N, sessions grouped by term."""

from __future__ import annotations

import pytest

from meeting_server.domain import register
from meeting_server.domain.errors import DomainError


def test_only_a_passed_motion_is_a_resolution() -> None:
    assert register.is_resolution("open", {"passed": True})
    assert register.is_resolution("secret", {"passed": True})
    assert not register.is_resolution("open", {"passed": False})
    assert not register.is_resolution("open", None)
    assert not register.is_resolution("election", {"passed": True})  # an election elects; it is in the minutes
    assert not register.is_resolution("confidence_vote", {"passed": True})


@pytest.mark.parametrize(("typed", "iso"), [("15/7/2026", "2026-07-15"), ("15-07-2026", "2026-07-15"),
                                            (" 01.12.2026 ", "2026-12-01"), ("2026-07-15", "2026-07-15"),
                                            ("", ""), ("  ", "")])
def test_dates_as_clerks_type_them(typed: str, iso: str) -> None:
    assert register.parse_issued_on(typed) == iso


@pytest.mark.parametrize("typed", ["31/02/2026", "15/13/2026", "hôm qua", "15/07/1899", "2026-7-15x", 20260715])
def test_a_wrong_date_is_refused_in_words(typed: object) -> None:
    with pytest.raises(DomainError) as err:
        register.parse_issued_on(typed)
    assert err.value.code == "register.invalid_date"
    assert "ngày/tháng/năm" in err.value.message


def test_numbers_compare_as_people_read_them() -> None:
    assert register.number_key("05/NQ-HĐND") == register.number_key(" 05 / nq-hđnd ")
    assert register.number_key("05/NQ-HĐND") != register.number_key("50/NQ-HĐND")
    assert register.format_issued_on("2026-07-15") == "15/07/2026" and register.format_issued_on("") == ""


def test_the_counts_of_n_as_announced() -> None:
    result = {"seated": 30, "options": [{"label": "Tán thành", "votes": 25, "percent": "83,33%"},
                                        {"label": "Không tán thành", "votes": 2, "percent": "6,67%"}]}
    assert register.vote_summary(result) == "Tán thành 25/30 (83,33%); Không tán thành 2/30 (6,67%)"
    assert register.vote_summary(None) == ""


def test_sessions_by_term_newest_term_first() -> None:
    rows = [{"term": "khóa I", "sort": ("2026-07-01", 2)}, {"term": "khóa II", "sort": ("2031-07-01", 5)},
            {"term": "khóa I", "sort": ("2026-01-01", 1)}]
    groups = register.group_by_term(rows)
    assert [t for t, _ in groups] == ["khóa II", "khóa I"]
    assert [r["sort"][1] for r in groups[1][1]] == [1, 2]
