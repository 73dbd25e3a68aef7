"""The HTTP header parser in front of every request (web/serving.py): the standard library's answers, faster.

`parse_headers` must give exactly what `http.client.parse_headers` gives, for the requests phones send and for odd
or hostile ones, and leave the stream where it leaves it (at the body); the protocol's `parse_request` must answer
bad requests as the standard library does.
"""

from __future__ import annotations

import http.client
import io
import random
import socket
from typing import Any

import pytest

from meeting_server.web.serving import parse_headers
from tests.conftest import LiveServer

BROWSER = (
    b"Host: 192.168.1.10:8080\r\n"
    b"Connection: keep-alive\r\n"
    b"User-Agent: Mozilla/5.0 (Linux; Android 10; SM-A505F) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120\r\n"
    b"Accept: image/avif,image/webp,image/apng,image/*,*/*;q=0.8\r\n"
    b"Referer: http://192.168.1.10:8080/delegate\r\n"
    b"Accept-Encoding: gzip, deflate\r\n"
    b"Accept-Language: vi-VN,vi;q=0.9,en;q=0.8\r\n"
    b"Cookie: session=abc.def; lang=vi\r\n"
    b"If-None-Match: \"w720-3\"\r\n"
    b"\r\n"
)

CASES = {
    "a phone's page request": BROWSER + b"body",
    "bare LF line ends": b"Host: x\nAccept: */*\n\nrest",
    "repeated header": b"Cookie: a=1\r\nCookie: b=2\r\n\r\n",
    "empty value, no blank": b"X-Empty:\r\nX-Tight:v\r\n\r\n",
    "blanks around value": b"X-Pad: \t value with  inner  blanks \t \r\n\r\n",
    "colon in value": b"Host: [::1]:8080\r\nReferer: http://a:1/b?c=d:e\r\n\r\n",
    "folded continuation": b"X-Long: first\r\n second\r\n\tthird\r\nHost: x\r\n\r\n",
    "line without colon": b"Host: x\r\nNot a header line\r\nAccept: */*\r\n\r\n",
    "space before colon": b"Host : x\r\nAccept: */*\r\n\r\n",
    "leading blank first line": b" Host: x\r\n\r\n",
    "Latin-1 bytes": b"X-Name: Nguy\xe1\xbb\x85n\r\n\r\n",
    "end of stream, no blank line": b"Host: x\r\nAccept: */*\r\n",
    "nothing": b"",
    "99 headers": b"".join(b"X-%d: v\r\n" % i for i in range(99)) + b"\r\n",
}


def both(block: bytes) -> tuple[Any, Any]:
    """(ours, stdlib): each the headers' items and what is left of the stream, or the exception's type and text."""
    out = []
    for parse in (parse_headers, http.client.parse_headers):
        fp = io.BytesIO(block)
        try:
            msg = parse(fp)
            out.append((msg.items(), msg.get_content_type(), fp.read()))
        except http.client.HTTPException as exc:
            out.append((type(exc), str(exc)))
    return out[0], out[1]


@pytest.mark.parametrize("name", list(CASES))
def test_same_headers_as_the_standard_library(name: str) -> None:
    ours, stdlib = both(CASES[name])
    assert ours == stdlib


def test_same_refusals_as_the_standard_library() -> None:
    too_many = b"".join(b"X-%d: v\r\n" % i for i in range(100)) + b"\r\n"  # the blank line makes 101
    too_long = b"X-Big: " + b"a" * 70000 + b"\r\n\r\n"
    for block in (too_many, too_long):
        ours, stdlib = both(block)
        assert ours == stdlib and ours[0] in (http.client.HTTPException, http.client.LineTooLong)


def test_random_header_blocks_give_the_standard_librarys_answer() -> None:
    """2,000 header blocks from an alphabet of the characters that matter (separators, blanks, CR/LF, bytes
    above 127), seeded so that a failure repeats."""
    rng = random.Random(20261124)
    alphabet = [b"a", b"Z", b"-", b"_", b":", b" ", b"\t", b"\r\n", b"\n", b"\xe1", b"(", b"\"", b"=", b";", b"9"]
    for _ in range(2000):
        lines = []
        for _ in range(rng.randint(0, 8)):
            name = b"".join(rng.choice(alphabet[:5] + [b"x"] * 6) for _ in range(rng.randint(0, 8)))
            value = b"".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
            lines.append(name + rng.choice([b":", b": ", b":\t", b""]) + value + rng.choice([b"\r\n", b"\n"]))
        block = b"".join(lines) + rng.choice([b"\r\n", b"\n", b""]) + b"after"
        ours, stdlib = both(block)
        assert ours == stdlib, block


def raw_request(srv: LiveServer, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_the_live_server_answers_odd_and_bad_requests_as_before(live_server: LiveServer) -> None:
    ok = raw_request(live_server, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nConnection: close\r\n\r\n")
    assert ok.startswith(b"HTTP/1.1 200") and b'"status":"ok"' in ok.replace(b" ", b"")
    too_many = b"GET /healthz HTTP/1.1\r\n" + b"".join(b"X-%d: v\r\n" % i for i in range(101)) + b"\r\n"
    assert raw_request(live_server, too_many).startswith(b"HTTP/1.1 431")
    # A bad request line: the standard library's error page (without a status line, as it answers HTTP/0.9).
    assert b"Error code: 400" in raw_request(live_server, b"GET /healthz HTTP/9.x\r\n\r\n")
    # And the server goes on serving.
    assert raw_request(live_server, b"GET /healthz HTTP/1.0\r\n\r\n").startswith(b"HTTP/1.1 200")
