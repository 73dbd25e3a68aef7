"""Every visible string is translatable and has its English translation; the compiled catalog is current."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "meeting_server" / "translations" / "en" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def _source_msgids() -> set[str]:
    method_map = [("meeting_server/**.py", "python"), ("templates/**.html", "jinja2")]
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
            str(ROOT), method_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2)}):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_every_string_has_an_english_translation() -> None:
    with PO.open("rb") as f:
        catalog = read_po(f)
    translated = {m.id for m in catalog if m.id and m.string and "fuzzy" not in m.flags}
    missing = sorted(_source_msgids() - translated)
    assert missing == [], f"run scripts/i18n and translate: {missing[:20]}"


def test_compiled_catalog_matches_the_po_file() -> None:
    with PO.open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id and m.string}
    mo = {m.id: m.string for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert po == mo, "run scripts/i18n to recompile the catalog"
