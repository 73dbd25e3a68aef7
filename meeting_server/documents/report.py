"""Files about drafts, built in a worker process (offload.py): the words of a page with their boxes (the viewer's
text layer for marking a passage) and the summary of the comments on drafts (bảng tổng hợp, tiếp thu, giải trình
ý kiến) as a PDF (PyMuPDF's Story, Liberation fonts for Vietnamese) and as an editable DOCX (python-docx).

Each entry point takes the JSON payload `offload.call` sends and returns bytes.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path
from typing import Any

import pymupdf

__all__ = ["comments_docx", "comments_pdf", "page_words"]

FONT_DIR = Path(__file__).resolve().parents[2] / "static" / "fonts"
A4_LANDSCAPE = pymupdf.paper_rect("a4-l")
MARGIN = 36


def page_words(payload: dict[str, Any]) -> bytes:
    """{"width", "height", "words": [[x0, y0, x1, y1, text, line key], …]} of one page (1-based), in PDF points
    with the origin at the top left, as the page image shows it (rotation applied)."""
    with pymupdf.open(payload["path"]) as doc:
        page = doc[int(payload["page"]) - 1]
        words = page.get_text("words", sort=True)
        rect = page.rect
        out = [[round(w[0], 2), round(w[1], 2), round(w[2], 2), round(w[3], 2), w[4], f"{w[5]}.{w[6]}"]
               for w in words]
    return json.dumps({"width": round(rect.width, 2), "height": round(rect.height, 2), "words": out},
                      ensure_ascii=False).encode()


def _e(value: Any) -> str:
    return html.escape(str(value or "")).replace("\n", "<br>")


def _html(content: dict[str, Any]) -> str:
    parts = [
        f"<p class='c'><b>{_e(content.get('council'))}</b></p>",
        f"<h1>{_e(content.get('title'))}</h1>",
        f"<p class='c'><i>{_e(content.get('session'))}</i></p>",
    ]
    docs = content.get("documents") or []
    if not docs:
        parts.append("<p>Chưa có ý kiến góp ý nào.</p>")
    for i, d in enumerate(docs, start=1):
        parts.append(f"<h2>{i}. {_e(d.get('title'))}</h2><p><i>{_e(d.get('counts'))}</i></p>")
        parts.append("<table><tr><th class='n'>STT</th><th>Vị trí trong dự thảo</th><th>Đại biểu</th>"
                     "<th>Nội dung góp ý</th><th>Kết quả</th><th>Nội dung tiếp thu, giải trình</th></tr>")
        for k, r in enumerate(d.get("rows") or [], start=1):
            parts.append(f"<tr><td class='n'>{k}</td><td>{_e(r.get('where'))}</td><td>{_e(r.get('author'))}</td>"
                         f"<td>{_e(r.get('text'))}</td><td>{_e(r.get('outcome'))}</td>"
                         f"<td>{_e(r.get('answer'))}</td></tr>")
        parts.append("</table>")
    parts.append(f"<p class='r'><i>Lập lúc {_e(content.get('made_at'))}</i></p>")
    return "".join(parts)


_CSS = """
@font-face {font-family: serif; src: url(LiberationSerif-Regular.ttf);}
@font-face {font-family: serif; src: url(LiberationSerif-Bold.ttf); font-weight: bold;}
@font-face {font-family: serif; src: url(LiberationSerif-Italic.ttf); font-style: italic;}
@font-face {font-family: serif; src: url(LiberationSerif-BoldItalic.ttf); font-weight: bold; font-style: italic;}
* {font-family: serif; font-size: 11pt;}
h1 {font-size: 14pt; text-align: center; font-weight: bold; margin: 6pt 0;}
h2 {font-size: 12pt; font-weight: bold; margin: 10pt 0 2pt 0;}
p.c {text-align: center; margin: 0;}
p.r {text-align: right;}
table {border-collapse: collapse; width: 100%;}
th, td {border: 0.5pt solid black; padding: 3pt; vertical-align: top; font-size: 10pt;}
th {font-weight: bold; text-align: center;}
td.n, th.n {text-align: center;}
"""


def comments_pdf(content: dict[str, Any]) -> bytes:
    """The summary of comments as an A4 landscape PDF (text, not images: it can be searched and copied)."""
    story = pymupdf.Story(html=_html(content), user_css=_CSS, archive=pymupdf.Archive(str(FONT_DIR)))
    out = io.BytesIO()
    writer = pymupdf.DocumentWriter(out)
    where = A4_LANDSCAPE + (MARGIN, MARGIN, -MARGIN, -MARGIN)
    more = True
    while more:
        dev = writer.begin_page(A4_LANDSCAPE)
        more, _ = story.place(where)
        story.draw(dev)
        writer.end_page()
    writer.close()
    return out.getvalue()


def comments_docx(content: dict[str, Any]) -> bytes:
    """The same summary as a Word document the office edits before sending it with the drafting body's report."""
    import docx
    from docx.enum.section import WD_ORIENT
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.shared import Cm, Pt

    d = docx.Document()
    style = d.styles["Normal"]
    style.font.name = "Times New Roman"
    style.font.size = Pt(12)
    section = d.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Cm(29.7), Cm(21.0)
    for side in ("left_margin", "right_margin", "top_margin", "bottom_margin"):
        setattr(section, side, Cm(1.5))
    for text, bold, italic in ((content.get("council"), True, False), (content.get("title"), True, False),
                               (content.get("session"), False, True)):
        p = d.add_paragraph()
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        run = p.add_run(str(text or ""))
        run.bold, run.italic = bold, italic
    docs = content.get("documents") or []
    if not docs:
        d.add_paragraph("Chưa có ý kiến góp ý nào.")
    for i, doc in enumerate(docs, start=1):
        d.add_paragraph().add_run(f"{i}. {doc.get('title') or ''}").bold = True
        d.add_paragraph().add_run(str(doc.get("counts") or "")).italic = True
        table = d.add_table(rows=1, cols=6)
        table.style = "Table Grid"
        heads = ("STT", "Vị trí trong dự thảo", "Đại biểu", "Nội dung góp ý", "Kết quả",
                 "Nội dung tiếp thu, giải trình")
        for cell, head in zip(table.rows[0].cells, heads, strict=True):
            cell.text = ""
            cell.paragraphs[0].add_run(head).bold = True
        for k, r in enumerate(doc.get("rows") or [], start=1):
            cells = table.add_row().cells
            values = (str(k), r.get("where"), r.get("author"), r.get("text"), r.get("outcome"), r.get("answer"))
            for cell, value in zip(cells, values, strict=True):
                cell.text = str(value or "")
    p = d.add_paragraph()
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    p.add_run(f"Lập lúc {content.get('made_at') or ''}").italic = True
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()
