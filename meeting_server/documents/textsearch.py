"""Search Vietnamese document text without diacritics: folding for an SQLite FTS5 index, and snippets.

The store keeps each page's original text and its folded form; FTS5 indexes the folded form, so a
delegate typing "bien ban" on a phone finds "Biên bản". Snippets are cut from the original text.
"""

from __future__ import annotations

import html
import re
import unicodedata

__all__ = ["fold_vietnamese", "snippet", "to_fts5_query", "to_tsquery"]

# Đ/đ are letters of their own in Unicode (no decomposition), so stripping marks leaves them; Ð (U+00D0,
# Icelandic eth) stands in for Đ in text converted from the old TCVN3/VNI fonts.
_EXTRA = str.maketrans({"đ": "d", "Đ": "d", "Ð": "d", "ð": "d"})
_WORD = re.compile(r"\w+")
_SPACES = re.compile(r"\s+")


def fold_vietnamese(text: str) -> str:
    """Lowercase `text` and drop its diacritics, đ included: "ĐẠI BIỂU" → "dai bieu".

    NFKD also splits the ligatures PDFs carry ("ﬁ" → "fi"), so text copied from a PDF still matches.
    """
    decomposed = unicodedata.normalize("NFKD", text.translate(_EXTRA))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).lower()


def to_fts5_query(user_text: str, *, prefix: bool = True, phrase: bool = False) -> str:
    """A safe FTS5 MATCH expression for what a user typed: every word must occur, each as a prefix.

    Quoting each folded word keeps FTS5 operators and punctuation typed by the user from being parsed;
    returns "" when nothing searchable was typed (the caller should then not query). With `phrase`, the words
    must stand side by side in order (the last as a prefix), and "" is returned for fewer than two words.
    """
    terms = _WORD.findall(fold_vietnamese(user_text))
    star = "*" if prefix else ""
    if phrase:
        return f'"{" ".join(terms)}"{star}' if len(terms) >= 2 else ""
    return " ".join(f'"{term}"{star}' for term in terms)


def to_tsquery(user_text: str, *, prefix: bool = True, phrase: bool = False) -> str:
    """PostgreSQL's counterpart of `to_fts5_query`, for `to_tsquery('simple', …)` over the same folded text: every
    word quoted as a lexeme ('bien':* & 'ban':*), or side by side in order with `phrase` ('bien' <-> 'ban':*).

    Only the \\w+ runs of the folded text are kept and each is quoted, so nothing the user typed is parsed as an
    operator; "" when nothing searchable was typed (fewer than two words with `phrase`)."""
    terms = _WORD.findall(fold_vietnamese(user_text))
    star = ":*" if prefix else ""
    if phrase:
        if len(terms) < 2:
            return ""
        return " <-> ".join(f"'{t}'" for t in terms[:-1]) + f" <-> '{terms[-1]}'{star}"
    return " & ".join(f"'{t}'{star}" for t in terms)


def snippet(original_text: str, folded_query: str, *, context: int = 60, max_hits: int = 5) -> str:
    """A short HTML excerpt of `original_text` around the first hit of the query, hits in <mark>…</mark>.

    Matching is on folded text and at word starts, as FTS5 prefix queries match; all other text is
    HTML-escaped. With no hit, the start of the text is returned (escaped, without marks).
    """
    text = unicodedata.normalize("NFC", original_text)
    folded, origin = _fold_with_map(text)
    terms = _WORD.findall(fold_vietnamese(folded_query))
    hits = _find_hits(folded, terms)
    if not hits:
        return _excerpt(text, 0, _word_boundary_right(text, min(len(text), 2 * context)), [])
    first_start, first_end = hits[0]
    # Map the window from folded positions back to the original text, then widen to whole words.
    start = origin[max(0, first_start - context)]
    end_folded = min(len(folded), first_end + context)
    end = origin[end_folded] if end_folded < len(folded) else len(text)
    start = _word_boundary_left(text, start)
    end = _word_boundary_right(text, end)
    marks = []
    for h_start, h_end in hits[:max_hits]:
        o_start = origin[h_start]
        o_end = origin[h_end] if h_end < len(folded) else len(text)
        if o_start >= start and o_end <= end:
            marks.append((o_start, o_end))
    return _excerpt(text, start, end, marks)


def _fold_with_map(text: str) -> tuple[str, list[int]]:
    # origin[i] is the index in `text` of the character that produced folded[i]; runs of white space
    # become one space so a phrase still matches across a line break of the PDF.
    parts: list[str] = []
    origin: list[int] = []
    previous_space = False
    for index, ch in enumerate(text):
        if ch.isspace():
            if previous_space:
                continue
            parts.append(" ")
            origin.append(index)
            previous_space = True
            continue
        previous_space = False
        for folded_ch in fold_vietnamese(ch):
            parts.append(folded_ch)
            origin.append(index)
    return "".join(parts), origin


def _find_hits(folded: str, terms: list[str]) -> list[tuple[int, int]]:
    if not terms:
        return []
    # The whole phrase first; failing that, each word, as FTS5 with implicit AND would have matched.
    phrase = re.compile(r"(?<!\w)" + r"\W+".join(re.escape(t) for t in terms) + r"\w*")
    found = [(m.start(), m.end()) for m in phrase.finditer(folded)]
    if found:
        return found
    alternatives = "|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True))
    any_term = re.compile(r"(?<!\w)(?:" + alternatives + r")\w*")
    return [(m.start(), m.end()) for m in any_term.finditer(folded)]


def _word_boundary_left(text: str, index: int) -> int:
    while index > 0 and not text[index - 1].isspace():
        index -= 1
    return index


def _word_boundary_right(text: str, index: int) -> int:
    while index < len(text) and not text[index].isspace():
        index += 1
    return index


def _excerpt(text: str, start: int, end: int, marks: list[tuple[int, int]]) -> str:
    pieces: list[str] = ["…"] if start > 0 else []
    cursor = start
    for m_start, m_end in marks:
        if m_start < cursor:
            continue
        pieces.append(_escape(text[cursor:m_start]))
        pieces.append(f"<mark>{_escape(text[m_start:m_end])}</mark>")
        cursor = m_end
    pieces.append(_escape(text[cursor:end]))
    if end < len(text):
        pieces.append("…")
    return "".join(pieces).strip()


def _escape(fragment: str) -> str:
    return html.escape(_SPACES.sub(" ", fragment), quote=True)
