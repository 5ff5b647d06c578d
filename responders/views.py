"""Staff pages. Each view names the roles it admits; the role matrix test walks all of them."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import and_, case, func, or_, select, update
from sqlalchemy.orm import Session
from wtforms import PasswordField, StringField

from hotline_core.audit import record as audit
from hotline_core.models import OutboxMessage, Role, Unit, User
from hotline_core.models.user import check_decoy_password
from hotline_web.auth import LoginUser, current_actor, roles_required
from hotline_web.context import db_session, runtime, tr
from hotline_web.security import limit_value, limiter, safe_next
from responders import overview
from routing.schedules import missing_next_year

bp = Blueprint("staff", __name__, url_prefix="/staff", template_folder="templates")

MAX_FAILED_LOGINS = 5
LOCK_MINUTES = 15


class LoginForm(FlaskForm):
    username = StringField()
    password = PasswordField()


def _sign_in_attempt(s: Session, username: str, now: datetime) -> int | None:
    """Take one attempt from the account's allowance, atomically; the user id if it may be
    checked, None if the account is locked (or unknown).

    ``failed_logins`` is raised *before* the password is checked, in one ``UPDATE ... RETURNING``,
    so parallel guesses cannot all read the counter below the limit: at most
    ``MAX_FAILED_LOGINS`` passwords are checked per lock window. The attempt that reaches the
    limit locks the account; a correct password then unlocks it (see ``login``).
    """
    expired = and_(User.locked_until.is_not(None), User.locked_until <= now)
    attempts = case((expired, 1), else_=User.failed_logins + 1)
    row = s.execute(
        update(User)
        .where(User.username == username, or_(User.locked_until.is_(None), User.locked_until <= now))
        .values(
            failed_logins=attempts,
            locked_until=case((attempts >= MAX_FAILED_LOGINS, now + timedelta(minutes=LOCK_MINUTES)), else_=None),
        )
        .returning(User.id, User.failed_logins)
        .execution_options(synchronize_session=False)
    ).first()
    if row is None or row.failed_logins > MAX_FAILED_LOGINS:
        return None
    return int(row.id)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(limit_value("limit_login_client"), methods=["POST"])
def login():  # type: ignore[no-untyped-def]
    """Sign-in. Unknown, wrong and locked accounts get the same answer (401, one message) after
    the same work (one password hash check), so neither the answer nor its time tells which
    usernames exist or are locked."""
    form = LoginForm()
    error = None
    status = 200
    if request.method == "POST":
        if not form.validate_on_submit():
            abort(400)
        rt = runtime()
        now = rt.now()
        username = (form.username.data or "").strip()[:80]
        password = form.password.data or ""
        with rt.db.transaction() as s:
            user_id = _sign_in_attempt(s, username, now)
            user = s.get(User, user_id) if user_id is not None else None
            # One hash check on every path: unknown, locked, inactive and wrong all cost the same.
            matches = user.check_password(password) if user is not None else check_decoy_password(password)
            if user is not None and user.active and matches:
                user.failed_logins = 0
                user.locked_until = None
                login_user(LoginUser(user))
                audit(s, current_actor(), "login.success", user)
            else:
                if user is None:
                    known = s.scalars(select(User).where(User.username == username)).first()
                    if known is not None:
                        audit(s, current_actor(), "login.refused_locked", known)
                audit(s, current_actor(), "login.failed", None, username=username)
                error, status = tr("login.refused"), 401
        if error is None:
            from flask import session as web_session

            web_session.permanent = True  # expires after PERMANENT_SESSION_LIFETIME
            return redirect(safe_next(request.args.get("next")) or url_for("staff.home"))
    return render_template("staff/login.html", form=form, error=error), status


@bp.post("/logout")
def logout():  # type: ignore[no-untyped-def]
    """Sign out everywhere: the session version moves on, so copies of this cookie stop working."""
    if current_user.is_authenticated:
        with runtime().db.transaction() as s:
            user = s.get(User, current_user.user.id)
            if user is not None:
                user.end_sessions()
                audit(s, current_actor(), "logout", user)
    logout_user()
    return redirect(url_for("complaints.new"))


@bp.get("/")
@roles_required(*Role.ALL)
def home():  # type: ignore[no-untyped-def]
    missing_year = None
    if current_user.role == Role.ADMIN:
        missing_year = missing_next_year(db_session(), runtime().now().astimezone(runtime().settings.tz).date())
    s = db_session()
    now = runtime().now()
    user = current_user.user
    counts = overview.home_counts(s, user, now)
    return render_template(
        "staff/home.html",
        user=user,
        missing_year=missing_year,
        counts=counts,
        due_soon_hours=int(overview.DUE_SOON.total_seconds() // 3600),
    )


@bp.app_context_processor
def navigation_count() -> dict[str, int]:
    """The number beside 工作台 in the navigation: what waits for the signed-in person (issue 13 point 4)."""
    if not current_user.is_authenticated:
        return {}
    try:
        return {
            "nav_waiting": overview.home_counts(db_session(), current_user.user, runtime().now(), clocks=False).waiting
        }
    except Exception:  # never let a count break a page (e.g. an error page after a failed transaction)
        return {}


@bp.get("/unit")
@roles_required(Role.UNIT_HEAD)
def unit_workload():  # type: ignore[no-untyped-def]
    """The unit head's view of the unit: open tickets per officer, due soon, overdue (issue 13 point 5)."""
    user = current_user.user
    if user.unit_id is None:
        abort(404)
    s = db_session()
    rows = overview.unit_workload(s, user.unit_id, runtime().now())
    unit = s.get(Unit, user.unit_id)
    return render_template("staff/unit.html", rows=rows, unit=unit)


@bp.get("/outbox")
@roles_required(Role.DISPATCHER, Role.ADMIN)
def outbox():  # type: ignore[no-untyped-def]
    s = db_session()
    messages = s.scalars(select(OutboxMessage).order_by(OutboxMessage.id.desc()).limit(200)).all()
    rows = s.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    counts: dict[str, int] = {status: count for status, count in rows}
    return render_template(
        "staff/outbox.html", messages=messages, counts=counts, configured=runtime().twilio.configured
    )
