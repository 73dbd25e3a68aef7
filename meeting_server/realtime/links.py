"""Whether this server process reaches what it shares with the others: the database (PostgreSQL past one box, or
the SQLite file) and, with several processes, the message queue (Redis, python-socketio's listener).

While either is unreachable the process does not pretend: every Socket.IO event is answered
`{"ok": false, "code": "server.waiting"}` with a message in the person's language (realtime/registry.py), and the
screens connected to this process are told with a `waiting` event, `{"waiting": true, "what": [...]}`, sent to
its meeting rooms here only (not through the queue, which may be what is down), so static/js/live.js shows its
banner and greys the action buttons out. When both answer again, `{"waiting": false}` goes out the same way and
each screen asks for a fresh `state` (`sync`) by itself. A ballot is acknowledged only after its commit
(realtime/voting.py): one cut short by the database going away is answered `server.waiting`, never "recorded".

The watch is a green thread started by `serve` (`start`), probing both every `PROBE_EVERY` seconds; an event that
meets a lost database connection marks the database down at once (`noticed`). What it keeps is this process's own
view of its links, in `app.extensions["links"]`, not state of the meeting (that stays in the database).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask

from meeting_server.domain.errors import N_, DomainError
from meeting_server.faults import causes

log = logging.getLogger(__name__)

#: Seconds between two probes of the database and the queue.
PROBE_EVERY = 1.0
#: Seconds after the start during which a listener not yet subscribed is not a lost link (it is subscribing).
START_GRACE = 10.0
#: The listener's wait before it tries Redis again (python-socketio's own doubles up to 60 s: too slow to resume).
RELISTEN_EVERY = 1.0

WAITING = N_("Đang chờ máy chủ của phòng họp. Thao tác chưa được thực hiện; hãy thử lại khi thông báo này tắt.")


class ServerWaiting(DomainError):
    """The database or the message queue is out of reach: nothing was done."""

    code = "server.waiting"


@dataclass
class Links:
    """This process's view: what is unreachable now (empty: all answer)."""

    down: set[str] = field(default_factory=set)
    since: float | None = None
    probe: Any = None  # the Redis client of the probes (its own short timeouts)
    started: float = field(default_factory=time.monotonic)

    def payload(self) -> dict[str, Any]:
        return {"waiting": bool(self.down), "what": sorted(self.down)}


_lock = threading.Lock()


def of(app: Flask) -> Links:
    found = app.extensions.get("links")
    if found is None:
        with _lock:
            found = app.extensions.setdefault("links", Links())
    assert isinstance(found, Links)
    return found


def waiting(app: Flask | None) -> bool:
    """Whether events are to be answered `server.waiting` now."""
    if app is None:
        return False
    found = app.extensions.get("links")
    return bool(found is not None and found.down)


#: SQLSTATEs of a server that ends or refuses sessions: admin_shutdown (`pg_ctl stop -m fast`), crash_shutdown,
#: cannot_connect_now (starting or in recovery), too_many_connections. Class 08 (connection exceptions) as well.
AWAY_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def unreachable(exc: BaseException | None) -> bool:
    """Whether `exc` (or what it was raised from) says the database connection is lost or cannot be made: a
    PostgreSQL that went away (psycopg's OperationalError raised by the client, or the server ending the session:
    `AWAY_STATES`), or a connection SQLAlchemy found dead. PostgreSQL answering that this transaction lost (a
    deadlock, a lock waited out, a serialization failure: OperationalErrors too) is not this, nor are SQLite's own
    OperationalErrors (a lock held too long, a full disk): the database is there
    (tests/realtime/test_unreachable.py)."""
    # Only when psycopg is loaded (a PostgreSQL server): importing it here, on the loop, would stall it ~0.1 s.
    psycopg = sys.modules.get("psycopg")
    for e in causes(exc):
        if getattr(e, "connection_invalidated", False):
            return True
        if psycopg is not None and isinstance(e, psycopg.OperationalError):
            state = e.sqlstate
            return state is None or state.startswith("08") or state in AWAY_STATES
    return False


def noticed(app: Flask | None, exc: BaseException) -> ServerWaiting | None:
    """An event met `exc`: if it is the database going away, mark it down now (the screens are told by the watch's
    next round, which also sees it back) and return the refusal to answer with; otherwise None."""
    if app is None or not unreachable(exc):
        return None
    links = of(app)
    if "database" not in links.down:
        log.warning("database unreachable (%s): events answer server.waiting", exc)
        _change(app, links, links.down | {"database"})
    return ServerWaiting(WAITING)


