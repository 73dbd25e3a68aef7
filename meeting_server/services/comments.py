"""Comments on draft documents (góp ý dự thảo): a delegate comments on a passage, a page or the whole draft; the
clerk and the drafting body see them gathered by document and passage, answer each (tiếp thu, giải trình, không
tiếp thu) and export the summary (bảng tổng hợp, tiếp thu, giải trình ý kiến) as PDF and DOCX.

One use case per function, each its own unit of work with its audit entry. The rules are in domain/comments.py.
A comment changes nothing the room's screens show, so no `seq` moves: the pages read the database when opened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server import offload
from meeting_server.domain import comments as rules
from meeting_server.domain import limits as text_limits
from meeting_server.domain.errors import DomainError, Forbidden, NotFound
from meeting_server.domain.permissions import Permission
from meeting_server.domain.principal import Principal
from meeting_server.domain.timefmt import VN
from meeting_server.services import audit, documents, meetings, unit
from meeting_server.store.tables import (
    CommentSetting,
    Document,
    DocumentPage,
    DraftComment,
    Meeting,
    Participant,
    utcnow,
)

__all__ = [
    "NewComment",
    "answer",
    "counts_by_document",
    "create",
    "export_docx",
    "export_pdf",
    "gathered",
    "mine",
    "page_words",
    "set_shared",
    "shared",
    "summary",
]

#: How long the worker may take to build an export or read a page's words.
EXPORT_TIMEOUT_S = 120
WORDS_TIMEOUT_S = 120


@dataclass(frozen=True)
class NewComment:
    """What a delegate sends: the document, the page (None: the whole document), the passage and the comment."""

    document_id: int
    page: int | None
    quote: str
    rects: Any
    text: str


# --- the setting ----------------------------------------------------------------------------------------------


def shared(s: Session, meeting_id: int) -> bool:
    """Whether delegates see each other's comments and answers in this meeting (default: not)."""
    row = s.get(CommentSetting, meeting_id)
    return bool(row.shared_with_delegates) if row is not None else False


def set_shared(s: Session, m: Meeting, who: Principal, value: bool) -> None:
    """The clerk shares (or stops sharing) every delegate's comments and answers with the other delegates."""
    with unit.of_work(s):
        row = s.get(CommentSetting, m.id)
        if row is None:
            row = CommentSetting(meeting_id=m.id, shared_with_delegates=False)
            s.add(row)
        row.shared_with_delegates = bool(value)
        audit.record(s, m.id, "comment.setting", who.actor, {"shared_with_delegates": bool(value)})


# --- a delegate comments --------------------------------------------------------------------------------------


def create(s: Session, m: Meeting, who: Principal, new: NewComment) -> DraftComment:
    """A member of the council comments on a draft (before the session, or while its item is discussed)."""
    if who.participant_id is None or not who.can(Permission.COMMENT_WRITE):
        raise Forbidden("Chỉ đại biểu mới góp ý dự thảo được.", "comment.forbidden")
    with unit.of_work(s):
        doc = documents.visible(s, who, new.document_id)
        if doc.status != "ready":
            raise DomainError("Tài liệu chưa xử lý xong; hãy góp ý sau ít phút.", "comment.not_ready")
        rules.check_may_comment(meeting_status=m.status, document_item_id=doc.agenda_item_id,
                                current_item_id=m.current_item_id, frozen=audit.is_frozen(s, m.id))
        text = text_limits.clean(text_limits.COMMENT_TEXT, new.text).strip()
        if not text:
            raise DomainError("Hãy viết nội dung góp ý.", "comment.empty")
        quote = " ".join(text_limits.clean(text_limits.COMMENT_QUOTE, new.quote).split())
        size = None
        if new.page is not None:
            page = s.get(DocumentPage, (doc.id, new.page))
            if page is not None and page.width_pt and page.height_pt:
                size = (page.width_pt, page.height_pt)
        anchor = rules.anchor_of(new.page, quote, new.rects, page_count=doc.page_count, page_size=size)
        row = DraftComment(meeting_id=m.id, document_id=doc.id, participant_id=who.participant_id,
                           page_no=anchor.page, quote=anchor.quote, rects=[list(r) for r in anchor.rects],
                           text=text, outcome=rules.PENDING, answer="", answered_by="", created_at=utcnow())
        s.add(row)
        s.flush()
        audit.record(s, m.id, "comment.created", who.actor, {
            "comment_id": row.id, "document_id": doc.id, "page": anchor.page, "scope": anchor.scope,
            "quote": anchor.quote, "text": text})
    return row


