"""Comments on drafts on a real SQLite file: a delegate comments, the refusals change nothing, the drafting body
answers, who sees what, the summary's PDF and DOCX, and the minutes' counts."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pymupdf
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.domain.minutes import build_minutes
from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import comments, record
from meeting_server.services.comments import NewComment
from meeting_server.store.tables import Document, DocumentPage, Meeting, Participant


def _doc(s: Session, m: Meeting, *, confidential: bool = False, item: int = 2) -> Document:
    d = Document(meeting_id=m.id, agenda_item_id=m.items[item].id, content_hash="0" * 64, original_name="du-thao.pdf",
                 title="Dự thảo Nghị quyết về kế hoạch chuyển đổi số", page_count=3, pages_rendered=3,
                 status="ready", confidential=confidential)
    s.add(d)
    s.flush()
    for n in (1, 2, 3):
        s.add(DocumentPage(document_id=d.id, page_no=n, width_pt=595.0, height_pt=842.0, text="…"))
    s.commit()
    return d


def _who(s: Session, m: Meeting, role: str, k: int = 0) -> Principal:
    ps = list(s.scalars(select(Participant).where(Participant.meeting_id == m.id, Participant.role == role)
                        .order_by(Participant.id)))
    p = ps[k]
    return Principal(Role(role), m.id, p.id, p.full_name)


def _drafter(s: Session, m: Meeting) -> Principal:
    p = Participant(meeting_id=m.id, full_name="Lê Văn Soạn", title="Phó Chủ tịch UBND xã", role="drafter",
                    token="d" * 43)
    s.add(p)
    s.commit()
    return Principal(Role.DRAFTER, m.id, p.id, p.full_name)


def _count(stored: Callable[[str], Any]) -> int:
    return int(stored("SELECT count(*) FROM draft_comment"))


def test_a_delegate_comments_on_a_passage_and_the_drafting_body_answers(
        s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    d = _doc(s, m)
    an = _who(s, m, "delegate")
    row = comments.create(s, m, an, NewComment(d.id, 2, "  chuyển đổi\nsố ", [[72, 100, 300, 114]],
                                               "Đề nghị bổ sung chỉ tiêu cho từng thôn."))
    assert stored(f"SELECT quote FROM draft_comment WHERE id = {row.id}") == "chuyển đổi số"
    assert stored("SELECT count(*) FROM audit_event WHERE kind = 'comment.created'") == 1
    drafter = _drafter(s, m)
    comments.answer(s, m, drafter, row.id, "accepted", "Đã bổ sung tại Điều 2.")
    mine = comments.mine(s, m, an, d.id)
    assert [(c["text"], c["outcome"], c["answer"], c["answered_by"]) for c in mine] == [
        ("Đề nghị bổ sung chỉ tiêu cho từng thôn.", "accepted", "Đã bổ sung tại Điều 2.", "Lê Văn Soạn")]
    assert stored("SELECT count(*) FROM audit_event WHERE kind = 'comment.answered'") == 1


def test_gathered_by_document_and_passage(s: Session, m: Meeting) -> None:
    d = _doc(s, m)
    a, b = _who(s, m, "delegate", 0), _who(s, m, "delegate", 1)
    comments.create(s, m, a, NewComment(d.id, 2, "Điều 3", [[72, 300, 120, 314]], "Sửa lại Điều 3."))
    comments.create(s, m, b, NewComment(d.id, None, "", [], "Dự thảo nên ngắn gọn hơn."))
    comments.create(s, m, b, NewComment(d.id, 2, "Điều 3", [[72, 300, 120, 314]], "Đồng ý sửa Điều 3."))
    comments.create(s, m, a, NewComment(d.id, 1, "", [], "Trang 1 thiếu căn cứ."))
    clerk = _who(s, m, "clerk")
    [g] = comments.gathered(s, m, clerk)
    assert g["counts"] == {"total": 4, "accepted": 0, "explained": 0, "not_accepted": 0, "pending": 4}
    assert [(p["page"], p["quote"], len(p["comments"])) for p in g["passages"]] == [
        (None, "", 1), (1, "", 1), (2, "Điều 3", 2)]


@pytest.mark.parametrize("status,current,message", [
    ("in_progress", 0, "đang được thảo luận"),
    ("ended", 2, "bế mạc"),
])
def test_out_of_time_is_refused_and_nothing_is_stored(s: Session, m: Meeting, stored: Callable[[str], Any],
                                                      status: str, current: int, message: str) -> None:
    d = _doc(s, m)
    m.status, m.current_item_id = status, m.items[current].id
    s.commit()
    before = stored("SELECT count(*) FROM audit_event")
    with pytest.raises(DomainError) as err:
        comments.create(s, m, _who(s, m, "delegate"), NewComment(d.id, 1, "", [], "Góp ý"))
    assert message in err.value.template
    assert _count(stored) == 0 and stored("SELECT count(*) FROM audit_event") == before


def test_while_its_item_is_discussed_it_is_taken(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    d = _doc(s, m)
    m.status, m.current_item_id = "in_progress", d.agenda_item_id
    s.commit()
    comments.create(s, m, _who(s, m, "delegate"), NewComment(d.id, 1, "", [], "Góp ý trong phiên thảo luận"))
    assert _count(stored) == 1


@pytest.mark.parametrize("new,code", [
    (NewComment(0, 1, "", [], "x"), "not_found"),
    (NewComment(-1, None, "", [], "   "), "comment.empty"),
    (NewComment(-1, 9, "", [], "x"), "comment.page"),
    (NewComment(-1, 1, "x", [[0, 0, 9999, 1]], "x"), "comment.anchor"),
    (NewComment(-1, 1, "x", "nope", "x"), "comment.anchor"),
    (NewComment(-1, 1, "", [], "x" * 5001), "text.too_long"),
])
def test_bad_input_changes_nothing(s: Session, m: Meeting, stored: Callable[[str], Any], new: NewComment,
                                   code: str) -> None:
    d = _doc(s, m)
    if new.document_id == -1:
        new = NewComment(d.id, new.page, new.quote, new.rects, new.text)
    with pytest.raises(DomainError) as err:
        comments.create(s, m, _who(s, m, "delegate"), new)
    assert err.value.code == code, err.value.code
    assert _count(stored) == 0


def test_only_members_of_the_council_comment_and_only_the_clerk_or_drafter_answers(s: Session, m: Meeting) -> None:
    d = _doc(s, m)
    for who in (_who(s, m, "clerk"), _drafter(s, m), _who(s, m, "guest")):
        with pytest.raises(DomainError):
            comments.create(s, m, who, NewComment(d.id, None, "", [], "x"))
    row = comments.create(s, m, _who(s, m, "chair"), NewComment(d.id, None, "", [], "Chủ tọa góp ý"))
    with pytest.raises(DomainError):
        comments.answer(s, m, _who(s, m, "delegate"), row.id, "accepted", "")
    with pytest.raises(DomainError) as err:
        comments.answer(s, m, _who(s, m, "clerk"), row.id, "explained", "  ")
    assert err.value.code == "comment.answer"


def test_others_see_comments_only_when_the_meeting_shares_them(s: Session, m: Meeting) -> None:
    d = _doc(s, m)
    a, b = _who(s, m, "delegate", 0), _who(s, m, "delegate", 1)
    comments.create(s, m, a, NewComment(d.id, None, "", [], "Góp ý của đại biểu A"))
    assert comments.mine(s, m, b, d.id) == []
    comments.set_shared(s, m, _who(s, m, "clerk"), True)
    [seen] = comments.mine(s, m, b, d.id)
    assert seen["text"] == "Góp ý của đại biểu A" and seen["own"] is False and seen["author"] == a.name


def test_a_confidential_drafts_quotes_stay_with_those_who_read_it(s: Session, m: Meeting) -> None:
    d = _doc(s, m, confidential=True)
    comments.create(s, m, _who(s, m, "delegate"), NewComment(d.id, 1, "số liệu mật", [[1, 1, 50, 12]], "Xem lại"))
    [g] = comments.gathered(s, m, _drafter(s, m))
    [p] = g["passages"]
    assert p["quote"] == "" and p["quote_hidden"] and p["comments"][0]["text"] == "Xem lại"
    [g] = comments.gathered(s, m, _who(s, m, "clerk"))
    assert g["passages"][0]["quote"] == "số liệu mật"


def test_the_summary_pdf_and_docx_carry_the_comment_and_its_answer(s: Session, m: Meeting) -> None:
    d = _doc(s, m)
    row = comments.create(s, m, _who(s, m, "delegate"), NewComment(d.id, 2, "kế hoạch", [[72, 100, 140, 114]],
                                                                    "Đề nghị nêu rõ nguồn kinh phí."))
    clerk = _who(s, m, "clerk")
    comments.answer(s, m, clerk, row.id, "explained", "Kinh phí đã nêu tại Phụ lục 2.")
    pdf = comments.export_pdf(s, m, clerk)
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        text = " ".join(" ".join(p.get_text().split()) for p in doc)
    for expected in ("BẢNG TỔNG HỢP, TIẾP THU, GIẢI TRÌNH", "Đề nghị nêu rõ nguồn kinh phí.",
                     "Kinh phí đã nêu tại Phụ lục 2.", "Giải trình", "«kế hoạch»"):
        assert expected in text, expected
    import docx

    body = docx.Document(io.BytesIO(comments.export_docx(s, m, clerk)))
    cells = [c.text for t in body.tables for r in t.rows for c in r.cells]
    assert "Đề nghị nêu rõ nguồn kinh phí." in cells and "Kinh phí đã nêu tại Phụ lục 2." in cells


def test_the_minutes_carry_the_counts(s: Session, m: Meeting) -> None:
    d = _doc(s, m)
    a = _who(s, m, "delegate")
    clerk = _who(s, m, "clerk")
    rows = [comments.create(s, m, a, NewComment(d.id, None, "", [], f"Ý kiến {k}")) for k in range(4)]
    comments.answer(s, m, clerk, rows[0].id, "accepted", "")
    comments.answer(s, m, clerk, rows[1].id, "accepted", "")
    comments.answer(s, m, clerk, rows[2].id, "not_accepted", "Không phù hợp với luật.")
    rec = record.build_record(s, m.id)
    [doc] = [x for item in rec["agenda"] for x in item["documents"]]
    assert doc["comments"] == {"total": 4, "accepted": 2, "explained": 0, "not_accepted": 1, "pending": 1}
    minutes = build_minutes(rec)
    line = "Góp ý dự thảo: 4 ý kiến góp ý: tiếp thu 2, không tiếp thu 1, chưa trả lời 1."
    assert line in minutes.plain_text()
    from meeting_server.minutes.render import render_minutes_pdf

    with pymupdf.open(stream=render_minutes_pdf(minutes), filetype="pdf") as pdf:
        printed = " ".join(" ".join(p.get_text().split()) for p in pdf)
    assert line in printed
