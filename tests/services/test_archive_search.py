"""The archive's search across a term of thirty sessions, on a real SQLite file: it reads the stored texts (agenda,
the register, the minutes' texts or the signed record, the documents' page index) in a few queries, whatever the
number of sessions, and never builds a session's record to search it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from meeting_server.domain.permissions import DELEGATE_ROLES, Role
from meeting_server.domain.principal import Principal
from meeting_server.domain.roster import parse_rows
from meeting_server.domain.timefmt import VN
from meeting_server.services import archive, attendance, meetings, minutes, record, roster, rosterfile, voting
from meeting_server.store.tables import Meeting
from tests.term_kit import DEMO

ACTOR = "clerk:test"
CLERK = Principal(role=Role.CLERK, meeting_id=1, participant_id=None, name="Văn phòng")


def _session(s: Session, m: Meeting, k: int) -> Meeting:
    f = meetings.MeetingFields(council_level=m.council_level, locality=m.locality, session_title=f"Kỳ họp thứ {k}",
                               term=m.term, place="Hội trường xã", seated_count=30,
                               starts_at=datetime(2026, 7, 1, 8, 0, tzinfo=VN) + timedelta(days=7 * k))
    x = meetings.create(s, f, ACTOR)
    item = meetings.add_item(s, x, f"Tờ trình số {k} về thủy lợi nội đồng", "", ACTOR).value
    minutes.save_texts(s, x, {"opening": f"Khai mạc kỳ họp thứ {k}.",
                              "summaries": {str(item.id): "Đại biểu thống nhất kiên cố hóa kênh mương."}}, None)
    s.commit()
    return x


def _pass_a_motion(s: Session, x: Meeting, subject: str) -> None:
    roster.apply(s, x, parse_rows(rosterfile.parse((DEMO / "dai-bieu-hdnd-xa.csv").read_bytes())), ACTOR)
    s.refresh(x)
    people = [p for p in x.participants if Role(p.role) in DELEGATE_ROLES]
    for p in people:
        attendance.joined(s, x, p)
    meetings.set_status(s, x, "in_progress", ACTOR)
    poll = voting.create(s, x, {"kind": "open", "title": subject, "agenda_item_id": x.items[0].id}, ACTOR).value
    voting.open_poll(s, x, poll, ACTOR)
    for p in people[:20]:
        who = Principal(role=Role(p.role), meeting_id=x.id, participant_id=p.id, name=p.full_name)
        voting.cast(s, voting.Cast(who=who, poll_id=poll.id, choice="for"))
    voting.close(s, x, poll, ACTOR)
    s.commit()


@pytest.fixture
def term(s: Session, m: Meeting) -> Iterator[list[Meeting]]:
    held = [_session(s, m, k) for k in range(2, 31)]  # with the demo meeting: thirty sessions
    _pass_a_motion(s, held[3], "Thông qua Nghị quyết về hỗ trợ học sinh vùng khó khăn")
    # One session signed: its record as the PDF carries it (conclusions written before signing).
    signed = held[5]
    minutes.save_texts(s, signed, {"conclusions": "Giao Ủy ban rà soát mạng lưới trường học."}, None)
    draft = minutes.current(s, signed)
    draft.status, draft.record_json = "final", json.dumps(minutes.draft_record(s, signed), ensure_ascii=False)
    s.commit()
    yield held


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def count(_conn: Any, _cursor: Any, sql: str, *_args: Any) -> None:
        seen.append(sql)

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_thirty_sessions_are_searched_without_building_a_record(s: Session, m: Meeting, term: list[Meeting],
                                                                statements: list[str],
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> Any:
        raise AssertionError("the search built a session's record")

    monkeypatch.setattr(record, "build_record", refuse)
    monkeypatch.setattr(archive, "build_record", refuse)
    monkeypatch.setattr(archive, "record_of", refuse)
    s.expire_all()  # nothing loaded before: what the search needs, it reads

    found = archive.search(s, CLERK, m, "kenh muong")  # only in the minutes' summaries, without diacritics
    assert len(found["minutes"]) == 29 and found["items"] == [] and found["resolutions"] == []
    assert {h["session"] for h in found["minutes"]} == {x.session_title for x in term}
    assert "kênh mương" in found["minutes"][0]["snippet"]
    # A handful of queries for the whole term, not a record's worth per session.
    assert len(statements) <= 12, statements

    statements.clear()
    found = archive.search(s, CLERK, m, "thuy loi noi dong")
    assert [h["title"] for h in found["items"]] == [f"Tờ trình số {k} về thủy lợi nội đồng" for k in range(2, 31)]
    assert len(statements) <= 12, statements

    # The signed session is searched in its signed record, the others in their drafts' texts.
    found = archive.search(s, CLERK, m, "mang luoi truong hoc")
    assert [h["meeting_id"] for h in found["minutes"]] == [term[5].id]
    assert "trường học" in found["minutes"][0]["snippet"]
    # The register: the resolution, by its subject.
    found = archive.search(s, CLERK, m, "hoc sinh vung kho khan")
    assert [(r["meeting_id"], r["title"]) for r in found["resolutions"]] == [
        (term[3].id, "Thông qua Nghị quyết về hỗ trợ học sinh vùng khó khăn")]
    assert found["minutes"] == []
    # Sessions by their title; a word must start a word ("ky hop thu 3" is not "thu 30").
    found = archive.search(s, CLERK, m, "ky hop thu 3")
    assert [h["meeting_id"] for h in found["sessions"]] == [term[1].id, term[28].id]
