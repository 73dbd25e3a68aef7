"""A second writer for the tests of two transactions at once (PostgreSQL's locks): a unit of work run and committed
in a thread of its own, its outcome kept for the test to assert."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session


def writer_in_thread(open_session: Callable[[], Session], work: Callable[[Session], Any], outcome: dict[str, Any],
                     key: str = "ok") -> threading.Thread:
    """Start `work` on a session from `open_session`, then its commit, in a thread: `outcome[key]` is True once it
    committed, or the exception that ended it. The caller joins the thread."""

    def run() -> None:
        try:
            with open_session() as w:
                work(w)
                w.commit()
            outcome[key] = True
        except Exception as exc:
            outcome[key] = exc

    t = threading.Thread(target=run)
    t.start()
    return t
