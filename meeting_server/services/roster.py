"""Importing the delegate list from CSV or XLSX: read the file, preview it, then save it in one transaction."""

from __future__ import annotations

import csv
import io
import zipfile
from dataclasses import dataclass

from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.roster import RosterPreview, fold
from meeting_server.services import audit, unit
from meeting_server.services.tokens import new_token
from meeting_server.services.unit import Done
from meeting_server.store.tables import Meeting, Participant


class ImportRefused(DomainError):
    """The file cannot be read as a delegate list."""

    code = "roster.unreadable"


def read_table(data: bytes, filename: str, max_bytes: int) -> list[list[str]]:
    """The file's cells as text, by its content: XLSX (a ZIP) or CSV in UTF-8 with or without BOM."""
    if len(data) > max_bytes:
        raise ImportRefused(
            "Tệp quá lớn (%(size_mb)d MB). Danh sách đại biểu chỉ vài chục kB; giới hạn là %(limit_mb)d MB.",
            params={"size_mb": len(data) // 1024 // 1024, "limit_mb": max_bytes // 1024 // 1024}
        )
    if not data.strip():
        raise ImportRefused("Tệp rỗng.")
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise ImportRefused("Tệp không đọc được dạng văn bản Unicode.") from exc
    else:
        if b"\x00" in data[:4096]:
            raise ImportRefused("Tệp không phải CSV hay Excel (.xlsx): có vẻ là một tệp nhị phân bị đổi tên.")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportRefused(
                "Tệp CSV không ở mã UTF-8. Trong Excel hãy chọn Lưu thành → «CSV UTF-8 (Comma delimited)», "
                "hoặc tải lên tệp .xlsx."
            ) from exc
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    return [row for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _read_xlsx(data: bytes) -> list[list[str]]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ImportRefused("Tệp Excel bị hỏng hoặc không phải định dạng .xlsx.") from exc
    try:
        ws = wb.worksheets[0]
        table: list[list[str]] = []
        for i, row in enumerate(ws.iter_rows(values_only=True)):
            if i > 1000:
                break
            table.append(["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
                          for v in row])
        return table
    finally:
        wb.close()


@dataclass(frozen=True)
class ImportPlan:
    """What saving the preview would do to the meeting's list."""

    added: int
    kept: int
    removed: int


def plan(m: Meeting, preview: RosterPreview) -> ImportPlan:
    """Count people added, kept (their cards stay valid) and removed."""
    existing = {(fold(p.full_name), fold(p.title)) for p in m.participants if p.role != "clerk"}
    incoming = {(fold(r.full_name), fold(r.title)) for r in preview.rows}
    return ImportPlan(len(incoming - existing), len(incoming & existing), len(existing - incoming))


def apply(s: Session, m: Meeting, preview: RosterPreview, actor: str) -> Done[ImportPlan]:
    """Save a preview without problems: matched people keep their card, new ones get one, others are removed.
    Every screen gets a new `state` and attendance."""
    if not preview.ok:
        raise ImportRefused("Danh sách còn lỗi; chưa nhập gì.")
    with unit.of_work(s):
        result = _apply(s, m, preview, actor)
    return Done(result, unit.change(m, state=True, attendance=True))


def _apply(s: Session, m: Meeting, preview: RosterPreview, actor: str) -> ImportPlan:
    result = plan(m, preview)
    by_key = {(fold(p.full_name), fold(p.title)): p for p in m.participants if p.role != "clerk"}
    incoming_keys = set()
    for r in preview.rows:
        key = (fold(r.full_name), fold(r.title))
        incoming_keys.add(key)
        p = by_key.get(key)
        if p is None:
            p = Participant(meeting_id=m.id, token=new_token(), full_name=r.full_name, title=r.title)
            m.participants.append(p)
        p.position, p.full_name, p.title, p.group_name, p.role = (
            r.position, r.full_name, r.title, r.group_name, r.role.value)
    leaving = [p for key, p in by_key.items() if key not in incoming_keys]
    on_record = [p.full_name for p in leaving if has_record(s, p)]
    if on_record:
        # Removing them would delete their speeches, ballots and attendance from the record the minutes use.
        raise ImportRefused(
            "Không thể bỏ khỏi danh sách những người đã có trong hồ sơ kỳ họp (điểm danh, phát biểu, biểu quyết): "
            "%(names)s. Hãy giữ họ trong tệp và đánh dấu vắng mặt nếu cần.", params={"names": ", ".join(on_record)})
    for p in leaving:
        m.participants.remove(p)
    unit.bump(m)
    s.flush()
    audit.record(s, m.id, "roster.imported", actor,
                 {"added": result.added, "kept": result.kept, "removed": result.removed,
                  "rows": len(preview.rows)})
    return result


def has_record(s: Session, p: Participant) -> bool:
    """Whether a person already appears in the meeting's record (attendance marked, spoke, voted, took notes)."""
    from sqlalchemy import exists, select

    from meeting_server.store.tables import PageNote, PollVoter, SpeakRequest

    if p.attendance is not None and p.attendance.status != "unknown":
        return True
    return bool(s.scalar(select(
        exists().where(SpeakRequest.participant_id == p.id)
        | exists().where(PollVoter.participant_id == p.id)
        | exists().where(PageNote.participant_id == p.id))))
