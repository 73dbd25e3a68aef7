"""Lay out a `MinutesDoc` as an A4 PDF in the form of Decree 30/2020/NĐ-CP (Appendix I layout, form 1.9).

A small line-breaking engine on PyMuPDF places every word itself, so margins, justification, the header
columns and the signature places are exact and known; the two empty signature fields are put precisely in
the room left for each signature, so that `minutes.sign` fills them. A pure function of its inputs: safe to
call from a worker process.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import pymupdf

from meeting_server.domain.limits import strip_bidi
from meeting_server.domain.minutes import Heading, MinutesDoc, Paragraph, Run

__all__ = ["DEFAULT_FONT_DIR", "Layout", "render_minutes_pdf", "LAYOUT"]

DEFAULT_FONT_DIR = Path(__file__).resolve().parents[2] / "static" / "fonts"
MM = 72 / 25.4
FONT_FILES = {
    (False, False): "LiberationSerif-Regular.ttf",
    (True, False): "LiberationSerif-Bold.ttf",
    (False, True): "LiberationSerif-Italic.ttf",
    (True, True): "LiberationSerif-BoldItalic.ttf",
}


@dataclass(frozen=True)
class Layout:
    """Measures of the page, in points; the defaults sit inside Decree 30's ranges."""

    width: float = 595.2756  # A4, 210 mm
    height: float = 841.8898  # A4, 297 mm
    top: float = 20 * MM  # 20–25 mm
    bottom: float = 20 * MM  # 20–25 mm
    left: float = 30 * MM  # 30–35 mm
    right: float = 15 * MM  # 15–20 mm
    body_size: float = 14  # 13–14 pt
    line_spacing: float = 1.2  # × font size; "single" for Times is ~1.15, the rule allows 1 to 1.5
    paragraph_after: float = 6  # at least 6 pt
    indent: float = 1.27 / 2.54 * 72  # 1.27 cm
    header_size: float = 13
    signature_room: float = 80  # height left for the signature image and stamp
    signature_width: float = 200
    recipients_label_size: float = 12
    recipients_size: float = 11
    page_number_size: float = 13

    @property
    def text_width(self) -> float:
        """Width between the side margins."""
        return self.width - self.left - self.right


LAYOUT = Layout()


@dataclass
class _Op:
    """One thing to draw on a page: a text fragment or a rule."""

    kind: str
    x: float
    y: float
    text: str = ""
    style: tuple[bool, bool] = (False, False)
    size: float = 0
    x1: float = 0


@dataclass
class _Page:
    ops: list[_Op] = field(default_factory=list)


class _Fonts:
    """The four faces of Liberation Serif, loaded once per render."""

    def __init__(self, font_dir: Path) -> None:
        self.faces: dict[tuple[bool, bool], pymupdf.Font] = {}
        for style, name in FONT_FILES.items():
            path = font_dir / name
            if not path.is_file():
                raise FileNotFoundError(f"Thiếu tệp phông chữ {path}")
            self.faces[style] = pymupdf.Font(fontfile=str(path))
        # Memoised widths: the same words recur on every page of the minutes.
        self._widths: dict[tuple[str, tuple[bool, bool]], float] = {}

    def width(self, text: str, style: tuple[bool, bool], size: float) -> float:
        key = (text, style)
        w = self._widths.get(key)
        if w is None:
            w = self._widths[key] = self.faces[style].text_length(strip_bidi(text), fontsize=1)
        return w * size

    def ascender(self, style: tuple[bool, bool]) -> float:
        return self.faces[style].ascender


_Word = list[tuple[str, tuple[bool, bool]]]
_SPACES = re.compile(r"(\s+)")


