"""Every Socket.IO handler the server has is one the event registry declared, with the permission it declared.

The check reads what python-socketio will actually call (`server.handlers`, `server.namespace_handlers`) and what
Flask-SocketIO keeps for a server it has not made yet (`SocketIO.handlers`, `SocketIO.namespace_handlers`), and
compares it with `realtime.registry.EVENTS` and `CONNECTION`, both ways.
"""

from __future__ import annotations

from typing import Any

import pytest
import socketio
from flask import Flask
from flask_socketio import Namespace, SocketIO

from meeting_server.domain.permissions import Permission
from meeting_server.realtime import registry
from meeting_server.realtime.registry import CONNECTION, EVENTS
from tests.conftest import LiveServer
from tests.realtime.helpers import HealthzWatch, Screen, meeting_writes_fail


def _binding(handler: Any, namespace: str, event: str) -> list[str]:
    """What is wrong with one bound handler (nothing, when the registry bound it under its own name)."""
    where = f"{event!r} on {namespace!r}"
    if namespace != "/":
        return [f"{where}: a handler outside the default namespace, which the registry never binds"]
    declared = getattr(handler, "socket_event", None)
    if declared is None:
        return [f"{where}: bound behind the registry's back"]
    if declared != event:
        return [f"{where}: bound to the registry's handler of {declared!r}"]
    if event in CONNECTION:
        return []
    if event not in EVENTS:
        return [f"{where}: not in the registry"]
    if getattr(handler, "required_permission", None) != EVENTS[event][0]:
        return [f"{where}: bound with permission {handler.required_permission}, declared {EVENTS[event][0]}"]
    return []


def binding_problems(sio: SocketIO) -> list[str]:
    """Every Socket.IO handler of `sio` the registry did not bind as declared, and every declared event not bound."""
    problems: list[str] = []
    bound: set[str] = set()
    for message, handler, namespace in sio.handlers:  # bound on Flask-SocketIO before its server exists
        problems += _binding(handler, namespace or "/", message)
    for namespace_handler in sio.namespace_handlers:
        problems.append(f"namespace class {namespace_handler.namespace!r}: outside the registry")
    if sio.server is not None:
        for namespace, handlers in sio.server.handlers.items():
            for event, handler in handlers.items():
                problems += _binding(handler, namespace, event)
                if namespace == "/":
                    bound.add(event)
        for namespace in sio.server.namespace_handlers:
            problems.append(f"namespace class {namespace!r}: outside the registry")
    for event in sorted((set(EVENTS) | set(CONNECTION)) - bound):
        problems.append(f"{event!r}: declared in the registry but not bound")
    return sorted(problems)


def _fresh() -> SocketIO:
    """A SocketIO of its own, on a bare Flask app, with the registry's events bound as create_app binds them."""
    sio = SocketIO()
    sio.init_app(Flask(__name__), async_mode="threading")
    registry.register(sio)
    return sio


def test_the_server_binds_exactly_the_registry(app: Any) -> None:
    """The app's own SocketIO (create_app bound it): lean, fast and ordinary events and "connect"."""
    from meeting_server.extensions import socketio as sio

    assert "connect" in CONNECTION and "sync" in EVENTS and "cast" in EVENTS and "present" in EVENTS
    assert set(sio.server.handlers["/"]) == set(EVENTS) | set(CONNECTION)
    assert binding_problems(sio) == []


def test_every_event_declares_its_permission_and_connect_how_it_authenticates() -> None:
    for name, (perm, _handler) in EVENTS.items():
        assert perm is None or isinstance(perm, Permission), name
    assert set(CONNECTION) <= {"connect", "disconnect"}
    for name, (how, _handler) in CONNECTION.items():
        assert how.strip(), name


def test_connect_refuses_a_connection_without_a_valid_card(live_server: LiveServer) -> None:
    """What CONNECTION says of "connect", seen from a phone: no card and a wrong card are refused, a card is let in
    and sent its `state` (test_attendance_live.py does the same for a revoked card's next event)."""
    assert "refused" in CONNECTION["connect"][0]
    for token in (None, "x" * 32):
        with pytest.raises(socketio.exceptions.ConnectionError):
            Screen(live_server.url, token)
    kiosk = Screen(live_server.url, live_server.token(live_server.links["kiosk"]))
    try:
        assert kiosk.wait("state")["seq"] >= 0
    finally:
        kiosk.close()


