"""Per-request access to the runtime, a database session and the reader's language."""

from __future__ import annotations

from datetime import datetime

from flask import Flask, current_app, g, request
from sqlalchemy import text
from sqlalchemy.orm import Session

from hotline_core import formatting, wording
from hotline_core.i18n import LANGUAGES, MESSAGES, t
from hotline_core.runtime import Runtime

LANG_COOKIE = "lang"


def runtime() -> Runtime:
    return current_app.extensions["hotline"]


def db_session() -> Session:
    """One session per request, closed when the request ends."""
    if "db_session" not in g:
        g.db_session = runtime().db.session()
        _bound_read_only_statements(g.db_session)
    return g.db_session


def _bound_read_only_statements(session: Session) -> None:
    """On PostgreSQL a page that only reads (GET) may not run a statement longer than
    ``HOTLINE_STATEMENT_TIMEOUT_MS``: one heavy query cannot hold a worker and the database."""
    rt = runtime()
    timeout = rt.settings.statement_timeout_ms
    if rt.db.dialect == "postgresql" and timeout and request.method in ("GET", "HEAD"):
        session.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": f"{int(timeout)}ms"})


def language() -> str:
    if "lang" not in g:
        chosen = request.args.get("lang") or request.cookies.get(LANG_COOKIE)
        if chosen not in LANGUAGES:
            chosen = request.accept_languages.best_match(["zh", "zh-CN", "en"]) or runtime().settings.default_language
            chosen = "zh" if chosen.startswith("zh") else chosen
        g.lang = chosen if chosen in LANGUAGES else "zh"
    return g.lang


def tr(key: str, **fields: object) -> str:
    return t(key, language(), **fields)


def local_time(value: datetime | None, fmt: str | None = None, *, seconds: bool = False) -> str:
    """``value`` in the city's time: as the reader writes it (Babel), or in ``fmt`` where a fixed
    form is wanted (file names, the audit trail's codes, compact tables)."""
    if value is None:
        return ""
    if fmt is not None:
        return value.astimezone(runtime().settings.tz).strftime(fmt)
    return formatting.moment(value, language(), runtime().settings.tz, seconds=seconds)


def init_app(app: Flask) -> None:
    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()

    @app.after_request
    def _remember_language(response):  # type: ignore[no-untyped-def]
        chosen = request.args.get("lang")
        if chosen in LANGUAGES:
            response.set_cookie(LANG_COOKIE, chosen, max_age=365 * 24 * 3600, samesite="Lax")
        return response

    @app.context_processor
    def _template_helpers() -> dict[str, object]:
        return {
            "t": tr,
            "catalogue": MESSAGES,
            "lang": language(),
            "local_time": local_time,
            "other_lang": "en" if language() == "zh" else "zh",
            "code_label": lambda prefix, code: wording.label(prefix, code, language()),
            "actor_label": lambda value: wording.actor(value, language()),
            "reason_text": lambda value: wording.reason(value, language()),
            # numbers as the reader writes them (Babel): 62.5% / 1,234 / 3 hr 20 min
            "fmt_percent": lambda value: formatting.percent(value, language()),
            "fmt_number": lambda value: formatting.number(value, language()),
            "duration": lambda seconds: formatting.duration(seconds, language()),  # 33 -> "33秒", 750 -> "13分钟"
        }
