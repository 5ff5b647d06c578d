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
def _load_user(session_id: str) -> Any:
    """The user of a session id ``<user id>:<session version>``; a session signed in before the
    user signed out or had the password reset carries an older version and is refused."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isdigit() and version.isdigit()) or int(user_id) > 2**31 - 1:
        return None
    user = db_session().get(User, int(user_id))
    if user is None or not user.active or user.session_version != int(version):
        return None
    return LoginUser(user)


class LoginUser:
    """Flask-Login's view of a :class:`User`."""

    def __init__(self, user: User) -> None:
        self.user = user
        self.is_authenticated = True
        self.is_active = user.active
        self.is_anonymous = False

    def get_id(self) -> str:
        return f"{self.user.id}:{self.user.session_version}"

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
    # remote_addr is the client as the trusted proxies saw it (ProxyFix, HOTLINE_TRUSTED_PROXIES);
    # an X-Forwarded-For sent by the client itself is never read.
    ip = request.remote_addr or None
    if current_user.is_authenticated:
        return Actor(f"user:{current_user.user.username}", current_user.user.id, ip)
    return Actor("anonymous", None, ip)
