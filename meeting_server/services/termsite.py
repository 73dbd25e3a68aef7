"""The council's public site of the term: static HTML pages and PDFs for the commune's website, searchable in the
browser without a server (the search runs in `static/js/site-search.js` over an index shipped as a script, so it
works from a web server and from the folder opened on a computer, `file://`).

What goes in is public: every session that has ended, its agenda, its documents not marked confidential (as PDF),
the results of its votes (the stored results; a secret ballot's record holds totals only, never names), the
register of resolutions, and the signed minutes where they exist. `payload` gathers it from the database in the
server; `build` writes the ZIP in a child process (`offload`), so copying tens of megabytes of PDFs and folding
their text never holds the loop.
"""

from __future__ import annotations

import html
import io
import json
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain import register as rules
from meeting_server.domain.errors import DomainError
from meeting_server.store.tables import Meeting

__all__ = ["build", "payload", "site_zip"]

#: The browser side of the search, shipped with the site.
SEARCH_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "site-search.js"

#: At most this many characters of one page's text in the site's search index.
PAGE_TEXT_MAX = 6000


def payload(app: Flask, s: Session, m: Meeting) -> dict[str, Any]:
    """Everything public of `m`'s council, as plain data and file paths for `build`."""
    from meeting_server.services import archive, register
    from meeting_server.services.documents import pdf_path
    from meeting_server.store.tables import Document, DocumentPage

    data_dir = Path(app.config["DATA_DIR"])
    sessions = []
    for x in register.council_meetings(s, m):
        if x.status != "ended":
            continue
        record, final = archive.record_of(s, x)
        docs = []
        for d in s.scalars(select(Document).where(Document.meeting_id == x.id, Document.status == "ready",
                                                  Document.confidential.is_(False))
                           .order_by(Document.agenda_item_id, Document.position, Document.id)):
            path = pdf_path(app, d.content_hash)
            if not path.is_file():
                continue
            pages = [(p.page_no, (p.text or "")[:PAGE_TEXT_MAX]) for p in
                     s.scalars(select(DocumentPage).where(DocumentPage.document_id == d.id)
                               .order_by(DocumentPage.page_no))]
            docs.append({"id": d.id, "title": d.title or d.original_name, "item_id": d.agenda_item_id,
                         "path": str(path), "pages": pages})
        minutes_pdf = str(data_dir / final.pdf_path) if final is not None and final.pdf_path else ""
        sessions.append({
            "id": x.id, "title": x.session_title, "term": x.term, "full_title": x.full_title,
            "place": x.place, "date": x.starts_at.strftime("%d/%m/%Y") if x.starts_at else "",
            "sort": list(register.session_sort_key(x)), "record": record, "documents": docs,
            "minutes_pdf": minutes_pdf,
            "minutes_version": final.version if final is not None else None,
            "minutes_sha256": final.pdf_sha256 if final is not None else "",
        })
    ended = {x["id"] for x in sessions}
    resolutions = [r for r in register.entries(s, m) if r["meeting_id"] in ended]
    return {"council": m.council_name, "sessions": sessions, "resolutions": resolutions,
            "search_js": str(SEARCH_JS)}


def site_zip(app: Flask, s: Session, m: Meeting) -> bytes:
    """The term's public site as a ZIP, built in a child process. Refused when no session has ended yet."""
    from meeting_server import offload

    data = payload(app, s, m)
    if not data["sessions"]:
        raise DomainError("Chưa có kỳ họp nào bế mạc để công bố.", "archive.nothing_public")
    return offload.call("meeting_server.services.termsite:build", data, timeout=300)


# --- the child's side: stdlib only from here on ------------------------------------------------------------------

_PAGE = """<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="{up}assets/site.css"></head>
<body><header><p class="council">{council}</p><nav><a href="{up}index.html">Các kỳ họp</a>
<a href="{up}nghi-quyet.html">Nghị quyết</a><a href="{up}tim-kiem.html">Tìm kiếm</a></nav></header>
<main><h1>{title}</h1>
{body}
</main></body></html>
"""

