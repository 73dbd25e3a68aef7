"""Reading a JSON request body, the one way every JSON route does it."""

from __future__ import annotations

from typing import Any

from flask import request

from meeting_server.domain import payload


def json_body(allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object; with `allow_empty`, no body at all reads as `{}` (actions with optional fields).

    Anything else (a list, a number, broken JSON) is refused with a message a person can read.
    """
    body = request.get_json(silent=True)
    if allow_empty and body is None and not request.get_data():
        return {}
    return payload.fields(body, message="Cần một đối tượng JSON.")
