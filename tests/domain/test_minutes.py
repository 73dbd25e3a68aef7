"""Minutes as data: form 1.9 contents in order, the closing line, attendance, and refusals of bad records."""

from __future__ import annotations

import copy

import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.domain.minutes import (
    Heading,
    MinutesDoc,
    Paragraph,
    build_minutes,
    format_date,
)
from tests.minutes.record_sample import make_record


@pytest.fixture()
def record() -> dict:
    return make_record(n_delegates=30, n_items=6, n_polls=6, n_speeches=12)


def texts(doc: MinutesDoc) -> list[str]:
    return [b.text for b in doc.body]


def test_header_title_and_session_name(record: dict) -> None:
    doc = build_minutes(record)
    assert doc.header.body_lines == ("HỘI ĐỒNG NHÂN DÂN", "XÃ TÂN LẬP")
    assert doc.header.number == "Số: 12/BB-HĐND"
    assert doc.header.nation == "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
    assert doc.header.motto == "Độc lập - Tự do - Hạnh phúc"
    assert doc.title == "BIÊN BẢN"
    assert doc.session_name == "Kỳ họp thứ Hai, Hội đồng nhân dân xã Tân Lập khóa I, nhiệm kỳ 2026 - 2031"


def test_ward_level_and_missing_number(record: dict) -> None:
    record["council"] = {"name": "Hòa Bình", "level": "phường"}
    del record["document_number"]
    doc = build_minutes(record)
    assert doc.header.body_lines[1] == "PHƯỜNG HÒA BÌNH"
    assert doc.header.number.startswith("Số:") and doc.header.number.endswith("/BB-HĐND")
    assert "Hội đồng nhân dân phường Hòa Bình" in doc.session_name


def test_contents_follow_form_1_9_order(record: dict) -> None:
    doc = build_minutes(record)
    headings = [b.text for b in doc.body if isinstance(b, Heading) and b.level == 1]
    assert headings == [
        "I. THỜI GIAN, ĐỊA ĐIỂM",
        "II. THÀNH PHẦN THAM DỰ",
        "III. NỘI DUNG KỲ HỌP",
        "IV. KẾT LUẬN VÀ BẾ MẠC",
    ]
    items = [b.text for b in doc.body if isinstance(b, Heading) and b.level == 2]
    assert [t.split(".")[0] for t in items] == ["1", "2", "3", "4", "5", "6"]
    assert items[0].startswith("1. Tờ trình số 15/TTr-UBND")
    body = texts(doc)
    assert body[1] == "Thời gian: bắt đầu vào lúc 07 giờ 30 phút, ngày 15 tháng 7 năm 2026."
    assert body[2] == "Địa điểm: Hội trường Ủy ban nhân dân xã Tân Lập."
    # Time and place, then attendance, chair, secretary, guests, then the proceedings.
    order = [
        next(i for i, t in enumerate(body) if t.startswith(p))
        for p in (
            "Thời gian:",
            "Tổng số đại biểu",
            "Chủ tọa kỳ họp:",
            "Thư ký kỳ họp:",
            "Khách mời:",
            "III.",
            "1. Tờ trình",
        )
    ]
    assert order == sorted(order)


def test_closing_line_is_last_and_ends_with_the_end_mark(record: dict) -> None:
    doc = build_minutes(record)
    assert doc.body[-1].text == "Kỳ họp kết thúc vào 11 giờ 30 phút, ngày 15 tháng 7 năm 2026./."


def test_dates_take_leading_zeros_for_small_days_and_first_months() -> None:
    from datetime import datetime

    assert format_date(datetime(2026, 2, 5)) == "ngày 05 tháng 02 năm 2026"
    assert format_date(datetime(2026, 11, 25)) == "ngày 25 tháng 11 năm 2026"


