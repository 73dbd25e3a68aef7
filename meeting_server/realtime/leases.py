"""The heartbeat of this server process's leases (domain/leases.py, services/leases.py): a green thread that, every
`RENEW_EVERY` seconds, renews every lease the process holds and takes over the work whose owner is gone: the
countdown of an open poll nobody runs (realtime/voting.adopt_countdowns), the backup after a poll's close that the
process which closed it did not live to make (realtime/voting.adopt_backups) and an upload left `processing` by a dead
process (services/documents.taken_over). Started by `serve` before it serves, after realtime/voting.resume. Without
it (the threaded test server) a countdown keeps its own lease: it takes it again each second it finds it run out."""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask

from meeting_server.domain import leases as rules
from meeting_server.services import leases
from meeting_server.store import db

log = logging.getLogger(__name__)

_start_lock = threading.Lock()


def _socketio() -> Any:
    from meeting_server.extensions import socketio

    return socketio


def start(app: Flask) -> None:
    """Start the heartbeat once per app."""
    if app.extensions.get("lease_heartbeat"):
        return
    with _start_lock:
        if app.extensions.get("lease_heartbeat"):
            return
        app.extensions["lease_heartbeat"] = True
    with app.app_context(), db.standalone_session(app) as s:
        # "This process runs", for the others (services/devices.py): renewed below with every other lease.
        leases.take(s, rules.process(leases.owner(app)), leases.owner(app))
    _socketio().start_background_task(_run, app)


def _run(app: Flask) -> None:
    sio = _socketio()
    while True:
        sio.sleep(rules.RENEW_EVERY)
        try:
            beat(app)
        except Exception:  # never let the heartbeat die: the leases would run out under live work
            log.exception("lease heartbeat failed")


def beat(app: Flask) -> set[str]:
    """One round: renew, then take over what a dead process left. Returns the leases held after the renewal."""
    from meeting_server.realtime import documents as live_documents
    from meeting_server.realtime import voting as live_voting
    from meeting_server.services import documents

    me = leases.owner(app)
    with app.app_context(), db.standalone_session(app) as s:
        held = leases.renew(s, me)
    live_voting.adopt_countdowns(app)
    live_voting.adopt_backups(app)
    with app.app_context(), db.standalone_session(app) as s:
        orphans = documents.taken_over(s)
    for document_id in orphans:
        log.info("document %s: the process that was processing it is gone; taking it over", document_id)
        live_documents.start_processing(app, document_id)
    return held


def stop(app: Flask) -> None:
    """A clean stop: give every lease back so the other processes take the work over at once."""
    me = app.extensions.get("lease_owner")
    if me is None:
        return
    with app.app_context(), db.standalone_session(app) as s:
        leases.release_all(s, str(me))
