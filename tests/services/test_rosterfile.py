"""services/rosterfile.parse on the files offices really send: code pages, UTF-16, an Excel title above the header."""

from __future__ import annotations

import io
import unicodedata

import pytest
from openpyxl import Workbook

from meeting_server.domain.roster import parse_rows
from meeting_server.services.rosterfile import ImportRefused, decode_text, parse
from tests.conftest import SHARED

TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}


def to_cp1258(text: str) -> bytes:
    """What Excel writes on a Vietnamese Windows: letters with circumflex, breve or horn precomposed where the code
    page has them (â, ă, ơ, ư, đ, …), tone marks as combining characters after them."""
    out = []
    for c in text:
        try:
            out.append(c.encode("cp1258"))
        except UnicodeEncodeError:
            nfd = unicodedata.normalize("NFD", c)
            base = unicodedata.normalize("NFC", "".join(x for x in nfd if x not in TONES))
            out.append((base + "".join(x for x in nfd if x in TONES)).encode("cp1258"))
    return b"".join(out)


SAMPLE = (SHARED / "samples" / "dai-bieu-hdnd-xa.csv").read_bytes().decode("utf-8-sig")


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "cp1258"])
def test_the_sample_list_reads_the_same_in_every_encoding_excel_writes(encoding: str) -> None:
    # cp1258 (Excel's plain "CSV" on a Vietnamese Windows) writes the tone marks as combining characters.
    data = to_cp1258(SAMPLE) if encoding == "cp1258" else SAMPLE.encode(encoding)
    table = parse(data)
    assert table == parse(SAMPLE.encode("utf-8"))
    preview = parse_rows(table)
    assert preview.ok and preview.rows[0].full_name == "Hoàng Quốc Cường" and len(preview.rows) == 30


def test_cp1258_with_precomposed_letters_where_the_code_page_has_them() -> None:
    # cp1258 holds some precomposed letters (à, â, ê, ô, Ă, Đ, Ơ, Ư): Excel writes those as one byte.
    text = "Họ và tên,Vai trò\nĐặng Thị Ưng,Thư ký\n"
    data = to_cp1258(text)
    assert b"\xd0" in data and b"\xf2" in data  # Đ precomposed; the dot below of ọ/ặ/ị combining
    assert decode_text(data) == text


def test_cp1252_names_of_a_western_list() -> None:
    assert decode_text("Name,Role\nFrançois Müller,Guest\n".encode("cp1252")) == "Name,Role\nFrançois Müller,Guest\n"


def test_a_file_in_no_known_code_page_is_refused_with_what_to_do() -> None:
    with pytest.raises(ImportRefused) as err:
        decode_text(b"\x81\x8d\x8f\x90\x9d,x\n")
    assert "CSV UTF-8" in err.value.message


def test_an_excel_sheet_with_title_rows_above_the_header() -> None:
    wb = Workbook()
    ws = wb.active
    ws.append(["HỘI ĐỒNG NHÂN DÂN XÃ TÂN LẬP"])
    ws.append(["DANH SÁCH ĐẠI BIỂU DỰ KỲ HỌP THỨ HAI, KHÓA I"])
    ws.append([])
    ws.append(["STT", "Họ và tên", "Chức vụ", "Tổ đại biểu", "Vai trò"])
    ws.append([1, "Hoàng Quốc Cường", "Chủ tịch HĐND xã", "Tổ đại biểu số 1", "Chủ tọa"])
    ws.append([2, "Nông Thị Mai", "Công chức", "Tổ đại biểu số 2", "Thư ký"])
    ws.merge_cells("A1:E1")
    ws.merge_cells("A2:E2")
    buf = io.BytesIO()
    wb.save(buf)
    preview = parse_rows(parse(buf.getvalue()))
    assert preview.ok and [r.full_name for r in preview.rows] == ["Hoàng Quốc Cường", "Nông Thị Mai"]
    assert [r.line for r in preview.rows] == [5, 6]
