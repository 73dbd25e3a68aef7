"""A meeting's archive (ZIP for the council's records) and its public export (static HTML for the website)."""

from __future__ import annotations

import csv
import html
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.minutes import OTHER_HEADING
from meeting_server.services import audit, minutes
from meeting_server.services.record import build_record
from meeting_server.store.tables import Meeting, MinutesDraft

__all__ = ["archive_zip", "public_export_zip", "record_of", "results_csv", "search", "session_record", "sessions",
           "summary"]


def record_of(s: Session, m: Meeting) -> tuple[dict[str, Any], MinutesDraft | None]:
    """A session's record as the archive keeps it: the signed one when there is one (what the PDF carries), else the
    record as it stands (built from the database: costly, one session at a time; the archive's ZIP, its session page
    and the term's public site use it; the search reads stored texts instead), with the signed version or None."""
    finals = [v for v in minutes.versions(s, m.id) if v.status == "final"]
    if finals and finals[-1].record_json:
        return json.loads(finals[-1].record_json), finals[-1]
    return build_record(s, m.id), None


def results_csv(record: dict[str, Any]) -> bytes:
    """One row per poll: item, subject, mode, verdict and the announced lines (UTF-8 with BOM for Excel).

    Every figure is the record's, which takes it from the result stored when the poll closed (the projector's).
    Polls of no agenda item come last, under the minutes' heading for them.
    """
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["STT nội dung", "Nội dung", "Vấn đề biểu quyết", "Hình thức", "Kết quả", "Thông qua", "Chi tiết"])
    agenda = list(record.get("agenda") or [])
    other = record.get("other") or {}
    if other.get("polls"):
        agenda.append({"title": OTHER_HEADING, "polls": other["polls"]})
    for i, item in enumerate(agenda, start=1):
        for p in item.get("polls") or []:
            passed = p.get("passed")
            w.writerow([i, item.get("title", ""), p.get("subject", ""),
                        "Công khai" if p.get("mode") == "open" else "Bỏ phiếu kín",
                        p.get("outcome") or p.get("result", ""),
                        "" if passed is None else ("Có" if passed else "Không"),
                        " | ".join(str(x) for x in p.get("lines") or [])])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _document_files(app: Flask, s: Session, m: Meeting) -> list[tuple[str, Path]]:
    """(name in the archive, stored file) for each document of the meeting that was read in: the file as uploaded,
    under `tai-lieu/`, named by its number and a filesystem-safe form of the name it was uploaded with."""
    from werkzeug.utils import secure_filename

    from meeting_server.services.documents import original_path
    from meeting_server.store.tables import Document

    docs = s.scalars(select(Document).where(Document.meeting_id == m.id, Document.status == "ready")
                     .order_by(Document.agenda_item_id, Document.position, Document.id))
    files = []
    for d in docs:
        path = original_path(app, d.content_hash)
        if path.is_file():
            files.append((f"tai-lieu/{d.id:03d}-{secure_filename(d.original_name) or 'tai-lieu'}", path))
    return files


def archive_zip(app: Flask, s: Session, m: Meeting) -> bytes:
    """Signed minutes (every version), record JSON, results CSV, every document, and the audit log as JSONL."""
    record, final = record_of(s, m)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for v in minutes.versions(s, m.id):
            if v.status == "final":
                z.writestr(f"bien-ban-v{v.version}.pdf", minutes.pdf_bytes(app, v))
        z.writestr("ho-so-ky-hop.json", final.record_json if final and final.record_json
                   else json.dumps(record, ensure_ascii=False, indent=1))
        z.writestr("ket-qua-bieu-quyet.csv", results_csv(record))
        for name, path in _document_files(app, s, m):
            z.write(path, name)
        lines = []
        for ev in audit.events(s, m.id):
            lines.append(json.dumps({"seq": ev.seq, "meeting_id": ev.meeting_id, "at": ev.at, "kind": ev.kind,
                                     "actor": ev.actor, "data": ev.data, "hash": ev.hash}, ensure_ascii=False))
        z.writestr("nhat-ky.jsonl", "\n".join(lines) + "\n")
        seq, head = audit.head(s)
        z.writestr("README.txt", (
            f"Lưu trữ kỳ họp: {m.full_title}\n"
            f"nhat-ky.jsonl: các sự kiện của kỳ họp; mỗi dòng mang mã băm nối chuỗi (SHA-256).\n"
            f"Mã cuối của toàn bộ nhật ký máy chủ khi xuất: số {seq}, {head}\n"
            f"Kiểm tra chữ ký: meeting-server verify bien-ban-v1.pdf\n"))
    return buf.getvalue()


