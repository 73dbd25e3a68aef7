"""A page's text for reading on a phone: headings and paragraphs, from the PDF's text or from OCR of a scan.

Reading mode (static/js/documents.js) shows these blocks reflowed in the phone's own large type, where an A4 page
image would show 7-8 px letters. MuPDF's blocks are the paragraphs; inside one, the PDF's line wraps are joined
(a word hyphenated at the line end is put back together) and a list item ("- …", "a) …", "2. …") after a line
that ended a sentence starts a paragraph of its own. Runs in a render worker only (PyMuPDF, and the tesseract
program for `recognize`).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import unicodedata
from pathlib import Path
from typing import Any

import pymupdf

__all__ = ["OCR_LANGUAGE", "blocks_to_text", "needs_ocr", "page_blocks", "recognize", "tessdata", "tsv_blocks"]

#: Vietnamese (Debian's tesseract-ocr-vie); English words in council documents are rare and mostly acronyms.
OCR_LANGUAGE = "vie"
# 300 dpi is what tesseract is trained for; a phone photo placed on an A4 page is about that already.
_OCR_DPI = 300
_TESSDATA_DIRS = ("/usr/share/tesseract-ocr/5/tessdata",)  # Debian 12's tesseract-ocr-vie

_LIST_ITEM = re.compile(r"^(?:[-–—+•*▪◦]\s|\(?[0-9]{1,2}(?:\.[0-9]{1,2})*[.)]\s|\(?[a-zđ][.)]\s|[IVXLC]{1,6}\.\s)")
_SENTENCE_END = re.compile(r"[.;:!?…]['\"”’)]*$")
_LETTER_HYPHEN = re.compile(r"(?<=\w)[-\u00ad]$")


def tessdata() -> str | None:
    """The tessdata directory holding the Vietnamese model, or None when tesseract-ocr-vie is not installed."""
    for folder in filter(None, (os.environ.get("TESSDATA_PREFIX"), *_TESSDATA_DIRS)):
        if (Path(folder) / f"{OCR_LANGUAGE}.traineddata").exists():
            return folder
    return None


def needs_ocr(page: pymupdf.Page, text: str) -> bool:
    """A page with no text layer but with an image on it: a scan or a photo, whose words only OCR can read."""
    return not text.strip() and bool(page.get_images(full=False))


def page_blocks(page: pymupdf.Page, textpage: Any = None) -> list[dict[str, str]]:
    """The page's text as reading blocks, in reading order: [{"k": "h" | "p", "t": text}, …] (NFC)."""
    data = page.get_text("dict", textpage=textpage, sort=True)
    raw: list[tuple[list[str], float, bool]] = []  # (lines, largest size, all bold)
    sizes: list[float] = []
    for block in data.get("blocks", []):
        if block.get("type") != 0:
            continue
        lines: list[str] = []
        big, bold = 0.0, True
        for line in block.get("lines", []):
            spans = [s for s in line.get("spans", []) if s.get("text", "").strip()]
            text = "".join(s.get("text", "") for s in line.get("spans", []))
            text = " ".join(unicodedata.normalize("NFC", text.replace("\x00", "")).split())
            if not text:
                continue
            lines.append(text)
            for s in spans:
                size = float(s.get("size", 0.0))
                big = max(big, size)
                bold = bold and bool(int(s.get("flags", 0)) & 16)
                sizes.extend([size] * len(s.get("text", "")))
        if lines:
            raw.append((lines, big, bold))
    body = statistics.median(sizes) if sizes else 0.0
    out: list[dict[str, str]] = []
    for lines, big, bold in raw:
        for paragraph in _paragraphs(lines):
            heading = _is_heading(paragraph, big, bold, body)
            out.append({"k": "h" if heading else "p", "t": paragraph})
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    """Join a block's lines into paragraphs: wraps become spaces, a hyphenated word is rejoined, a list item after
    a finished sentence starts anew."""
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not current:
            current = line
        elif _LIST_ITEM.match(line) and _SENTENCE_END.search(current):
            paragraphs.append(current)
            current = line
        elif _LETTER_HYPHEN.search(current) and line[:1].islower():
            current = current[:-1] + line  # "thực hi-" + "ện" → "thực hiện"; "57 -" (a spaced dash) stays
        else:
            current = f"{current} {line}"
    if current:
        paragraphs.append(current)
    return paragraphs


