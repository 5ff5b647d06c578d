"""The application factory: ``create_app(settings)`` builds a Flask app; it starts nothing."""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy.exc import DataError, OperationalError
from werkzeug.exceptions import HTTPException

from hotline_core.runtime import Runtime
from hotline_core.settings import Settings

csrf = CSRFProtect()
log = logging.getLogger(__name__)


class SchemaState:
    """Whether the database is at the latest migration; re-checked (at most every few seconds)
    until it is, so a service started before ``hotline db upgrade`` recovers without a restart."""

    RECHECK_SECONDS = 5.0

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._ready = False
        self._checked_at = -1e9

    def ready(self, *, recheck: bool = False) -> bool:
        if self._ready and not recheck:
            return True
        if recheck or time.monotonic() - self._checked_at >= self.RECHECK_SECONDS:
            from hotline_core.migrate import schema_is_current

            self._ready = schema_is_current(self.runtime.db)
            self._checked_at = time.monotonic()
        return self._ready


def create_app(settings: Settings | None = None, runtime: Runtime | None = None) -> Flask:
    from hotline_app.bootstrap import bootstrap

    # The factory builds; it makes nothing current and starts nothing (the entry point decides).
    runtime = runtime or bootstrap(settings, make_current=False)
    settings = runtime.settings
    app = Flask(__name__, instance_path=str(settings.instance_path))
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.upload_max_bytes * settings.upload_max_files + (1 << 20),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=(settings.public_base_url or "").startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=8),
        REMEMBER_COOKIE_DURATION=timedelta(hours=8),
        WTF_CSRF_TIME_LIMIT=4 * 3600,
        SIMULATOR_ENABLED=settings.environment in ("development", "test"),
        TESTING=settings.environment == "test",
    )
    app.extensions["hotline"] = runtime

    import hotline_web
    from hotline_web import security
    from intake.views import bp as complaints_bp
    from mystery_calls.views import bp as mystery_bp
    from open311.views import init_app as init_open311
    from responders.admin import bp as admin_bp
    from responders.desk import bp as desk_bp
    from responders.dispatch import bp as dispatch_bp
    from responders.evidence import bp as evidence_bp
    from responders.model_admin import bp as model_admin_bp
    from responders.tickets import bp as tickets_bp
    from responders.views import bp as staff_bp
    from stats.views import bp as stats_bp
    from webhooks.views import bp as webhooks_bp

    hotline_web.init_app(app)
    security.init_app(app, settings)
    csrf.init_app(app)
    csrf.exempt(webhooks_bp)  # Twilio signs its requests; CSRF tokens are for browsers
    app.register_blueprint(complaints_bp)
    app.register_blueprint(staff_bp)
    app.register_blueprint(admin_bp)
    app.register_blueprint(tickets_bp)
    app.register_blueprint(dispatch_bp)
    app.register_blueprint(evidence_bp)
    app.register_blueprint(desk_bp)
    app.register_blueprint(model_admin_bp)
    app.register_blueprint(mystery_bp)
    app.register_blueprint(stats_bp)
    app.register_blueprint(webhooks_bp)
    init_open311(app, csrf)  # the API under /open311/v2 (CSRF-exempt: clients are apps) and its key admin page
    if app.config["SIMULATOR_ENABLED"]:
        from simulator.views import bp as simulator_bp

        app.register_blueprint(simulator_bp)

    schema = SchemaState(runtime)
    app.extensions["hotline_schema"] = schema
    if not schema.ready():
        log.error("the database schema is not at the latest migration: run `hotline db upgrade` (webhooks answer 503)")

    @app.get("/healthz")
    def healthz():  # type: ignore[no-untyped-def]
        """Database at the latest migration, Redis answering, and inbound events a person must see."""
        from intake import inbound

        schema_ok = schema.ready(recheck=True)
        try:
            redis_ok = bool(runtime.jobs.connection.ping())
        except Exception:
            redis_ok = False
        failed: int | None = None
        if schema_ok:
            with runtime.db.session() as session:
                failed = inbound.count_failed(session)
        healthy = schema_ok and redis_ok
        body = {
            "status": "ok" if healthy else "failing",
            "database": runtime.db.dialect,
            "schema": "current" if schema_ok else "not migrated to the latest revision",
            "queue": "embedded" if runtime.jobs.embedded else "redis",
            "redis": "ok" if redis_ok else "unreachable",
            "failed_inbound_events": failed,
        }
        return body, 200 if healthy else 503

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):  # type: ignore[no-untyped-def]
        from hotline_web.context import tr

        return render_template("error.html", code=400, message=tr("form.csrf")), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):  # type: ignore[no-untyped-def]
        from hotline_web.context import tr

        code = exc.code or 500
        if request.path.startswith("/twilio/"):
            return f"{code} {exc.name}: {exc.description}\n", code, {"Content-Type": "text/plain"}
        key = f"error.{code}" if code in (400, 403, 404, 413, 429) else "error.400"
        if code == 429 and request.endpoint == "complaints.lookup":
            key = "track.locked"
        response = exc.get_response()
        headers = {k: v for k, v in response.headers.items() if k.lower() in ("retry-after", "allow")}
        return render_template("error.html", code=code, message=tr(key)), code, headers

    @app.errorhandler(OperationalError)
    def database_busy(exc: OperationalError):  # type: ignore[no-untyped-def]
        from hotline_web.context import tr

        if exc.orig is not None and exc.orig.__class__.__name__ == "QueryCanceled":
            log.warning("statement timeout on %s", request.path)
            session = g.pop("db_session", None)
            if session is not None:
                session.close()  # the aborted transaction; the error page opens a fresh session
            return render_template("error.html", code=503, message=tr("error.503")), 503
        return unexpected(exc)

    @app.errorhandler(DataError)
    def value_out_of_range(exc: DataError):  # type: ignore[no-untyped-def]
        """A value from the request the database cannot hold (an id beyond its integer, say): the
        request is bad, not the service. Every form and query, whatever view forgot a bound."""
        from hotline_web.context import tr

        log.warning("a value the database refuses on %s: %s", request.path, exc.orig)
        session = g.pop("db_session", None)
        if session is not None:
            session.close()  # the aborted transaction; the error page opens a fresh session
        return render_template("error.html", code=400, message=tr("error.400")), 400

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):  # type: ignore[no-untyped-def]
        from hotline_web.context import tr

        log.exception("unhandled error on %s", request.path)
        return render_template("error.html", code=500, message=tr("error.500")), 500

    return app
