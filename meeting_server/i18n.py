"""A person's messages in their language: the one place that knows how a refusal is translated and extracted.

Vietnamese is the source language (msgids); the English catalog is meeting_server/translations/en. A message
raised in code (`DomainError("…", params=…)` and its subclasses, `N_("…")` in acks and tables) is translated here,
at the error boundary (web/errors.py, realtime/registry.py), for the person who will read it, then filled.
`EXTRACT_KEYWORDS` tells `scripts/i18n` and tests/test_i18n.py which calls carry a msgid as their first argument.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask import Flask, has_app_context
from flask_babel import force_locale, gettext

from meeting_server.domain.errors import DomainError, Msgid

#: Languages a person may choose (session["lang"]); the first is the default.
LANGUAGES = ("vi", "en")

#: Calls whose first argument is a msgid, besides Flask-Babel's own. Every DomainError subclass is one (a test
#: checks that none is missing); `_invalid_choice` and `_bad_paper` are the voting rules' helpers that build one.
ERROR_KEYWORDS = (
    "DomainError", "NotFound", "Forbidden", "TokenRevoked", "TokenUnknown", "TooManyGuesses", "SessionEnded",
    "BackupError", "PgBackupError", "ImportRefused",
    "OffloadFailed", "SignerError", "WorkerError", "SignError", "MinutesError", "AuditError", "IngestError",
    "DiskFault", "DiskFull", "DiskReadOnly", "ServerWaiting",
    "_invalid_choice", "_bad_paper",
)
EXTRACT_KEYWORDS: dict[str, Any] = {
    "_": None, "gettext": None, "ngettext": (1, 2), "lazy_gettext": None, "N_": None,
    "RowProblem": (2,),  # a problem on one line of an imported delegate list: (line, msgid, params)
    **{name: None for name in ERROR_KEYWORDS},
}


def language(lang: object) -> str:
    """A valid language code: the person's choice, or Vietnamese."""
    return lang if isinstance(lang, str) and lang in LANGUAGES else LANGUAGES[0]


def translate(message: str, params: Mapping[str, object] | None = None) -> str:
    """`message` (a Vietnamese msgid) in the current locale, its %(placeholders)s filled after translation."""
    values = {k: gettext(v) if isinstance(v, Msgid) else v for k, v in (params or {}).items()}
    return gettext(message, **values)


def localized(err: DomainError) -> str:
    """The refusal's reason in the current locale (the request's, or `in_language`'s)."""
    return translate(err.template, err.params)


@contextmanager
def in_language(app: Flask | None, lang: object) -> Iterator[None]:
    """Translate in `lang` where Flask has no request (lean and fast Socket.IO events run without one): an
    application context of `app` if none is active, with the locale forced."""
    if app is not None and not has_app_context():
        with app.app_context(), force_locale(language(lang)):
            yield
    else:
        with force_locale(language(lang)):
            yield
