"""Leases: one owner at a time, across server processes, for work that only one of them may do (the countdown that
closes a poll, taking up an unfinished upload). Pure rules; services/leases.py keeps them in the `lease` table.

A lease is a row (name, owner, expires_at). Its owner renews it every `RENEW_EVERY` seconds (a heartbeat); an
owner that dies stops renewing, and once `expires_at` has passed any other process may take the lease over. The
time-to-live is a few renewals long, so a process whose loop was held for a second or two (an fsync on a loaded
disk) does not lose its leases, and a dead process's work is taken over within `TTL` + `RENEW_EVERY` seconds.

Clocks: every process writes and compares `expires_at` with its own clock. On one box they are the same clock; on
several boxes they must agree to well within `TTL` (NTP does, to milliseconds), which `doctor` cannot check.
"""

from __future__ import annotations

import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime, timedelta

#: How long a lease holds without a renewal.
TTL = timedelta(seconds=6)
#: How often the owner renews its leases and looks for work whose owner is gone.
RENEW_EVERY = 2.0


def expiry(now: datetime, ttl: timedelta = TTL) -> datetime:
    """When a lease taken or renewed at `now` runs out."""
    if ttl <= timedelta(0):
        raise ValueError("a lease must last some time")
    return now + ttl


@dataclass(frozen=True)
class Holder:
    """Who holds a lease now, as stored."""

    owner: str
    expires_at: datetime


def may_take(holder: Holder | None, me: str, now: datetime) -> bool:
    """Whether `me` may take (or keep) the lease: nobody holds it, `me` does, or its owner let it run out."""
    return holder is None or holder.owner == me or holder.expires_at <= now


def is_take_over(holder: Holder | None, me: str) -> bool:
    """Taking it means taking work over from another process (which the audit log records)."""
    return holder is not None and holder.owner != me


def owner_id(pid: int | None = None) -> str:
    """A name for this server process that no other process, here or on another box, will ever use: the host, the
    pid (for people reading the log) and random bits (a pid is reused after a restart)."""
    return f"{socket.gethostname()[:40]}:{pid or os.getpid()}:{secrets.token_hex(4)}"


def on_this_host(owner: str) -> bool:
    """Whether `owner` (an `owner_id`) names a process of this box, whose pid can then be asked about."""
    return owner.split(":", 1)[0] == socket.gethostname()[:40]


def process(owner: str) -> str:
    """The lease that says a server process runs: taken at its start, renewed by its heartbeat, given back at a
    clean stop; services/devices.py asks it whether the process holding a connection still runs, on any box."""
    return f"process:{owner}"


def countdown(poll_id: int) -> str:
    """The lease of a poll's countdown."""
    return f"poll:{int(poll_id)}:countdown"


def backup_after_close(poll_id: int) -> str:
    """The lease of making the backup after a poll closed."""
    return f"poll:{int(poll_id)}:backup"


def document(document_id: int) -> str:
    """The lease of processing one upload."""
    return f"document:{int(document_id)}"
