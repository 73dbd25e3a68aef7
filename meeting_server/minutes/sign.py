"""Sign the minutes: PAdES signatures (ETSI.CAdES.detached) appended as incremental updates.

Each signature fills one of the empty fields that `render` placed in the room for it, with a visible stamp in
Liberation Serif (so Vietnamese renders: "Đã ký số", the signer's name, the date), and appends an incremental
update, so an earlier signature stays valid after a later one (ISO 32000-1, 12.8). Before the first signature
the meeting's record is attached as an embedded JSON file with the audit chain's head hash, so the signatures
cover it too.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from io import BytesIO
from pathlib import Path
from typing import Any

from pyhanko.pdf_utils import embed, generic
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator, GlyphAccumulatorFactory
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle

from meeting_server.domain.errors import DomainError
from meeting_server.minutes.render import DEFAULT_FONT_DIR

__all__ = [
    "RECORD_FILE_NAME",
    "SignError",
    "attach_record",
    "audit_head_from_description",
    "record_description",
    "sign_minutes",
]

RECORD_FILE_NAME = "ho-so-ky-hop.json"
_HEAD_PREFIX = "audit-head: "
_HEAD_RE = re.compile(re.escape(_HEAD_PREFIX) + r"([0-9a-f]{64})")
VIETNAM = timezone(timedelta(hours=7), "GMT+7")  # no daylight saving in Vietnam
STAMP_TEXT = "Đã ký số\n%(signer_name)s\nNgày ký: %(signed_on)s"


# fontTools reports every table it leaves out of the stamp's font subset; nothing to act on.
logging.getLogger("fontTools.subset").setLevel(logging.ERROR)


class SignError(DomainError):
    """The PDF cannot be signed as asked."""

    code = "sign.failed"


def attach_record(pdf_bytes: bytes, record_json: bytes, audit_head: str) -> bytes:
    """Embed the meeting record JSON, with the audit head hash in its description; refused once signed."""
    if not re.fullmatch(r"[0-9a-f]{64}", audit_head):
        raise SignError("Mã băm cuối của nhật ký không hợp lệ.", "sign.bad_audit_head")
    writer = IncrementalPdfFileWriter(BytesIO(pdf_bytes), strict=False)
    if writer.prev.embedded_signatures:
        raise SignError("Biên bản đã được ký: không thể đính kèm hồ sơ sau chữ ký đầu tiên.", "sign.already_signed")
    now = datetime.now(VIETNAM)
    data = embed.EmbeddedFileObject.from_file_data(
        writer,
        data=record_json,
        mime_type="application/json",
        params=embed.EmbeddedFileParams(creation_date=now, modification_date=now),
    )
    spec = embed.FileSpec(
        file_spec_string=RECORD_FILE_NAME,
        file_name=RECORD_FILE_NAME,
        embedded_data=data,
        description=record_description(audit_head),
        af_relationship=generic.NameObject("/Source"),
    )
    embed.embed_file(writer, spec)
    out = BytesIO()
    writer.write(out)
    return out.getvalue()


def record_description(audit_head: str) -> str:
    """The description of the attached record, which carries the audit head hash."""
    return f"Hồ sơ dữ liệu kỳ họp (JSON); {_HEAD_PREFIX}{audit_head}"


def audit_head_from_description(description: str | None) -> str | None:
    """The audit head hash written by `attach_record`, read back from an embedded file's description."""
    m = _HEAD_RE.search(description or "")
    return m.group(1) if m else None


