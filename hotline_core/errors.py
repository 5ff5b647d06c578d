"""Domain errors: refusals a user may read, carried as a message key and parameters.

Services raise a subclass of :class:`HotlineError` when a rule refuses a request ("sign for the
ticket before resolving it"). The error holds a key of the catalogue in :mod:`hotline_core.i18n`
and the fields it needs, never an English sentence, so the web layer (``hotline_web.errors``)
can show it in the reader's language with a suitable HTTP status. Anything that is not a
``HotlineError`` is a programming error: it is logged and answered with a 500, never flashed.
"""

from __future__ import annotations

from datetime import datetime, tzinfo

from hotline_core import formatting, i18n


class Label(str):
    """A parameter that is itself a message key, shown in the reader's language (a field name)."""

    __slots__ = ()


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

    def message(self, language: str = "zh", tz: tzinfo | None = None) -> str:
        """The refusal as the reader reads it: labels translated, moments in local time (``tz``)."""
        return i18n.t(self.key, language, **{name: _shown(value, language, tz) for name, value in self.params.items()})

    def __str__(self) -> str:  # logs and tracebacks: the English text with the key
        return f"{self.key}: {self.message('en')}"


def _shown(value: object, language: str, tz: tzinfo | None) -> object:
    if isinstance(value, Label):
        return i18n.t(value, language)
    if isinstance(value, HotlineError):  # a refusal that lists others (a form's several problems)
        return value.message(language, tz)
    if isinstance(value, list | tuple) and value and all(isinstance(v, HotlineError) for v in value):
        return i18n.t("error.list_separator", language).join(v.message(language, tz) for v in value)
    if isinstance(value, datetime):
        return formatting.moment(value, language, tz)
    return value


def required_text(value: str | None, field: str, error: type[HotlineError], limit: int) -> str:
    """``value`` stripped, or ``error`` naming the field (``field.<field>`` in the catalogue) when it
    is empty or longer than ``limit`` characters. The one check of a text a person must write."""
    value = (value or "").strip()
    if not value:
        raise error("error.portal.text_required", field=Label(f"field.{field}"))
    if len(value) > limit:
        raise error("error.portal.text_too_long", field=Label(f"field.{field}"), limit=limit)
    return value


class NotFound(HotlineError):
    status = 404


class Forbidden(HotlineError):
    status = 403


class Conflict(HotlineError):
    """The request is valid but the object's state refuses it (already decided, already merged)."""

    status = 409
