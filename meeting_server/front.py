"""The front of several server processes (docs/ARCHITECTURE.md, "Several processes"): HAProxy from Debian in front,
`meeting-server front-config` writing its configuration; the server's side of it (the phone's address from
X-Forwarded-For when the request comes from a trusted front); and what `doctor` asks of the chain (the front,
each backend, Redis).

Why these HAProxy settings:
- `balance source` with `hash-type consistent`: a phone's requests go to one process while it lives (Engine.IO's
  long-polling needs every request of a session on the process that holds it; WebSockets would not care), and when
  a process dies only its phones move.
- `timeout tunnel`: an upgraded WebSocket is a tunnel; without it `timeout client/server` (30 s) would cut a quiet
  phone. Engine.IO pings every 25 s, so an hour is only the bound for a phone that vanished without a FIN.
- `option httpchk GET /healthz` every second, down after 2 failures: a dead process refuses the check's connection
  at once and is out of the rotation within 1-2 s; its phones' connections close with it (the kernel closes its
  sockets), so they reconnect through the front to the live processes by themselves. No `on-marked-down
  shutdown-sessions`: a live process taken out for answering slowly keeps its phones and only gets no new ones.
  With it, the SIGKILL of one of three with 500 phones on this 2-core box cut every phone: the dead one's phones
  reconnecting to the others (each reconnection builds a `state`) kept their loops from answering /healthz within
  `timeout check` (3 s, load 17; 10 s too, load 21), the front took them out in turn and shut their sessions, whose
  phones reconnected in turn: 351 of 500 not back within 120 s (scripts/bench/scale_out.py). The price: a hung
  process (connection accepted, no answer) keeps its phones until their own ping timeout (45 s) drops them.
  `timeout check 10s` keeps a live but slow process in the rotation (with the default, the 1 s interval, a vote
  storm alone took one out at load 12).
- `http-check expect rstatus ^(200|503)$`: a process answering 503 on /healthz is alive and waits for its database
  (web/join.py): it stays in the rotation. All processes share one PostgreSQL, so when it is away they all wait
  alike; taking them all out would answer new phones with HAProxy's bare 503 instead of the server's own page in
  their language, and each would need `rise` checks to come back. A process that is dead (connection refused),
  hung (no answer within `timeout check`) or failing (any other status) is still taken out.
- `option redispatch 1`, `retries 3`: a connection refused by a process that just died (before the checks took it
  out) is sent to another one at its first retry. With `option redispatch` alone HAProxy tries the dead process
  again on each retry but the last, waiting a turn-around of min(timeout connect, 1 s) before each (HAProxy's
  manual, `retries`): a phone reconnecting during the checks' 1-2 s could wait up to 2 s more.
- `maxconn` (MAXCONN, `front-config --maxconn`): left out, HAProxy sizes it from its descriptor limit, 497 under a
  hard limit of 1,024 (fewer than one council's phones); each phone holds one connection (two descriptors). The
  bench runs 1,500 phones through the front; 5,000 leaves room for the staff's screens and a second room. HAProxy
  raises its soft descriptor limit to what that needs (10,029) and refuses to start, saying so, when the hard limit
  is lower ("Cannot raise FD limit"); systemd gives services a hard limit of 524,288.
- `option forwardfor`: the phone's address in X-Forwarded-For, which the server trusts only from the front's own
  address (`serve --trusted-proxy`): the guessing limits count per phone, not per front.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

#: How often HAProxy asks each backend's /healthz, and after how many failures it takes one out.
CHECK_INTERVAL_MS = 1000
FALL = 2
RISE = 2
#: Connections the front accepts at once (phones, staff screens, projectors): see the module's docstring.
MAXCONN = 5000


@dataclass(frozen=True)
class Backend:
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Backend:
        """`host:port` (or a URL `http://host:port`)."""
        if "//" in text:
            u = urlsplit(text)
            if not u.hostname or not u.port:
                raise ValueError(f"backend {text!r}: give host:port")
            return cls(u.hostname, u.port)
        host, sep, port = text.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"backend {text!r}: give host:port")
        return cls(host.strip("[]"), int(port))

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def haproxy_config(backends: Sequence[Backend], port: int, bind: str = "0.0.0.0", *,
                   check_interval_ms: int = CHECK_INTERVAL_MS, maxconn: int | None = MAXCONN,
                   stats_socket: str | None = None) -> str:
    """The HAProxy configuration (2.x) of a front on `bind:port` over the server processes `backends`.
    `maxconn`: None leaves it to HAProxy, which sizes it from its file-descriptor limit (two descriptors a phone)."""
    if not backends:
        raise ValueError("at least one backend")
    servers = "\n".join(f"    server s{i} {b} check" for i, b in enumerate(backends, 1))
    limits = f"    maxconn {maxconn}\n" if maxconn else ""
    stats = f"    stats socket {stats_socket} mode 600 level admin\n" if stats_socket else ""
    bind_at = f"[{bind}]:{port}" if ":" in bind else f"{bind}:{port}"
    return f"""# meeting-server front (meeting-server front-config): HAProxy over {len(backends)} server processes.
# Reasons for each setting: meeting_server/front.py.
global
{limits}{stats}
defaults
    mode http
    option http-server-close
    option redispatch 1
    retries 3
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    timeout http-request 10s
    timeout tunnel 1h
    timeout client-fin 5s
    timeout queue 5s
    timeout check 10s

frontend meeting
    bind {bind_at}
    option forwardfor
    default_backend servers

backend servers
    balance source
    hash-type consistent
    option httpchk GET /healthz
    http-check expect rstatus ^(200|503)$
    default-server inter {check_interval_ms} fastinter {max(check_interval_ms // 2, 100)} fall {FALL} rise {RISE}
{servers}
"""


def trusted_forwarding(app: Callable[..., Any], trusted: Iterable[str]) -> Callable[..., Any]:
    """WSGI middleware: a request from one of the `trusted` fronts' addresses gets the phone's address (the last
    entry of X-Forwarded-For, the one the front added) as REMOTE_ADDR. From any other address the header is ignored:
    a phone could write it."""
    fronts = {str(ipaddress.ip_address(a)) for a in trusted}

    def middleware(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REMOTE_ADDR") in fronts:
            hops = [h.strip() for h in environ.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
            if hops:
                try:
                    environ["REMOTE_ADDR"] = str(ipaddress.ip_address(hops[-1]))
                except ValueError:
                    pass
        return app(environ, start_response)

    return middleware


def redis_ping(url: str, timeout: float = 2.0) -> str | None:
    """PING the Redis of `url` (redis://host:port/db) with the protocol's own words; None when it answers PONG,
    else what went wrong. No client library: `doctor` runs without the `scale` extra."""
    u = urlsplit(url)
    if u.scheme not in ("redis", "rediss") or not u.hostname:
        return f"not a redis:// URL: {url}"
    if u.scheme == "rediss":
        return "rediss:// is not checked here"
    try:
        with socket.create_connection((u.hostname, u.port or 6379), timeout=timeout) as sock:
            if u.password:
                user = u.username or "default"
                sock.sendall(_resp("AUTH", user, u.password))
                if not sock.recv(128).startswith(b"+OK"):
                    return "AUTH refused"
            sock.sendall(_resp("PING"))
            answer = sock.recv(128)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None if answer.startswith(b"+PONG") else answer.decode("latin-1").strip()


def _resp(*words: str) -> bytes:
    out = [f"*{len(words)}\r\n".encode()]
    for w in words:
        b = w.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)