# --- the check can fail: handlers bound behind the registry's back on a fresh SocketIO ---


def test_a_fresh_socketio_bound_by_the_registry_passes() -> None:
    assert binding_problems(_fresh()) == []


def test_an_event_bound_outside_the_registry_is_reported() -> None:
    sio = _fresh()

    def on_sneak(data: Any) -> dict[str, Any]:
        return {"ok": True}

    sio.on_event("poll.reset", on_sneak)
    assert binding_problems(sio) == ["'poll.reset' on '/': bound behind the registry's back"]


def test_a_connect_handler_replaced_behind_the_registry_is_reported() -> None:
    sio = _fresh()
    sio.server.on("connect", lambda sid, environ, auth=None: True)
    assert binding_problems(sio) == ["'connect' on '/': bound behind the registry's back"]


def test_a_handler_under_another_event_name_or_namespace_or_catch_all_is_reported() -> None:
    sio = _fresh()
    sync_handler = EVENTS["sync"][1]
    sio.on_event("agenda.set_current", sync_handler)  # the chair's control bound to a handler that asks MEETING_READ
    sio.on_event("sync", sync_handler, namespace="/admin")
    sio.on_event("*", lambda event, data: None)
    sio.on_namespace(Namespace("/kiosk"))
    assert binding_problems(sio) == [
        "'*' on '/': bound behind the registry's back",
        "'agenda.set_current' on '/': bound to the registry's handler of 'sync'",
        "'sync' on '/admin': a handler outside the default namespace, which the registry never binds",
        "namespace class '/kiosk': outside the registry",
    ]


def test_a_handler_bound_before_the_server_exists_is_reported() -> None:
    sio = SocketIO()
    sio.on_event("speak.give", lambda data: None)  # kept by Flask-SocketIO until init_app makes the server
    assert "'speak.give' on '/': bound behind the registry's back" in binding_problems(sio)


def test_a_binding_whose_permission_differs_from_the_registry_is_reported(monkeypatch: Any) -> None:
    sio = _fresh()
    monkeypatch.setitem(EVENTS, "sync", (Permission.AGENDA_CONTROL, EVENTS["sync"][1]))
    assert binding_problems(sio) == [
        "'sync' on '/': bound with permission meeting.can_see, declared agenda.can_control"]


def test_a_declared_event_left_unbound_is_reported() -> None:
    sio = _fresh()
    del sio.server.handlers["/"]["sync"]
    assert binding_problems(sio) == ["'sync': declared in the registry but not bound"]


def test_every_event_answers_even_when_its_handler_fails(live_server: LiveServer) -> None:
    """A handler that raises something other than a refusal (here the database refuses every write to the meeting
    row) still acknowledges, with `server.error` and a message in Vietnamese, for an ordinary event and for the
    fast page-turn path alike; the traceback is in the server's log; the room's loop keeps answering /healthz
    throughout the fault; once the fault is gone the same event works again."""
    srv = live_server
    srv.documents_ready()  # each demo document read in moves seq: the seq compared below is a settled room's
    chair = Screen(srv.url, srv.token(srv.links["chair"][0]))
    try:
        state = chair.wait("state")
        item = state["agenda"][1]["id"]
        with meeting_writes_fail(srv.data_dir):
            watch = HealthzWatch(srv.url)
            try:
                for _round in range(5):
                    for event, data in (("agenda.set_current", {"item_id": item}),
                                        ("present", {"document_id": None})):
                        ack = chair.call(event, data)
                        assert ack == {"ok": False, "code": "server.error", "error": registry.SERVER_ERROR,
                                       "message": registry.SERVER_ERROR}, (event, ack)
            finally:
                worst = watch.stop()
        log = srv.log_path.read_text()
        assert "injected fault" in log and "Traceback" in log and "'present' failed" in log
        assert chair.call("agenda.set_current", {"item_id": item}) == {"ok": True, "seq": state["seq"] + 1}
    finally:
        chair.close()
    assert watch.failures == 0 and worst < 0.1, f"/healthz worst {worst * 1000:.0f} ms: {watch.times}"
