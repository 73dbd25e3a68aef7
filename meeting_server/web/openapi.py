"""The OpenAPI 3 document of /api/v1, kept beside the routes it describes (a test checks they match)."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter

from meeting_server.domain import limits


def _op(summary: str, roles: str, body: dict[str, Any] | None = None, ok: str = "200") -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "description": f"Roles: {roles}.",
        "security": [{"bearer": []}, {"cookie": []}],
        "responses": {
            ok: {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
            "400": {"$ref": "#/components/responses/Error"},
            "401": {"$ref": "#/components/responses/Error"},
            "403": {"$ref": "#/components/responses/Error"},
            "404": {"$ref": "#/components/responses/Error"},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": body}
    return op


def _json(props: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    return {"application/json": {"schema": schema}}


def _text(field: limits.TextField) -> dict[str, Any]:
    """A text field with its limit from domain/limits.py (the one table the server checks)."""
    return {"type": "string", "maxLength": field.max_chars}


MEETING_ID = {"name": "meeting_id", "in": "path", "required": True, "schema": {"type": "integer"}}
PID = {"name": "pid", "in": "path", "required": True, "schema": {"type": "integer"}}

PATHS: dict[str, dict[str, Any]] = {
    "/meetings": {"get": _op("The meetings this card belongs to", "every role")},
    "/meetings/{meeting_id}": {
        "parameters": [MEETING_ID],
        "get": _op("A meeting with its live attendance summary and seq", "every role"),
        "patch": _op("Change a meeting's details", "clerk", _json({
            "council_level": {"type": "string", "enum": ["xã", "phường", "thị trấn", "đặc khu"]},
            "locality": _text(limits.MEETING_LOCALITY), "session_title": _text(limits.MEETING_SESSION_TITLE),
            "term": _text(limits.MEETING_TERM), "place": _text(limits.MEETING_PLACE),
            "starts_at": {"type": "string", "format": "date-time"},
            "seated_count": {"type": "integer", "minimum": 1},
            "quorum_rule": {"type": "string", "enum": ["two_thirds", "more_than_half"]}})),
    },
    "/meetings/{meeting_id}/agenda": {
        "parameters": [MEETING_ID],
        "get": _op("The agenda in order and the current item", "every role"),
        "post": _op("Append an agenda item", "clerk",
                    _json({"title": _text(limits.AGENDA_TITLE), "description": _text(limits.AGENDA_DESCRIPTION)},
                          ["title"]), "201"),
    },
    "/meetings/{meeting_id}/participants": {
        "parameters": [MEETING_ID],
        "get": _op("The list of people, with roles", "clerk, chair, secretary, delegate"),
        "put": _op("Replace the list (CSV, XLSX or JSON rows); all or nothing, 422 with per-line problems",
                   "clerk", {"text/csv": {"schema": {"type": "string"}},
                             "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                                 {"schema": {"type": "string", "format": "binary"}},
                             **_json({"rows": {"type": "array", "items": {"type": "array"}}}, ["rows"])}),
    },
    "/meetings/{meeting_id}/attendance": {
        "parameters": [MEETING_ID],
        "get": _op("Present/seated/required/quorate; names for clerk, chair and secretary", "every role"),
    },
    "/meetings/{meeting_id}/attendance/{pid}": {
        "parameters": [MEETING_ID, PID],
        "post": _op("Mark a person present, absent (with reason) or left early", "clerk, secretary", _json({
            "status": {"type": "string", "enum": ["present", "absent", "left"]},
            "reason": _text(limits.ATTENDANCE_REASON), "late": {"type": "boolean"}}, ["status"])),
    },
}


def _roles(permission: Any) -> str:
    from meeting_server.domain.permissions import ROLE_PERMISSIONS

    if permission is None:
        return "anyone"
    return ", ".join(r.value for r, perms in ROLE_PERMISSIONS.items() if permission in perms)


def paths_from_app(app: Flask) -> dict[str, dict[str, Any]]:
    """Every /api/v1 route: the detailed entries above where written, else one built from the view's docstring
    and its declared permission, so the document can never miss a route."""
    paths: dict[str, dict[str, Any]] = {k: dict(v) for k, v in PATHS.items()}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        view = app.view_functions[rule.endpoint]
        entry = paths.setdefault(path, {})
        params = [{"name": n, "in": "path", "required": True,
                   "schema": {"type": "integer" if isinstance(rule._converters.get(n), IntegerConverter)
                              else "string"}} for n in rule.arguments]
        if params and "parameters" not in entry:
            entry["parameters"] = params
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            if method.lower() in entry:
                continue
            summary = (view.__doc__ or rule.endpoint).strip().split("\n")[0]
            entry[method.lower()] = _op(summary, _roles(getattr(view, "required_permission", None)))
    return paths


def document(version: str, app: Flask) -> dict[str, Any]:
    """The whole OpenAPI document."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "meeting-server API", "version": version,
                 "description": "Paperless meeting room of a commune People's Council. See docs/PROTOCOL.md."},
        "servers": [{"url": "/api/v1"}],
        "paths": paths_from_app(app),
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "description": "A join token (from a QR card)."},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "ms_session",
                           "description": "The session bound by opening /j/<token>; unsafe methods also need "
                                          "the X-CSRFToken header."},
            },
            "responses": {"Error": {"description": "An error a person can read", "content": {
                "application/json": {"schema": {"type": "object", "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}}}}}}},
        },
    }