_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font-family:"Liberation Serif","Times New Roman",serif;max-width:52rem;margin:2rem auto;padding:0 1rem;
font-size:1.15rem;line-height:1.5}}nav a{{margin-right:1rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.3rem .5rem;text-align:left}}</style></head>
<body><nav><a href="index.html">Trang chính</a><a href="nghi-quyet.html">Nghị quyết</a>
<a href="ket-qua.html">Kết quả biểu quyết</a><a href="bien-ban.html">Biên bản</a></nav>
<h1>{title}</h1>
{body}
</body></html>
"""


def _e(x: Any) -> str:
    return html.escape(str(x))


def public_export_zip(app: Flask, s: Session, m: Meeting) -> bytes:
    """A static folder of HTML pages (resolutions, results, the minutes) for the commune's website, as a ZIP.

    Only what is public goes in: titles and results, the signed minutes; no document marked confidential, no
    named list of a secret ballot (the record never holds one).
    """
    record, final = record_of(s, m)
    if final is None:
        raise DomainError("Hãy ký biên bản trước khi xuất bản công khai.", "minutes.not_final")
    name = m.full_title
    other = record.get("other") or {}
    items = [*(record.get("agenda") or []), {"title": OTHER_HEADING, **other}]
    polls = [(item, p) for item in items for p in item.get("polls") or []]
    resolutions = "".join(
        f"<li><b>{_e(p.get('subject'))}</b> — {_e(p.get('outcome') or p.get('result') or '')}</li>"
        for _item, p in polls if p.get("passed")) or "<li>Chưa có nghị quyết nào được thông qua.</li>"
    results = "".join(
        f"<h2>{_e(p.get('subject'))}</h2><p>{_e('Biểu quyết công khai' if p.get('mode') == 'open' else 'Bỏ phiếu kín')}"
        f"</p><ul>{''.join(f'<li>{_e(x)}</li>' for x in p.get('lines') or [])}</ul>"
        for _item, p in polls) or "<p>Không có biểu quyết.</p>"
    docs = "".join(
        f"<li>{_e(d.get('title'))}</li>" for item in items for d in item.get("documents") or []
        if not d.get("confidential"))
    agenda = "".join(f"<li>{_e(item.get('title'))}</li>" for item in record.get("agenda") or [])
    pages = {
        "index.html": (name, f"<p>{_e(record.get('place'))}</p><h2>Chương trình kỳ họp</h2><ol>{agenda}</ol>"
                             + (f"<h2>Tài liệu</h2><ul>{docs}</ul>" if docs else "")),
        "nghi-quyet.html": ("Nghị quyết đã thông qua", f"<ul>{resolutions}</ul>"),
        "ket-qua.html": ("Kết quả biểu quyết", results),
        "bien-ban.html": ("Biên bản kỳ họp", (f'<p><a href="bien-ban.pdf">Biên bản đã ký số (PDF)</a>, phiên bản '
                                              f"{final.version}, SHA-256 <code>{_e(final.pdf_sha256)}</code>.</p>")),
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for fname, (title, body) in pages.items():
            z.writestr(f"cong-khai/{fname}", _PAGE.format(title=_e(title), body=body))
        z.writestr("cong-khai/bien-ban.pdf", minutes.pdf_bytes(app, final))
    return buf.getvalue()


# --- the council's archive of the term: every session, a search across them, and the term's public site ---------

#: At most this many hits of each kind in one archive search.
ARCHIVE_MAX_HITS = 40


def sessions(s: Session, m: Meeting) -> list[dict[str, Any]]:
    """Every session of `m`'s council, for the archive (each as `summary` gives it)."""
    from meeting_server.services import register

    return [summary(s, x) for x in register.council_meetings(s, m)]


