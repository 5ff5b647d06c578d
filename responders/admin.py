"""The admin area of the staff portal: staff accounts, the dispatch directory and the audit trail.

Every view here is for administrators only, and every change made here is written to the audit
trail (never a password). CSRF tokens are checked globally by the app's ``CSRFProtect``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from pathlib import PurePath
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user, login_user
from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError

from hotline_core import phones
from hotline_core.audit import record as audit
from hotline_core.errors import HotlineError
from hotline_core.models import Area, AuditEntry, Category, InboundEvent, Role, RoutingRule, Unit, User
from hotline_web.auth import LoginUser, current_actor, roles_required
from hotline_web.context import db_session, language, local_time, runtime, tr
from hotline_web.exports import csv_stream
from intake import inbound
from routing import directory, schedules

bp = Blueprint("admin", __name__, url_prefix="/staff/admin", template_folder="templates")

MIN_PASSWORD = 10
MAX_PASSWORD = 200
MAX_DISPLAY_NAME = 100
USERNAME = re.compile(r"^[\w.@-]{2,80}$")
ROLES_WITH_UNIT = (Role.UNIT_STAFF, Role.UNIT_HEAD)
CSV_TABLES = ("units", "areas", "categories", "rules")
AUDIT_PAGE_SIZE = 100
# Cells starting with these are formulas to a spreadsheet; audit details hold text typed by anyone.


# --- users ---------------------------------------------------------------------------------------


@bp.route("/users", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def users():  # type: ignore[no-untyped-def]
    errors: dict[str, list[str]] = {}
    values: dict[str, str] = {}
    if request.method == "POST":
        values = {
            name: (request.form.get(name) or "").strip()
            for name in ("username", "display_name", "role", "unit", "phone")
        }
        password = request.form.get("password") or ""
        errors = _check_new_user(values, password)
        if not errors:
            rt = runtime()
            try:
                with rt.db.transaction() as s:
                    unit = _unit_by_code(s, values["unit"]) if values["unit"] else None
                    phone = phones.normalise(values["phone"], rt.settings.default_region)
                    user = User(
                        username=values["username"],
                        display_name=values["display_name"],
                        role=values["role"],
                        unit_id=unit.id if unit else None,
                        phone=phone.value if phone else None,
                    )
                    user.set_password(password)
                    s.add(user)
                    s.flush()
                    audit(
                        s,
                        current_actor(),
                        "user.create",
                        user,
                        username=user.username,
                        role=user.role,
                        unit=unit.code if unit else None,
                    )
            except IntegrityError:  # the same username created at the same moment
                errors = {"username": [tr("admin.users.username_taken", username=values["username"])]}
            else:
                flash(tr("admin.users.created", username=values["username"]))
                return redirect(url_for("admin.users"))
    return _users_page(errors=errors, values=values), 400 if errors else 200


def _check_new_user(values: dict[str, str], password: str) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def error(name: str, key: str, **fields: object) -> None:
        errors.setdefault(name, []).append(tr(key, **fields))

    s = db_session()
    username = values["username"]
    if not username:
        error("username", "form.required")
    elif not USERNAME.match(username):
        error("username", "admin.users.username_invalid")
    elif s.scalars(select(User.id).where(func.lower(User.username) == username.lower())).first() is not None:
        error("username", "admin.users.username_taken", username=username)
    if not values["display_name"]:
        error("display_name", "form.required")
    elif len(values["display_name"]) > MAX_DISPLAY_NAME:
        error("display_name", "form.too_long", max=MAX_DISPLAY_NAME)
    if values["role"] not in Role.ALL:
        error("role", "admin.users.role_invalid")
    if values["unit"]:
        if _unit_by_code(s, values["unit"]) is None:
            error("unit", "admin.users.unit_unknown")
    elif values["role"] in ROLES_WITH_UNIT:
        error("unit", "admin.users.unit_required")
    if values["phone"]:
        phone = phones.normalise(values["phone"], runtime().settings.default_region)
        if phone is None or not phone.valid:
            error("phone", "form.phone_invalid", value=values["phone"][:40])
    password_error = _password_problem(password)
    if password_error:
        errors["password"] = [password_error]
    return errors


def _password_problem(password: str) -> str | None:
    if len(password) < MIN_PASSWORD:
        return tr("admin.users.password_too_short", min=MIN_PASSWORD)
    if len(password) > MAX_PASSWORD:
        return tr("form.too_long", max=MAX_PASSWORD)
    return None


def _unit_by_code(session: Any, code: str) -> Unit | None:
    return session.scalars(select(Unit).where(Unit.code == code)).first()


def _users_page(
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    row_errors: dict[int, str] | None = None,
) -> str:
    s = db_session()
    rows = s.scalars(select(User).order_by(User.username)).all()
    units = s.scalars(select(Unit).order_by(Unit.code)).all()
    return render_template(
        "admin/users.html",
        users=rows,
        units=units,
        unit_by_id={u.id: u for u in units},
        roles=Role.ALL,
        errors=errors or {},
        values=values or {},
        row_errors=row_errors or {},
        min_password=MIN_PASSWORD,
        me=current_user.user.id,
    )


def _user_or_404(session: Any, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        abort(404)
    return user


@bp.post("/users/<int:user_id>/deactivate")
@roles_required(Role.ADMIN)
def deactivate(user_id: int):  # type: ignore[no-untyped-def]
    if user_id == current_user.user.id:
        return _users_page(row_errors={user_id: tr("admin.users.cannot_deactivate_self")}), 400
    with runtime().db.transaction() as s:
        user = _user_or_404(s, user_id)
        if user.active:
            user.active = False
            audit(s, current_actor(), "user.deactivate", user, username=user.username)
        username = user.username
    flash(tr("admin.users.deactivated", username=username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/activate")
@roles_required(Role.ADMIN)
def activate(user_id: int):  # type: ignore[no-untyped-def]
    with runtime().db.transaction() as s:
        user = _user_or_404(s, user_id)
        if not user.active:
            user.active = True
            user.failed_logins = 0
            user.locked_until = None
            audit(s, current_actor(), "user.activate", user, username=user.username)
        username = user.username
    flash(tr("admin.users.activated", username=username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/password")
@roles_required(Role.ADMIN)
def reset_password(user_id: int):  # type: ignore[no-untyped-def]
    password = request.form.get("password") or ""
    problem = _password_problem(password)
    if problem:
        _user_or_404(db_session(), user_id)
        return _users_page(row_errors={user_id: problem}), 400
    with runtime().db.transaction() as s:
        user = _user_or_404(s, user_id)
        user.set_password(password)
        user.failed_logins = 0
        user.locked_until = None
        user.end_sessions()  # every session of the user ends, copied cookies included
        if user.id == current_user.user.id:
            login_user(LoginUser(user))  # the admin who reset their own password stays signed in here
        audit(s, current_actor(), "user.password_reset", user, username=user.username)
        username = user.username
    flash(tr("admin.users.password_reset", username=username))
    return redirect(url_for("admin.users"))


@bp.post("/users/<int:user_id>/edit")
@roles_required(Role.ADMIN)
def edit_user(user_id: int):  # type: ignore[no-untyped-def]
    """Change a user's display name, role, unit and phone (the username and password have their own ways)."""
    values = {name: (request.form.get(name) or "").strip() for name in ("display_name", "role", "unit", "phone")}
    _user_or_404(db_session(), user_id)
    checked = _check_new_user({**values, "username": "x" * 2 + f"-edit-{user_id}"}, "p" * MIN_PASSWORD)
    checked.pop("username", None)
    checked.pop("password", None)
    if user_id == current_user.user.id and values["role"] != Role.ADMIN:
        checked.setdefault("role", []).append(tr("admin.users.cannot_demote_self"))
    if checked:
        return _users_page(row_errors={user_id: " ".join(m for ms in checked.values() for m in ms)}), 400
    rt = runtime()
    with rt.db.transaction() as s:
        user = _user_or_404(s, user_id)
        unit = _unit_by_code(s, values["unit"]) if values["unit"] else None
        phone = phones.normalise(values["phone"], rt.settings.default_region) if values["phone"] else None
        before = {"role": user.role, "unit_id": user.unit_id, "phone_set": bool(user.phone)}
        user.display_name, user.role = values["display_name"], values["role"]
        user.unit_id = unit.id if unit else None
        user.phone = phone.value if phone else None
        audit(
            s,
            current_actor(),
            "user.edit",
            user,
            username=user.username,
            before=before,
            role=user.role,
            unit=unit.code if unit else None,
        )
        username = user.username
    flash(tr("admin.users.edited", username=username))
    return redirect(url_for("admin.users"))


