"""Question time over Socket.IO: delegates file and withdraw their questions, the chair orders, calls and ends them.

After every change the whole meeting room gets `questions` (realtime.announce; docs/PROTOCOL.md, "Question time");
the list is public in the hall, so every role gets the same payload.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from meeting_server.domain import payload
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.realtime.announce import announce
from meeting_server.realtime.registry import socket_event
from meeting_server.services import meetings, questions
from meeting_server.services.unit import Change, Done
from meeting_server.store import db
from meeting_server.store.tables import Meeting


def _change(who: Principal, fn: Callable[[Any, Meeting], Any]) -> Any:
    """Run one use case (its own unit of work: a refusal leaves the database as it was) and announce it."""
    s = db.session()
    out = fn(s, meetings.get(s, who.meeting_id))
    announce(out.change if isinstance(out, Done) else out)
    return out


def _question_id(data: Any) -> int:
    qid = payload.integer(payload.fields(data), "question_id")
    assert qid is not None
    return qid


@socket_event("question.file", requires=Permission.QUESTION_FILE)
def on_file(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by a delegate's phone ("Gửi chất vấn") with `addressee_name`, `addressee_title`, `topic`, `text`."""
    fields = payload.fields(data)
    done = _change(who, lambda s, m: questions.file(s, m, who, fields))
    return {"ok": True, "seq": done.change.seq, "question_id": done.value.id}


@socket_event("question.withdraw", requires=Permission.QUESTION_FILE)
def on_withdraw(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the asker ("Rút câu hỏi") with `question_id`; the chair withdraws with `question.end`."""
    qid = _question_id(data)
    done = _change(who, lambda s, m: questions.withdraw(s, m, who, qid))
    return {"ok": True, "seq": done.change.seq, "question_id": qid}


@socket_event("question.reorder", requires=Permission.QUESTION_MANAGE)
def on_reorder(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair with `order`, the ids of every waiting question in their new order."""
    order = payload.fields(data).get("order")
    if not isinstance(order, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in order):
        raise payload.invalid()
    change: Change = _change(who, lambda s, m: questions.reorder(s, m, order, who.actor))
    return {"ok": True, "seq": change.seq}


@socket_event("question.call", requires=Permission.QUESTION_MANAGE)
def on_call(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair ("Mời chất vấn") with `question_id`: the projector shows it with the asker's clock."""
    qid = _question_id(data)
    done = _change(who, lambda s, m: questions.call(s, m, qid, who.actor))
    return {"ok": True, "seq": done.change.seq, "question_id": qid}


@socket_event("question.answer", requires=Permission.QUESTION_MANAGE)
def on_answer(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair ("Mời trả lời") with `question_id`: the answer's clock starts."""
    qid = _question_id(data)
    done = _change(who, lambda s, m: questions.start_answer(s, m, qid, who.actor))
    return {"ok": True, "seq": done.change.seq, "question_id": qid}


@socket_event("question.end", requires=Permission.QUESTION_MANAGE)
def on_end(who: Principal, data: Any) -> dict[str, Any]:
    """Sent by the chair with `question_id`, `outcome` (answered | written | withdrawn) and, for written,
    `due_date` ("YYYY-MM-DD")."""
    fields = payload.fields(data)
    qid = _question_id(fields)
    outcome = payload.text(fields, "outcome")
    due = questions.parse_due(fields.get("due_date"))
    done = _change(who, lambda s, m: questions.end(s, m, qid, outcome, due, who.actor))
    return {"ok": True, "seq": done.change.seq, "question_id": qid, "status": done.value.status}
