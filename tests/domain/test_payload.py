"""The one check of a payload's shape, for JSON bodies and Socket.IO events alike."""

from __future__ import annotations

from typing import Any

import pytest

from meeting_server.domain import payload
from meeting_server.domain.errors import DomainError


def refused(fn: Any, *args: Any, **kw: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        fn(*args, **kw)
    assert caught.value.code == "payload.invalid"
    return caught.value


def test_fields() -> None:
    assert payload.fields({"a": 1}) == {"a": 1}
    assert payload.fields(None, empty_ok=True) == {}
    for junk in (None, [], "x", 3):
        assert refused(payload.fields, junk).message == "Dữ liệu gửi lên không hợp lệ."
    assert refused(payload.fields, [1], empty_ok=True, message="Cần một đối tượng JSON.").message.startswith("Cần")


def test_integer() -> None:
    assert payload.integer({"n": 3}, "n") == 3
    assert payload.integer({}, "n", default=1) == 1
    assert payload.integer({"n": None}, "n", allow_none=True) is None
    assert payload.integer({}, "n", allow_none=True) is None
    for data in ({}, {"n": None}, {"n": True}, {"n": "3"}, {"n": 2.0}):
        refused(payload.integer, data, "n")
    refused(payload.integer, {"n": None}, "n", default=1)  # null is not "missing"


def test_flag() -> None:
    assert payload.flag({}, "f") is False and payload.flag({"f": True}, "f") is True
    assert payload.flag({}, "f", default=None) is None and payload.flag({"f": None}, "f", default=None) is None
    for data in ({"f": None}, {"f": 1}, {"f": "true"}):
        refused(payload.flag, data, "f")