# --- the dispatch directory ------------------------------------------------------------------------


@bp.route("/directory", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def directory_page():  # type: ignore[no-untyped-def]
    errors: list[str] = []
    problems: list[directory.Problem] = []
    summary: list[str] = []
    table = (request.form.get("table") or "").strip()
    if request.method == "POST":
        upload = request.files.get("file")
        filename = PurePath(upload.filename or "").name[:200] if upload else ""
        suffix = PurePath(filename).suffix.lower()
        if not upload or not filename:
            errors.append(tr("admin.directory.file_required"))
        elif suffix not in (".yaml", ".yml", ".csv"):
            errors.append(tr("admin.directory.file_type"))
        elif (table and table not in CSV_TABLES) or (
            suffix == ".csv" and not table and PurePath(filename).stem.lower() not in CSV_TABLES
        ):
            errors.append(tr("admin.directory.table_required"))
        else:
            try:
                text = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                errors.append(tr("admin.directory.file_encoding"))
            else:
                try:
                    summary = _import(text, filename, suffix, table or PurePath(filename).stem.lower())
                except directory.DirectoryError as exc:
                    problems = exc.problems
                    with runtime().db.transaction() as s:
                        audit(
                            s, current_actor(), "directory.import_refused", None, file=filename, problems=len(problems)
                        )
    return render_template(
        "admin/directory.html",
        counts=_directory_counts(),
        tables=CSV_TABLES,
        table=table,
        errors=errors,
        problems=problems,
        summary=summary,
    ), 400 if errors or problems else 200


def _import(text: str, filename: str, suffix: str, table: str) -> list[str]:
    """Import all or nothing; the audit entry commits with the import. Returns the summary lines."""
    rt = runtime()
    parsed = directory.parse_csv(text, table) if suffix == ".csv" else directory.parse_yaml(text)
    with rt.db.transaction() as s:
        result = directory.import_directory(s, parsed, rt.now(), rt.settings.default_region)
        audit(
            s,
            current_actor(),
            "directory.import",
            None,
            file=filename,
            table=table if suffix == ".csv" else None,
            created=result.created,
            updated=result.updated,
            rules_added=result.rules_added,
            rules_closed=result.rules_closed,
        )
    lines = [tr("admin.directory.imported", name=filename)]
    for section in CSV_TABLES[:3]:
        if section in result.created or section in result.updated:
            lines.append(
                tr(
                    "admin.directory.summary_section",
                    section=tr(f"admin.directory.{section}"),
                    created=result.created.get(section, 0),
                    updated=result.updated.get(section, 0),
                )
            )
    lines.append(tr("admin.directory.summary_rules", added=result.rules_added, closed=result.rules_closed))
    # Warnings, not failures: listed with the result (issue 13 point 4).
    lang = language()
    for key, fields in result.warnings:
        lines.append(tr(key, unit=fields.get(lang) or fields.get("zh", ""), code=fields.get("code", "")))
    return lines


def _directory_counts() -> dict[str, int]:
    s = db_session()
    return {
        "units": s.scalar(select(func.count()).select_from(Unit)) or 0,
        "areas": s.scalar(select(func.count()).select_from(Area)) or 0,
        "categories": s.scalar(select(func.count()).select_from(Category)) or 0,
        "rules": s.scalar(select(func.count()).select_from(RoutingRule).where(RoutingRule.active)) or 0,
    }


@bp.get("/directory/export")
@roles_required(Role.ADMIN)
def directory_export():  # type: ignore[no-untyped-def]
    rt = runtime()
    text = directory.dump_yaml(directory.export_directory(db_session()))
    with rt.db.transaction() as s:
        audit(s, current_actor(), "directory.export", None, format="yaml")
    name = f"directory-{local_time(rt.now(), '%Y%m%d-%H%M')}.yaml"
    return Response(
        text,
        content_type="application/x-yaml; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# --- the audit trail -------------------------------------------------------------------------------


def _audit_filters() -> tuple[dict[str, str], list[ColumnElement[bool]], list[str]]:
    """The filters from the query string, as SQL conditions, with a message for each bad one."""
    values = {name: (request.args.get(name) or "").strip()[:100] for name in ("action", "actor", "from", "to")}
    conditions: list[ColumnElement[bool]] = []
    errors: list[str] = []
    if values["action"]:
        conditions.append(AuditEntry.action.startswith(values["action"], autoescape=True))
    if values["actor"]:
        conditions.append(AuditEntry.actor.contains(values["actor"], autoescape=True))
    tz = runtime().settings.tz
    for name in ("from", "to"):
        if not values[name]:
            continue
        try:
            day = date.fromisoformat(values[name])
        except ValueError:
            errors.append(tr("admin.audit.date_invalid", value=values[name]))
            continue
        if name == "from":
            conditions.append(AuditEntry.at >= datetime.combine(day, time.min, tz))
        else:  # the whole "to" day is included
            conditions.append(AuditEntry.at < datetime.combine(day + timedelta(days=1), time.min, tz))
    return values, conditions, errors


MAX_PAGE = 100_000


@bp.get("/audit")
@roles_required(Role.ADMIN)
def audit_trail():  # type: ignore[no-untyped-def]
    values, conditions, errors = _audit_filters()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    if page > MAX_PAGE:
        abort(400)
    entries: list[AuditEntry] = []
    total = 0
    if not errors:
        s = db_session()
        total = s.scalar(select(func.count()).select_from(AuditEntry).where(*conditions)) or 0
        entries = list(
            s.scalars(
                select(AuditEntry)
                .where(*conditions)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .offset((page - 1) * AUDIT_PAGE_SIZE)
                .limit(AUDIT_PAGE_SIZE)
            )
        )
    pages = max((total + AUDIT_PAGE_SIZE - 1) // AUDIT_PAGE_SIZE, 1)
    filters = {k: v for k, v in values.items() if v}
    return render_template(
        "admin/audit.html",
        entries=entries,
        values=values,
        filters=filters,
        errors=errors,
        page=page,
        pages=pages,
        total=total,
        details=_details_text,
    ), 400 if errors else 200


def _details_text(details: dict[str, Any] | None) -> str:
    return json.dumps(details or {}, ensure_ascii=False, sort_keys=True, default=str) if details else ""


@bp.get("/audit.csv")
@roles_required(Role.ADMIN)
def audit_csv():  # type: ignore[no-untyped-def]
    values, conditions, errors = _audit_filters()
    if errors:
        abort(400)
    rt = runtime()
    with rt.db.transaction() as s:
        audit(s, current_actor(), "audit.export", None, filters={k: v for k, v in values.items() if v})
    header = [
        tr("admin.audit.at"),
        tr("admin.audit.actor"),
        tr("admin.audit.action"),
        tr("admin.audit.object_type"),
        tr("admin.audit.object_id"),
        tr("admin.audit.ip"),
        tr("admin.audit.details"),
    ]
    query = select(AuditEntry).where(*conditions).order_by(AuditEntry.at.desc(), AuditEntry.id.desc())

    def rows() -> Iterator[list[object]]:
        yield list(header)
        for entry in db_session().scalars(query.execution_options(yield_per=500)):
            yield [
                v or ""
                for v in (
                    local_time(entry.at, "%Y-%m-%d %H:%M:%S"),
                    entry.actor,
                    entry.action,
                    entry.object_type,
                    entry.object_id,
                    entry.ip,
                    _details_text(entry.details),
                )
            ]

    name = f"audit-{local_time(rt.now(), '%Y%m%d-%H%M')}.csv"
    return Response(
        stream_with_context(csv_stream(rows())),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


# --- failed inbound events -------------------------------------------------------------------------


@bp.get("/inbound")
@roles_required(Role.ADMIN)
def inbound_failed():  # type: ignore[no-untyped-def]
    """Events that left the retry loop: their count, error and payload, and a retry button."""
    s = db_session()
    events = inbound.failed_events(s)
    total = inbound.count_failed(s)
    rows = [
        {
            "id": e.id,
            "kind": e.kind,
            "received_at": local_time(e.received_at),
            "attempts": e.attempts,
            "error": e.error,
            "payload": json.dumps(e.form, ensure_ascii=False, indent=1),
        }
        for e in events
    ]
    return render_template("admin/inbound.html", events=rows, total=total)


@bp.post("/inbound/<int:event_id>/retry")
@roles_required(Role.ADMIN)
def inbound_retry(event_id: int):  # type: ignore[no-untyped-def]
    rt = runtime()
    with rt.db.session() as s:
        if s.get(InboundEvent, event_id) is None:
            abort(404)
    ok = inbound.retry(rt, event_id)
    with rt.db.transaction() as s:
        audit(s, current_actor(), "inbound.retry", s.get(InboundEvent, event_id), ok=ok)
    flash(tr("admin.inbound.retried" if ok else "admin.inbound.failed_again", id=event_id))
    return redirect(url_for("admin.inbound_failed"))


# --- calendar: the State Council's schedule beyond chinese_calendar ----------------------------------


@bp.route("/calendar", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def calendar_page():  # type: ignore[no-untyped-def]
    rt = runtime()
    today = rt.now().astimezone(rt.settings.tz).date()
    error: str | None = None
    form = request.form
    if request.method == "POST":
        try:
            year = int(form.get("year") or 0)
            with rt.db.transaction() as s:
                schedules.save_year_schedule(
                    s, year, form.get("holidays", ""), form.get("workdays", ""), actor=current_actor()
                )
        except ValueError:
            error = tr("error.schedule.bad_year", year=form.get("year", ""))
        except HotlineError as exc:
            error = exc.message(language())
        else:
            flash(tr("calendar.saved", year=year), "ok")
            return redirect(url_for("admin.calendar_page")), 303
    s = db_session()
    return render_template(
        "admin/calendar.html",
        years=schedules.calendar_years(s, today),
        missing_year=schedules.missing_next_year(s, today),
        error=error,
        form=form,
    ), 400 if error else 200
