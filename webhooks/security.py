"""Checks every Twilio webhook passes before anything is stored: size, content type, signature.

The signature is checked with twilio's own ``RequestValidator`` against the URL Twilio called,
which behind a proxy is ``PUBLIC_BASE_URL`` + the request path, never the internal URL.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from flask import Response, abort, current_app, g, request
from twilio.request_validator import RequestValidator

from hotline_core.runtime import Runtime
from webhooks import limits

log = logging.getLogger(__name__)


def runtime() -> Runtime:
    return current_app.extensions["hotline"]


def public_url() -> str:
    base = runtime().settings.public_base_url
    if not base:
        return request.url
    path = request.full_path
    if path.endswith("?"):
        path = path[:-1]
    return base + path


def signature_is_valid() -> bool:
    settings = runtime().settings
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return False
    validator = RequestValidator(settings.webhook_auth_token)
    return bool(validator.validate(public_url(), request.form, signature))


def twilio_webhook(view: Callable[..., Any]) -> Callable[..., Any]:
    """Refuse what Twilio would never send; 4xx with a reason, never a 500, nothing stored."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        settings = runtime().settings
        schema = current_app.extensions.get("hotline_schema")
        if schema is not None and not schema.ready():
            abort(503, description="the database is not migrated to the latest revision (hotline db upgrade)")
        if request.content_length is not None and request.content_length > settings.webhook_max_bytes:
            abort(413, description=f"webhook bodies are limited to {settings.webhook_max_bytes} bytes")
        request.max_content_length = settings.webhook_max_bytes
        if request.mimetype != "application/x-www-form-urlencoded":
            abort(415, description="Twilio webhooks are form-encoded POSTs")
        if settings.skip_twilio_signature:
            log.warning("TWILIO_SKIP_SIGNATURE is on: accepting an unsigned webhook (development only)")
        elif not signature_is_valid():
            abort(403, description="missing or invalid X-Twilio-Signature")
        try:
            for name, value in kwargs.items():
                if isinstance(value, int):
                    limits.path_id(value, name)
            g.twilio = limits.clean(request.form.to_dict(flat=True))
        except limits.Refused as exc:
            abort(400, description=str(exc))
        return view(*args, **kwargs)

    return wrapper


def cleaned() -> limits.Cleaned:
    """The request's form after :func:`limits.clean` (NULs stripped, values within their limits)."""
    return g.twilio  # type: ignore[no-any-return]


def require(*names: str) -> dict[str, str]:
    """The cleaned form fields, after checking the named ones are present and non-empty."""
    form = cleaned().form
    missing = [name for name in names if not form.get(name, "").strip()]
    if missing:
        abort(400, description=f"missing required field(s): {', '.join(missing)}")
    return form


def xml(body: str, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml", content_type="text/xml; charset=utf-8")
