"""The unit of work itself: a use case commits once and says what changed; a refusal changes and commits nothing;
use cases called inside another's unit join it; and nothing outside services/unit.py moves `meeting.seq`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from meeting_server.domain.errors import DomainError
from meeting_server.services import meetings, unit
from meeting_server.services.unit import Change
from meeting_server.store.tables import Meeting

PACKAGE = Path(__file__).resolve().parents[2] / "meeting_server"


def test_a_use_case_commits_and_returns_what_changed(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    before = stored(f"SELECT seq FROM meeting WHERE id = {m.id}")
    change = meetings.set_current_item(s, m, m.items[1].id, "chair:test")
    assert change == Change(m.id, before + 1, state=True)  # one seq, and only the state changed
    assert stored(f"SELECT seq FROM meeting WHERE id = {m.id}") == before + 1  # committed, not merely flushed
    assert stored(f"SELECT current_item_id FROM meeting WHERE id = {m.id}") == m.items[1].id
    assert stored("SELECT kind FROM audit_event ORDER BY seq DESC LIMIT 1") == "agenda.current"
    assert not s.in_transaction() or not (s.new or s.dirty or s.deleted)


def test_a_refusal_changes_nothing_and_commits_nothing(s: Session, m: Meeting,
                                                       stored: Callable[[str], Any]) -> None:
    seq, events = stored("SELECT seq FROM meeting"), stored("SELECT count(*) FROM audit_event")
    with pytest.raises(DomainError) as err:
        meetings.set_status(s, m, "in_progress", "chair:test")  # nobody is present yet: below the quorum
    assert err.value.code == "meeting.below_quorum"
    # Refused inside the unit (the item is on the record only once the poll exists): rolled back, not half-done.
    from meeting_server.services import voting

    voting.create(s, m, {"kind": "open", "title": "Thông qua", "agenda_item_id": m.items[2].id}, "clerk:test")
    seq, events = stored("SELECT seq FROM meeting"), stored("SELECT count(*) FROM audit_event")
    with pytest.raises(DomainError) as err:
        meetings.delete_item(s, m, m.items[2].id, "clerk:test")
    assert err.value.code == "agenda.on_record"
    assert stored("SELECT seq FROM meeting") == seq and stored("SELECT count(*) FROM audit_event") == events
    assert stored("SELECT count(*) FROM agenda_item") == 6
    assert m.seq == seq and len(m.items) == 6  # the session was rolled back too: it shows what is stored
    assert stored("SELECT status FROM meeting") == "draft"


def test_use_cases_inside_another_unit_join_it(s: Session, m: Meeting, stored: Callable[[str], Any]) -> None:
    seq = stored("SELECT seq FROM meeting")
    with pytest.raises(DomainError), unit.of_work(s):
        meetings.add_item(s, m, "Nội dung bổ sung", "", "clerk:test")  # would commit on its own
        meetings.set_current_item(s, m, m.items[0].id, "chair:test")
        raise DomainError("Thử", "test.refused")
    assert stored("SELECT seq FROM meeting") == seq and stored("SELECT count(*) FROM agenda_item") == 6
    with unit.of_work(s):
        meetings.add_item(s, m, "Nội dung bổ sung", "", "clerk:test")
        done = meetings.add_item(s, m, "Nội dung thứ tám", "", "clerk:test")
        assert stored("SELECT count(*) FROM agenda_item") == 6  # not yet: the outer unit commits
    assert stored("SELECT count(*) FROM agenda_item") == 8 and done.change.seq == seq + 2


def test_a_change_names_a_poll_event_only_with_its_poll() -> None:
    with pytest.raises(ValueError):
        Change(1, 5, poll_event="opened")
    with pytest.raises(ValueError):
        Change(1, 5, poll_id=3, poll_event="reopened")
    with pytest.raises(ValueError):
        Change(1, 5, progress=(3, 30))
    assert Change(1, 5, poll_id=3, poll_event="opened").but(state=True).state is True


def _lines(pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [f"{path.relative_to(PACKAGE.parent)}:{n}" for path in sorted(PACKAGE.rglob("*.py"))
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if rx.search(line)]


def test_only_the_unit_moves_seq() -> None:
    """`bump` is the one place a meeting's seq is incremented (the page turn's prebuilt statement is the exception
    the docs name: it bumps it in SQL). The audit chain's own `seq` is another counter."""
    moves = _lines(r"\bseq \+=|\.seq = |(Meeting|_meeting_t\.c)\.seq \+ 1")
    assert [x for x in moves if not x.startswith("meeting_server/services/unit.py")] == [
        f"meeting_server/services/documents.py:{_next_seq_line()}"]


def _next_seq_line() -> int:
    text = (PACKAGE / "services" / "documents.py").read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(text, start=1) if line.startswith("_NEXT_SEQ = "))


def test_the_skins_commit_only_on_the_hot_paths() -> None:
    """web/ and realtime/ call use cases and announce; the ballot group commit is the one documented exception
    left outside services/ (the page turn commits in services.documents.turn)."""
    found = [x for x in _lines(r"commit\(") if not x.startswith(("meeting_server/services/", "meeting_server/store/"))]
    assert [x.rsplit(":", 1)[0] for x in found] == ["meeting_server/realtime/voting.py"]
