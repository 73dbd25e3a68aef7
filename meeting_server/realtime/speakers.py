"""Requests to speak over Socket.IO: delegates ask for and give up the floor, the chair runs the list.

After every change the whole meeting room gets `speakers` (realtime.announce; see docs/PROTOCOL.md, "Requests to
speak"); the list is public in the hall, so every role gets the same payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from meeting_server.domain import payload
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.realtime.announce import announce
from meeting_server.realtime.registry import socket_event
from meeting_server.services import meetings, speakers
from meeting_server.services.unit import Change, Done
from meeting_server.store import db
from meeting_server.store.tables import Meeting

T = TypeVar("T", Done[Any], Change)


def _change(who: Principal, fn: Callable[[Any, Meeting], T]) -> T:
    """Run one use case (its own unit of work: a refused change leaves the database as it was) and announce it."""
    s = db.session()
    out = fn(s, meetings.get(s, who.meeting_id))
    announce(out.change if isinstance(out, Done) else out)
    return out


@socket_event("speak.request", requires=Permission.SPEAK_REQUEST)
def on_request(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by a delegate's phone ("Xin phát biểu") for the current agenda item, or with `kind` follow_up | debate
    ("Chất vấn bổ sung", "Tranh luận") on the question on the floor; all screens get `speakers`."""
    fields = payload.fields(data, empty_ok=True)
    kind = payload.text(fields, "kind", "speak")
    done = _change(who, lambda s, m: speakers.request(s, m, who, kind))
    return {"ok": True, "seq": done.change.seq, "request_id": done.value.id}


@socket_event("speak.withdraw", requires=Permission.SPEAK_REQUEST)
def on_withdraw(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by a delegate ("Rút đăng ký", their own waiting request on the current item) or by the chair with
    `request_id` to take someone off the list."""
    fields = payload.fields(data, empty_ok=True)
    request_id = payload.integer(fields, "request_id", allow_none=True)
    manage = who.can(Permission.SPEAK_MANAGE)
    done = _change(who, lambda s, m: speakers.withdraw(s, m, who, request_id, may_manage=manage))
    return {"ok": True, "seq": done.change.seq, "request_id": done.value.id}


@socket_event("speak.give", requires=Permission.SPEAK_MANAGE)
def on_give(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair ("Mời phát biểu") with `request_id` and optionally `limit_s`; ends the current speech."""
    fields = payload.fields(data, empty_ok=True)
    request_id = payload.integer(fields, "request_id")
    limit_s = payload.integer(fields, "limit_s", allow_none=True)
    assert request_id is not None
    done = _change(who, lambda s, m: speakers.give(s, m, request_id, limit_s, who.actor))
    return {"ok": True, "seq": done.change.seq, "request_id": done.value.id, "limit_s": done.value.limit_s}


@socket_event("speak.end", requires=Permission.SPEAK_MANAGE)
def on_end(who: Principal, _data: Any) -> dict[str, Any]:
    """Sent by the chair ("Kết thúc") to end the current speech."""
    done = _change(who, lambda s, m: speakers.end(s, m, who.actor))
    return {"ok": True, "seq": done.change.seq, "request_id": done.value.id}


@socket_event("speak.set_time", requires=Permission.SPEAK_MANAGE)
def on_set_time(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair: `limit_s` becomes the default speaking time, or with `current: true` the time of the
    speech under way."""
    fields = payload.fields(data, empty_ok=True)
    limit_s = payload.integer(fields, "limit_s")
    current = bool(payload.flag(fields, "current"))
    assert limit_s is not None
    change = _change(who, lambda s, m: speakers.set_time(s, m, limit_s, who.actor, current=current))
    return {"ok": True, "seq": change.seq}
