"""Sign-in (Flask-Login) and role checks. Every staff view declares the roles it admits."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import abort, request
from flask_login import LoginManager, current_user

from hotline_core.audit import Actor
from hotline_core.models import User
from hotline_web.context import db_session

login_manager = LoginManager()
login_manager.login_view = "staff.login"
login_manager.session_protection = "strong"


@login_manager.user_loader
def _load_user(user_id: str) -> Any:
    user = db_session().get(User, int(user_id))
    return LoginUser(user) if user is not None and user.active else None


class LoginUser:
    """Flask-Login's view of a :class:`User`."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.is_authenticated = True
        self.is_active = user.active
        self.is_anonymous = False

    def get_id(self) -> str:
        return str(self.user.id)

    @property
    def role(self) -> str:
        return self.user.role

    @property
    def unit_id(self) -> int | None:
        return self.user.unit_id


def roles_required(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Admit signed-in users with one of ``roles``; others get 403 (anonymous users: sign-in)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        wrapper.allowed_roles = roles  # type: ignore[attr-defined]
        return wrapper

    return decorator


def current_actor() -> Actor:
    ip = request.headers.get("X-Forwarded-For", request.remote_addr or "").split(",")[0].strip() or None
    if current_user.is_authenticated:
        return Actor(f"user:{current_user.user.username}", current_user.user.id, ip)
    return Actor("anonymous", None, ip)