def mine(s: Session, m: Meeting, who: Principal, document_id: int | None = None) -> list[dict[str, Any]]:
    """The comments this delegate may see (their own; the others' too when the meeting shares them), with answers."""
    if who.participant_id is None or not who.can(Permission.COMMENT_WRITE):
        raise Forbidden("Chỉ đại biểu mới xem góp ý của mình được.", "comment.forbidden")
    q = select(DraftComment).where(DraftComment.meeting_id == m.id)
    if document_id is not None:
        documents.visible(s, who, document_id)
        q = q.where(DraftComment.document_id == document_id)
    is_shared = shared(s, m.id)
    if not is_shared:
        q = q.where(DraftComment.participant_id == who.participant_id)
    rows = list(s.scalars(q.order_by(DraftComment.id)))
    docs = _documents(s, m)
    names = _names(s, m)
    out = []
    for c in rows:
        doc = docs.get(c.document_id)
        if doc is None or not documents.can_see(who, doc):
            continue
        out.append(_view(c, doc, who, names, own=c.participant_id == who.participant_id))
    return out


# --- the clerk and the drafting body ----------------------------------------------------------------------------


def _answerer(who: Principal) -> None:
    if not who.can(Permission.COMMENT_ANSWER):
        raise Forbidden("Chỉ văn phòng và cơ quan soạn thảo mới trả lời góp ý được.", "comment.forbidden")


def gathered(s: Session, m: Meeting, who: Principal) -> list[dict[str, Any]]:
    """Every comment of the meeting, gathered by document, then by passage (the same page and quote together),
    in page order: what the clerk and the drafting body work from."""
    _answerer(who)
    docs = _documents(s, m)
    names = _names(s, m)
    rows = list(s.scalars(select(DraftComment).where(DraftComment.meeting_id == m.id).order_by(DraftComment.id)))
    out: list[dict[str, Any]] = []
    for doc in sorted(docs.values(), key=lambda d: (d.position, d.id)):
        mine_ = [c for c in rows if c.document_id == doc.id]
        if not mine_:
            continue
        mine_.sort(key=lambda c: (rules.group_key(c.page_no, c.rects or []), c.id))
        passages: list[dict[str, Any]] = []
        for c in mine_:
            view = _view(c, doc, who, names, own=False)
            key = (c.page_no, c.quote)  # the same passage, even when its quote is not shown to this reader
            if passages and passages[-1]["key"] == key:
                passages[-1]["comments"].append(view)
            else:
                passages.append({"key": key, "page": c.page_no, "quote": view["quote"],
                                 "quote_hidden": view["quote_hidden"], "comments": [view]})
        for p in passages:
            p.pop("key")
        out.append({"document_id": doc.id, "title": doc.title or doc.original_name, "confidential": doc.confidential,
                    "counts": rules.counts(c.outcome for c in mine_).to_dict(), "passages": passages})
    return out


def answer(s: Session, m: Meeting, who: Principal, comment_id: int, outcome: str, text: str) -> DraftComment:
    """The clerk or the drafting body answers a comment: taken in (tiếp thu), explained (giải trình) or not taken
    in, with the answer; answering again replaces the answer (the audit log keeps each)."""
    _answerer(who)
    with unit.of_work(s):
        c = s.get(DraftComment, comment_id)
        if c is None or c.meeting_id != m.id:
            raise NotFound("Không tìm thấy góp ý.")
        answer_text = text_limits.clean(text_limits.COMMENT_ANSWER, text).strip()
        rules.check_answer(outcome, answer_text)
        c.outcome = outcome
        c.answer = answer_text
        c.answered_by = text_limits.fit(text_limits.PERSON_NAME, who.name or who.role.value)
        c.answered_at = utcnow()
        audit.record(s, m.id, "comment.answered", who.actor,
                     {"comment_id": c.id, "outcome": outcome, "answer": answer_text})
    return c


def summary(s: Session, m: Meeting, who: Principal) -> dict[str, Any]:
    """The summary table's content (bảng tổng hợp, tiếp thu, giải trình ý kiến), as the export workers read it."""
    groups = gathered(s, m, who)
    return {
        "council": f"HỘI ĐỒNG NHÂN DÂN {m.council_level} {m.locality}".upper(),
        "session": m.full_title,
        "title": "BẢNG TỔNG HỢP, TIẾP THU, GIẢI TRÌNH Ý KIẾN GÓP Ý DỰ THẢO",
        "made_at": utcnow().astimezone(VN).strftime("%H:%M ngày %d/%m/%Y"),
        "documents": [{
            "title": g["title"],
            "counts": rules.counts_line(g["counts"]),
            "rows": [{
                "where": _where(p["page"], p["quote"], p["quote_hidden"]),
                "author": c["author"],
                "text": c["text"],
                "outcome": rules.OUTCOME_LABELS[c["outcome"]],
                "answer": c["answer"],
            } for p in g["passages"] for c in p["comments"]],
        } for g in groups],
    }


