"""The fields of a request's payload (a JSON body or a Socket.IO event's data): the one check both skins use.

Anything not of the expected shape is refused with `payload.invalid` and a message a person can read. A JSON body is
read through `parse_json`: at most MAX_JSON_BYTES, nested at most MAX_DEPTH levels (checked before the decoder runs,
so 10,000 levels are a 400, not a RecursionError). Types are strict: `true` is not the integer 1, a number is not a
text. How long a stored text may be is domain/limits.py's.
"""

from __future__ import annotations

import json
from typing import Any

from meeting_server.domain.errors import N_, DomainError

__all__ = ["INVALID", "MAX_DEPTH", "MAX_JSON_BYTES", "MAX_VALUES", "check_json", "fields", "flag", "integer",
           "invalid", "not_json", "parse_json", "text", "too_large"]

#: The largest JSON body any route takes: the minutes editor's autosave, the largest, sends the fields changed
#: since the last save (each at most 20,000 characters, domain/limits.py); a 500-person roster as JSON is ~50 kB.
MAX_JSON_BYTES = 256 * 1024
#: The most values (lists' items and objects' members) in one body: a 500-person roster as JSON has ~3,000. Decoding
#: costs by the value, so this, not the size, bounds the loop's time on a body of tiny values (~5 ms).
MAX_VALUES = 20_000
#: The deepest nesting of objects and lists any payload needs (the deepest, a poll's paper totals, has 4).
MAX_DEPTH = 16

#: `{` and `}` read as `[` and `]`; every other byte dropped (the JSON decoder checks which bracket closes which).
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")

#: The message of a payload of the wrong shape.
INVALID = N_("Dữ liệu gửi lên không hợp lệ.")


def invalid(message: str = INVALID) -> DomainError:
    """The refusal of a payload of the wrong shape."""
    return DomainError(message, "payload.invalid")


def fields(data: Any, *, empty_ok: bool = False, message: str = INVALID) -> dict[str, Any]:
    """The payload as an object; with `empty_ok`, nothing at all (None) reads as `{}` (optional fields only)."""
    if data is None and empty_ok:
        return {}
    if not isinstance(data, dict):
        raise invalid(message)
    return data


def integer(data: dict[str, Any], key: str, *, allow_none: bool = False, default: int | None = None) -> int | None:
    """An integer field (never a bool); a missing one is `default`; null (or missing without a default) only with
    `allow_none`."""
    value = data.get(key, default)
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise DomainError("Trường «%(field)s» phải là một số nguyên.", "payload.invalid", params={"field": key})
    return value


def flag(data: dict[str, Any], key: str, default: bool | None = False) -> bool | None:
    """A true/false field; a missing one is `default`."""
    value = data.get(key, default)
    if value is not default and not isinstance(value, bool):
        raise DomainError("Trường «%(field)s» phải là true hoặc false.", "payload.invalid", params={"field": key})
    return value


def text(data: dict[str, Any], key: str, default: str | None = None) -> str:
    """A text field (never a number or a list); a missing one is `default` (None: required). Its length and
    characters are checked where it is stored (domain/limits.py)."""
    value = data.get(key, default)
    if not isinstance(value, str):
        raise DomainError("Trường «%(field)s» phải là chữ.", "payload.invalid", params={"field": key})
    return value


def too_large(size: int, limit: int = MAX_JSON_BYTES) -> DomainError:
    """The refusal of a body over its limit (`size` may be what Content-Length announces, before reading it)."""
    return DomainError("Dữ liệu gửi lên quá lớn (%(size)d kB; tối đa %(limit)d kB).", "payload.too_large",
                       params={"size": size // 1024, "limit": limit // 1024})


def check_json(raw: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a JSON text before it is decoded: over `max_bytes`, over MAX_VALUES values, or nested deeper than
    `max_depth` levels (a DomainError each). Both skins' one check: `parse_json` for HTTP bodies, and every Socket.IO
    frame's data (realtime/frames.py).

    The depth is measured on the brackets outside strings, innermost pairs removed one level per pass; every step
    is a bytes method (split, translate, replace), so the largest body costs a few milliseconds and no Python loop
    runs per byte.
    """
    if len(raw) > max_bytes:
        raise too_large(len(raw), max_bytes)
    unescaped = raw.replace(b"\\\\", b"").replace(b'\\"', b"")  # escapes cannot end a string
    outside = b"".join(unescaped.split(b'"')[0::2])  # the parts between strings
    if outside.count(b",") >= MAX_VALUES:
        raise DomainError("Dữ liệu gửi lên có quá %(max)d giá trị.", "payload.too_large", params={"max": MAX_VALUES})
    brackets = outside.translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(max_depth):
        if not brackets:
            break
        fewer = brackets.replace(b"[]", b"")
        if fewer == brackets:
            raise not_json()
        brackets = fewer
    if brackets:
        raise DomainError("Dữ liệu gửi lên lồng nhau quá %(max)d tầng.", "payload.too_deep",
                          params={"max": max_depth})


def not_json() -> DomainError:
    """The refusal of a text that is not JSON."""
    return invalid(N_("Dữ liệu gửi lên không phải JSON hợp lệ."))


def parse_json(raw: bytes, *, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """A JSON document of at most `max_bytes` and MAX_VALUES values, nested at most `max_depth` levels (`check_json`,
    before decoding it); anything else a DomainError."""
    check_json(raw, max_bytes=max_bytes, max_depth=max_depth)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise not_json() from exc
