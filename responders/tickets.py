"""Ticket pages for units and dispatchers: the inbox, the ticket page and its actions.

A unit's people see only tickets given to their unit; asking for another by URL gets 404 and is
audited. Every action goes through responders.services, which records it on the timeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from hotline_core.audit import record as audit
from hotline_core.errors import HotlineError
from hotline_core.models import (
    Assignment,
    Attachment,
    Category,
    Deadline,
    ExtensionRequest,
    Role,
    Ticket,
    TicketEvent,
    Unit,
)
from hotline_core.models.ticket import Channel, TicketState
from hotline_web.auth import current_actor, roles_required
from hotline_web.context import db_session, language, runtime, tr
from hotline_web.errors import flash_refusal
from hotline_web.security import MAX_DB_INT
from intake import forms as intake_forms
from intake.services import AttachmentIn
from responders import services
from responders.services import PortalError

bp = Blueprint("tickets", __name__, url_prefix="/staff", template_folder="templates")

TICKET_ROLES = (Role.DISPATCHER, Role.ADMIN, Role.LEADER, Role.UNIT_STAFF, Role.UNIT_HEAD)
ACTING_ROLES = (Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF, Role.UNIT_HEAD)
STATES = (
    TicketState.RECEIVED,
    TicketState.DISPATCH,
    TicketState.ASSIGNED,
    TicketState.SIGNED,
    TicketState.RESOLVED,
    TicketState.CLOSED,
    TicketState.MERGED,
)


def user():  # type: ignore[no-untyped-def]
    return current_user.user


def _ip() -> str | None:
    return current_actor().ip


def time_left(due: datetime | None, now: datetime) -> tuple[str, bool]:
    """("3h 20m", False) or ("2d 4h", True) for overdue, in the reader's language."""
    if due is None:
        return "", False
    seconds = int((due - now).total_seconds())
    overdue, seconds = seconds < 0, abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    zh = language() == "zh"
    if days:
        text = f"{days}天{hours}小时" if zh else f"{days}d {hours}h"
    else:
        text = f"{hours}小时{minutes}分" if zh else f"{hours}h {minutes}m"
    return (f"超期 {text}" if zh else f"{text} overdue") if overdue else (
        f"剩余 {text}" if zh else f"{text} left"
    ), overdue


def inbox_query(filters: dict[str, str]) -> Any:
    sign = aliased(Deadline)
    resolve = aliased(Deadline)

    def open_clock(d, kind):
        return and_(
            d.ticket_id == Ticket.id,
            d.kind == kind,
            d.met_at.is_(None),
            d.closed_at.is_(None),
        )

    query = (
        select(Ticket, sign.due_at, resolve.due_at)
        .outerjoin(sign, open_clock(sign, "sign_for"))
        .outerjoin(resolve, open_clock(resolve, "resolution"))
    )
    u = user()
    if u.role in services.UNIT_ROLES:
        query = query.where(Ticket.id.in_(select(Assignment.ticket_id).where(Assignment.unit_id == u.unit_id)))
    if filters.get("state") in STATES:
        query = query.where(Ticket.state == filters["state"])
    tz = runtime().settings.tz
    for name, op in (("from", "ge"), ("to", "lt")):
        try:
            day = date.fromisoformat(filters.get(name, ""))
        except ValueError:
            continue
        edge = datetime.combine(day + timedelta(days=1 if op == "lt" else 0), time(0), tzinfo=tz)
        query = query.where(Ticket.created_at >= edge if op == "ge" else Ticket.created_at < edge)
    if filters.get("channel") in Channel.ALL:
        query = query.where(Ticket.channel == filters["channel"])
    if (unit_id := _int_or_none(filters.get("unit"))) is not None and u.role not in services.UNIT_ROLES:
        query = query.where(Ticket.lead_unit_id == unit_id)
    if (category_id := _int_or_none(filters.get("category"))) is not None:
        query = query.where(Ticket.category_id == category_id)
    now = runtime().now()
    if filters.get("overdue"):
        query = query.where((sign.due_at < now) | (resolve.due_at < now))
    soonest = func.coalesce(sign.due_at, resolve.due_at)
    return query.order_by(soonest.is_(None), soonest, Ticket.id.desc())


INBOX_PAGE = 100


