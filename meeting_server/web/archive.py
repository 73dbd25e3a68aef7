"""The council's archive of the term: every session with its agenda, documents, results, signed minutes and audit
chain; one search across all of them; the register of resolutions; the term's public site (services/archive.py,
services/register.py, services/termsite.py)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, redirect, render_template, request, send_file, url_for

from meeting_server.domain import register as register_rules
from meeting_server.domain.documents import document_rights
from meeting_server.domain.errors import DomainError, NotFound
from meeting_server.domain.permissions import Permission
from meeting_server.i18n import localized
from meeting_server.services import archive, meetings, register, termsite
from meeting_server.services.documents import pdf_path
from meeting_server.store import db
from meeting_server.store.tables import Document, Meeting
from meeting_server.web.guards import principal, requires

bp = Blueprint("archive", __name__, url_prefix="/archive")


def _own() -> Meeting:
    return meetings.get(db.session(), principal().meeting_id)


def _session(meeting_id: int) -> Meeting:
    """A session of the asker's council (another council's is not found)."""
    own = _own()
    found = db.session().get(Meeting, meeting_id)
    if found is None or found.council_name != own.council_name:
        raise NotFound("Không tìm thấy kỳ họp này.")
    return found


@bp.route("/")
@requires(Permission.ARCHIVE_READ)
def index() -> Any:
    """The sessions of the council by term, and the search across them."""
    s = db.session()
    m = _own()
    query = request.args.get("q", "")[:200]
    rows = archive.sessions(s, m)
    return render_template("archive/index.html", meeting=m, terms=register_rules.group_by_term(rows), query=query,
                           found=archive.search(s, principal(), m, query) if query.strip() else None,
                           can_manage=principal().can(Permission.ARCHIVE_MANAGE))


@bp.route("/sessions/<int:meeting_id>")
@requires(Permission.ARCHIVE_READ)
def session(meeting_id: int) -> Any:
    """One session: its agenda with documents and results, its minutes and its audit chain."""
    s = db.session()
    x = _session(meeting_id)
    who = principal()
    rec = archive.session_record(s, x)
    docs: dict[Any, list[Document]] = {}
    for d in s.query(Document).filter(Document.meeting_id == x.id, Document.status == "ready") \
            .order_by(Document.agenda_item_id, Document.position, Document.id):
        if document_rights(who.role, confidential=d.confidential).see:
            docs.setdefault(d.agenda_item_id, []).append(d)
    summary = archive.summary(s, x)  # this session's only, not the whole council's
    return render_template("archive/session.html", meeting=_own(), session=x, record=rec["record"],
                           final=rec["final"], docs=docs, summary=summary,
                           can_manage=who.can(Permission.ARCHIVE_MANAGE))


@bp.route("/sessions/<int:meeting_id>/documents/<int:document_id>.pdf")
@requires(Permission.ARCHIVE_READ)
def document_pdf(meeting_id: int, document_id: int) -> Any:
    """A past session's document as PDF (a confidential one only for whoever may see confidential documents)."""
    x = _session(meeting_id)
    d = db.session().get(Document, document_id)
    if d is None or d.meeting_id != x.id or d.status != "ready" \
            or not document_rights(principal().role, confidential=d.confidential).see:
        raise NotFound("Không tìm thấy tài liệu này.")
    path = pdf_path(current_app, d.content_hash)
    if not path.is_file():
        raise NotFound("Không tìm thấy tài liệu này.")
    resp = send_file(path, mimetype="application/pdf", download_name=f"tai-lieu-{d.id}.pdf", conditional=True)
    resp.headers["Cache-Control"] = "private, no-store" if d.confidential else "private, max-age=3600"
    return resp


@bp.route("/sessions/<int:meeting_id>/minutes.pdf")
@requires(Permission.ARCHIVE_READ)
def minutes_pdf(meeting_id: int) -> Any:
    """A past session's signed minutes (the newest final version)."""
    from meeting_server.services import minutes

    x = _session(meeting_id)
    draft = minutes.latest_final(db.session(), x.id)
    return Response(minutes.pdf_bytes(current_app, draft), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="bien-ban-ky-hop-{x.id}-v{draft.version}.pdf"'})


@bp.route("/sessions/<int:meeting_id>/archive.zip")
@requires(Permission.ARCHIVE_MANAGE)
def session_zip(meeting_id: int) -> Any:
    """A past session's whole archive (signed minutes, record, results, documents, audit log)."""
    x = _session(meeting_id)
    return Response(archive.archive_zip(current_app, db.session(), x), mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="luu-tru-ky-hop-{x.id}.zip"'})


@bp.route("/resolutions")
@requires(Permission.ARCHIVE_READ)
def resolutions() -> Any:
    """The register of resolutions of the council (`?saved=<poll>`: the row just saved says so)."""
    saved = request.args.get("saved", type=int)
    return _register(notes={saved: ("ok", "")} if saved else {})


def _register(notes: dict[int, tuple[str, str]], status: int = 200, typed: dict[str, str] | None = None) -> Any:
    s = db.session()
    m = _own()
    rows = register.entries(s, m)
    shown = {r["poll_id"] for r in rows}
    return render_template("archive/resolutions.html", meeting=m, rows=rows, notes=notes, typed=typed or {},
                           elsewhere=[n for pid, n in notes.items() if pid not in shown],
                           can_manage=principal().can(Permission.ARCHIVE_MANAGE)), status


@bp.route("/resolutions/<int:poll_id>", methods=["POST"])
@requires(Permission.ARCHIVE_MANAGE)
def save_resolution(poll_id: int) -> Any:
    """The number, date of issue and title of one resolution. Saved: back to the register at its row, which says
    so; refused: the register again with the reason beside the row and what was typed kept, nothing stored."""
    body: dict[str, Any] = {k: request.form.get(k, "") for k in ("number", "issued_on", "title")}
    try:
        register.save(db.session(), _own(), poll_id, body, principal().actor)
    except DomainError as err:
        return _register({poll_id: ("error", localized(err))}, 400, {"poll_id": str(poll_id), **body})
    return redirect(url_for(".resolutions", saved=poll_id) + f"#r{poll_id}")


@bp.route("/site.zip", methods=["POST"])
@requires(Permission.ARCHIVE_MANAGE)
def site_zip() -> Any:
    """The term's public site (HTML and PDFs, searchable offline) as a ZIP, built in a child process."""
    m = _own()
    data = termsite.site_zip(current_app, db.session(), m)
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": 'attachment; filename="cong-khai-nhiem-ky.zip"', "Cache-Control": "no-store"})