class _Flow:
    """Places lines top to bottom, page after page, and remembers where the signature fields go."""

    def __init__(self, fonts: _Fonts, layout: Layout) -> None:
        self.f = fonts
        self.L = layout
        self.pages: list[_Page] = []
        self.fields: list[tuple[str, int, pymupdf.Rect]] = []
        self.new_page()

    @property
    def limit(self) -> float:
        return self.L.height - self.L.bottom

    def new_page(self) -> None:
        self.pages.append(_Page())
        self.y = self.L.top

    def ensure(self, height: float) -> None:
        if self.y + height > self.limit and self.y > self.L.top:
            self.new_page()

    def pitch(self, size: float) -> float:
        return size * self.L.line_spacing

    def text(self, x: float, baseline: float, text: str, style: tuple[bool, bool], size: float) -> None:
        # Direction controls never reach the page, even from a record stored before domain/limits.py refused them.
        self.pages[-1].ops.append(_Op("text", x, baseline, strip_bidi(text), style, size))

    def rule(self, x0: float, x1: float, y: float) -> None:
        self.pages[-1].ops.append(_Op("rule", x0, y, x1=x1))

    def centred(self, x0: float, x1: float, text: str, style: tuple[bool, bool], size: float) -> float:
        """Write one centred line between x0 and x1 at the current y; return its width."""
        w = self.f.width(text, style, size)
        self.text(x0 + (x1 - x0 - w) / 2, self.y + self.f.ascender(style) * size, text, style, size)
        self.y += self.pitch(size)
        return w

    def paragraph(
        self,
        runs: tuple[Run, ...],
        *,
        size: float,
        align: str = "justify",
        indent: float = 0,
        x0: float | None = None,
        x1: float | None = None,
        after: float | None = None,
        keep_lines: int = 1,
    ) -> None:
        """Break runs into lines that fill the measure; justified lines spread the spaces, the last does not."""
        x0 = self.L.left if x0 is None else x0
        x1 = self.L.width - self.L.right if x1 is None else x1
        words = _words(runs)
        space = self.f.width(" ", (False, False), size)
        lines: list[list[tuple[_Word, float]]] = []
        line: list[tuple[_Word, float]] = []
        used = 0.0
        avail = x1 - x0 - indent
        for word in words:
            for piece in self._fit(word, size, avail if not lines and not line else x1 - x0):
                w = sum(self.f.width(t, s, size) for t, s in piece)
                room = (x1 - x0 - (indent if not lines else 0)) - used - (space if line else 0)
                if line and w > room:
                    lines.append(line)
                    line, used = [], 0.0
                used += (space if line else 0) + w
                line.append((piece, w))
        if line:
            lines.append(line)
        pitch = self.pitch(size)
        self.ensure(pitch * min(keep_lines, len(lines) or 1))
        for i, ln in enumerate(lines):
            self.ensure(pitch)
            first = i == 0
            start = x0 + (indent if first else 0)
            measure = x1 - start
            natural = sum(w for _, w in ln) + space * (len(ln) - 1)
            gap = space
            if align == "justify" and i < len(lines) - 1 and len(ln) > 1:
                gap = (measure - sum(w for _, w in ln)) / (len(ln) - 1)
            elif align == "center":
                start += (measure - natural) / 2
            baseline = self.y + self.f.ascender((False, False)) * size
            if gap == space:
                self._natural_line(ln, start, baseline, size)
            else:
                x = start
                for k, (piece, _w) in enumerate(ln):
                    for j, (t, s) in enumerate(piece):
                        # A real space after each word lets text extraction and screen readers find the words.
                        tail = " " if j == len(piece) - 1 and k < len(ln) - 1 else ""
                        self.text(x, baseline, t + tail, s, size)
                        x += self.f.width(t, s, size)
                    x += gap
            self.y += pitch
        self.y += self.L.paragraph_after if after is None else after

    def _natural_line(self, ln: list[tuple[_Word, float]], x: float, baseline: float, size: float) -> None:
        """A line with plain spaces goes out as one string per style: far fewer text objects to write."""
        segments: list[tuple[str, tuple[bool, bool]]] = []
        for k, (piece, _w) in enumerate(ln):
            for j, (t, s) in enumerate(piece):
                text = (" " if k and j == 0 else "") + t
                if segments and segments[-1][1] == s:
                    segments[-1] = (segments[-1][0] + text, s)
                else:
                    segments.append((text, s))
        for text, s in segments:
            self.text(x, baseline, text, s, size)
            x += self.f.width(text, s, size)

    def _fit(self, word: _Word, size: float, avail: float) -> list[_Word]:
        """A word wider than the measure (a long URL) is cut by characters rather than run into the margin."""
        if sum(self.f.width(t, s, size) for t, s in word) <= avail:
            return [word]
        pieces: list[_Word] = []
        cur: _Word = []
        w = 0.0
        for t, s in word:
            for ch in t:
                cw = self.f.width(ch, s, size)
                if cur and w + cw > avail:
                    pieces.append(cur)
                    cur, w = [], 0.0
                if cur and cur[-1][1] == s:
                    cur[-1] = (cur[-1][0] + ch, s)
                else:
                    cur.append((ch, s))
                w += cw
        if cur:
            pieces.append(cur)
        return pieces


