"""Join cards: an A4 PDF with eight cards per page, each with the council, the person and a personal QR."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pymupdf

from meeting_server.documents import qr

MM = 72 / 25.4
A4 = pymupdf.paper_rect("a4")
COLS, ROWS = 2, 4
MARGIN = 10 * MM


@dataclass(frozen=True)
class Card:
    """What one card shows."""

    council_name: str
    session_title: str
    name: str
    title: str
    role_label: str
    url: str
    number: str


def build_cards_pdf(cards: list[Card], font_dir: Path) -> bytes:
    """Lay the cards out with cut lines; text in Liberation Sans so every Vietnamese glyph prints."""
    doc = pymupdf.open()
    regular = str(font_dir / "LiberationSans-Regular.ttf")
    bold = str(font_dir / "LiberationSans-Bold.ttf")
    w = (A4.width - 2 * MARGIN) / COLS
    h = (A4.height - 2 * MARGIN) / ROWS
    per_page = COLS * ROWS
    for start in range(0, max(len(cards), 1), per_page):
        page = doc.new_page(width=A4.width, height=A4.height)
        page.insert_font(fontname="LS", fontfile=regular)
        page.insert_font(fontname="LSB", fontfile=bold)
        for i, card in enumerate(cards[start:start + per_page]):
            col, row = i % COLS, i // COLS
            box = pymupdf.Rect(MARGIN + col * w, MARGIN + row * h, MARGIN + (col + 1) * w, MARGIN + (row + 1) * h)
            _draw(page, box, card)
    out: bytes = doc.tobytes(garbage=3, deflate=True)
    doc.close()
    return out


def build_from_payload(payload: dict[str, Any]) -> bytes:
    """Entry point for meeting_server.offload: `{"cards": [Card fields…], "font_dir": path}`."""
    return build_cards_pdf([Card(**c) for c in payload["cards"]], Path(payload["font_dir"]))


def _draw(page: pymupdf.Page, box: pymupdf.Rect, card: Card) -> None:
    # Dashed cut lines around each card.
    page.draw_rect(box, color=(0.6, 0.6, 0.6), width=0.5, dashes="[3 3] 0")
    pad = 4 * MM
    qr_side = min(box.height - 2 * pad, 42 * MM)
    qr_rect = pymupdf.Rect(box.x1 - pad - qr_side, box.y0 + pad, box.x1 - pad, box.y0 + pad + qr_side)
    page.insert_image(qr_rect, stream=qr.png(card.url, box_size=8))
    text = pymupdf.Rect(box.x0 + pad, box.y0 + pad, qr_rect.x0 - 2 * MM, box.y1 - pad)
    y = text.y0
    y = _text(page, text, y, card.council_name.upper(), "LSB", 8)
    y = _text(page, text, y, card.session_title, "LS", 7.5)
    y += 3 * MM
    y = _text(page, text, y, card.name, "LSB", 13)
    y = _text(page, text, y, card.title, "LS", 8.5)
    y = _text(page, text, y, card.role_label, "LSB", 9)
    foot = pymupdf.Rect(box.x0 + pad, box.y1 - pad - 8 * MM, box.x1 - pad, box.y1 - pad)
    page.insert_textbox(foot, f"Quét mã QR bằng điện thoại để tham gia kỳ họp.\nThẻ số {card.number}. Giữ thẻ "
                        "cẩn thận, báo ngay khi mất thẻ.", fontname="LS", fontsize=6.5, color=(0.25, 0.25, 0.25))


def _text(page: pymupdf.Page, area: pymupdf.Rect, y: float, text: str, font: str, size: float) -> float:
    """Write wrapped text from y; returns the y under it."""
    if not text:
        return y
    rect = pymupdf.Rect(area.x0, y, area.x1, area.y1)
    # insert_textbox returns the unused height; a negative value means it did not fit: shrink and retry.
    while size > 5:
        left = page.insert_textbox(rect, text, fontname=font, fontsize=size, lineheight=1.3)
        if left >= 0:
            return rect.y1 - left + 1
        size -= 0.5
    return y
