"""Requests to speak: one waiting request per delegate and agenda item, one floor, order of request."""

from datetime import UTC, datetime, timedelta

import pytest

from meeting_server.domain.errors import DomainError
from meeting_server.domain.speakers import (
    RequestStatus,
    SpeakRequest,
    current_speaker,
    end_speech,
    floor_status,
    give_floor,
    next_speaker,
    queue,
    remaining_seconds,
    request_floor,
    withdraw,
)

T0 = datetime(2026, 12, 10, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def error_code(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(DomainError) as caught:
        fn(*args)
    assert caught.value.message  # a sentence a person can read
    return caught.value.code


def three_waiting() -> tuple[SpeakRequest, ...]:
    """Delegates d2, d1, d3 ask to speak on item 1, in that order."""
    records: tuple[SpeakRequest, ...] = ()
    records = request_floor(records, "r1", "d2", "item1", at(10))
    records = request_floor(records, "r2", "d1", "item1", at(20))
    return request_floor(records, "r3", "d3", "item1", at(30))


def status_of(records: tuple[SpeakRequest, ...]) -> dict[str, str]:
    return {r.id: str(r.status) for r in records}


def test_queue_is_in_order_of_request_time() -> None:
    records = three_waiting()
    # Stored out of order (e.g. read back from the database): the time still decides.
    shuffled = (records[2], records[0], records[1])
    assert [r.delegate_id for r in queue(shuffled)] == ["d2", "d1", "d3"]
    assert next_speaker(shuffled).id == "r1"  # type: ignore[union-attr]


def test_same_time_keeps_record_order() -> None:
    records = request_floor(request_floor((), "a", "d1", "i", at(5)), "b", "d2", "i", at(5))
    assert [r.id for r in queue(records)] == ["a", "b"]


def test_no_second_request_while_waiting_or_speaking_on_the_same_item() -> None:
    records = three_waiting()
    assert error_code(request_floor, records, "r9", "d1", "item1", at(40)) == "speak.already_requested"
    # Another agenda item is a separate queue.
    records = request_floor(records, "r4", "d1", "item2", at(40))
    assert [r.id for r in queue(records, "item2")] == ["r4"]
    assert [r.id for r in queue(records, "item1")] == ["r1", "r2", "r3"]
    records = give_floor(records, "r1", at(50))
    assert error_code(request_floor, records, "r5", "d2", "item1", at(60)) == "speak.already_requested"
    # After speaking, or after withdrawing, a delegate may ask again.
    records = end_speech(records, at(70))
    records = request_floor(records, "r5", "d2", "item1", at(80))
    records = withdraw(records, "r2", at(90))
    records = request_floor(records, "r6", "d1", "item1", at(95))
    assert [r.id for r in queue(records, "item1")] == ["r3", "r5", "r6"]


def test_request_ids_are_unique() -> None:
    assert error_code(request_floor, three_waiting(), "r1", "d9", "item1", at(40)) == "speak.duplicate_id"


def test_withdraw_only_a_waiting_request() -> None:
    records = withdraw(three_waiting(), "r2", at(40))
    assert status_of(records) == {"r1": "waiting", "r2": "withdrawn", "r3": "waiting"}
    assert records[1].ended_at == at(40)
    assert error_code(withdraw, records, "r2", at(41)) == "speak.not_waiting"
    assert error_code(withdraw, records, "nope", at(41)) == "speak.not_found"
    records = give_floor(records, "r1", at(50))
    assert error_code(withdraw, records, "r1", at(51)) == "speak.not_waiting"


def test_giving_the_floor_ends_the_previous_speaker() -> None:
    records = give_floor(three_waiting(), "r1", at(100))
    assert current_speaker(records).id == "r1"  # type: ignore[union-attr]
    records = give_floor(records, "r3", at(200))  # the chair may call someone out of order
    assert status_of(records) == {"r1": "done", "r2": "waiting", "r3": "speaking"}
    assert records[0].ended_at == at(200) and records[2].started_at == at(200)
    assert next_speaker(records).id == "r2"  # type: ignore[union-attr]
    assert sum(r.status == RequestStatus.SPEAKING for r in records) == 1


@pytest.mark.parametrize("status_setup", ["speaking", "done", "withdrawn"])
def test_floor_only_for_a_waiting_request(status_setup: str) -> None:
    records = give_floor(three_waiting(), "r1", at(100))
    if status_setup == "done":
        records = end_speech(records, at(110))
    if status_setup == "withdrawn":
        records = withdraw(three_waiting(), "r1", at(100))
    assert error_code(give_floor, records, "r1", at(120)) == "speak.not_waiting"


def test_end_speech_needs_a_speaker() -> None:
    assert error_code(end_speech, three_waiting(), at(10)) == "speak.nobody_speaking"
    records = end_speech(give_floor(three_waiting(), "r2", at(100)), at(130))
    assert current_speaker(records) is None
    assert records[1].status == RequestStatus.DONE and records[1].ended_at == at(130)


def test_functions_do_not_change_the_records_they_are_given() -> None:
    records = three_waiting()
    give_floor(records, "r1", at(100))
    assert status_of(records) == {"r1": "waiting", "r2": "waiting", "r3": "waiting"}


@pytest.mark.parametrize(
    ("elapsed", "remaining"),
    [(0, 180), (0.4, 180), (0.999, 180), (1, 179), (179.5, 1), (180, 0), (185.2, -5)],
)
def test_remaining_seconds_count_down_like_a_clock(elapsed: float, remaining: int) -> None:
    records = give_floor(three_waiting(), "r1", at(100))
    assert remaining_seconds(records[0], 180, at(100 + elapsed)) == remaining


def test_remaining_time_stops_when_the_speech_ends_and_is_full_before_it_starts() -> None:
    records = end_speech(give_floor(three_waiting(), "r1", at(100)), at(160))
    assert remaining_seconds(records[0], 180, at(1000)) == 120
    assert remaining_seconds(records[1], 180, at(1000)) == 180


def test_floor_status_for_the_room_screen() -> None:
    records = request_floor(three_waiting(), "r4", "d4", "item2", at(35))
    idle = floor_status(records, 300, at(40), "item1")
    assert idle.speaking is None and idle.remaining_seconds is None and not idle.over_time
    assert idle.next.id == "r1" and [r.id for r in idle.waiting] == ["r1", "r2", "r3"]  # type: ignore[union-attr]
    records = give_floor(records, "r1", at(100))
    shown = floor_status(records, 300, at(160), "item1")
    assert shown.speaking.delegate_id == "d2" and shown.remaining_seconds == 240  # type: ignore[union-attr]
    assert shown.next.id == "r2" and not shown.over_time  # type: ignore[union-attr]
    late = floor_status(records, 300, at(401))
    assert late.remaining_seconds == -1 and late.over_time
    assert [r.id for r in late.waiting] == ["r2", "r3", "r4"]


def test_request_record_is_json_ready() -> None:
    record = give_floor(three_waiting(), "r1", at(100))[0]
    assert record.to_dict() == {
        "id": "r1",
        "delegate_id": "d2",
        "agenda_item_id": "item1",
        "requested_at": "2026-12-10T08:00:10+00:00",
        "status": "speaking",
        "started_at": "2026-12-10T08:01:40+00:00",
        "ended_at": None,
    }
