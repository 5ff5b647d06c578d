"""Staff pages. Each view names the roles it admits; the role matrix test walks all of them."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from wtforms import PasswordField, StringField

from hotline_core.audit import record as audit
from hotline_core.models import OutboxMessage, Role, User
from hotline_web.auth import LoginUser, current_actor, roles_required
from hotline_web.context import db_session, runtime, tr
from routing.schedules import missing_next_year

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15


class LoginForm(FlaskForm):
    username = StringField()
    password = PasswordField()


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    form = LoginForm()
    error = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        rt = runtime()
        now = rt.now()
        with rt.db.transaction() as s:
            user = s.scalars(select(User).where(User.username == (form.username.data or "").strip())).first()
            if user is not None and user.locked_until and user.locked_until > now:
                minutes = int((user.locked_until - now).total_seconds() // 60) + 1
                error, status = tr("login.locked", minutes=minutes), 429
                audit(s, current_actor(), "login.refused_locked", user)
            elif user is not None and user.active and user.check_password(form.password.data or ""):
                user.failed_logins = 0
                user.locked_until = None
                login_user(LoginUser(user))
                audit(s, current_actor(), "login.success", user)
            else:
                if user is not None:
                    user.failed_logins += 1
                    if user.failed_logins >= MAX_FAILED_LOGINS:
                        user.locked_until = now + timedelta(minutes=LOCK_MINUTES)
                        user.failed_logins = 0
                audit(s, current_actor(), "login.failed", None, username=(form.username.data or "")[:80])
                error, status = tr("login.failed"), 401
        if error is None:
            from flask import session as web_session

            web_session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
            target = request.args.get("next", "")
            return redirect(target if target.startswith("/") and not target.startswith("//") else url_for("staff.home"))
    return render_template("staff/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    if current_user.is_authenticated:
        with runtime().db.transaction() as s:
            audit(s, current_actor(), "logout", current_user.user)
    logout_user()
    return redirect(url_for("complaints.new"))


@bp.get("/")
@roles_required(*Role.ALL)
def home():  # type: ignore[no-untyped-def]
    missing_year = None
    if current_user.role == Role.ADMIN:
        missing_year = missing_next_year(db_session(), runtime().now().astimezone(runtime().settings.tz).date())
    return render_template("staff/home.html", user=current_user.user, missing_year=missing_year)


@bp.get("/outbox")
@roles_required(Role.DISPATCHER, Role.ADMIN)
def outbox():  # type: ignore[no-untyped-def]
    s = db_session()
    messages = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).all()
    counts = dict(s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return render_template(
        "staff/outbox.html", messages=messages, counts=counts, configured=runtime().twilio.configured
    )
