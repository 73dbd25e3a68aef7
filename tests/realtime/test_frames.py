"""Socket.IO frames the server cannot take are answered, against a real server: python-socketio decodes a frame
before any handler runs, and a frame nested 10,000 levels deep used to end in a RecursionError traceback and no
acknowledgement (the chair's button waited forever). Each bad frame here is sent raw, with and without an ack id;
then the same connection still works, the log has no traceback, and /healthz answers within 100 ms throughout."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from meeting_server.domain.payload import MAX_DEPTH, MAX_JSON_BYTES
from tests.conftest import LiveServer, start_server
from tests.realtime.helpers import Screen
from tests.web.test_bad_input import healthz_watched

DEEP = "[" * 10_000 + "]" * 10_000


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    server = start_server(tmp_path_factory.mktemp("frames"))
    yield server
    server.stop()


@pytest.fixture
def chair(srv: LiveServer) -> Iterator[Screen]:
    screen = Screen(srv.url, srv.token(srv.links["chair"][0]))
    screen.wait("state")
    yield screen
    screen.close()


def send_raw(screen: Screen, event: str, json_args: str, ack: bool = True) -> threading.Event | None:
    """Send `42<id>["event",<json_args>]` as typed, the way a modified client could: python-socketio's own emit
    cannot even encode 10,000 levels. Returns an event set with `.answer` when the server acknowledges."""
    got = threading.Event()

    def on_ack(*args: Any) -> None:
        got.answer = args[0] if args else None  # type: ignore[attr-defined]
        got.set()

    ack_id = str(screen.client._generate_ack_id("/", on_ack)) if ack else ""
    screen.client.eio.send(f"2{ack_id}[\"{event}\",{json_args}]")
    return got if ack else None


def answer(got: threading.Event | None, timeout: float = 10) -> Any:
    assert got is not None and got.wait(timeout), "no acknowledgement"
    return got.answer  # type: ignore[attr-defined]


def test_a_frame_nested_10000_levels_is_answered_in_vietnamese(srv: LiveServer, chair: Screen) -> None:
    with healthz_watched(srv, "a Socket.IO frame nested 10,000 levels"):
        got = send_raw(chair, "agenda.set_current", DEEP)
        assert answer(got) == {"ok": False, "code": "payload.too_deep",
                               "error": f"Dữ liệu gửi lên lồng nhau quá {MAX_DEPTH} tầng."}
        # Without an ack id it is dropped; the connection carries on.
        send_raw(chair, "sync", DEEP, ack=False)
        assert chair.call("sync") == {"ok": True}
        assert chair.client.connected
    log = srv.log_path.read_text()
    assert "Traceback" not in log and "RecursionError" not in log, log[-3000:]


def test_a_frame_over_the_json_cap_and_a_broken_one_are_answered(srv: LiveServer, chair: Screen) -> None:
    big = '{"item_id": "' + "x" * (MAX_JSON_BYTES + 10_000) + '"}'
    with healthz_watched(srv, "a 266 kB Socket.IO frame and a broken one"):
        assert answer(send_raw(chair, "agenda.set_current", big)) == {
            "ok": False, "code": "payload.too_large",
            "error": f"Dữ liệu gửi lên quá lớn ({(len(big) + 23) // 1024} kB; tối đa {MAX_JSON_BYTES // 1024} kB)."}
        assert answer(send_raw(chair, "agenda.set_current", '{"item_id": ')) == {
            "ok": False, "code": "payload.invalid", "error": "Dữ liệu gửi lên không phải JSON hợp lệ."}
        assert chair.call("sync") == {"ok": True}
    assert "Traceback" not in srv.log_path.read_text()


def test_a_client_naming_the_refusal_event_itself_gets_only_a_refusal(srv: LiveServer, chair: Screen) -> None:
    from meeting_server.realtime.frames import REFUSED_EVENT

    assert answer(send_raw(chair, REFUSED_EVENT, '"%(x)s"')) == {
        "ok": False, "code": "payload.invalid", "error": "Dữ liệu gửi lên không hợp lệ."}


def test_frames_are_unmasked_as_eventlet_does() -> None:
    """realtime/transport.py's unmasking gives eventlet's bytes, for every length and position in the mask."""
    import os

    from eventlet.websocket import RFC6455WebSocket

    from meeting_server.realtime.transport import _mask

    # eventlet's own: the class's, or the one kept aside when an app made in this process installed ours.
    stock = RFC6455WebSocket.__dict__.get("_stock_apply_mask", RFC6455WebSocket.__dict__["_apply_mask"]).__func__
    assert stock is not _mask
    for n in (0, 1, 3, 4, 5, 1000, 65_537):
        data = os.urandom(n)
        for offset in (0, 1, 2, 3, 6):
            key = tuple(os.urandom(4))
            assert _mask(data, key, None, offset) == stock(data, key, None, offset)
            assert _mask(data + b"tail", key, n, offset) == stock(data + b"tail", key, n, offset)