def test_attendance_counts_and_lists(record: dict) -> None:
    body = texts(build_minutes(record))
    assert (
        "Tổng số đại biểu Hội đồng nhân dân xã: 30 đại biểu; có mặt: 28 đại biểu; "
        "vắng mặt: 2 đại biểu (có lý do: 1; không có lý do: 1)."
    ) in body
    absent = next(t for t in body if t.startswith("Đại biểu vắng mặt:"))
    assert "(có lý do: đi công tác theo quyết định của UBND huyện)" in absent
    assert "(không có lý do)" in absent
    late = next(t for t in body if t.startswith("Đại biểu đến muộn:"))
    assert "(đến lúc 08 giờ 15 phút)" in late
    early = next(t for t in body if t.startswith("Đại biểu về sớm:"))
    assert "về lúc 10 giờ 40 phút, lý do: việc gia đình đột xuất" in early
    chair = next(t for t in body if t.startswith("Chủ tọa kỳ họp:"))
    assert "Hoàng Quốc Cường, Chủ tịch HĐND xã" in chair


def test_proceedings_show_documents_speeches_summary_and_polls(record: dict) -> None:
    body = texts(build_minutes(record))
    assert "Tài liệu trình kỳ họp:" in body
    assert any(t.startswith("- Tờ trình số 15/TTr-UBND") and "(trình bày:" in t for t in body)
    assert any("(từ 07 giờ 50 đến 07 giờ 53)" in t for t in body)
    assert "- Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã." in body
    assert any(t.startswith("- Đại biểu không tán thành:") for t in body)
    assert "Hội đồng nhân dân xã đã thông qua nội dung trên." in body
    secret_at = next(i for i, t in enumerate(body) if t.startswith("Kết quả bỏ phiếu kín:"))
    # A secret ballot shows totals only.
    assert not body[secret_at + 1].startswith("- Đại biểu")
    assert body[secret_at + 1].startswith("- Số phiếu phát ra")


def test_secret_poll_with_names_is_refused(record: dict) -> None:
    poll = record["agenda"][0]["polls"][0]
    poll["mode"] = "secret"
    with pytest.raises(DomainError) as err:
        build_minutes(record)
    assert err.value.code == "minutes.secret_named"
    assert "phiếu kín" in err.value.message


def test_outcome_sentence_of_a_failed_poll(record: dict) -> None:
    record["agenda"][1]["polls"][0]["passed"] = False
    assert "Nội dung trên không được thông qua." in texts(build_minutes(record))


def test_signatures_and_recipients(record: dict) -> None:
    doc = build_minutes(record)
    left, right = doc.signatures
    assert (left.role_title, left.name, left.field_name) == ("THƯ KÝ KỲ HỌP", "Lò Thị Mai", "Sig_Secretary")
    assert (right.role_title, right.name, right.field_name) == ("CHỦ TỌA", "Hoàng Quốc Cường", "Sig_Chair")
    assert doc.recipients.label == "Nơi nhận:"
    assert doc.recipients.items[0] == "- Thường trực HĐND huyện;"
    assert doc.recipients.items[-1] == "- Lưu: VT, Hồ sơ."


def test_paragraphs_are_justified_with_indent_by_default(record: dict) -> None:
    doc = build_minutes(record)
    paragraphs = [b for b in doc.body if isinstance(b, Paragraph)]
    assert all(p.align == "justify" and p.indent for p in paragraphs)
    assert paragraphs[0].runs[0].bold and paragraphs[0].runs[0].text == "Thời gian: "


@pytest.mark.parametrize(
    ("change", "code"),
    [
        (lambda r: r.pop("council"), "minutes.missing_field"),
        (lambda r: r.update(delegate_count=0), "minutes.delegate_count"),
        (lambda r: r.update(ended_at="2026-07-15T06:00:00+07:00"), "minutes.times"),
        (lambda r: r.update(started_at="hôm nay"), "minutes.bad_datetime"),
        (lambda r: r.update(secretaries=[]), "minutes.signers"),
        (lambda r: r["council"].update(level="tỉnh"), "minutes.invalid_record"),
        (lambda r: r["participants"][-3].update(at="tám giờ"), "minutes.bad_datetime"),
        (lambda r: r["agenda"][0]["speeches"][0].update(to="25:00"), "minutes.bad_datetime"),
    ],
)
def test_bad_records_are_refused_with_a_code(record: dict, change, code: str) -> None:
    bad = copy.deepcopy(record)
    change(bad)
    with pytest.raises(DomainError) as err:
        build_minutes(bad)
    assert err.value.code == code
    assert err.value.message