_CSS = """body{font-family:"Liberation Serif","Times New Roman",serif;max-width:60rem;margin:0 auto;padding:0 1rem 3rem;
font-size:1.15rem;line-height:1.55;color:#111}header{border-bottom:2px solid #7a1f1f;padding:.8rem 0}
.council{font-weight:bold;text-transform:uppercase;margin:0 0 .4rem}nav a{margin-right:1.2rem;display:inline-block;
padding:.5rem 0;min-height:44px;color:#7a1f1f}table{border-collapse:collapse;width:100%}
td,th{border:1px solid #999;padding:.4rem .5rem;text-align:left;vertical-align:top}
input[type=search]{font-size:1.2rem;padding:.6rem;width:100%;box-sizing:border-box;min-height:48px}
.hit{margin:1rem 0}.hit a{font-weight:bold}.muted{color:#555}mark{background:#ffe48a}
a{overflow-wrap:anywhere}code{overflow-wrap:anywhere;word-break:break-all}
@media (max-width:40rem){table,tbody,tr,td{display:block}thead{display:none}tr{border:1px solid #999;
margin:0 0 1rem;padding:.2rem 0}td{border:0;padding:.2rem .6rem}td::before{content:attr(data-label) ": ";
font-weight:bold}}
"""


def _e(x: Any) -> str:
    return html.escape(str(x if x is not None else ""))


def _results(polls: list[dict[str, Any]]) -> str:
    out = []
    for p in polls:
        mode = "Biểu quyết công khai" if p.get("mode") == "open" else "Bỏ phiếu kín"
        lines = "".join(f"<li>{_e(x)}</li>" for x in p.get("lines") or [])
        out.append(f"<h4>{_e(p.get('subject'))}</h4><p class='muted'>{mode} — <b>{_e(p.get('result'))}</b></p>"
                   f"<ul>{lines}</ul>")
    return "".join(out)


def _session_page(x: dict[str, Any]) -> tuple[str, str, list[dict[str, Any]]]:
    """(file name, body, search entries) of one session."""
    name = f"ky-hop-{x['id']}.html"
    record = x["record"]
    docs_by_item: dict[Any, list[dict[str, Any]]] = {}
    for d in x["documents"]:
        docs_by_item.setdefault(d["item_id"], []).append(d)
    index: list[dict[str, Any]] = [{"t": x["full_title"], "u": name, "s": x["title"],
                                    "x": f"{x['full_title']}. {x['place']}"}]
    parts = [f"<p>{_e(x['place'])}{', ngày ' + _e(x['date']) if x['date'] else ''}</p>"]
    if x["minutes_pdf"]:
        parts.append(f"<p><a href='bien-ban/ky-hop-{x['id']}.pdf'>Biên bản kỳ họp đã ký số (PDF)</a>, phiên bản "
                     f"{_e(x['minutes_version'])}, SHA-256 <code>{_e(x['minutes_sha256'])}</code></p>")
    else:
        parts.append("<p class='muted'>Biên bản kỳ họp chưa được ký.</p>")
    parts.append("<h2>Chương trình kỳ họp</h2><ol>")
    for item in record.get("agenda") or []:
        docs = docs_by_item.get(item.get("item_id"), [])
        links = "".join(f"<li><a href='tai-lieu/{d['id']}.pdf'>{_e(d['title'])}</a></li>" for d in docs)
        parts.append(f"<li><h3>{_e(item.get('title'))}</h3>" + (f"<ul>{links}</ul>" if links else "")
                     + _results(item.get("polls") or []) + "</li>")
        index.append({"t": item.get("title"), "u": name, "s": x["title"], "x": item.get("summary") or ""})
        for p in item.get("polls") or []:
            index.append({"t": p.get("subject"), "u": name, "s": x["title"],
                          "x": " ".join([str(p.get("result") or ""), *map(str, p.get("lines") or [])])})
    parts.append("</ol>")
    other = record.get("other") or {}
    loose = [d for d in x["documents"] if d["item_id"] is None]
    if other.get("polls") or loose:
        links = "".join(f"<li><a href='tai-lieu/{d['id']}.pdf'>{_e(d['title'])}</a></li>" for d in loose)
        parts.append("<h2>Nội dung khác</h2>" + (f"<ul>{links}</ul>" if links else "")
                     + _results(other.get("polls") or []))
    for d in x["documents"]:
        for page_no, text in d["pages"]:
            if text.strip():
                index.append({"t": f"{d['title']} — trang {page_no}", "u": f"tai-lieu/{d['id']}.pdf#page={page_no}",
                              "s": x["title"], "x": text})
    return name, "".join(parts), index


