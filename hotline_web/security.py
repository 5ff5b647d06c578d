"""The edge of the web app: rate limits, security headers, trusted proxies and request sanity checks.

* Rate limits (Flask-Limiter): Redis storage when ``REDIS_URL`` is set, so every web process shares
  the counters; memory otherwise (the embedded default runs one process).
* Headers (Flask-Talisman): a CSP without inline script, ``frame-ancestors 'none'``, nosniff,
  Referrer-Policy, HSTS on https; ``Cache-Control: no-store`` on every page but static files and the
  public ranking.
* ProxyFix with ``HOTLINE_TRUSTED_PROXIES``: the client address (rate limits, audit trail) is the
  one the trusted proxies saw; a raw ``X-Forwarded-For`` from the client is never believed.
* A request carrying a NUL byte anywhere (path, query, form), an all-digit value longer than 15
  digits or a date outside 1900-2200 is refused with 400 before any view (``insane_value``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_talisman import Talisman
from markupsafe import Markup
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from hotline_core.settings import Settings

limiter = Limiter(key_func=get_remote_address)
talisman = Talisman()

# Largest id a PostgreSQL ``integer`` column holds; a bigger one in a URL is simply not found.
MAX_DB_INT = 2**31 - 1

CSP = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": ["'self'", "data:"],
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}

_PUBLIC_CACHEABLE = ("/static/", "/public/")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\\]")


class BoundedIntegerConverter(IntegerConverter):
    """``<int:...>`` that matches only ids a database integer can hold (others are 404, not 500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_DB_INT)
        super().__init__(map, *args, **kwargs)


def limit_value(attr: str) -> Callable[[], str]:
    """A rate limit read from the settings at request time (tests and operators configure it)."""

    def value() -> str:
        settings: Settings = current_app.extensions["hotline"].settings
        return str(getattr(settings, attr))

    return value


def safe_next(target: str | None) -> str | None:
    """``target`` if it is a path on this site, else None (no scheme, host, control characters or
    backslashes, which browsers fold into ``//host``)."""
    if not target or not target.startswith("/") or _CONTROL.search(target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    return target


_DATE_LIKE = re.compile(r"^\s*(\d{4,})-\d{1,2}")
MAX_DIGITS = 15  # an E.164 number has at most 15 digits; a longer all-digit value is no id or count
FIRST_YEAR, LAST_YEAR = 1900, 2200


def insane_value(value: str) -> bool:
    """A form or query value no page can use: a NUL byte, an all-digit value too long for any
    id, count or phone number, or a date outside the years the hotline can meet."""
    if "\x00" in value:
        return True
    stripped = value.strip()
    if stripped.isdigit() and len(stripped) > MAX_DIGITS:
        return True
    date_like = _DATE_LIKE.match(value)
    return bool(date_like and not FIRST_YEAR <= int(date_like.group(1)[:6]) <= LAST_YEAR)


def _insane(values: Any) -> bool:
    return any(
        "\x00" in key or (isinstance(value, str) and insane_value(value)) for key, value in values.items(multi=True)
    )


def init_app(app: Flask, settings: Settings) -> None:
    if settings.trusted_proxies:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)  # type: ignore[method-assign]
    app.url_map.converters["int"] = BoundedIntegerConverter

    app.config.setdefault("RATELIMIT_STORAGE_URI", settings.redis_url or "memory://")
    app.config.setdefault("RATELIMIT_KEY_PREFIX", "hotline-limits")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", True)
    limiter.init_app(app)

    https = (settings.public_base_url or "").startswith("https://")
    talisman.init_app(
        app,
        content_security_policy_nonce_in=["style-src"],
        force_https=False,  # TLS ends at the proxy; HSTS is sent on https requests
        strict_transport_security=True,
        session_cookie_secure=https,
        session_cookie_http_only=True,
        content_security_policy=CSP,
        frame_options="DENY",
        referrer_policy="strict-origin-when-cross-origin",
    )

    @app.template_filter("style_nonce")
    def _style_nonce(svg: str) -> Markup:
        """Server-drawn SVG (trusted markup) whose ``<style>`` elements carry this response's nonce."""
        nonce = getattr(request, "csp_nonce", "")
        return Markup(svg.replace("<style", f'<style nonce="{nonce}"'))  # noqa: S704 (our own SVG)

    @app.before_request
    def _refuse_insane_values() -> None:
        if request.path.startswith("/twilio/"):
            return  # webhooks check their own fields (signature first)
        if "\x00" in request.path or _insane(request.args):
            abort(400)
        if request.method in ("POST", "PUT", "PATCH") and _insane(request.form):
            abort(400)

    @app.after_request
    def _no_store(response: Response) -> Response:
        if not request.path.startswith(_PUBLIC_CACHEABLE) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response
