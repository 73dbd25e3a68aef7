"""Reading a delegate list as a clerk exports it from Excel: column names, roles and per-row problems.

Pure: rows of strings in, a preview with per-row errors out. Nothing is saved unless the preview has no error.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from meeting_server.domain import limits
from meeting_server.domain.errors import N_, DomainError
from meeting_server.domain.permissions import Role

#: Accepted headers (folded: lower case, no diacritics) for each field.
HEADERS: dict[str, tuple[str, ...]] = {
    "position": ("stt", "so thu tu", "tt", "no", "#"),
    "full_name": ("ho va ten", "ho ten", "ten", "full name", "name"),
    "title": ("chuc vu", "chuc danh", "title", "position"),
    "group_name": ("to dai bieu", "to", "don vi", "group"),
    "role": ("vai tro", "role"),
}
REQUIRED = ("full_name",)

#: Role words as clerks write them.
ROLE_WORDS: dict[str, Role] = {
    "chu toa": Role.CHAIR,
    "chair": Role.CHAIR,
    "thu ky": Role.SECRETARY,
    "thu ky ky hop": Role.SECRETARY,
    "secretary": Role.SECRETARY,
    "dai bieu": Role.DELEGATE,
    "delegate": Role.DELEGATE,
    "": Role.DELEGATE,
    "khach moi": Role.GUEST,
    "khach": Role.GUEST,
    "dai bieu khach moi": Role.GUEST,
    "guest": Role.GUEST,
    "co quan soan thao": Role.DRAFTER,
    "dai dien co quan soan thao": Role.DRAFTER,
    "drafter": Role.DRAFTER,
}

MAX_ROWS = 500


def fold(text: str) -> str:
    """Lower case without diacritics (đ → d), spaces collapsed: how headers and role words are matched."""
    text = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    return " ".join(text.lower().split())


@dataclass(frozen=True)
class RosterRow:
    """One person of the list, as it will be saved."""

    line: int
    position: int
    full_name: str
    title: str
    group_name: str
    role: Role


@dataclass(frozen=True)
class RowProblem:
    """What is wrong on one line of the file (line 1 is the header): a Vietnamese msgid and its named params,
    translated for the clerk by the web layer (meeting_server.i18n.translate)."""

    line: int
    template: str
    params: Mapping[str, object] = field(default_factory=dict)

    @property
    def message(self) -> str:
        """The problem in Vietnamese, filled."""
        return self.template % dict(self.params) if self.params else self.template


@dataclass(frozen=True)
class RosterPreview:
    """What the clerk sees before confirming: the rows and every problem; importable only without problems."""

    rows: tuple[RosterRow, ...]
    problems: tuple[RowProblem, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.rows)

    def count(self, *roles: Role) -> int:
        return sum(1 for r in self.rows if r.role in roles)


#: How many rows above the header a sheet may have (the council's name, the list's title, a date, blank rows).
MAX_TITLE_ROWS = 10


def _columns(row: Sequence[str]) -> dict[str, int]:
    header = [fold(str(h)) for h in row]
    columns: dict[str, int] = {}
    for name, accepted in HEADERS.items():
        for i, h in enumerate(header):
            if h in accepted and name not in columns:
                columns[name] = i
    return columns


def find_header(table: Sequence[Sequence[str]]) -> int | None:
    """The index of the header row: the first of the top rows that names the «Họ và tên» column. Offices put the
    council's name and the list's title above it ("DANH SÁCH ĐẠI BIỂU HĐND XÃ …"), merged across the columns."""
    for i, row in enumerate(table[:MAX_TITLE_ROWS + 1]):
        if all(n in _columns(row) for n in REQUIRED):
            return i
    return None


def parse_rows(table: Sequence[Sequence[str]]) -> RosterPreview:
    """Check a table whose header is the first row naming the columns (title rows above it are skipped); every
    problem names its line (the line in the file: 1 is the file's first row)."""
    if not table:
        return RosterPreview((), (RowProblem(1, "Tệp không có dữ liệu."),))
    first = find_header(table)
    if first is None:
        return RosterPreview(
            (),
            (
                RowProblem(
                    1,
                    "Không tìm thấy dòng tiêu đề có cột «Họ và tên» trong %(n)d dòng đầu của tệp. Dòng tiêu đề phải "
                    "ghi tên các cột, ví dụ: STT, Họ và tên, Chức vụ, Tổ đại biểu, Vai trò.",
                    {"n": MAX_TITLE_ROWS + 1},
                ),
            ),
        )
    columns = _columns(table[first])
    table = table[first:]
    if len(table) - 1 > MAX_ROWS:
        return RosterPreview((), (RowProblem(1, "Danh sách có quá %(max)d dòng, không phải danh sách đại biểu.",
                                                {"max": MAX_ROWS}),))

    rows: list[RosterRow] = []
    problems: list[RowProblem] = []
    seen: dict[tuple[str, str], int] = {}
    for idx, raw in enumerate(table[1:], start=first + 2):
        cells = [("" if c is None else str(c)).strip() for c in raw]
        if not any(cells):
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            i = columns.get(name)
            return cells[i] if i is not None and i < len(cells) else ""

        if any(unicodedata.category(c) == "Cc" for c in cell("full_name")):
            problems.append(RowProblem(idx, "Họ và tên có ký tự không đọc được; tệp có thể không phải văn bản."))
            continue
        try:
            name = limits.clean(limits.PERSON_NAME, cell("full_name"))
            title = limits.clean(limits.PERSON_TITLE, cell("title"))
            group_name = limits.clean(limits.PERSON_GROUP, cell("group_name"))
        except DomainError as err:  # too long, or direction controls that would print the name reversed
            problems.append(RowProblem(idx, err.template, err.params))
            continue
        if not name:
            problems.append(RowProblem(idx, "Thiếu họ và tên."))
            continue
        role_word = fold(cell("role"))
        role = ROLE_WORDS.get(role_word)
        if role is None:
            problems.append(
                RowProblem(
                    idx,
                    "Vai trò «%(role)s» không hợp lệ; dùng: Chủ tọa, Thư ký, Đại biểu hoặc Khách mời.",
                    {"role": limits.fit(limits.ROLE_WORD, cell("role"))},
                )
            )
            continue
        pos_text = cell("position")
        try:
            position = int(float(pos_text)) if pos_text else len(rows) + 1
        except ValueError:
            problems.append(RowProblem(idx, "STT «%(position)s» không phải là số.",
                                       {"position": limits.fit(limits.ROLE_WORD, pos_text)}))
            continue
        key = (fold(name), fold(title))
        if key in seen:
            problems.append(RowProblem(idx, "Trùng với dòng %(line)d: %(name)s (%(title)s).",
                                       {"line": seen[key], "name": name, "title": title or N_("không có chức vụ")}))
            continue
        seen[key] = idx
        rows.append(RosterRow(idx, position, name, title, group_name, role))
    if not rows and not problems:
        problems.append(RowProblem(first + 2, "Danh sách không có người nào."))
    return RosterPreview(tuple(rows), tuple(problems))
