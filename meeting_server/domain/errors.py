"""Errors raised by the domain rules; the web and realtime layers map them in one place."""


class DomainError(Exception):
    """A broken business rule, with a stable `code` for programs and a Vietnamese `message` for people."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        # An explicit code wins; otherwise the class default, so subclasses can fix their own code.
        self.code = code if code is not None else type(self).code


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the asker)."""

    code = "not_found"


class Forbidden(DomainError):
    """The asker's role may not do this."""

    code = "forbidden"