def _words(runs: tuple[Run, ...]) -> list[_Word]:
    """Split runs at white space; a word can change style in its middle (a bold label glued to text)."""
    words: list[_Word] = []
    cur: _Word = []
    for run in runs:
        style = (run.bold, run.italic)
        for part in _SPACES.split(unicodedata.normalize("NFC", run.text)):
            if not part:
                continue
            if part.isspace():
                if cur:
                    words.append(cur)
                    cur = []
            else:
                cur.append((part, style))
    if cur:
        words.append(cur)
    return words


def _header(flow: _Flow, doc: MinutesDoc) -> None:
    """Page 1 header: the council left, the national title and motto right, each centred in its column."""
    L, f = flow.L, flow.f
    bold = (True, False)
    split = L.left + L.text_width * 0.4
    right_edge = L.width - L.right
    top = flow.y
    size = L.header_size
    # Left column: council name in capitals, a rule of about a third to a half of the line, then the number.
    widths = [flow.centred(L.left, split, line, bold, size) for line in doc.header.body_lines]
    rule_w = max(widths) * 0.4
    mid = (L.left + split) / 2
    flow.rule(mid - rule_w / 2, mid + rule_w / 2, flow.y + 1)
    flow.y += 8
    flow.centred(L.left, split, doc.header.number, (False, False), size)
    left_bottom = flow.y
    # Right column: the national title (13 pt where it fits the column, else 12 pt), motto, full-length rule.
    flow.y = top
    nation_size = size if f.width(doc.header.nation, bold, size) <= right_edge - split - 4 else size - 1
    flow.centred(split, right_edge, doc.header.nation, bold, nation_size)
    motto_w = flow.centred(split, right_edge, doc.header.motto, bold, 14)
    rmid = (split + right_edge) / 2
    flow.rule(rmid - motto_w / 2, rmid + motto_w / 2, flow.y + 1)
    flow.y = max(left_bottom, flow.y + 8) + 18


def _signatures(flow: _Flow, doc: MinutesDoc) -> None:
    """Two signature places side by side, each with its empty signature field in the room under the title."""
    L = flow.L
    bold = (True, False)
    size = L.body_size
    # The "Nơi nhận" list stays on the page of the signatures, as on the paper form.
    recipients = flow.pitch(L.recipients_label_size) + len(doc.recipients.items) * flow.pitch(L.recipients_size)
    flow.ensure(flow.pitch(size) * 2 + L.signature_room + 26 + recipients)
    flow.y += 10
    top = flow.y
    half = L.left + L.text_width / 2
    columns = ((L.left, half), (half, L.width - L.right))
    for slot, (x0, x1) in zip(doc.signatures, columns, strict=True):
        flow.y = top
        flow.centred(x0, x1, slot.role_title, bold, size)
        room_top = flow.y + 2
        w = min(L.signature_width, x1 - x0 - 8)
        cx = (x0 + x1) / 2
        rect = pymupdf.Rect(cx - w / 2, room_top, cx + w / 2, room_top + L.signature_room)
        flow.fields.append((slot.field_name, len(flow.pages) - 1, rect))
        flow.y = room_top + L.signature_room + 4
        flow.centred(x0, x1, unicodedata.normalize("NFC", slot.name), bold, size)
    flow.y += 12


def _recipients(flow: _Flow, doc: MinutesDoc) -> None:
    """ "Nơi nhận:" in 12 pt bold italic, the list in 11 pt, flush left."""
    L = flow.L
    label = (Run(doc.recipients.label, bold=True, italic=True),)
    flow.ensure(flow.pitch(L.recipients_label_size) + 2 * flow.pitch(L.recipients_size))
    flow.paragraph(label, size=L.recipients_label_size, align="left", after=0)
    for item in doc.recipients.items:
        flow.paragraph((Run(item),), size=L.recipients_size, align="left", after=0)