@bp.get("/tickets")
@roles_required(*TICKET_ROLES)
def inbox():  # type: ignore[no-untyped-def]
    s = db_session()
    filters = {k: request.args.get(k, "") for k in ("state", "category", "overdue", "unit", "from", "to", "channel")}
    page = int(request.args["page"]) if request.args.get("page", "").isdigit() else 1
    page = max(page, 1)
    listed = inbox_query(filters)
    total = s.scalar(select(func.count()).select_from(listed.order_by(None).subquery())) or 0
    rows = s.execute(listed.limit(INBOX_PAGE).offset((page - 1) * INBOX_PAGE)).all()
    now = runtime().now()
    u = user()
    # The header's counts per state are of the same filtered list (every state but the one chosen), so
    # they agree with the rows a click on them shows.
    others = inbox_query({**filters, "state": ""}).order_by(None).subquery()
    counts: dict[str, int] = {
        state: count for state, count in s.execute(select(others.c.state, func.count()).group_by(others.c.state)).all()
    }
    categories = s.scalars(select(Category).where(Category.level == 1).order_by(Category.code)).all()
    names = {c.id: c.name(language()) for c in s.scalars(select(Category))}
    units = {x.id: x.name(language()) for x in s.scalars(select(Unit))}
    items = [
        {
            "ticket": tk,
            "category": names.get(tk.category_id, ""),
            "unit": units.get(tk.lead_unit_id, ""),
            "phone": services.shown_phone(u, tk),
            "sign": time_left(sign_due, now),
            "resolve": time_left(res_due, now),
        }
        for tk, sign_due, res_due in rows
    ]
    return render_template(
        "staff/tickets.html",
        items=items,
        counts=counts,
        filters=filters,
        states=STATES,
        categories=categories,
        total=total,
        page=page,
        pages=max(1, -(-total // INBOX_PAGE)),
        args={k: v for k, v in request.args.items() if k != "page"},
    )


def _ticket_or_404(number: str) -> Ticket:
    s = db_session()
    ticket = s.scalars(select(Ticket).where(Ticket.number == number)).first()
    if ticket is None or not services.may_see(s, user(), ticket):
        with runtime().db.transaction() as w:
            audit(w, current_actor(), "ticket.view_refused", None, number=number[:20])
        abort(404)
    return ticket


@bp.get("/tickets/<number>")
@roles_required(*TICKET_ROLES)
def ticket(number: str):  # type: ignore[no-untyped-def]
    tk = _ticket_or_404(number)
    s = db_session()
    u = user()
    if tk.citizen_phone and services.may_see_phone(u, tk):
        with runtime().db.transaction() as w:
            audit(w, current_actor(), "ticket.phone_revealed", tk, number=tk.number)
    now = runtime().now()
    deadlines = s.scalars(select(Deadline).where(Deadline.ticket_id == tk.id).order_by(Deadline.id)).all()
    assignments = s.scalars(select(Assignment).where(Assignment.ticket_id == tk.id).order_by(Assignment.id)).all()
    units = s.scalars(select(Unit).where(Unit.active).order_by(Unit.kind, Unit.code)).all()
    unit_names = {x.id: x.name(language()) for x in s.scalars(select(Unit))}
    mine = services.unit_assignment(s, u, tk) if u.role in services.UNIT_ROLES else None
    events = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tk.id).order_by(TicketEvent.id)).all()
    if u.role not in (Role.DISPATCHER, Role.ADMIN) and u.role not in services.UNIT_ROLES:
        events = [e for e in events if e.kind != "note"]
    pending_extension = s.scalars(
        select(ExtensionRequest).where(ExtensionRequest.ticket_id == tk.id, ExtensionRequest.state == "pending")
    ).first()
    categories = s.scalars(select(Category).where(Category.active).order_by(Category.level, Category.code)).all()
    return render_template(
        "staff/ticket.html",
        ticket=tk,
        phone=services.shown_phone(u, tk),
        user=u,
        mine=mine,
        deadlines=[
            (d, time_left(d.due_at, now) if d.met_at is None and d.closed_at is None else ("", False))
            for d in deadlines
        ],
        assignments=assignments,
        unit_names=unit_names,
        units=units,
        events=events,
        attachments=s.scalars(select(Attachment).where(Attachment.ticket_id == tk.id)).all(),
        pending_extension=pending_extension,
        categories=categories,
        duplicates=services.duplicate_candidates(s, tk) if u.role in (Role.DISPATCHER, Role.ADMIN) else [],
        suggestions=suggestions(tk, events),
    )


def suggestions(tk: Ticket, events: Sequence[TicketEvent]) -> list[tuple[str, float]]:
    classified = [e for e in events if e.kind == "classified"]
    if not classified:
        return []
    scores = classified[-1].data.get("scores") or {}
    return sorted(scores.items(), key=lambda kv: -kv[1])[:3]


