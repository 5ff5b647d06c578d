"""Web toolkit shared by every area's views: language, per-request session, sign-in and roles."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint(
    "hotline_web", __name__, template_folder="templates", static_folder="static", static_url_path="/static/hotline"
)


def init_app(app: Flask) -> None:
    from hotline_web import auth, context, errors

    app.register_blueprint(bp)
    context.init_app(app)
    errors.init_app(app)
    auth.login_manager.init_app(app)
