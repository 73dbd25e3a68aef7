"""Reading a JSON request body, the one way every JSON route does it (domain/payload.py checks it)."""

from __future__ import annotations

from typing import Any

from flask import g, request

from meeting_server.domain import payload


def json_document() -> Any:
    """The body as JSON (None when there is no JSON body), read once per request: its size is checked before it
    is read (Content-Length) and as it is read (a chunked body), its nesting before it is decoded."""
    if "json_document" not in g:
        g.json_document = None
        if request.is_json:
            limit = payload.MAX_JSON_BYTES
            if (request.content_length or 0) > limit:
                raise payload.too_large(request.content_length or 0, limit)
            raw = request.stream.read(limit + 1)
            if raw.strip():
                g.json_document = payload.parse_json(raw, max_bytes=limit)
    return g.json_document


def json_body(allow_empty: bool = False) -> dict[str, Any]:
    """The body as a JSON object; with `allow_empty`, no body at all reads as `{}` (actions with optional fields).

    Anything else (a list, a number, broken JSON, too large or too deeply nested, a body that is not JSON) is
    refused with a message a person can read.
    """
    body = json_document()
    if allow_empty and body is None and not request.content_length:
        return {}
    return payload.fields(body, message="Cần một đối tượng JSON.")
