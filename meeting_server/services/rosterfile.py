"""Reading a delegate list file (CSV or XLSX) into a table of texts, in a child process with a time and memory limit.

A roster file is the one upload the server parses itself, and XLSX is a ZIP of XML: a 453 kB file with 6 million
shared strings held the event loop for 48 s. So the web process only checks the size and hands the bytes to
`python -m meeting_server.offload` (meeting_server/offload.py), which runs `from_payload` here: the archive's entries
and their uncompressed sizes are checked before any XML is parsed, any DTD (the door to XXE and "billion laughs") is
refused, and only then does openpyxl read the first sheet. A refusal comes back as a message for the clerk; a child
that runs out of time or memory is killed and the clerk is told so. Standard library and openpyxl only: the child
starts in a fraction of a second.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import unicodedata
import zipfile
from typing import Any

from meeting_server.domain.errors import N_, DomainError

__all__ = ["MAX_CELLS_PER_ROW", "MAX_ENTRIES", "MAX_RATIO", "MAX_TABLE_ROWS", "MAX_UNCOMPRESSED", "ImportRefused",
           "check_archive", "decode_text", "from_payload", "parse"]

#: What a roster workbook may hold, unpacked: a real one is a few hundred kB in a dozen entries, compressed ~10:1.
MAX_UNCOMPRESSED = 16 * 1024 * 1024
MAX_ENTRIES = 200
#: The largest compression ratio of an entry over 1 MB (text XML compresses 5-20 times; a bomb hundreds of times).
MAX_RATIO = 100
#: Rows and columns read (the domain refuses more than 500 people; more columns than a roster has are ignored).
MAX_TABLE_ROWS = 1001
MAX_CELLS_PER_ROW = 64
#: Address space of the child (openpyxl reading a 16 MB workbook stays far below).
MEMORY_LIMIT = 1024 * 1024 * 1024


class ImportRefused(DomainError):
    """The file cannot be read as a delegate list."""

    code = "roster.unreadable"


def parse(data: bytes) -> list[list[str]]:
    """The file's cells as text, by its content: XLSX (a ZIP) or CSV (UTF-8, UTF-16, Windows-1258 or -1252)."""
    if data[:4] == b"PK\x03\x04":
        return _read_xlsx(data)
    text = decode_text(data)
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    table: list[list[str]] = []
    for row in csv.reader(io.StringIO(text), delimiter=delimiter):
        if len(table) >= MAX_TABLE_ROWS:
            break
        table.append(row[:MAX_CELLS_PER_ROW])
    return table


#: The code pages Excel's plain «CSV (Comma delimited)» is written in on Vietnamese and Western Windows.
_WINDOWS_CODEPAGES = ("cp1258", "cp1252")


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 that Excel's «Unicode Text» wrote without a byte-order mark: every other byte of ASCII text is 0."""
    head = data[:4096]
    if len(head) < 4:
        return None
    even, odd = head[0::2], head[1::2]
    for zeros, text, encoding in ((odd, even, "utf-16-le"), (even, odd, "utf-16-be")):
        if zeros.count(0) >= len(zeros) * 0.6 and text.count(0) <= len(text) * 0.05:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                return None
    return None


def _stray_marks(text: str) -> int:
    """Combining marks left after NFC: a code page that decodes Vietnamese bytes into letters leaves none."""
    return sum(1 for c in unicodedata.normalize("NFC", text) if unicodedata.category(c) == "Mn")