def start(app: Flask) -> None:
    """Start the watch once per app (serve does, before serving)."""
    links = of(app)
    with _lock:
        if app.extensions.get("links_watch"):
            return
        app.extensions["links_watch"] = True
    from meeting_server.extensions import socketio

    url = app.config.get("SOCKETIO_MESSAGE_QUEUE")
    if url and str(url).startswith(("redis://", "rediss://", "unix://")):
        import redis

        links.probe = redis.Redis.from_url(str(url), socket_timeout=2, socket_connect_timeout=2)
        server = socketio.server
        if not server.manager_initialized:
            # python-socketio starts the queue's listener at the first connection; start it now, so that the
            # process hears the others from the start and the watch does not see a listener that never began.
            server.manager_initialized = True
            server.manager.initialize()
    socketio.start_background_task(_run, app)


def _run(app: Flask) -> None:
    from meeting_server.extensions import socketio

    while True:
        try:
            check(app)
        except Exception:  # never let the watch die: the screens would not hear the links come back
            log.exception("links watch failed")
        socketio.sleep(PROBE_EVERY)


def check(app: Flask) -> set[str]:
    """One round: probe both, tell the screens if what is down changed. Returns what is down."""
    links = of(app)
    down = set()
    if not _database_answers(app):
        down.add("database")
    if not _queue_answers(app, links):
        down.add("message_queue")
    if down != links.down:
        _change(app, links, down)
    return down


def _database_answers(app: Flask) -> bool:
    from sqlalchemy import text

    try:
        with app.extensions["db_engine"].connect() as c:  # pool_pre_ping on PostgreSQL: a dead one is replaced
            c.execute(text("SELECT 1"))
        return True
    except Exception as exc:
        log.debug("database probe: %s", exc)
        return False


def _queue_answers(app: Flask, links: Links) -> bool:
    """No queue (one process): nothing to wait for. Otherwise Redis answers a PING and this process's listener is
    subscribed (it is what brings the other processes' broadcasts)."""
    from meeting_server.extensions import socketio

    manager = socketio.server.manager
    if links.probe is None:
        return True
    try:
        links.probe.ping()
    except Exception as exc:
        log.debug("queue probe: %s", exc)
        return False
    if not getattr(manager, "ever_listened", True) and time.monotonic() - links.started < START_GRACE:
        return True  # its listener is still subscribing for the first time: not a lost link
    return bool(getattr(manager, "listening", True))


def _change(app: Flask, links: Links, down: set[str]) -> None:
    was = set(links.down)
    links.down = set(down)
    links.since = time.time() if down else None
    if down:
        log.warning("waiting for %s: events answer server.waiting", ", ".join(sorted(down)))
    else:
        log.warning("%s back: serving again", ", ".join(sorted(was)) or "links")
    tell_screens(links.payload())


def tell_screens(payload: dict[str, Any]) -> None:
    """The `waiting` event to every meeting room this process holds, sent by this process alone (ignore_queue: the
    queue may be what is down, and the other processes tell their own screens). Never blocks: a local emit only
    queues the frames."""
    from meeting_server.extensions import socketio
    from meeting_server.realtime import rooms

    held = list(socketio.server.manager.rooms.get("/", {}))
    for room in held:
        if isinstance(room, str) and rooms.is_meeting(room):
            socketio.emit("waiting", payload, to=room, namespace="/", ignore_queue=True)


def queue_manager(url: str, channel: str) -> Any:
    """python-socketio's Redis manager, which also says whether its listener is subscribed now (`listening`), and
    tries again every second after Redis went away instead of doubling its wait up to a minute."""
    import socketio

    class WatchedRedisManager(socketio.RedisManager):
        listening = False
        ever_listened = False

        def _redis_listen_with_retries(self) -> Any:  # pragma: no cover - runs in the listener's green thread
            while True:
                try:
                    self._redis_connect()
                    self.pubsub.subscribe(self.channel)
                    self.listening = self.ever_listened = True
                    yield from self.pubsub.listen()
                except Exception as exc:
                    self._get_logger().error("Cannot receive from redis... retrying in %s s (%s)", RELISTEN_EVERY,
                                             exc)
                self.listening = False
                time.sleep(RELISTEN_EVERY)

    return WatchedRedisManager(url, channel=channel)
