"""Socket.IO frames are decoded with the same bounds as HTTP bodies, and a frame refused is answered.

python-socketio decodes a frame's JSON before any handler of ours runs: a frame nested 10,000 levels deep ended in
a RecursionError traceback, with no acknowledgement, so the button that sent it waited forever. `FrameJSON` is the
JSON module given to python-socketio and python-engineio (`SocketIO(json=...)`, app.py): before decoding it applies
`domain.payload.check_json`, the one check of HTTP bodies (size, number of values, depth), and refuses with
`FrameRefused`, a ValueError (engine.io's own decoder takes a ValueError as "not JSON" and keeps the text).

`CheckedPacket`, python-socketio's packet class here (`serializer=`), turns a refused event into the event
`REFUSED_EVENT` carrying the refusal; its handler, declared like every other with the registry, raises it, so the
sender's acknowledgement (when the frame had an ack id) is the registry's refusal in the person's language:
`{"ok": false, "code": "payload.too_deep", "error": "Dữ liệu gửi lên lồng nhau quá 16 tầng."}`. Without an ack id
the frame is dropped, and the connection carries on. The refusal travels as a Python object, which no frame from
the network can be, so a client that names `REFUSED_EVENT` itself gets only `payload.invalid`.
"""

from __future__ import annotations

from typing import Any

from engineio import json as engineio_json
from socketio import packet

from meeting_server.domain import payload
from meeting_server.domain.errors import DomainError
from meeting_server.domain.principal import Principal
from meeting_server.realtime.registry import socket_event

__all__ = ["REFUSED_EVENT", "CheckedPacket", "FrameJSON", "FrameRefused"]

#: The event a refused frame becomes (never sent by a screen; docs/PROTOCOL.md).
REFUSED_EVENT = "frame.refused"
#: A frame's data is the event's arguments in a list around the payload: one level more than the payload's own.
FRAME_DEPTH = payload.MAX_DEPTH + 1


class FrameRefused(ValueError):
    """A frame's JSON refused before decoding, with the reason a person reads."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.code)
        self.error = error


class FrameJSON:
    """The JSON module of python-socketio and python-engineio: their own (stdlib json, integers of at most 100
    digits) behind `payload.check_json`."""

    @staticmethod
    def dumps(obj: Any, **kwargs: Any) -> str:
        return str(engineio_json.dumps(obj, **kwargs))

    @staticmethod
    def loads(text: str | bytes, **kwargs: Any) -> Any:
        raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else bytes(text)
        try:
            payload.check_json(raw, max_depth=FRAME_DEPTH)
        except DomainError as err:
            if err.code == "payload.too_deep":  # said as the payload's depth, as over HTTP
                err = DomainError(err.template, err.code, params={"max": payload.MAX_DEPTH})
            raise FrameRefused(err) from None
        try:
            return engineio_json.loads(text, **kwargs)
        except ValueError as exc:
            raise FrameRefused(payload.not_json()) from exc


class CheckedPacket(packet.Packet):
    """python-socketio's packet, whose decoding answers a refused frame instead of raising out of the server."""

    json = FrameJSON

    def decode(self, encoded_packet: Any) -> int:
        try:
            return int(super().decode(encoded_packet))
        except FrameRefused as refused:
            # Type, namespace and ack id were read before the data: keep them, so the answer finds its sender.
            kind: Any = getattr(self, "packet_type", None)
            self.data: Any
            if kind in (packet.EVENT, packet.BINARY_EVENT):
                self.packet_type, self.data = packet.EVENT, [REFUSED_EVENT, refused.error]
            elif kind in (packet.ACK, packet.BINARY_ACK):
                self.packet_type, self.data = packet.ACK, []  # an answer nobody waits for: python-socketio drops it
            else:
                self.data = None  # a connect whose auth was refused: connects as without auth (the card cookie)
            return 0


@socket_event(REFUSED_EVENT, requires=None)
def on_refused(_who: Principal, refusal: Any = None) -> None:
    """A frame refused while decoding (`CheckedPacket`): its acknowledgement is the refusal."""
    if isinstance(refusal, DomainError):
        raise refusal
    raise payload.invalid()
