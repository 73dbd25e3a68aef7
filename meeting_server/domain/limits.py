"""Every text a person can store, with its limit and its cleaning: the one table the forms, the JSON API, the roster
import and the Socket.IO events all use (through the services), so no path stores more than the others allow.

A stored text ends up in every screen's `state`, in the audit log and in the signed minutes: without a limit one
2,000,000-character place name made every `state` 8 MB and every phone's connect fail. Unicode direction controls
(U+202A-202E, U+2066-2069, U+200E/200F, U+061C) are invisible and make a name print reversed in the minutes: in
names (people, their titles and groups, candidates) they are refused, naming the field, so the clerk fixes the
file; in free text (a place, a reason, a note, the minutes' paragraphs) they are removed.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any

from meeting_server.domain.errors import N_, DomainError, Msgid

__all__ = [
    "AGENDA_DESCRIPTION",
    "AGENDA_TITLE",
    "ATTENDANCE_REASON",
    "BIDI_CONTROLS",
    "COMMENT_ANSWER",
    "COMMENT_QUOTE",
    "COMMENT_TEXT",
    "DOCUMENT_FILE_NAME",
    "DOCUMENT_TITLE",
    "FIELDS",
    "LINE",
    "MEETING_LOCALITY",
    "MEETING_PLACE",
    "MEETING_SESSION_TITLE",
    "MEETING_TERM",
    "MINUTES_DOCUMENT_NUMBER",
    "MINUTES_RECIPIENT",
    "MINUTES_TEXT",
    "NAME",
    "PAGE_NOTE",
    "PERSON_GROUP",
    "PERSON_NAME",
    "PERSON_TITLE",
    "POLL_CANCEL_REASON",
    "POLL_PERSON_KEY",
    "POLL_PERSON_NAME",
    "POLL_TITLE",
    "QUESTION_ADDRESSEE_NAME",
    "QUESTION_ADDRESSEE_TITLE",
    "QUESTION_TEXT",
    "QUESTION_TOPIC",
    "RESOLUTION_NUMBER",
    "RESOLUTION_TITLE",
    "ROLE_WORD",
    "TEXT",
    "TextField",
    "clean",
    "fit",
    "strip_bidi",
]

#: Kinds of text: a name (one line; direction controls refused), a line (one line; controls removed), a text
#: (several lines, kept as typed; controls removed).
NAME, LINE, TEXT = "name", "line", "text"

#: The invisible characters that change the direction of what follows (embeddings, overrides, isolates, marks).
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BIDI_RE = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")


@dataclass(frozen=True)
class TextField:
    """A text a person sets: its label (a Vietnamese msgid, shown in the refusal), its limit in characters (after
    cleaning) and its kind."""

    label: Msgid
    max_chars: int
    kind: str = LINE


MEETING_LOCALITY = TextField(N_("Tên xã/phường"), 120)
MEETING_SESSION_TITLE = TextField(N_("Tên kỳ họp"), 200)
MEETING_TERM = TextField(N_("Khóa, nhiệm kỳ"), 120)
MEETING_PLACE = TextField(N_("Địa điểm"), 200)
AGENDA_TITLE = TextField(N_("Tên nội dung"), 300)
AGENDA_DESCRIPTION = TextField(N_("Mô tả nội dung"), 5_000, TEXT)
PERSON_NAME = TextField(N_("Họ và tên"), 120, NAME)
PERSON_TITLE = TextField(N_("Chức vụ"), 200, NAME)
PERSON_GROUP = TextField(N_("Tổ đại biểu"), 120, NAME)
#: A role word or a position number as the roster file has it: only echoed in a problem, never stored.
ROLE_WORD = TextField(N_("Vai trò"), 40)
ATTENDANCE_REASON = TextField(N_("Lý do vắng mặt"), 300)
POLL_TITLE = TextField(N_("Tên nội dung biểu quyết"), 300)
POLL_PERSON_NAME = TextField(N_("Tên người trong danh sách bầu hoặc lấy phiếu"), 120, NAME)
POLL_PERSON_KEY = TextField(N_("Mã người"), 40)
POLL_CANCEL_REASON = TextField(N_("Lý do hủy biểu quyết"), 500)
DOCUMENT_TITLE = TextField(N_("Tên tài liệu"), 300)
DOCUMENT_FILE_NAME = TextField(N_("Tên tệp"), 255)
PAGE_NOTE = TextField(N_("Ghi chú"), 10_000, TEXT)
COMMENT_TEXT = TextField(N_("Nội dung góp ý"), 5_000, TEXT)
COMMENT_QUOTE = TextField(N_("Đoạn văn được đánh dấu"), 2_000, TEXT)
COMMENT_ANSWER = TextField(N_("Nội dung trả lời"), 5_000, TEXT)
MINUTES_TEXT = TextField(N_("Nội dung biên bản"), 20_000, TEXT)
MINUTES_DOCUMENT_NUMBER = TextField(N_("Số văn bản"), 40)
MINUTES_RECIPIENT = TextField(N_("Nơi nhận"), 200)
QUESTION_ADDRESSEE_NAME = TextField(N_("Người được chất vấn"), 120, NAME)
QUESTION_ADDRESSEE_TITLE = TextField(N_("Chức vụ, cơ quan được chất vấn"), 200, NAME)
QUESTION_TOPIC = TextField(N_("Vấn đề chất vấn"), 200)
QUESTION_TEXT = TextField(N_("Nội dung chất vấn"), 2_000, TEXT)
RESOLUTION_NUMBER = TextField(N_("Số nghị quyết"), 40)
RESOLUTION_TITLE = TextField(N_("Trích yếu nghị quyết"), 300)

#: Every field, for the documentation and the tests that walk them.
FIELDS: dict[str, TextField] = {
    name: value for name, value in globals().items() if isinstance(value, TextField)
}


def strip_bidi(text: str) -> str:
    """The text without direction controls."""
    return _BIDI_RE.sub("", text)


def _controls_out(text: str, keep_newlines: bool) -> str:
    """Other control characters (NUL, escape, …) removed; tabs become spaces; line ends kept in a text."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return "".join(c for c in text if (c == "\n" and keep_newlines) or unicodedata.category(c) != "Cc")


def clean(field: TextField, value: Any) -> str:
    """The value as it will be stored: a string (anything else is refused), direction controls refused (names) or
    removed, other control characters removed, spaces collapsed (one-line kinds), within the field's limit
    (a longer one is refused with the field's name and limit, never cut silently)."""
    if not isinstance(value, str):
        raise DomainError("«%(field)s» phải là chữ.", "payload.invalid", params={"field": field.label})
    if field.kind == NAME and _BIDI_RE.search(value):
        raise DomainError("«%(field)s» có ký tự điều khiển hướng chữ ẩn (làm chữ bị in ngược); hãy gõ lại.",
                          "text.bidi", params={"field": field.label})
    text = _controls_out(strip_bidi(value), keep_newlines=field.kind == TEXT)
    if field.kind != TEXT:
        text = " ".join(text.split())
    if len(text) > field.max_chars:
        raise DomainError("«%(field)s» dài quá %(limit)d ký tự (đang có %(length)d).", "text.too_long",
                          params={"field": field.label, "limit": field.max_chars, "length": len(text)})
    return text


def fit(field: TextField, value: str) -> str:
    """A text the server derives (a file's name as a document's title), cleaned like `clean` and cut to the
    field's limit instead of refused: nobody typed it."""
    text = _controls_out(strip_bidi(value), keep_newlines=field.kind == TEXT)
    if field.kind != TEXT:
        text = " ".join(text.split())
    return text[: field.max_chars]
