"""Domain errors: each carries a stable code and a message a person can read (Vietnamese first)."""

from __future__ import annotations


class DomainError(Exception):
    """A rule said no. The web and realtime layers turn it into a 4xx answer or a failed ack, in one place."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the asker)."""

    code = "not_found"


class Forbidden(DomainError):
    """The asker's role may not do this."""

    code = "forbidden"
