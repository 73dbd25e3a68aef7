"""Length-prefixed JSON messages between the render pool and its workers (stdlib only)."""

from __future__ import annotations

import json
import struct
import time
from typing import IO, Any

_HEADER = struct.Struct(">I")
MAX_MESSAGE = 512 * 1024 * 1024  # the text of 2000 dense pages is a few MB; anything near this is a bug


class WireClosed(EOFError):
    """The other end closed the pipe (for a worker: it exited or was killed)."""


def send(stream: IO[bytes], message: dict[str, Any]) -> None:
    """Write one message: a 4-byte big-endian length, then UTF-8 JSON."""
    body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    data = _HEADER.pack(len(body)) + body
    view = memoryview(data)
    while view:
        # A raw pipe may take part of the buffer; keep writing until all of it is in.
        written = stream.write(view)
        if written is None:  # a non-blocking pipe, full for the moment
            time.sleep(0.001)
            continue
        view = view[written:]
    stream.flush()


def receive(stream: IO[bytes]) -> dict[str, Any]:
    """Read one message; raises WireClosed at end of stream."""
    (length,) = _HEADER.unpack(_read_exact(stream, _HEADER.size))
    if length > MAX_MESSAGE:
        raise ValueError(f"message of {length} bytes")
    message = json.loads(_read_exact(stream, length).decode("utf-8"))
    if not isinstance(message, dict):
        raise ValueError("message is not an object")
    return message


def _read_exact(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = stream.read(remaining)
        if not chunk:
            raise WireClosed("pipe closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)
