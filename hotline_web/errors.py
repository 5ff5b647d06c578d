"""Domain errors at the edge: a refusal a service raised becomes a translated message and a status.

Services raise :class:`hotline_core.errors.HotlineError` with a message key. A view that wants to
show the refusal on its own page calls :func:`flash_refusal`; any refusal a view does not handle
reaches :func:`init_app`'s handler and is shown on the error page with the error's status.
Everything else is a programming error: ``hotline_app.factory`` logs it and answers 500 without
showing its text.
"""

from __future__ import annotations

from flask import Flask, flash, render_template

from hotline_core.errors import HotlineError
from hotline_web.context import language, runtime


def message(exc: HotlineError) -> str:
    """The refusal in the reader's language, moments in the city's time."""
    return exc.message(language(), runtime().settings.tz)


def flash_refusal(exc: HotlineError) -> None:
    flash(message(exc), "error")


def init_app(app: Flask) -> None:
    @app.errorhandler(HotlineError)
    def refused(exc: HotlineError):  # type: ignore[no-untyped-def]
        return render_template("error.html", code=exc.status, message=message(exc)), exc.status