def test_result_is_frozen(record: dict) -> None:
    doc = build_minutes(record)
    with pytest.raises(AttributeError):
        doc.title = "X"  # type: ignore[misc]


def test_what_belonged_to_no_item_has_its_own_section_after_the_agenda(record: dict) -> None:
    from meeting_server.domain.minutes import OTHER_HEADING

    record["other"] = {
        "documents": [{"title": "Thông báo của Thường trực HĐND"}],
        "speeches": [{"speaker": "Lò Văn Tám", "from": "10:05", "to": "10:09"}],
        "polls": [{"subject": "Thông qua việc bổ sung chương trình", "mode": "open", "passed": True,
                   "lines": ["Tán thành: 25/30 đại biểu, chiếm 83,33% tổng số đại biểu HĐND xã."],
                   "named": {"Tán thành": ["Lò Văn Tám (thư ký ghi thay)"]}}],
    }
    lines = texts(build_minutes(record))
    at = lines.index(f"{len(record['agenda']) + 1}. {OTHER_HEADING}")
    assert lines.index("- Thông báo của Thường trực HĐND;") > at
    assert "Kết quả biểu quyết công khai: Thông qua việc bổ sung chương trình." in lines[at:]
    assert "- Đại biểu tán thành: Lò Văn Tám (thư ký ghi thay)." in lines[at:]
    assert lines.index("- Lò Văn Tám (từ 10 giờ 05 đến 10 giờ 09);") > at
    record["other"] = {"documents": [], "speeches": [], "polls": []}
    assert not any(OTHER_HEADING in line for line in texts(build_minutes(record)))


@pytest.mark.parametrize(("counts", "code"), [
    ({"open_polls": 1, "speeches_under_way": 0, "documents_processing": 0}, "minutes.poll_unsettled"),
    ({"open_polls": 0, "speeches_under_way": 1, "documents_processing": 2}, "minutes.speech_unsettled"),
    ({"open_polls": 0, "speeches_under_way": 0, "documents_processing": 1}, "minutes.document_unsettled"),
])
def test_minutes_are_signed_only_when_the_sitting_is_settled(counts: dict, code: str) -> None:
    from meeting_server.domain.minutes import check_settled

    with pytest.raises(DomainError) as err:
        check_settled(**counts)
    assert err.value.code == code and err.value.message.startswith("Chưa thể ký biên bản")
    check_settled(open_polls=0, speeches_under_way=0, documents_processing=0)


def test_questions_heard_under_their_item_and_the_others_after_the_agenda(record: dict) -> None:
    q = {"asker": "Lê Văn Ba", "addressee_name": "", "addressee_title": "Chủ tịch UBND xã", "topic": "đường",
         "status": "written", "due_date": "2026-01-05"}
    record["agenda"][0]["questions"] = [dict(q, status="answered")]
    record["questions"] = [q]
    body = texts(build_minutes(record))
    heard = "- Đại biểu Lê Văn Ba chất vấn Chủ tịch UBND xã về đường; kết quả: Chủ tịch UBND xã đã trả lời tại kỳ họp."
    owed = ("- Đại biểu Lê Văn Ba chất vấn Chủ tịch UBND xã về đường; kết quả: Chủ tịch UBND xã trả lời bằng văn bản, "
            "hạn 05/01/2026.")
    assert body.index("Chất vấn và trả lời chất vấn:") < body.index(heard) < body.index(
        "Các câu hỏi chất vấn không trả lời tại hội trường") < body.index(owed)
    for bad in ({**q, "status": "lost"}, {**q, "addressee_title": ""}, {**q, "due_date": "mai"}):
        record["questions"] = [bad]
        with pytest.raises(DomainError) as err:
            build_minutes(record)
        assert err.value.code == "minutes.question"