def _is_heading(text: str, size: float, bold: bool, body: float) -> bool:
    if len(text) > 160 or not any(c.isalpha() for c in text):
        return False
    shouting = _shouting(text)
    larger = body > 0 and size >= body * 1.15
    return shouting or larger or (bold and not _SENTENCE_END.search(text.rstrip(".")) and len(text) <= 120)


def blocks_to_text(blocks: list[dict[str, str]]) -> str:
    """The blocks as plain text, one paragraph a line (what search indexes for a recognised page)."""
    return "\n".join(b["t"] for b in blocks)


def recognize(pdf_path: Path | str, page_index: int, *, language: str = OCR_LANGUAGE,
              timeout_s: float = 60.0) -> list[dict[str, str]]:
    """OCR one page with the `tesseract` program into reading blocks.

    The page is drawn in grey at 300 dpi and piped to tesseract, whose TSV output keeps its blocks, paragraphs and
    lines (MuPDF's own OCR device drops the space after a word ending in a stacked diacritic: "Kếhoạch"). One
    thread (OMP_THREAD_LIMIT=1): on two cores a second one made a page several times slower, not faster, and the
    web server needs the other core. Raises RuntimeError when tesseract or its Vietnamese model is missing, and
    subprocess.TimeoutExpired (tesseract killed) after `timeout_s`.
    """
    folder = tessdata()
    program = shutil.which("tesseract")
    if folder is None or program is None:
        raise RuntimeError(f"tesseract with its {language!r} model is not installed (Debian: tesseract-ocr-vie)")
    with pymupdf.open(pdf_path, filetype="pdf") as doc:
        page = doc.load_page(page_index)
        png = page.get_pixmap(dpi=_OCR_DPI, colorspace=pymupdf.csGRAY).tobytes("png")
    env = {**os.environ, "OMP_THREAD_LIMIT": "1", "TESSDATA_PREFIX": folder}
    done = subprocess.run([program, "stdin", "stdout", "-l", language, "--psm", "3", "tsv"], input=png,
                          capture_output=True, timeout=timeout_s, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"tesseract failed: {done.stderr.decode(errors='replace')[:300]}")
    return tsv_blocks(done.stdout.decode("utf-8", errors="replace"))


def tsv_blocks(tsv: str) -> list[dict[str, str]]:
    """Reading blocks from tesseract's TSV: its paragraphs, split where a line stops well short of the paragraph's
    right edge (a line break the author made: "KẾ HOẠCH" above the text), lines joined as a PDF's are, headings by
    case and by letter height."""
    # (block, paragraph) → line number → [left, right, words, heights]
    lines: dict[tuple[int, int], dict[int, list[Any]]] = {}
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5" or not cols[11].strip():
            continue
        left, width, height = int(cols[6]), int(cols[8]), int(cols[9])
        line = lines.setdefault((int(cols[2]), int(cols[3])), {}).setdefault(int(cols[4]), [left, left, [], []])
        line[0] = min(line[0], left)
        line[1] = max(line[1], left + width)
        line[2].append(cols[11].strip())
        line[3].append(height)
    all_heights = [h for par in lines.values() for line in par.values() for h in line[3]]
    body = float(statistics.median(all_heights)) if all_heights else 0.0
    out: list[dict[str, str]] = []
    for key in sorted(lines):
        par = [lines[key][n] for n in sorted(lines[key])]
        start = min(line[0] for line in par)
        right = max(line[1] for line in par)
        run: list[str] = []
        run_heights: list[int] = []
        for index, (_left, end, words, heights) in enumerate(par):
            text = unicodedata.normalize("NFC", " ".join(words))
            shouting = _shouting(text)
            if shouting and run:  # a heading line inside tesseract's paragraph
                out.extend(_typed(run, run_heights, body))
                run, run_heights = [], []
            run.append(text)
            run_heights.extend(heights)
            short = index < len(par) - 1 and end - start < 0.7 * (right - start)
            if shouting or short:
                out.extend(_typed(run, run_heights, body))
                run, run_heights = [], []
        out.extend(_typed(run, run_heights, body))
    return out


def _typed(lines: list[str], heights: list[int], body: float) -> list[dict[str, str]]:
    if not lines:
        return []
    size = float(statistics.median(heights)) if heights else 0.0
    return [{"k": "h" if _is_heading(p, size, False, body) else "p", "t": p} for p in _paragraphs(lines)]


def _shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= 3 and all(c.isupper() for c in letters)