def sign_minutes(
    pdf_bytes: bytes,
    signer: signers.Signer,
    field_name: str,
    *,
    reason: str,
    location: str,
    signer_name: str,
    embed: dict[str, Any] | None = None,
    font_path: Path | str | None = None,
    signed_at: datetime | None = None,
) -> bytes:
    """Sign the empty field `field_name` (PAdES B-B) with a visible stamp; return the PDF with the update appended.

    `embed`, given with the first signature, is ``{"record_json": bytes, "audit_head": str}`` and is attached
    by `attach_record` before signing. `signed_at` only sets the date shown in the stamp (defaults to now).
    """
    if embed is not None:
        pdf_bytes = attach_record(pdf_bytes, embed["record_json"], embed["audit_head"])
    writer = IncrementalPdfFileWriter(BytesIO(pdf_bytes), strict=False)
    _check_field(writer.prev, field_name)
    font = Path(font_path) if font_path else DEFAULT_FONT_DIR / "LiberationSerif-Regular.ttf"
    style = TextStampStyle(
        stamp_text=STAMP_TEXT,
        text_box_style=TextBoxStyle(font=_ThousandUnitsFontFactory(str(font), font_size=11), font_size=11),
        border_width=1,
        border_color=(0.1, 0.2, 0.6),
    )
    meta = signers.PdfSignatureMetadata(
        field_name=field_name,
        reason=reason,
        location=location,
        name=signer_name,
        subfilter=fields.SigSeedSubFilter.PADES,
        md_algorithm="sha256",
    )
    when = (signed_at or datetime.now(VIETNAM)).astimezone(VIETNAM)
    pdf_signer = signers.PdfSigner(meta, signer=signer, stamp_style=style)
    try:
        out = pdf_signer.sign_pdf(
            writer,
            appearance_text_params={
                "signer_name": signer_name,
                "signed_on": when.strftime("%d/%m/%Y %H:%M (GMT+7)"),
            },
        )
    except Exception as exc:  # pyHanko, a token's driver or the key can fail in many ways: say which
        detail = f"{type(exc).__name__} {exc}".strip()
        raise SignError("Không ký được biên bản: %(detail)s", "sign.failed", params={"detail": detail}) from exc
    return out.getvalue()


def _check_field(reader: PdfFileReader, field_name: str) -> None:
    """The field must exist and be empty: signing never adds a field nor overwrites a signature."""
    for name, value, _ref in fields.enumerate_sig_fields(reader, filled_status=None):
        if name == field_name:
            if value is not None:
                raise SignError("Ô chữ ký %(field)s đã được ký.", "sign.field_filled", params={"field": field_name})
            return
    raise SignError("Biên bản không có ô chữ ký %(field)s.", "sign.no_field", params={"field": field_name})


class _ThousandUnitsAccumulator(GlyphAccumulator):
    """pyHanko 0.38 writes glyph widths and TJ offsets in font units, right only for 1000-unit fonts.

    Liberation Serif has 2048 units per em, so the stamp's letters came out spread apart; shaping at a
    scale of 1000 and scaling the widths makes every number the 1/1000 em that PDF expects (ISO 32000-1, 9.7.4.3).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._to_thousand = 1000 / self.units_per_em
        self.units_per_em = 1000
        self.hb_font.scale = (1000, 1000)

    def _get_cid_and_width(self, glyph_id: int) -> tuple[int, int]:
        cached = self._glyphs.get(glyph_id)
        if cached is not None:
            return cached
        cid, width = super()._get_cid_and_width(glyph_id)
        self._glyphs[glyph_id] = result = (cid, round(width * self._to_thousand))
        return result


@dataclass(frozen=True)
class _ThousandUnitsFontFactory(GlyphAccumulatorFactory):
    """Font factory for the stamp text that makes `_ThousandUnitsAccumulator`s."""

    def create_font_engine(self, writer: Any, obj_stream: Any = None) -> GlyphAccumulator:
        if obj_stream is None and writer.stream_xrefs and self.create_objstream_if_needed:
            obj_stream = writer.prepare_object_stream()
        with open(self.font_file, "rb") as fh:
            data = BytesIO(fh.read())
        return _ThousandUnitsAccumulator(
            writer=writer,
            font_handle=data,
            font_size=self.font_size,
            ot_script_tag=self.ot_script_tag,
            ot_language_tag=self.ot_language_tag,
            writing_direction=self.writing_direction,
            bcp47_lang_code=self.bcp47_lang_code,
            obj_stream=obj_stream,
        )
