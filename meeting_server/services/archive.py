"""A meeting's archive (ZIP for the council's records) and its public export (static HTML for the website)."""

from __future__ import annotations

import csv
import html
import io
import json
import zipfile
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

__all__ = ["archive_zip", "public_export_zip", "results_csv"]


def _record_of(s: Session, m: Meeting) -> tuple[dict[str, Any], MinutesDraft | None]:
    """The signed record when there is one (what the PDF carries), else the record as it stands."""
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
    record, final = _record_of(s, m)
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
    record, final = _record_of(s, m)
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
    record, final = _record_of(s, m)
    return {"record": record, "final": final}


def search(s: Session, who: Any, m: Meeting, query: str) -> dict[str, list[dict[str, Any]]]:
    """Search every session of `m`'s council, with or without diacritics: sessions, agenda items, resolutions
    and results (titles, numbers), the minutes' paragraphs, and the documents' pages (their text layer, or the text
    recognised when a scanned page was uploaded), each document only for whoever may see it (a confidential one
    only with `document.can_see_confidential`)."""

    from meeting_server.documents.textsearch import fold_vietnamese, snippet
    from meeting_server.domain.documents import document_rights
    from meeting_server.services import register
    from meeting_server.store.tables import Document, DocumentPage

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
    for x in meetings_:
        if hit(x.session_title, x.term, x.place):
            found["sessions"].append({"meeting_id": x.id, "title": x.full_title})
        for it in x.items:
            if hit(it.title, it.description or ""):
                found["items"].append({"meeting_id": x.id, "session": x.session_title, "title": it.title,
                                       "snippet": snippet(f"{it.title}. {it.description or ''}", folded_q)})
        record, _final = _record_of(s, x)
        for key in ("opening", "conclusions"):
            if record.get(key) and hit(str(record[key])):
                found["minutes"].append({"meeting_id": x.id, "session": x.session_title,
                                         "snippet": snippet(str(record[key]), folded_q)})
        for item in record.get("agenda") or []:
            if item.get("summary") and hit(str(item["summary"])):
                found["minutes"].append({"meeting_id": x.id, "session": x.session_title,
                                         "snippet": snippet(str(item["summary"]), folded_q)})
    for row in register.entries(s, m):
        if hit(row["number"], row["title"], row["subject"]):
            found["resolutions"].append(row)
    if by_id:
        from meeting_server.services.documents import page_matches

        rows = page_matches(s, query, "d.meeting_id IN :ids", {"ids": sorted(by_id)}, ARCHIVE_MAX_HITS * 2,
                            expanding=("ids",))
        for document_id, page_no in rows:
            d = s.get(Document, document_id)
            if d is None or not document_rights(who.role, confidential=d.confidential).see:
                continue
            page = s.get(DocumentPage, (document_id, page_no))
            found["pages"].append({"meeting_id": d.meeting_id, "session": by_id[d.meeting_id].session_title,
                                   "document_id": d.id, "title": d.title, "page": page_no,
                                   "snippet": snippet(page.text if page else "", folded_q)})
            if len(found["pages"]) >= ARCHIVE_MAX_HITS:
                break
    for key in found:
        found[key] = found[key][:ARCHIVE_MAX_HITS]
    return found


def _word_start(hay: str, word: str) -> bool:
    """Whether `word` starts a word of `hay` (folded text): "ngan" in "ngan sach", not in "thangan"."""
    import re

    return re.search(r"(?<!\w)" + re.escape(word), hay) is not None