def summary(s: Session, x: Meeting) -> dict[str, Any]:
    """One session for the archive: title, term, when, status, what it holds, its signed minutes and its audit
    chain's length and last link."""
    from sqlalchemy import func

    from meeting_server.domain.timefmt import to_local
    from meeting_server.services import register
    from meeting_server.store.tables import AuditEvent, Document, Poll

    finals = [v for v in minutes.versions(s, x.id) if v.status == "final"]
    polls = list(s.scalars(select(Poll).where(Poll.meeting_id == x.id, Poll.state == "closed")))
    n_events, last_seq = s.execute(
        select(func.count(AuditEvent.seq), func.max(AuditEvent.seq)).where(AuditEvent.meeting_id == x.id)).one()
    last = s.get(AuditEvent, last_seq) if last_seq is not None else None
    return {
        "id": x.id, "title": x.session_title, "term": x.term, "full_title": x.full_title, "place": x.place,
        "starts_at": x.starts_at, "status": x.status,
        "date": to_local(x.starts_at).strftime("%d/%m/%Y") if x.starts_at else "",
        "sort": register.session_sort_key(x),
        "items": len(x.items),
        "documents": s.scalar(select(func.count(Document.id)).where(Document.meeting_id == x.id,
                                                                     Document.status == "ready")) or 0,
        "polls": len(polls),
        "passed": sum(1 for p in polls if (p.result or {}).get("passed") is True),
        "minutes": finals[-1] if finals else None,
        "audit_events": n_events or 0, "audit_head": last.hash if last is not None else "",
    }


def session_record(s: Session, m: Meeting) -> dict[str, Any]:
    """One past session as the archive shows it: the record (the signed one when there is one) and its minutes."""
    record, final = record_of(s, m)
    return {"record": record, "final": final}


def search(s: Session, who: Any, m: Meeting, query: str) -> dict[str, list[dict[str, Any]]]:
    """Search every session of `m`'s council, with or without diacritics: sessions, agenda items, resolutions
    and results (titles, numbers), the minutes' paragraphs, and the documents' pages (their text layer, or the text
    recognised when a scanned page was uploaded), each document only for whoever may see it (a confidential one
    only with `document.can_see_confidential`).

    It reads what is stored, a few queries for the whole term whatever its number of sessions, and builds no
    session's record: the register's texts, the agenda, the minutes' texts (a signed session's from the record its
    PDF carries, else the newest draft's, as `record_of` takes them) and the pages' index (FTS5, or PostgreSQL's
    tsvector), which does its own matching in SQL. The other texts are not stored folded, so the folding and
    matching of those few short texts is Python's (documents/textsearch.py), as the pages' index folds its own."""
    from meeting_server.documents.textsearch import fold_vietnamese, snippet
    from meeting_server.domain import register as rules
    from meeting_server.domain.documents import document_rights
    from meeting_server.services import register
    from meeting_server.store.tables import AgendaItem, Poll, Resolution

    query = (query or "")[:200]
    words = fold_vietnamese(query).split()
    found: dict[str, list[dict[str, Any]]] = {"sessions": [], "items": [], "resolutions": [], "minutes": [],
                                              "pages": []}
    if not words:
        return found
    folded_q = fold_vietnamese(query)

    def hit(*texts: str) -> bool:
        hay = " " + fold_vietnamese(" ".join(texts)) + " "
        return all(_word_start(hay, w) for w in words)

    meetings_ = register.council_meetings(s, m)
    by_id = {x.id: x for x in meetings_}
    ids = sorted(by_id)
    if not ids:
        return found
    order = {x.id: k for k, x in enumerate(meetings_)}
    for x in meetings_:
        if hit(x.session_title, x.term, x.place):
            found["sessions"].append({"meeting_id": x.id, "title": x.full_title})

    items = list(s.execute(select(AgendaItem.meeting_id, AgendaItem.id, AgendaItem.title, AgendaItem.description,
                                  AgendaItem.position).where(AgendaItem.meeting_id.in_(ids))))
    items.sort(key=lambda r: (order[r.meeting_id], r.position, r.id))
    for mid, _item_id, title, description, _position in items:
        if hit(title, description or ""):
            found["items"].append({"meeting_id": mid, "session": by_id[mid].session_title, "title": title,
                                   "snippet": snippet(f"{title}. {description or ''}", folded_q)})

    for mid, paragraphs in _minutes_texts(s, ids, items):
        for text_ in paragraphs:
            if text_ and hit(text_):
                found["minutes"].append({"meeting_id": mid, "session": by_id[mid].session_title,
                                         "snippet": snippet(text_, folded_q)})
    found["minutes"].sort(key=lambda h: order[h["meeting_id"]])

    # The register: its three texts (number, title of issue, the poll's subject) first, the rows of the hits after.
    motions = s.execute(select(Poll.id, Poll.kind, Poll.result, Poll.title, Resolution.number, Resolution.title)
                        .outerjoin(Resolution, Resolution.poll_id == Poll.id)
                        .where(Poll.meeting_id.in_(ids), Poll.state == "closed")).all()
    matched = {pid for pid, kind, result, subject, number, title in motions
               if rules.is_resolution(kind, result) and hit(number or "", title or subject, subject)}
    if matched:
        found["resolutions"] = register.entries(s, m, only=matched)

    # The pages: the documents' own index (FTS5 on SQLite, a tsvector on PostgreSQL: services.documents.page_matches),
    # the confidentiality filter in SQL so hidden pages use up none of the hits; then their titles and texts at once.
    from meeting_server.services.documents import page_matches
    from meeting_server.store.tables import Document, DocumentPage

    sees_confidential = document_rights(who.role, confidential=True).see
    hits = page_matches(s, query, "d.meeting_id IN :ids AND (:all OR NOT d.confidential)",
                        {"ids": ids, "all": sees_confidential}, ARCHIVE_MAX_HITS, expanding=("ids",))
    if hits:
        from sqlalchemy import tuple_

        rows = {(r[0], r[1]): r for r in s.execute(
            select(DocumentPage.document_id, DocumentPage.page_no, Document.meeting_id, Document.title,
                   DocumentPage.text)
            .join(Document, Document.id == DocumentPage.document_id)
            .where(tuple_(DocumentPage.document_id, DocumentPage.page_no).in_(hits)))}
        for hit_key in hits:
            if hit_key in rows:
                document_id, page_no, mid, title, page_text = rows[hit_key]
                found["pages"].append({"meeting_id": mid, "session": by_id[mid].session_title,
                                       "document_id": document_id, "title": title, "page": page_no,
                                       "snippet": snippet(page_text or "", folded_q)})
    for key in found:
        found[key] = found[key][:ARCHIVE_MAX_HITS]
    return found


