"""Number and percentage formatting as the council announces results."""

from fractions import Fraction

import pytest

from meeting_server.domain.announce import announce_line, format_int, format_percent, percent_of, share_text


@pytest.mark.parametrize(
    ("n", "text"),
    [(0, "0"), (7, "7"), (999, "999"), (1000, "1.000"), (12345, "12.345"), (1234567, "1.234.567"), (-1500, "-1.500")],
)
def test_thousands_separator_is_a_dot(n: int, text: str) -> None:
    assert format_int(n) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Fraction("22.565"), "22,57%"),  # the rule's own example: half rounds up
        (Fraction("22.564999"), "22,56%"),
        (Fraction("22.575"), "22,58%"),  # half up, not half to even
        (Fraction("22.585"), "22,59%"),
        (Fraction("0.005"), "0,01%"),
        (Fraction("0.004999"), "0,00%"),
        (Fraction(0), "0,00%"),
        (Fraction(100), "100,00%"),
        (Fraction(250, 3), "83,33%"),
        (Fraction(200, 3), "66,67%"),
        (Fraction(25, 2), "12,50%"),
        (Fraction("99.995"), "100,00%"),  # carry into the integer part
        (Fraction("1234.5"), "1.234,50%"),
        (Fraction("123456.785"), "123.456,79%"),
        (Fraction("-22.565"), "-22,57%"),  # away from zero
        (Fraction("-0.001"), "0,00%"),  # no "-0,00%"
        (50, "50,00%"),
    ],
)
def test_percent_two_decimals_comma_half_up(value: Fraction | int, text: str) -> None:
    assert format_percent(value) == text


def test_float_half_would_round_wrong_but_fractions_do_not() -> None:
    # 1.005 is 1.00499999... as a float; the exact share must still round up.
    assert format_percent(Fraction("1.005")) == "1,01%"
    assert round(1.005, 2) == 1.0  # why floats are never used


def test_percent_of_is_exact() -> None:
    assert percent_of(25, 30) == Fraction(250, 3)
    assert percent_of(0, 30) == 0
    assert percent_of(3, 0) == 0


@pytest.mark.parametrize(
    ("part", "whole", "text"),
    [(25, 30, "83,33%"), (16, 30, "53,33%"), (8, 15, "53,33%"), (10, 15, "66,67%"), (1, 24, "4,17%"), (1, 16, "6,25%"),
     (1, 3, "33,33%"), (2, 3, "66,67%"), (30, 30, "100,00%"), (1, 200, "0,50%"), (1, 400, "0,25%"), (1, 800, "0,13%")],
)
def test_share_text(part: int, whole: int, text: str) -> None:
    assert share_text(part, whole) == text


def test_every_share_of_every_council_size_matches_exact_decimal_rounding() -> None:
    # Independent formulation: scale to ten-thousandths of a percent with integer division and round half up.
    for whole in range(1, 101):
        for part in range(whole + 1):
            num = part * 100 * 100 * 2 + whole  # 2*(part*10000/whole) + 1, halved: floor(x + 1/2)
            hundredths = num // (2 * whole)
            expected = f"{hundredths // 100},{hundredths % 100:02d}%"
            assert share_text(part, whole) == expected, (part, whole)


def test_announce_line_exactly_as_the_council_says_it() -> None:
    assert announce_line("Tán thành", 25, 30) == "Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã."
    assert (
        announce_line("Không tán thành", 2, 15, "phường")
        == "Không tán thành: 2/15 đại biểu, chiếm 13,33% tổng số đại biểu HĐND phường."
    )