def export_pdf(s: Session, m: Meeting, who: Principal) -> bytes:
    """The summary as a PDF, built in a worker process (PyMuPDF lays it out; never on the eventlet loop)."""
    content = summary(s, m, who)
    s.close()  # the worker may take a while: give the pooled connection back first
    return offload.call("meeting_server.documents.report:comments_pdf", content, timeout=EXPORT_TIMEOUT_S)


def export_docx(s: Session, m: Meeting, who: Principal) -> bytes:
    """The summary as an editable Word document (DOCX), built in a worker process."""
    content = summary(s, m, who)
    s.close()
    return offload.call("meeting_server.documents.report:comments_docx", content, timeout=EXPORT_TIMEOUT_S)


# --- marking a passage: the words of a page ---------------------------------------------------------------------


def page_words(app: Flask, s: Session, who: Principal, document_id: int, page: int) -> dict[str, Any]:
    """The words of a page with their boxes in PDF points, so the viewer lays a selectable text layer over the
    page image. Read in a worker process the first time, then kept beside the page images (derived, rebuildable)."""
    if not who.can(Permission.COMMENT_WRITE):
        raise Forbidden("Chỉ đại biểu mới góp ý dự thảo được.", "comment.forbidden")
    doc = documents.visible(s, who, document_id)
    if doc.status != "ready":
        raise DomainError("Tài liệu chưa xử lý xong; hãy góp ý sau ít phút.", "comment.not_ready")
    if not 1 <= page <= doc.page_count:
        raise DomainError("Trang %(page)s không có trong tài liệu này.", "comment.page", params={"page": page})
    content_hash = doc.content_hash
    s.close()
    cached = Path(documents.cache_dir(app)) / "words" / f"{content_hash}-{page}.json"
    if cached.exists():
        return dict(json.loads(cached.read_text(encoding="utf-8")))
    raw = offload.call("meeting_server.documents.report:page_words",
               {"path": str(documents.pdf_path(app, content_hash)), "page": page}, timeout=WORDS_TIMEOUT_S)
    cached.parent.mkdir(parents=True, exist_ok=True)
    tmp = cached.with_suffix(".tmp")
    tmp.write_bytes(raw)
    tmp.replace(cached)
    return dict(json.loads(raw))


# --- for the minutes ----------------------------------------------------------------------------------------


def totals(s: Session, meeting_id: int) -> dict[str, int]:
    """How many comments the meeting's drafts have, and how many are still unanswered."""
    counts = counts_by_document(s, meeting_id).values()
    return {"total": sum(c["total"] for c in counts), "pending": sum(c["pending"] for c in counts)}


def counts_by_document(s: Session, meeting_id: int) -> dict[int, dict[str, int]]:
    """{document id: counts of its comments and their outcomes}, for the minutes."""
    rows = s.execute(select(DraftComment.document_id, DraftComment.outcome)
                     .where(DraftComment.meeting_id == meeting_id)).all()
    by_doc: dict[int, list[str]] = {}
    for doc_id, outcome in rows:
        by_doc.setdefault(doc_id, []).append(outcome)
    return {doc_id: rules.counts(outs).to_dict() for doc_id, outs in by_doc.items()}


# --- helpers ----------------------------------------------------------------------------------------------------


def _documents(s: Session, m: Meeting) -> dict[int, Document]:
    return {d.id: d for d in s.scalars(select(Document).where(Document.meeting_id == m.id))}


def _names(s: Session, m: Meeting) -> dict[int, str]:
    return {p.id: p.full_name for p in s.scalars(select(Participant).where(Participant.meeting_id == m.id))}


def _view(c: DraftComment, doc: Document, who: Principal, names: dict[int, str], *, own: bool) -> dict[str, Any]:
    show_quote = rules.sees_quote(who, confidential=doc.confidential)
    return {
        "id": c.id,
        "document_id": c.document_id,
        "document_title": doc.title or doc.original_name,
        "page": c.page_no,
        "quote": c.quote if show_quote else "",
        "quote_hidden": bool(c.quote) and not show_quote,
        "rects": (c.rects or []) if show_quote else [],
        "text": c.text,
        "author": names.get(c.participant_id, ""),
        "own": own,
        "outcome": c.outcome,
        "outcome_label": rules.OUTCOME_LABELS[c.outcome if c.outcome in rules.ANSWERED else rules.PENDING],
        "answer": c.answer,
        "answered_by": c.answered_by,
        "created_at": c.created_at.astimezone(VN).strftime("%H:%M %d/%m/%Y"),
    }


def _where(page: int | None, quote: str, hidden: bool) -> str:
    if page is None:
        return "Cả văn bản"
    if hidden:
        return f"Trang {page} (đoạn trích tài liệu mật)"
    if not quote:
        return f"Trang {page} (cả trang)"
    return f"Trang {page}: «{quote}»"


def meeting(s: Session, who: Principal) -> Meeting:
    """The caller's meeting."""
    return meetings.get(s, who.meeting_id)