def build(data: dict[str, Any]) -> bytes:
    """The ZIP of the site (run in a child process: `offload`)."""
    council = data["council"]
    buf = io.BytesIO()
    index: list[dict[str, Any]] = []
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        def page(fname: str, title: str, body: str) -> None:
            z.writestr(f"cong-khai/{fname}", _PAGE.format(title=_e(title), council=_e(council), body=body, up=""))

        terms: dict[str, list[dict[str, Any]]] = {}
        for x in data["sessions"]:
            fname, body, entries = _session_page(x)
            page(fname, x["full_title"], body)
            index += entries
            terms.setdefault(x["term"], []).append(x)
            for d in x["documents"]:
                z.write(d["path"], f"cong-khai/tai-lieu/{d['id']}.pdf", compress_type=zipfile.ZIP_STORED)
            if x["minutes_pdf"]:
                z.write(x["minutes_pdf"], f"cong-khai/bien-ban/ky-hop-{x['id']}.pdf",
                        compress_type=zipfile.ZIP_STORED)
        groups = rules.group_by_term([{**x, "sort": tuple(x["sort"])} for x in data["sessions"]])
        body = "".join(
            f"<h2>{_e(term[:1].upper() + term[1:] if term else 'Không rõ nhiệm kỳ')}</h2><ul>"
            + "".join(f"<li><a href='ky-hop-{x['id']}.html'>{_e(x['title'])}</a>"
                      f"{' — ' + _e(x['date']) if x['date'] else ''}</li>" for x in rows) + "</ul>"
            for term, rows in groups)
        page("index.html", "Các kỳ họp", body)
        rows = []
        signed = {x["id"] for x in data["sessions"] if x["minutes_pdf"]}
        for r in data["resolutions"]:
            files = []
            if r["document_id"] and not r["document_confidential"]:
                files.append(f"<a href='tai-lieu/{r['document_id']}.pdf'>{_e(r['document_title'])}</a>")
            if r["meeting_id"] in signed:
                files.append(f"<a href='bien-ban/ky-hop-{r['meeting_id']}.pdf'>Biên bản đã ký</a>")
            # data-label: on a phone each row is a card and each cell says what it is (_CSS).
            rows.append(f"<tr><td data-label='Số'>{_e(r['number']) or '—'}</td>"
                        f"<td data-label='Ngày ban hành'>{_e(r['issued_on_text']) or '—'}</td>"
                        f"<td data-label='Trích yếu'>{_e(r['title'])}<br><span class='muted'>{_e(r['session'])}"
                        f"</span></td><td data-label='Kết quả biểu quyết'>{_e(r['votes'])}</td>"
                        f"<td data-label='Văn bản'>{'<br>'.join(files) or '—'}</td></tr>")
            index.append({"t": f"Nghị quyết {r['number']}: {r['title']}" if r["number"] else r["title"],
                          "u": f"ky-hop-{r['meeting_id']}.html", "s": r["session"], "x": r["votes"]})
        page("nghi-quyet.html", "Nghị quyết đã thông qua",
             "<table><thead><tr><th>Số</th><th>Ngày ban hành</th><th>Trích yếu</th><th>Kết quả biểu quyết</th>"
             f"<th>Văn bản</th></tr></thead><tbody>{''.join(rows)}</tbody></table>" if rows
             else "<p>Chưa có nghị quyết nào được thông qua.</p>")
        page("tim-kiem.html", "Tìm kiếm",
             "<form id='tim' role='search'><label for='q'>Tìm trong các kỳ họp, nghị quyết và tài liệu (gõ có "
             "hoặc không dấu)</label><input id='q' type='search' autocomplete='off'></form>"
             "<p id='so-ket-qua' class='muted' aria-live='polite'></p><div id='ket-qua'></div>"
             "<script src='assets/du-lieu-tim-kiem.js'></script><script src='assets/tim-kiem.js'></script>")
        # Text from PDFs may come decomposed (NFD): the browser folds one character at a time (site-search.js).
        index = [{**e, "t": unicodedata.normalize("NFC", str(e["t"] or "")),
                  "x": unicodedata.normalize("NFC", str(e["x"] or ""))} for e in index]
        z.writestr("cong-khai/assets/site.css", _CSS)
        z.writestr("cong-khai/assets/du-lieu-tim-kiem.js",
                   "var SITE_INDEX = " + json.dumps(index, ensure_ascii=False).replace("\u2028", "\\u2028")
                   .replace("\u2029", "\\u2029") + ";\n")  # line separators end an ES5 string
        z.write(data["search_js"], "cong-khai/assets/tim-kiem.js")
    return buf.getvalue()
