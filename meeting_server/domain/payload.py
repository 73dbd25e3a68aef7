"""The fields of a request's payload (a JSON body or a Socket.IO event's data): the one check both skins use.

Anything not of the expected shape is refused with `payload.invalid` and a message a person can read.
"""

from __future__ import annotations

from typing import Any

from meeting_server.domain.errors import N_, DomainError

__all__ = ["INVALID", "fields", "flag", "integer", "invalid"]

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
    if value is None:
        if allow_none:
            return None
        raise invalid()
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid()
    return value


def flag(data: dict[str, Any], key: str, default: bool | None = False) -> bool | None:
    """A true/false field; a missing one is `default`."""
    value = data.get(key, default)
    if value is not default and not isinstance(value, bool):
        raise invalid()
    return value
