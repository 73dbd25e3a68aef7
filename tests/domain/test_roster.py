"""Reading the delegate list: headers, roles, and one clear problem per bad line."""

from __future__ import annotations

from meeting_server.domain.permissions import Role
from meeting_server.domain.roster import fold, parse_rows

HEADER = ["STT", "Họ và tên", "Chức vụ", "Tổ đại biểu", "Vai trò"]


def test_fold_removes_diacritics_and_d() -> None:
    assert fold("  Họ và  Tên ") == "ho va ten"
    assert fold("ĐẠI BIỂU") == "dai bieu"


def test_sample_shape_is_read() -> None:
    p = parse_rows([HEADER, ["1", "Hoàng Quốc Cường", "Chủ tịch HĐND xã", "Tổ 1", "Chủ tọa"],
                    ["2", "Lê Đức Dũng", "Trưởng Ban", "Tổ 4", "Đại biểu"],
                    ["3", "Nông Thị Mai", "Công chức", "Tổ 1", "thư ký"],
                    ["4", "Nguyễn Văn Bình", "Chủ tịch UBND xã", "", "Khách mời"]])
    assert p.ok
    assert [r.role for r in p.rows] == [Role.CHAIR, Role.DELEGATE, Role.SECRETARY, Role.GUEST]
    assert p.count(Role.CHAIR, Role.SECRETARY, Role.DELEGATE) == 3


def test_headers_in_another_order_and_without_accents() -> None:
    p = parse_rows([["Ho ten", "Vai tro", "Chuc vu"], ["Lê Văn A", "Dai bieu", "Giáo viên"]])
    assert p.ok and p.rows[0].full_name == "Lê Văn A" and p.rows[0].title == "Giáo viên"
    assert p.rows[0].position == 1


def test_wrong_columns_name_the_header_line() -> None:
    p = parse_rows([["Name?", "Something"], ["a", "b"]])
    assert not p.ok
    assert p.problems[0].line == 1 and "Họ và tên" in p.problems[0].message


def test_each_bad_line_is_named_and_nothing_is_importable() -> None:
    p = parse_rows([HEADER,
                    ["1", "Lê Văn A", "Giáo viên", "", "Đại biểu"],
                    ["2", "", "Giáo viên", "", "Đại biểu"],
                    ["3", "Lê Văn A", "Giáo viên", "", "Đại biểu"],
                    ["4", "Trần B", "", "", "Trưởng thôn"],
                    ["x", "Phạm C", "", "", ""]])
    assert not p.ok
    assert [(pr.line, pr.message.split(" ")[0]) for pr in p.problems] == [
        (3, "Thiếu"), (4, "Trùng"), (5, "Vai"), (6, "STT")]
    assert "dòng 2" in p.problems[1].message
    assert "Trưởng thôn" in p.problems[2].message


def test_empty_lines_are_skipped_and_an_empty_list_is_refused() -> None:
    assert parse_rows([HEADER, ["", "", "", "", ""]]).problems[0].message == "Danh sách không có người nào."
    assert not parse_rows([]).ok


def test_a_name_with_a_direction_control_is_a_problem_on_its_line() -> None:
    from meeting_server.domain.roster import parse_rows

    preview = parse_rows([["Họ và tên", "Chức vụ", "Tổ đại biểu"], ["Lê Văn An", "", ""],
                          ["Nguyễn \u202eVăn Bình", "", ""], ["Trần Cúc", "\u2066Tổ trưởng", ""],
                          ["Đỗ Đạt", "", "x" * 121]])
    assert not preview.ok
    assert [(p.line, p.message) for p in preview.problems] == [
        (3, "«Họ và tên» có ký tự điều khiển hướng chữ ẩn (làm chữ bị in ngược); hãy gõ lại."),
        (4, "«Chức vụ» có ký tự điều khiển hướng chữ ẩn (làm chữ bị in ngược); hãy gõ lại."),
        (5, "«Tổ đại biểu» dài quá 120 ký tự (đang có 121)."),
    ]


def test_title_rows_above_the_header_are_skipped_and_lines_keep_the_file_numbering() -> None:
    from meeting_server.domain.roster import find_header

    table = [["HỘI ĐỒNG NHÂN DÂN XÃ TÂN LẬP", "", ""], ["DANH SÁCH ĐẠI BIỂU DỰ KỲ HỌP THỨ HAI", "", ""], ["", "", ""],
             HEADER, ["1", "Lê Văn An", "Giáo viên", "Tổ 1", "Chủ tọa"], ["2", "", "", "", ""],
             ["3", "", "Nông dân", "Tổ 2", "Đại biểu"]]
    assert find_header(table) == 3
    p = parse_rows(table)
    assert [r.full_name for r in p.rows] == ["Lê Văn An"] and p.rows[0].line == 5 and p.rows[0].role == Role.CHAIR
    assert [(pr.line, pr.message) for pr in p.problems] == [(6, "Thiếu họ và tên."), (7, "Thiếu họ và tên.")]


def test_a_title_cell_that_merely_mentions_names_is_not_the_header() -> None:
    # "Tên" alone is a header word; a title sentence holding it is not.
    p = parse_rows([["Danh sách họ và tên đại biểu"], ["Họ tên", "Vai trò"], ["Lê Văn An", "Thư ký"]])
    assert p.ok and p.rows[0].role == Role.SECRETARY and p.rows[0].line == 3


def test_no_header_in_the_top_rows_names_what_is_missing() -> None:
    p = parse_rows([["DANH SÁCH"]] * 12 + [HEADER, ["1", "Lê Văn An", "", "", ""]])
    assert not p.ok and "Họ và tên" in p.problems[0].message and "11 dòng đầu" in p.problems[0].message
