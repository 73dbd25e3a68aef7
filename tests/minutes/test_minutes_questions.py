"""Question time in the minutes: a meeting's questions, filed and ended through the services on the real database,
come into the record and are printed in the signed PDF: who asked whom about what, who answered and how it ended;
and, in the same sitting, the comments on a draft resolution and what became of them."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pymupdf

from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.minutes.worker import run_job
from meeting_server.services import comments, meetings, questions
from meeting_server.services import record as record_service
from meeting_server.services.comments import NewComment
from meeting_server.store import db
from meeting_server.store.tables import Document, DocumentPage

ASK = {"addressee_name": "Trần Văn Bình", "addressee_title": "Chủ tịch UBND xã", "topic": "đường liên thôn",
       "text": "Khi nào sửa xong đường liên thôn Đồng Tâm?"}


def test_a_sitting_with_question_time_carries_it_in_the_signed_minutes(app: Any, tmp_path: Path) -> None:
    with db.standalone_session(app) as s:
        m = meetings.get(s, 1)
        ds = [p for p in m.participants if p.role == "delegate"]
        who = [Principal(Role.DELEGATE, m.id, p.id, p.full_name) for p in ds[:4]]
        # Before the opening, two delegates comment on the draft resolution of item 3; the clerk answers one.
        draft = Document(meeting_id=m.id, agenda_item_id=m.items[2].id, content_hash="0" * 64, page_count=1,
                         original_name="du-thao.pdf", title="Dự thảo Nghị quyết về chuyển đổi số", pages_rendered=1,
                         status="ready")
        s.add(draft)
        s.flush()
        s.add(DocumentPage(document_id=draft.id, page_no=1, width_pt=595.0, height_pt=842.0, text="…"))
        s.commit()
        first = comments.create(s, m, who[0], NewComment(draft.id, None, "", [], "Đề nghị nêu rõ nguồn kinh phí."))
        comments.create(s, m, who[1], NewComment(draft.id, 1, "", [], "Bổ sung chỉ tiêu cho từng thôn."))
        clerk = next(p for p in m.participants if p.role == "clerk")
        comments.answer(s, m, Principal(Role.CLERK, m.id, clerk.id, clerk.full_name), first.id, "accepted", "")
        meetings.set_status(s, m, "in_progress", "chair:test", below_quorum_ok=True)
        item = m.items[-1]
        meetings.set_current_item(s, m, item.id, "chair:test")
        q1 = questions.file(s, m, who[0], ASK).value.id
        q2 = questions.file(s, m, who[1], {**ASK, "addressee_name": "", "addressee_title": "Phó Chủ tịch UBND xã",
                                           "topic": "nước sạch"}).value.id
        q3 = questions.file(s, m, who[2], {**ASK, "topic": "chợ xã"}).value.id
        q4 = questions.file_on_paper(s, m, ds[3].id, {**ASK, "topic": "trường mầm non"}, "clerk:test").value.id
        questions.call(s, m, q1, "chair:test")
        questions.start_answer(s, m, q1, "chair:test")
        questions.end(s, m, q1, "answered", None, "chair:test")
        questions.call(s, m, q2, "chair:test")
        due = questions.today(s) + timedelta(days=15)
        questions.end(s, m, q2, "written", due, "chair:test")
        questions.withdraw(s, m, who[2], q3)
        questions.end(s, m, q4, "written", due, "chair:test")  # never called: answered in writing
        record = record_service.build_record(s, m.id)
        names = [f"{p.full_name}, {p.title}" if p.title else p.full_name for p in ds[:4]]
        position = item.position
    heard = next(it for it in record["agenda"] if it["item_id"] == item.id)["questions"]
    assert [q["status"] for q in heard] == ["answered", "written"]
    assert [q["status"] for q in record["questions"]] == ["withdrawn", "written"]

    data = json.dumps(record, ensure_ascii=False).encode()
    out = run_job("finalize", {"record": record, "record_json": data, "audit_head": "ab" * 32,
                               "signing": {"source": "server", "ca_dir": str(tmp_path / "ca")}})
    text = " ".join(" ".join(p.get_text().split()) for p in pymupdf.open(stream=out["pdf"]))
    d = f"{due.day:02d}/{due.month:02d}/{due.year}"
    assert "Chất vấn và trả lời chất vấn:" in text
    assert (f"Đại biểu {names[0]} chất vấn Trần Văn Bình, Chủ tịch UBND xã về đường liên thôn; kết quả: Trần Văn "
            "Bình, Chủ tịch UBND xã đã trả lời tại kỳ họp.") in text
    assert (f"Đại biểu {names[1]} chất vấn Phó Chủ tịch UBND xã về nước sạch; kết quả: Phó Chủ tịch UBND xã trả "
            f"lời bằng văn bản, hạn {d}.") in text
    assert "Các câu hỏi chất vấn không trả lời tại hội trường" in text
    assert f"Đại biểu {names[2]} chất vấn Trần Văn Bình, Chủ tịch UBND xã về chợ xã; kết quả: câu hỏi đã được rút." \
        in text
    assert f"về trường mầm non; kết quả: Trần Văn Bình, Chủ tịch UBND xã trả lời bằng văn bản, hạn {d}." in text
    assert "Góp ý dự thảo: 2 ý kiến góp ý: tiếp thu 1, chưa trả lời 1." in text
    # In agenda order: the questions heard sit under their item, before the closing line.
    assert text.index(f"{position}. ") < text.index("Chất vấn và trả lời chất vấn:") < text.index("Kỳ họp kết thúc")
