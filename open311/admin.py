"""Admin page for Open311 API keys: issue, rotate, revoke (admins only; CSRF-checked like every staff form)."""

from __future__ import annotations

from flask import Blueprint, render_template, request

from hotline_core.errors import HotlineError
from hotline_core.models import Role
from hotline_web.auth import current_actor, roles_required
from hotline_web.context import db_session, language, runtime
from open311 import services

bp = Blueprint("open311_admin", __name__, url_prefix="/staff/admin/open311", template_folder="templates")


def _page(status: int = 200, *, secret: str | None = None, secret_for: str | None = None, error: str | None = None):  # type: ignore[no-untyped-def]
    keys = services.list_keys(db_session())
    config = services.load_config(db_session())
    body = render_template(
        "open311/keys.html", keys=keys, config=config, secret=secret, secret_for=secret_for, error=error
    )
    return body, status, {"Cache-Control": "no-store"}


@bp.get("/keys")
@roles_required(Role.ADMIN)
def keys():  # type: ignore[no-untyped-def]
    return _page()


@bp.post("/keys")
@roles_required(Role.ADMIN)
def change_key():  # type: ignore[no-untyped-def]
    action = request.form.get("action", "")
    name = (request.form.get("name") or "").strip()
    rt = runtime()
    secret: str | None = None
    try:
        with rt.db.transaction() as s:
            if action == "create":
                rate = (request.form.get("rate_limit") or "").strip() or services.DEFAULT_RATE
                _, secret = services.create_key(s, name, rt.now(), current_actor(), rate)
            elif action == "rotate":
                _, secret = services.rotate_key(s, name, rt.now(), current_actor())
            elif action == "revoke":
                services.revoke_key(s, name, rt.now(), current_actor())
            else:
                raise services.Open311Error("error.open311.key_action")
    except HotlineError as exc:
        return _page(exc.status, error=exc.message(language()))
    return _page(secret=secret, secret_for=name)