def layout_minutes(doc: MinutesDoc, font_dir: Path, layout: Layout = LAYOUT) -> _Flow:
    """Run the layout and return the pages' drawing operations and the signature field places."""
    fonts = _Fonts(Path(font_dir))
    flow = _Flow(fonts, layout)
    _header(flow, doc)
    size = layout.body_size
    flow.centred(layout.left, layout.width - layout.right, doc.title, (True, False), size)
    flow.paragraph((Run(doc.session_name, bold=True),), size=size, align="center", after=14)
    for block in doc.body:
        if isinstance(block, Heading):
            # A heading never ends a page: keep it with two lines of what follows. Flush left, since
            # spreading the few words of a heading's last-but-one line looks broken.
            flow.ensure(flow.pitch(size) * 3)
            flow.paragraph((Run(block.text, bold=True),), size=size, align="left", indent=layout.indent, keep_lines=3)
        elif isinstance(block, Paragraph):
            if block.text.endswith(":"):
                flow.ensure(flow.pitch(size) * 3)  # a lead-in such as "Ý kiến phát biểu:" stays with its list
            indent = layout.indent if block.indent and block.align == "justify" else 0
            flow.paragraph(block.runs, size=size, align=block.align, indent=indent, keep_lines=2)
    _signatures(flow, doc)
    _recipients(flow, doc)
    return flow


def render_minutes_pdf(minutes: MinutesDoc, font_dir: Path | str = DEFAULT_FONT_DIR, layout: Layout = LAYOUT) -> bytes:
    """The minutes as PDF bytes: A4, Liberation Serif embedded as subsets, empty fields Sig_Secretary and Sig_Chair."""
    flow = layout_minutes(minutes, Path(font_dir), layout)
    pdf = pymupdf.open()
    try:
        faces = flow.f.faces
        for number, page_ops in enumerate(flow.pages, start=1):
            page = pdf.new_page(width=layout.width, height=layout.height)
            writer = pymupdf.TextWriter(page.rect)
            if number > 1:
                # Page numbers centred in the top margin, from page 2 on (Decree 30, Appendix I).
                label = str(number)
                w = flow.f.width(label, (False, False), layout.page_number_size)
                writer.append(
                    ((layout.width - w) / 2, layout.top * 0.6),
                    label,
                    font=faces[(False, False)],
                    fontsize=layout.page_number_size,
                )
            for op in page_ops.ops:
                if op.kind == "text":
                    writer.append((op.x, op.y), op.text, font=faces[op.style], fontsize=op.size)
            writer.write_text(page)
            for op in page_ops.ops:
                if op.kind == "rule":
                    page.draw_line((op.x, op.y), (op.x1, op.y), color=(0, 0, 0), width=0.6)
        _add_signature_fields(pdf, flow.fields)
        council = " ".join(minutes.header.body_lines[1:]).title()
        pdf.set_metadata(
            {
                "title": f"{minutes.title.capitalize()} {minutes.session_name}",
                "author": f"Hội đồng nhân dân {council}",
                "creator": "meeting-server",
                "producer": "meeting-server (PyMuPDF)",
            }
        )
        pdf.subset_fonts()
        return pdf.tobytes(garbage=4, deflate=True)
    finally:
        pdf.close()


def _add_signature_fields(pdf: pymupdf.Document, fields: list[tuple[str, int, pymupdf.Rect]]) -> None:
    """Write empty /Sig fields by hand: PyMuPDF's widget API cannot create signature fields."""
    refs = []
    by_page: dict[int, list[int]] = {}
    for name, page_no, rect in fields:
        page = pdf[page_no]
        h = page.rect.height
        xref = pdf.get_new_xref()
        # PDF space has y going up: flip the layout's top-down rectangle.
        pdf.update_object(
            xref,
            f"<< /Type /Annot /Subtype /Widget /FT /Sig /T ({name}) /F 4 "
            f"/Rect [{rect.x0:.2f} {h - rect.y1:.2f} {rect.x1:.2f} {h - rect.y0:.2f}] /P {page.xref} 0 R >>",
        )
        refs.append(xref)
        by_page.setdefault(page_no, []).append(xref)
    for page_no, xrefs in by_page.items():
        page = pdf[page_no]
        kind, value = pdf.xref_get_key(page.xref, "Annots")
        existing = value.strip("[]") if kind == "array" else ""
        pdf.xref_set_key(page.xref, "Annots", "[" + existing + " " + " ".join(f"{x} 0 R" for x in xrefs) + "]")
    pdf.xref_set_key(pdf.pdf_catalog(), "AcroForm", "<< /Fields [" + " ".join(f"{x} 0 R" for x in refs) + "] >>")
