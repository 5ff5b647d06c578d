"""Domain errors: refusals a user may read, carried as a message key and parameters.

Services raise a subclass of :class:`HotlineError` when a rule refuses a request ("sign for the
ticket before resolving it"). The error holds a key of the catalogue in :mod:`hotline_core.i18n`
and the fields it needs, never an English sentence, so the web layer (``hotline_web.errors``)
can show it in the reader's language with a suitable HTTP status. Anything that is not a
``HotlineError`` is a programming error: it is logged and answered with a 500, never flashed.
"""

from __future__ import annotations

from hotline_core import i18n


class HotlineError(Exception):
    """A refusal with a message key (``error.<area>.<reason>``) and its parameters."""

    #: the HTTP status the web layer answers with when the error ends a request
    status: int = 400

    def __init__(self, key: str, /, **params: object) -> None:
        if key not in i18n.MESSAGES:
            raise KeyError(f"unknown message key {key!r}")
        super().__init__(key)
        self.key = key
        self.params = params

    def message(self, language: str = "zh") -> str:
        """The refusal as the reader reads it."""
        return i18n.t(self.key, language, **self.params)

    def __str__(self) -> str:  # logs and tracebacks: the English text with the key
        return f"{self.key}: {i18n.t(self.key, 'en', **self.params)}"


class NotFound(HotlineError):
    status = 404


class Forbidden(HotlineError):
    status = 403


class Conflict(HotlineError):
    """The request is valid but the object's state refuses it (already decided, already merged)."""

    status = 409
