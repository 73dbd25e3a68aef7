"""The clerk's part of question time: filing a delegate's question from a paper form (phiếu chất vấn) and recording
that a written answer owed has come. The chair and the delegates work over Socket.IO (realtime/questions.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _

from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.i18n import localized
from meeting_server.realtime.announce import announce
from meeting_server.services import meetings, questions
from meeting_server.store import db
from meeting_server.web.guards import principal, requires

bp = Blueprint("questions", __name__, url_prefix="/clerk/questions")

_BACK = "#questions"


def _back() -> Any:
    return redirect(url_for("clerk.console") + _BACK)


@bp.route("", methods=["POST"])
@requires(Permission.QUESTION_RECORD)
def file_on_paper() -> Any:
    """File a delegate's question from a paper form; a refusal is said on the console and nothing is stored."""
    who = principal()
    s = db.session()
    try:
        pid = int(request.form.get("participant_id", ""))
    except ValueError:
        pid = 0
    fields = {k: request.form.get(k, "") for k in ("addressee_name", "addressee_title", "topic", "text")}
    try:
        done = questions.file_on_paper(s, meetings.get(s, who.meeting_id), pid, fields, who.actor)
    except DomainError as err:
        flash(localized(err), "error")
        return _back()
    announce(done.change)
    flash(_("Đã ghi câu hỏi chất vấn của đại biểu."))
    return _back()


@bp.route("/<int:question_id>/written", methods=["POST"])
@requires(Permission.QUESTION_RECORD)
def written_answer(question_id: int) -> Any:
    """Record that the written answer owed for a question has come."""
    who = principal()
    s = db.session()
    try:
        done = questions.written_answer_received(s, meetings.get(s, who.meeting_id), question_id, who.actor)
    except DomainError as err:
        flash(localized(err), "error")
        return _back()
    announce(done.change)
    flash(_("Đã ghi nhận trả lời bằng văn bản."))
    return _back()
