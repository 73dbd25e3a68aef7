"""The `state` snapshot's cache (services/snapshot._SHARED) never shows a stale state: after each kind of change,
a snapshot built through the cache, warmed before the change by another session (another server process), equals
one built from scratch, for every role and for a person of each kind."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from meeting_server.domain.permissions import Role
from meeting_server.domain.principal import Principal
from meeting_server.services import attendance, documents, meetings, questions, snapshot, speakers, voting
from meeting_server.store import db
from meeting_server.store.tables import Meeting, Participant

#: What moves with the server's clock, not with seq: left out of the comparison.
CLOCK = {"server_now_ms", "ends_in_ms", "remaining_s", "over_time"}


def _without_clock(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_clock(v) for k, v in value.items() if k not in CLOCK}
    if isinstance(value, list):
        return [_without_clock(v) for v in value]
    return value


@pytest.fixture(autouse=True)
def empty_cache() -> Iterator[None]:
    """An empty cache, and an app context for the signed page URLs of ready documents."""
    snapshot._SHARED.clear()
    app = Flask(__name__)
    app.secret_key = "test-secret"
    with app.app_context():
        yield
    snapshot._SHARED.clear()


@pytest.fixture
def other(engine: Engine) -> Callable[[], Session]:
    """A fresh session each call, as another server process reads the database."""
    return sessionmaker(engine, expire_on_commit=False)


def _principals(s: Session, m: Meeting) -> list[Principal]:
    out = [Principal(role, m.id) for role in Role]
    seen: set[str] = set()
    for p in m.participants:
        if p.role not in seen:
            seen.add(p.role)
            out.append(Principal(Role(p.role), m.id, p.id, p.full_name))
    return out


def _snapshots(factory: Callable[[], Session], *, cached: bool) -> list[dict[str, Any]]:
    if not cached:
        saved = dict(snapshot._SHARED)
        snapshot._SHARED.clear()
    with factory() as s:
        m = meetings.current(s)
        assert m is not None
        out = [_without_clock(snapshot.build(m, who)) for who in _principals(s, m)]
    if not cached:
        snapshot._SHARED.clear()
        snapshot._SHARED.update(saved)
    return out


def _same_after(factory: Callable[[], Session], change: Callable[[], object]) -> None:
    """Warm the cache, make the change, then compare the cached snapshots with fresh ones, twice (a miss, a hit)."""
    before = _snapshots(factory, cached=True)
    assert snapshot._SHARED, "the cache was not used"
    change()
    fresh = _snapshots(factory, cached=False)
    assert fresh != before, "the change did not change any snapshot: the test proves nothing"
    assert _snapshots(factory, cached=True) == fresh  # built now and stored …
    assert _snapshots(factory, cached=True) == fresh  # … then taken from the cache


def _people(m: Meeting, role: str = "delegate") -> list[Participant]:
    return [p for p in m.participants if p.role == role]


def _chair(m: Meeting) -> Principal:
    p = _people(m, "chair")[0]
    return Principal(Role.CHAIR, m.id, p.id, p.full_name)


def test_attendance(s: Session, m: Meeting, other: Callable[[], Session]) -> None:
    _same_after(other, lambda: attendance.joined(s, m, _people(m)[0]))
    _same_after(other, lambda: attendance.mark(s, m, _people(m)[1].id, "absent", "Ốm", None, "clerk:test"))


def test_vote_opened_and_ballots(s: Session, m: Meeting, other: Callable[[], Session]) -> None:
    for p in _people(m)[:10]:
        attendance.joined(s, m, p)
    poll = voting.create(s, m, {"kind": "open", "title": "Thông qua Nghị quyết"}, "clerk:test").value
    _same_after(other, lambda: voting.open_poll(s, m, poll, "chair:test", 60))
    d = _people(m)[0]
    _same_after(other, lambda: voting.proxy(s, m, poll, _chair(m), d.id, "for"))
    _same_after(other, lambda: attendance.joined(s, m, _people(m)[12]))  # eligible grows while it is open


def test_agenda_and_speakers(s: Session, m: Meeting, other: Callable[[], Session]) -> None:
    _same_after(other, lambda: meetings.set_current_item(s, m, m.items[1].id, "chair:test"))
    d = _people(m)[2]
    asked: list[Any] = []
    _same_after(other, lambda: asked.append(speakers.request(s, m, Principal(Role.DELEGATE, m.id, d.id,
                                                                             d.full_name))))
    _same_after(other, lambda: speakers.give(s, m, asked[0].value.id, 60, "chair:test"))


def test_documents_added_processed_and_pages_turned(s: Session, m: Meeting, other: Callable[[], Session],
                                                    engine: Engine) -> None:
    up = documents.StoredUpload(content_hash="ab" * 32, size=1234, path=Path("unused"))
    made: list[Any] = []
    _same_after(other, lambda: made.append(documents.create(
        s, m, up, "Tờ trình.pdf", "application/pdf", item_id=None, confidential=False, downloadable=True,
        actor="clerk:test").value))
    doc_id = made[0].id

    def inspected() -> None:  # the worker's first commit: title and pages while still processing, no seq bump
        with engine.begin() as conn:
            conn.execute(text("UPDATE document SET title = 'Tờ trình số 5', page_count = 3 WHERE id = :d"),
                         {"d": doc_id})

    _same_after(other, inspected)

    def ready() -> None:  # the worker's second commit, as services.documents._process makes it
        with engine.begin() as conn:
            conn.execute(text("UPDATE document SET status = 'ready', pages_rendered = 1 WHERE id = :d"),
                         {"d": doc_id})
            conn.execute(text("UPDATE meeting SET seq = seq + 1 WHERE id = :m"), {"m": m.id})

    _same_after(other, ready)

    def rendered() -> None:  # progress of drawing: no seq bump, seen by the clerk
        with engine.begin() as conn:
            conn.execute(text("UPDATE document SET pages_rendered = 3 WHERE id = :d"), {"d": doc_id})

    _same_after(other, rendered)

    def presented() -> None:  # a first turn, through a Session (services.documents.turn commits it so)
        documents.present(s, m.id, _chair(m), doc_id, 1)
        s.commit()

    _same_after(other, presented)

    def turned() -> None:  # the hot path, on the DBAPI connection
        with other() as t:
            conn = db.dbapi(t)
            assert documents.turn_page(conn, m.id, _chair(m), doc_id, 2) is not None
            conn.commit()

    _same_after(other, turned)


def test_question_time_and_speaking_time(s: Session, m: Meeting, other: Callable[[], Session]) -> None:
    """The speakers' list and question time are cached while nothing counts down (services/snapshot `_idle`):
    each change to them, idle or not, still shows at once."""
    d = _people(m)[3]
    who = Principal(Role.DELEGATE, m.id, d.id, d.full_name)
    filed: list[Any] = []
    fields = {"addressee_name": "Ông Trần Văn B", "addressee_title": "Chủ tịch UBND xã", "topic": "Đường liên thôn",
              "text": "Khi nào sửa xong đường liên thôn?"}
    _same_after(other, lambda: filed.append(questions.file(s, m, who, fields)))
    _same_after(other, lambda: speakers.set_time(s, m, 240, "chair:test"))
    _same_after(other, lambda: meetings.set_status(s, m, "in_progress", "chair:test", below_quorum_ok=True))
    _same_after(other, lambda: meetings.set_current_item(s, m, m.items[-1].id, "chair:test"))  # question time
    _same_after(other, lambda: questions.call(s, m, filed[0].value.id, "chair:test"))  # on the floor: a clock runs


def test_question_time_of_another_day_is_built_again(s: Session, m: Meeting, other: Callable[[], Session],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Question time's cached part says which day it is (`today`, what is overdue): it is not used on another day,
    which comes without a seq bump (midnight, or the clerk correcting the box's clock)."""
    d = _people(m)[3]
    questions.file(s, m, Principal(Role.DELEGATE, m.id, d.id, d.full_name),
                   {"addressee_name": "Bà Lê Thị C", "addressee_title": "Trưởng Công an xã", "topic": "An ninh",
                    "text": "Tình hình an ninh thôn 3?"})
    before = _snapshots(other, cached=True)
    tomorrow = questions.today(s) + timedelta(days=1)
    monkeypatch.setattr(questions, "today", lambda _s: tomorrow)
    after = _snapshots(other, cached=True)
    assert {snap["questions"]["today"] for snap in before} == {(tomorrow - timedelta(days=1)).isoformat()}
    assert {snap["questions"]["today"] for snap in after} == {tomorrow.isoformat()}
    assert after == _snapshots(other, cached=False)
