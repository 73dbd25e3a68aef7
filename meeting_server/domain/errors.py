"""The one error type of the domain: a stable code for programs and a Vietnamese message for people."""


class DomainError(Exception):
    """A rule of the domain was broken; `code` is stable, `message` is shown to the user."""

    code = "error"

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
