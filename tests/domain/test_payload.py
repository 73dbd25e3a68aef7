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


def test_text() -> None:
    assert payload.text({"t": "a"}, "t") == "a" and payload.text({}, "t", "") == ""
    for data in ({}, {"t": None}, {"t": 1}, {"t": True}, {"t": ["a"]}):
        assert refused(payload.text, data, "t").message == "Trường «t» phải là chữ."


def test_true_is_not_an_integer_and_the_refusal_names_the_field() -> None:
    assert refused(payload.integer, {"seated_count": True}, "seated_count").message == \
        "Trường «seated_count» phải là một số nguyên."


def test_parse_json_reads_what_the_routes_send() -> None:
    assert payload.parse_json(b'{"a": [1, {"b": "[[[[{{"}], "c": "\\"]]", "d": "\\\\"}') == \
        {"a": [1, {"b": "[[[[{{"}], "c": '"]]', "d": "\\"}
    nested = b"[" * payload.MAX_DEPTH + b"]" * payload.MAX_DEPTH
    assert payload.parse_json(nested) is not None
    assert payload.parse_json("{\"opening\": \"Khai mạc [1]\"}".encode()) == {"opening": "Khai mạc [1]"}


@pytest.mark.parametrize(("raw", "code"), [
    (b"[" * 10_000 + b"]" * 10_000, "payload.too_deep"),
    (b"[" * (payload.MAX_DEPTH + 1) + b"]" * (payload.MAX_DEPTH + 1), "payload.too_deep"),
    (b'{"a": ' * 5000 + b"1" + b"}" * 5000, "payload.too_deep"),
    (b'{"a": 1', "payload.invalid"),
    (b"[1]]", "payload.invalid"),
    (b"{]", "payload.invalid"),
    (b'"' + b"x" * payload.MAX_JSON_BYTES + b'"', "payload.too_large"),
    (b"[" + b"[]," * payload.MAX_VALUES + b"[]]", "payload.too_large"),
])
def test_parse_json_refuses_deep_broken_and_oversized_bodies(raw: bytes, code: str) -> None:
    with pytest.raises(DomainError) as caught:
        payload.parse_json(raw)
    assert caught.value.code == code


def test_parse_json_of_the_largest_body_is_quick() -> None:
    """The check runs on the event loop: its worst cases (the most tiny lists, the most strings, one large text)
    stay far below 100 ms."""
    import time

    most = payload.MAX_VALUES - 1
    for raw in (b"[" + b"[]," * (most - 1) + b"[]]", b"[" + b'"a[",' * (most - 1) + b"1]",
                b'{"opening": "' + b"\\u1ec7 [" * (payload.MAX_JSON_BYTES // 10) + b'"}'):
        assert len(raw) <= payload.MAX_JSON_BYTES
        took = []
        for _ in range(5):  # the best of five: the cost of the work, not of a machine shared with other jobs
            t = time.perf_counter()
            payload.parse_json(raw)
            took.append(time.perf_counter() - t)
        print(f"{len(raw) // 1024} kB checked and decoded in {min(took) * 1000:.1f} ms (best of 5)")
        assert min(took) < 0.03