ACTIONS = {
    "sign": ACTING_ROLES,
    "contact": ACTING_ROLES,
    "reply": ACTING_ROLES,
    "note": ACTING_ROLES,
    "resolve": ACTING_ROLES,
    "return": (Role.UNIT_STAFF, Role.UNIT_HEAD),
    "extension": (Role.UNIT_STAFF, Role.UNIT_HEAD),
    "callback": ACTING_ROLES,
    "route": (Role.DISPATCHER, Role.ADMIN),
    "merge": (Role.DISPATCHER, Role.ADMIN),
    "pause": (Role.DISPATCHER, Role.ADMIN),
    "resume": (Role.DISPATCHER, Role.ADMIN),
}


def _int_or_none(value: str | None) -> int | None:
    """An id from a form, or None: not digits, or beyond any id a database integer holds."""
    return int(value) if value and value.isdigit() and int(value) <= MAX_DB_INT else None


def _evidence() -> list[AttachmentIn]:
    settings = runtime().settings
    files, errors = intake_forms.check_files(
        request.files.getlist("evidence"), settings.upload_max_files, settings.upload_max_bytes
    )
    if errors:
        raise PortalError(
            "error.portal.evidence_rejected", detail="; ".join(tr(key, **fields) for key, fields in errors)
        )
    return [intake_forms.store(settings.instance_path, checked, "evidence") for checked in files]


@bp.post("/tickets/<number>/<action>")
@roles_required(*TICKET_ROLES)
def act(number: str, action: str):  # type: ignore[no-untyped-def]
    if action not in ACTIONS:
        abort(404)
    if user().role not in ACTIONS[action]:
        abort(403)
    _ticket_or_404(number)
    rt = runtime()
    form = request.form
    try:
        with rt.db.transaction() as s:
            tk = s.scalars(select(Ticket).where(Ticket.number == number)).one()
            u = s.merge(user(), load=False)
            _dispatch_action(s, rt, tk, u, action, form)
    except HotlineError as exc:
        # Shown on the ticket page itself, with the refusal's status (nothing was changed).
        flash_refusal(exc)
        return ticket(number), exc.status
    flash(tr(f"action.{action}.done"), "ok")
    return redirect(url_for("tickets.ticket", number=number)), 303


def _dispatch_action(s, rt, tk, u, action, form) -> None:  # type: ignore[no-untyped-def]
    ip = _ip()
    if action == "sign":
        services.sign_for(s, rt, tk, u, ip)
    elif action == "contact":
        services.record_contact(s, rt, tk, u, form.get("note", ""), ip)
    elif action == "reply":
        services.reply(s, rt, tk, u, form.get("text", ""), ip)
    elif action == "note":
        services.add_note(s, rt, tk, u, form.get("text", ""), ip)
    elif action == "resolve":
        services.resolve(s, rt, tk, u, form.get("text", ""), _evidence(), ip)
    elif action == "return":
        services.return_ticket(s, rt, tk, u, form.get("reason", ""), _int_or_none(form.get("suggested_unit")), ip)
    elif action == "extension":
        raw = form.get("new_date", "")
        try:
            day = datetime.strptime(raw, "%Y-%m-%d").date()
        except ValueError:
            raise PortalError("action.extension.bad_date") from None
        due = datetime.combine(day, time(17, 30), tzinfo=rt.settings.tz)
        services.request_extension(s, rt, tk, u, form.get("reason", ""), due, ip)
    elif action == "callback":
        services.start_callback(s, rt, tk, u, ip)
    elif action == "route":
        lead = _int_or_none(form.get("lead_unit"))
        if lead is None:
            raise PortalError("action.route.need_unit")
        co = [int(v) for v in form.getlist("co_units") if v.isdigit()]
        services.route(
            s,
            rt,
            tk,
            u,
            lead_unit_id=lead,
            co_unit_ids=co,
            category_id=_int_or_none(form.get("category")),
            note=form.get("note", ""),
            ip=ip,
        )
    elif action == "merge":
        into = s.scalars(select(Ticket).where(Ticket.number == form.get("into", "").strip())).first()
        if into is None:
            raise PortalError("action.merge.not_found")
        services.merge(s, rt, tk, into, u, ip)
    elif action == "pause":
        from routing import services as routing

        routing.pause_clock(s, rt, tk, reason=form.get("reason") or "awaiting_citizen", actor=current_actor())
    elif action == "resume":
        from routing import services as routing

        routing.resume_clock(s, rt, tk, actor=current_actor())
