"""Comments on drafts over HTTP (góp ý dự thảo): a delegate's comment and the page's words (JSON API), the clerk's
and the drafting body's page of gathered comments with the answers, the exports (PDF, DOCX) and the clerk's
setting. Each route: parse → services/comments.py → reply."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _

from meeting_server.domain import comments as rules
from meeting_server.domain import payload
from meeting_server.domain.errors import DomainError
from meeting_server.domain.permissions import Permission
from meeting_server.extensions import csrf
from meeting_server.i18n import localized
from meeting_server.realtime import announce
from meeting_server.services import comments
from meeting_server.store import db
from meeting_server.web.guards import bearer_token, current_principal, principal, requires
from meeting_server.web.payload import json_body

bp = Blueprint("comments", __name__)
csrf.exempt(bp)

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@bp.before_request
def _csrf_for_cookie_clients() -> None:
    """Forms and cookie clients send the CSRF token (field or header); Bearer clients need not."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and bearer_token() is None:
        csrf.protect()


# --- a delegate ---------------------------------------------------------------------------------------------------


@bp.route("/api/v1/documents/<int:document_id>/comments", methods=["POST"])
@requires(Permission.COMMENT_WRITE)
def create(document_id: int) -> Any:
    """A delegate's comment: {text, page (null: the whole document), quote, rects [[x0, y0, x1, y1], …]}."""
    body = json_body()
    page = payload.integer(body, "page", allow_none=True, default=None)
    new = comments.NewComment(document_id=document_id, page=page, quote=payload.text(body, "quote", ""),
                              rects=body.get("rects", []), text=payload.text(body, "text", ""))
    s = db.session()
    who = principal()
    row = comments.create(s, comments.meeting(s, who), who, new)
    announce.comments(who.meeting_id, comments.totals(s, who.meeting_id))
    return jsonify({"ok": True, "id": row.id}), 201


@bp.route("/api/v1/comments")
@requires(Permission.COMMENT_WRITE)
def mine() -> Any:
    """The comments this delegate may see (own; others' when shared), on one document with ?document_id=."""
    raw = request.args.get("document_id")
    try:
        document_id = int(raw) if raw else None
    except ValueError as exc:
        raise payload.invalid() from exc
    s = db.session()
    who = principal()
    out = comments.mine(s, comments.meeting(s, who), who, document_id)
    for c in out:
        c["outcome_label"] = _(c["outcome_label"])
    return jsonify({"comments": out})


@bp.route("/api/v1/documents/<int:document_id>/pages/<int:page>/words")
@requires(Permission.COMMENT_WRITE)
def words(document_id: int, page: int) -> Any:
    """The words of a page with their boxes in PDF points (the reader's layer for marking a passage)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    return jsonify(comments.page_words(app, db.session(), principal(), document_id, page))


# --- the clerk and the drafting body ------------------------------------------------------------------------------


@bp.route("/comments")
@requires(Permission.COMMENT_ANSWER)
def board() -> Any:
    """The comments gathered by document and passage, each with its answer form; the exports."""
    return _board()


def _board(error: str | None = None, status: int = 200) -> Any:
    s = db.session()
    who = principal()
    m = comments.meeting(s, who)
    groups = comments.gathered(s, m, who)
    return render_template("comments/board.html", page="comments", meeting=m, groups=groups, error=error,
                           outcomes=rules.OUTCOMES, labels=rules.OUTCOME_LABELS,
                           shared=comments.shared(s, m.id), can_manage=who.can(Permission.MEETING_MANAGE),
                           who=who), status


@bp.route("/comments/<int:comment_id>/answer", methods=["POST"])
@requires(Permission.COMMENT_ANSWER)
def answer(comment_id: int) -> Any:
    """Mark a comment accepted, explained or not accepted, with the answer (form or JSON)."""
    s = db.session()
    who = principal()
    m = comments.meeting(s, who)
    if request.is_json:
        body = json_body()
        comments.answer(s, m, who, comment_id, payload.text(body, "outcome", ""), payload.text(body, "answer", ""))
        announce.comments(m.id, comments.totals(s, m.id))
        return jsonify({"ok": True})
    try:
        comments.answer(s, m, who, comment_id, request.form.get("outcome", ""), request.form.get("answer", ""))
    except DomainError as err:
        return _board(localized(err), 400)
    announce.comments(m.id, comments.totals(s, m.id))
    flash(_("Đã lưu câu trả lời."), "ok")
    return redirect(url_for("comments.board") + f"#c{comment_id}")


@bp.route("/comments/setting", methods=["POST"])
@requires(Permission.MEETING_MANAGE)
def setting() -> Any:
    """The clerk shares the comments and answers with every delegate, or keeps each to its author."""
    s = db.session()
    who = principal()
    comments.set_shared(s, comments.meeting(s, who), who, request.form.get("shared") == "1")
    flash(_("Đã lưu cài đặt góp ý."), "ok")
    target = request.form.get("next") or url_for("comments.board")
    if not target.startswith("/") or target.startswith("//"):
        target = url_for("comments.board")
    return redirect(target)


@bp.route("/comments/tong-hop.pdf")
@requires(Permission.COMMENT_ANSWER)
def export_pdf() -> Any:
    """The summary (bảng tổng hợp, tiếp thu, giải trình ý kiến) as a PDF, built in a worker process."""
    s = db.session()
    who = principal()
    body = comments.export_pdf(s, comments.meeting(s, who), who)
    return Response(body, mimetype="application/pdf", headers={
        "Content-Disposition": "attachment; filename=tong-hop-gop-y.pdf", "Cache-Control": "no-store"})


@bp.route("/comments/tong-hop.docx")
@requires(Permission.COMMENT_ANSWER)
def export_docx() -> Any:
    """The same summary as an editable Word document."""
    s = db.session()
    who = principal()
    body = comments.export_docx(s, comments.meeting(s, who), who)
    return Response(body, mimetype=DOCX, headers={
        "Content-Disposition": "attachment; filename=tong-hop-gop-y.docx", "Cache-Control": "no-store"})


@bp.app_template_global()
def comments_overview() -> dict[str, Any]:
    """For the clerk console's partial: how many comments, how many still unanswered, and the setting."""
    who = current_principal()
    if who is None or not who.can(Permission.COMMENT_ANSWER):
        return {"total": 0, "pending": 0, "shared": False}
    s = db.session()
    return dict(comments.totals(s, who.meeting_id), shared=comments.shared(s, who.meeting_id))
