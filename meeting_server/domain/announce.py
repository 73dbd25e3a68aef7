"""Vietnamese number and percentage formatting for announcing results, computed exactly (no floats)."""

import math
from fractions import Fraction

__all__ = ["format_int", "percent_of", "format_percent", "share_text", "announce_line"]


def format_int(n: int) -> str:
    """Format an integer with '.' as the thousands separator, as Vietnamese texts do: 1234567 → "1.234.567"."""
    return f"{n:,}".replace(",", ".")


def percent_of(part: int, whole: int) -> Fraction:
    """Return part as an exact percentage of whole (25 of 30 → 250/3); zero when whole is zero."""
    if whole == 0:
        return Fraction(0)
    return Fraction(100 * part, whole)


def format_percent(value: Fraction | int) -> str:
    """Format an exact percentage with two decimals, comma decimal separator, half rounded up: 22.565 → "22,57%"."""
    exact = Fraction(value)
    sign = "-" if exact < 0 else ""
    # Half up (away from zero), done on integers: floor(|x| * 100 + 1/2) hundredths.
    hundredths = math.floor(abs(exact) * 100 + Fraction(1, 2))
    whole, cents = divmod(hundredths, 100)
    if hundredths == 0:
        sign = ""
    return f"{sign}{format_int(whole)},{cents:02d}%"


def share_text(part: int, whole: int) -> str:
    """Format part as a percentage of whole: (25, 30) → "83,33%"."""
    return format_percent(percent_of(part, whole))


def announce_line(label: str, count: int, seated: int, level_word: str = "xã") -> str:
    """One line as the council announces an open vote, e.g. "Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số
    đại biểu HĐND xã." (the level word is "xã" or "phường")."""
    return (
        f"{label}: {format_int(count)}/{format_int(seated)} đại biểu, "
        f"chiếm {share_text(count, seated)} tổng số đại biểu HĐND {level_word}."
    )
