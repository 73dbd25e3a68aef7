"""The one table of text limits: every text a person stores is a string, within its limit, without direction
controls (refused in names, removed elsewhere) or other control characters."""

from __future__ import annotations

import pytest

from meeting_server.domain import limits
from meeting_server.domain.errors import DomainError


def refused(field: limits.TextField, value: object) -> DomainError:
    with pytest.raises(DomainError) as caught:
        limits.clean(field, value)
    return caught.value


def test_a_text_within_its_limit_is_kept_cleaned() -> None:
    assert limits.clean(limits.MEETING_PLACE, "  Hội trường   UBND\txã ") == "Hội trường UBND xã"
    assert limits.clean(limits.MEETING_PLACE, "x" * 200) == "x" * 200
    assert limits.clean(limits.MINUTES_TEXT, "Dòng 1\r\n  Dòng 2\x00\n") == "Dòng 1\n  Dòng 2\n"


def test_a_longer_text_is_refused_naming_the_field_and_its_limit() -> None:
    err = refused(limits.MEETING_PLACE, "x" * 2_000_000)
    assert err.code == "text.too_long"
    assert err.message == "«Địa điểm» dài quá 200 ký tự (đang có 2000000)."


def test_anything_but_a_string_is_refused() -> None:
    for value in (None, 5, True, ["a"], {"a": 1}):
        assert refused(limits.AGENDA_TITLE, value).message == "«Tên nội dung» phải là chữ."


@pytest.mark.parametrize("control", sorted(limits.BIDI_CONTROLS))
def test_direction_controls_are_refused_in_names_and_removed_from_free_text(control: str) -> None:
    err = refused(limits.PERSON_NAME, f"Nguyễn {control}Văn An")
    assert err.code == "text.bidi" and err.message.startswith("«Họ và tên» có ký tự điều khiển hướng chữ ẩn")
    assert limits.clean(limits.ATTENDANCE_REASON, f"Đi {control}công tác") == "Đi công tác"
    assert limits.clean(limits.MINUTES_TEXT, f"Khai mạc{control}\nlúc 8 giờ") == "Khai mạc\nlúc 8 giờ"
    assert limits.fit(limits.DOCUMENT_TITLE, f"Tờ trình{control} số 1") == "Tờ trình số 1"


def test_every_field_has_a_label_a_positive_limit_and_a_known_kind() -> None:
    assert len(limits.FIELDS) >= 18
    for name, field in limits.FIELDS.items():
        assert field.label and field.max_chars > 0 and field.kind in (limits.NAME, limits.LINE, limits.TEXT), name
    names = {n for n, f in limits.FIELDS.items() if f.kind == limits.NAME}
    assert names == {"PERSON_NAME", "PERSON_TITLE", "PERSON_GROUP", "POLL_PERSON_NAME", "QUESTION_ADDRESSEE_NAME",
                     "QUESTION_ADDRESSEE_TITLE"}


def test_fit_cuts_what_nobody_typed() -> None:
    assert limits.fit(limits.DOCUMENT_TITLE, "x" * 400) == "x" * 300