def decode_text(data: bytes) -> str:
    """A CSV file's text, NFC: UTF-8 (with or without BOM), UTF-16 (with a BOM, or the BOM-less kind Excel writes as
    «Unicode Text»), else the Windows code page Excel uses on a Vietnamese Windows (1258, which writes tone marks as
    combining characters) or on a Western one (1252); the one that leaves no stray mark wins."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        try:
            return unicodedata.normalize("NFC", data.decode("utf-16"))
        except UnicodeDecodeError as exc:
            raise ImportRefused("Tệp không đọc được dạng văn bản Unicode.") from exc
    if b"\x00" in data[:4096]:
        text16 = _utf16_without_bom(data)
        if text16 is None:
            raise ImportRefused("Tệp không phải CSV hay Excel (.xlsx): có vẻ là một tệp nhị phân bị đổi tên.")
        return unicodedata.normalize("NFC", text16)
    try:
        return unicodedata.normalize("NFC", data.decode("utf-8-sig"))
    except UnicodeDecodeError:
        pass
    best: tuple[int, str] | None = None
    for codepage in _WINDOWS_CODEPAGES:
        try:
            text = data.decode(codepage)
        except UnicodeDecodeError:
            continue
        score = _stray_marks(text)
        if best is None or score < best[0]:
            best = (score, unicodedata.normalize("NFC", text))
    if best is None or best[0] > 0:
        raise ImportRefused(
            "Không nhận ra bảng mã của tệp CSV (đã thử UTF-8, UTF-16, Windows-1258 và Windows-1252). Trong Excel hãy "
            "chọn Lưu thành → «CSV UTF-8 (Comma delimited)», hoặc tải lên tệp .xlsx.")
    return best[1]


def check_archive(zf: zipfile.ZipFile) -> None:
    """Refuse a workbook whose entries are too many, unpack too large or too compressed, or whose XML declares a
    DTD; each entry is read (bounded by its declared size, which zipfile holds it to) before openpyxl sees it."""
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise ImportRefused("Tệp Excel có quá nhiều thành phần (%(n)d); đây không phải một danh sách đại biểu.",
                            params={"n": len(infos)})
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED:
        raise ImportRefused(
            "Tệp Excel khi giải nén lớn tới %(size_mb)d MB (giới hạn %(limit_mb)d MB): đây không phải một danh sách "
            "đại biểu và có thể là tệp cố ý làm treo máy chủ. Chưa nhập gì. Hãy chép danh sách sang một tệp Excel "
            "mới rồi tải lên lại.",
            params={"size_mb": total // 1024 // 1024, "limit_mb": MAX_UNCOMPRESSED // 1024 // 1024})
    for info in infos:
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ImportRefused(
                "Tệp Excel bị nén bất thường (một phần giải nén lớn gấp %(ratio)d lần): có thể là tệp cố ý làm "
                "treo máy chủ. Chưa nhập gì. Hãy chép danh sách sang một tệp Excel mới rồi tải lên lại.",
                params={"ratio": info.file_size // max(info.compress_size, 1)})
    for info in infos:
        if info.is_dir():
            continue
        with zf.open(info) as f:
            part = f.read(MAX_UNCOMPRESSED + 1)
        head = part[:4]
        if head[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in head:
            raise ImportRefused("Tệp Excel có phần XML không ở mã UTF-8, điều Excel không làm; chưa nhập gì. Hãy mở "
                                "tệp trong Excel và lưu lại thành tệp .xlsx mới.")
        upper = part.upper()
        if b"<!DOCTYPE" in upper or b"<!ENTITY" in upper:
            raise ImportRefused(
                "Tệp Excel có khai báo thực thể XML (DOCTYPE/ENTITY), điều Excel không bao giờ tạo ra: tệp có thể đã "
                "bị sửa để đọc trộm tệp hoặc làm treo máy chủ, nên không được đọc. Chưa nhập gì. Hãy mở danh sách "
                "trong Excel và lưu lại thành tệp .xlsx mới.")


def _read_xlsx(data: bytes) -> list[list[str]]:
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        check_archive(zf)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, OSError, ValueError) as exc:
        raise ImportRefused("Tệp Excel bị hỏng hoặc không phải định dạng .xlsx.") from exc
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, SyntaxError) as exc:  # SyntaxError: bad XML
        raise ImportRefused("Tệp Excel bị hỏng hoặc không phải định dạng .xlsx.") from exc
    try:
        ws = wb.worksheets[0]
        table: list[list[str]] = []
        for row in ws.iter_rows(max_col=MAX_CELLS_PER_ROW, values_only=True):
            if len(table) >= MAX_TABLE_ROWS:
                break
            cells = ["" if v is None else (str(int(v)) if isinstance(v, float) and v.is_integer() else str(v))
                     for v in row]
            while cells and cells[-1] == "":  # the padding up to MAX_CELLS_PER_ROW
                cells.pop()
            table.append(cells)
        return table
    except (KeyError, ValueError, SyntaxError, zipfile.BadZipFile) as exc:
        raise ImportRefused("Tệp Excel bị hỏng hoặc không phải định dạng .xlsx.") from exc
    finally:
        wb.close()


def from_payload(payload: dict[str, Any]) -> bytes:
    """Entry point for meeting_server.offload (the child): `{"data": base64}` in, `{"table": [[…]]}` or
    `{"refused": msgid, "params": {…}}` out, as JSON. The child's address space is limited first."""
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    except (ImportError, ValueError, OSError):  # not on this system: the time limit still holds
        pass
    try:
        out: dict[str, Any] = {"table": parse(base64.b64decode(payload["data"]))}
    except DomainError as err:
        out = {"refused": err.template, "params": err.params}
    except MemoryError:
        out = {"refused": N_("Tệp danh sách cần quá nhiều bộ nhớ để đọc; đây không phải một danh sách đại biểu. "
                             "Chưa nhập gì."), "params": {}}
    return json.dumps(out, ensure_ascii=False).encode()