def _minutes_texts(s: Session, ids: list[int], items: list[Any]) -> Iterator[tuple[int, list[str]]]:
    """Each session's minutes paragraphs as `record_of` would give them, read as stored: the signed record's
    opening, items' summaries and conclusions for a session whose minutes are signed, else the newest version's
    texts (the summaries of the agenda's items as it stands)."""
    versions = s.execute(select(MinutesDraft.meeting_id, MinutesDraft.id, MinutesDraft.version, MinutesDraft.status)
                         .where(MinutesDraft.meeting_id.in_(ids))).all()
    newest: dict[int, tuple[int, int]] = {}
    signed: dict[int, tuple[int, int]] = {}
    for mid, draft_id, version, status in versions:
        if version > newest.get(mid, (0, 0))[0]:
            newest[mid] = (version, draft_id)
        if status == "final" and version > signed.get(mid, (0, 0))[0]:
            signed[mid] = (version, draft_id)
    records: dict[int, str] = {mid: raw or "{}" for mid, raw in s.execute(
        select(MinutesDraft.meeting_id, MinutesDraft.record_json)
        .where(MinutesDraft.id.in_([d for _v, d in signed.values()]), MinutesDraft.record_json.is_not(None)))}
    drafts = [d for mid, (_v, d) in newest.items() if mid not in records]
    texts = {mid: t for mid, t in s.execute(
        select(MinutesDraft.meeting_id, MinutesDraft.texts).where(MinutesDraft.id.in_(drafts)))}
    item_ids: dict[int, list[int]] = {}
    for row in items:
        item_ids.setdefault(row.meeting_id, []).append(row.id)
    for mid in ids:
        if mid in records:
            rec = json.loads(records[mid])
            yield mid, [str(rec.get("opening") or ""), str(rec.get("conclusions") or "")] + [
                str(it.get("summary") or "") for it in rec.get("agenda") or []]
        elif mid in texts:
            t = texts[mid] or {}
            summaries = t.get("summaries") or {}
            yield mid, [str(t.get("opening") or ""), str(t.get("conclusions") or "")] + [
                str(summaries.get(str(i)) or "") for i in item_ids.get(mid, [])]


def _word_start(hay: str, word: str) -> bool:
    """Whether `word` starts a word of `hay` (folded text): "ngan" in "ngan sach", not in "thangan"."""
    import re

    return re.search(r"(?<!\w)" + re.escape(word), hay) is not None
