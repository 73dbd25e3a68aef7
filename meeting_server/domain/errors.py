"""Errors raised by the domain rules; the web and realtime layers map them in one place."""

from __future__ import annotations

from collections.abc import Mapping


class Msgid(str):
    """A Vietnamese msgid kept as a value; as one of a DomainError's `params` it is translated too."""

    __slots__ = ()


def N_(message: str) -> Msgid:
    """Mark a Vietnamese message for translation where it is written (an ack, a table of messages, a label given
    as a param) and leave it as it is: the error boundary translates it for the person (meeting_server.i18n).
    `scripts/i18n` extracts it."""
    return Msgid(message)


class DomainError(Exception):
    """A broken business rule, with a stable `code` for programs and a Vietnamese `message` for people.

    The first argument is a literal Vietnamese msgid (extracted by scripts/i18n, translated at the error boundary,
    meeting_server.i18n.localized); what varies goes in `params` and into the msgid as named %(placeholders)s,
    never into an f-string, so that the translation can be looked up. `message` is the Vietnamese text, filled.
    """

    code = "error"

    def __init__(self, message: str, code: str | None = None, *, params: Mapping[str, object] | None = None) -> None:
        self.template = message
        self.params: dict[str, object] = dict(params or {})
        self.message = message % self.params if self.params else message
        super().__init__(self.message)
        # An explicit code wins; otherwise the class default, so subclasses can fix their own code.
        self.code = code if code is not None else type(self).code


class NotFound(DomainError):
    """The thing asked for does not exist (or is not visible to the asker)."""

    code = "not_found"


class Forbidden(DomainError):
    """The asker's role may not do this."""

    code = "forbidden"
