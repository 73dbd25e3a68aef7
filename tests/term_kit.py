"""A term of three sessions of the demo council (HĐND xã Đồng Lê), for the archive's tests: two sessions held and
ended with their votes and documents, and the demo meeting as it stands (`sign_minutes` signs a held one's
minutes). Built through the use cases, as a clerk and the delegates would have made it, on a data directory before
a server starts (which then reads the documents in)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from meeting_server.domain.permissions import DELEGATE_ROLES, Role
from meeting_server.domain.principal import Principal
from meeting_server.domain.roster import parse_rows
from meeting_server.domain.timefmt import VN
from meeting_server.services import attendance, demo, documents, meetings, minutes, roster, rosterfile, voting
from meeting_server.store import db
from meeting_server.store.tables import Meeting

DEMO = Path(__file__).resolve().parents[1] / "meeting_server" / "demo"
TERM = "khóa I, nhiệm kỳ 2026 - 2031"
ACTOR = "clerk:term-kit"

#: (title, date, [(agenda item, [document], [(poll subject, votes for, against)])]) of the two sessions held.
HELD: list[tuple[str, datetime, list[tuple[str, list[str], list[tuple[str, int, int]]]]]] = [
    ("Kỳ họp thứ Nhất", datetime(2026, 7, 1, 8, 0, tzinfo=VN), [
        ("Tờ trình về kế hoạch chuyển đổi số của Hội đồng nhân dân xã", ["ke-hoach-cds-dong-le.pdf"],
         [("Thông qua Nghị quyết về kế hoạch chuyển đổi số năm 2026", 26, 2)]),
        ("Tờ trình về dự toán ngân sách xã năm 2027", [],
         [("Thông qua Nghị quyết về dự toán ngân sách xã năm 2027", 24, 3),
          ("Thông qua đề nghị điều chỉnh phí chợ", 9, 18)]),
    ]),
    ("Kỳ họp chuyên đề", datetime(2026, 9, 15, 8, 0, tzinfo=VN), [
        ("Kế hoạch thực hiện Nghị quyết số 57-NQ/TW", ["ke-hoach-nq57-chu-se.pdf"],
         [("Thông qua Nghị quyết về thực hiện Nghị quyết số 57-NQ/TW", 27, 0)]),
    ]),
]


def _hold(app: Any, s: Any, title: str, when: datetime,
          items: list[tuple[str, list[str], list[tuple[str, int, int]]]]) -> Meeting:
    f = meetings.MeetingFields(council_level="xã", locality="Đồng Lê", session_title=title, term=TERM,
                               place="Hội trường Ủy ban nhân dân xã Đồng Lê", starts_at=when, seated_count=30)
    m = meetings.create(s, f, ACTOR)
    for item, _docs, _polls in items:
        meetings.add_item(s, m, item, "", ACTOR)
    roster.apply(s, m, parse_rows(rosterfile.parse((DEMO / "dai-bieu-hdnd-xa.csv").read_bytes())), ACTOR)
    s.refresh(m)
    for p in m.participants:  # the session's secretary, named at the opening as the demo does
        if p.full_name == demo.DEMO_SECRETARY:
            p.role = "secretary"
    for k, (_item, docs, _polls) in enumerate(items, start=1):
        if docs:
            documents.attach_files(app, s, m, [DEMO / d for d in docs], k, ACTOR)
    s.commit()
    people = [p for p in m.participants if Role(p.role) in DELEGATE_ROLES]
    for p in people:
        attendance.joined(s, m, p)
    meetings.set_status(s, m, "in_progress", ACTOR)
    for k, (_item, _docs, polls) in enumerate(items):
        for subject, yes, no in polls:
            poll = voting.create(s, m, {"kind": "open", "title": subject, "agenda_item_id": m.items[k].id},
                                 ACTOR).value
            voting.open_poll(s, m, poll, ACTOR)
            for i, p in enumerate(people[: yes + no]):
                who = Principal(role=Role(p.role), meeting_id=m.id, participant_id=p.id, name=p.full_name)
                voting.cast(s, voting.Cast(who=who, poll_id=poll.id, choice="for" if i < yes else "against"))
            voting.close(s, m, poll, ACTOR)
    meetings.set_status(s, m, "ended", ACTOR)
    return m


def seed_term(data_dir: Path) -> list[int]:
    """The term in `data_dir` (a new one): the demo meeting first (the server's current meeting, with its
    documents), then the two sessions held. Returns the three meetings' ids in the order they sat."""
    from meeting_server.app import create_app

    app = create_app({"DATA_DIR": data_dir})
    with db.standalone_session(app) as s:
        current = demo.seed(s)
        pending = documents.attach_files(app, s, current, demo.demo_documents(), 3, ACTOR)
        demo.name_documents(s, pending)
        s.commit()
        held = [_hold(app, s, title, when, items) for title, when, items in HELD]
        ids = [held[0].id, held[1].id, current.id]
    app.extensions["db_engine"].dispose()
    return ids


def sign_minutes(data_dir: Path, meeting_id: int) -> None:
    """Sign a held session's minutes with the server's keys (`services.minutes.finalize`, as the record's tests do),
    once the server has read its documents in (minutes are not signed while a document is still processing)."""
    from meeting_server.app import create_app

    app = create_app({"DATA_DIR": data_dir})
    with app.app_context(), db.standalone_session(app) as s:
        minutes.finalize(app, s, s.get(Meeting, meeting_id), ACTOR)
    app.extensions["db_engine"].dispose()
