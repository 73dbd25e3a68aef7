"""QR codes for join cards, the room link and the terminal banner (the only user of the qrcode package)."""

from __future__ import annotations

import io

import qrcode
import qrcode.constants
from qrcode.image.svg import SvgPathImage


def _qr(data: str, border: int = 2) -> qrcode.QRCode:
    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=border, box_size=10)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


def png(data: str, box_size: int = 10) -> bytes:
    """A black-on-white PNG."""
    qr = _qr(data)
    qr.box_size = box_size
    buf = io.BytesIO()
    qr.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return buf.getvalue()


def svg(data: str) -> bytes:
    """A scalable SVG, for screens of any size (the projector)."""
    buf = io.BytesIO()
    _qr(data).make_image(image_factory=SvgPathImage).save(buf)
    return buf.getvalue()


def terminal(data: str) -> str:
    """The QR drawn with half-block characters, two modules per character row, for the serve banner."""
    qr = _qr(data, border=1)
    m = qr.get_matrix()
    lines = []
    for y in range(0, len(m), 2):
        top, bottom = m[y], m[y + 1] if y + 1 < len(m) else [False] * len(m[y])
        # Dark modules print as spaces on a light background: phones read inverted terminals poorly.
        chars = {(False, False): "█", (True, False): "▄", (False, True): "▀", (True, True): " "}
        lines.append("".join(chars[(t, b)] for t, b in zip(top, bottom, strict=True)))
    return "\n".join(lines)
