"""Ticket pages for units and dispatchers: the inbox, the ticket page and its actions.

A unit's people see only tickets given to their unit; asking for another by URL gets 404 and is
audited. Every action goes through responders.services, which records it on the timeline.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import and_, func, select
from sqlalchemy.orm import aliased

from hotline_core import formatting
from hotline_core.audit import record as audit
from hotline_core.errors import HotlineError
from hotline_core.models import (
    Area,
    Assignment,
    Attachment,
    Category,
    Deadline,
    ExtensionRequest,
    Role,
    Ticket,
    TicketEvent,
    Unit,
    User,
)
from hotline_core.models.routing import AssignmentState
from hotline_core.models.ticket import Channel, TicketState
from hotline_web.auth import current_actor, roles_required
from hotline_web.context import db_session, language, local_time, runtime, tr
from hotline_web.errors import flash_refusal
from hotline_web.security import MAX_DB_INT
from intake import forms as intake_forms
from intake.services import AttachmentIn
from responders import overview, services
from responders.services import PortalError
from routing import lifecycle
from routing.directory import units_without_contact
from routing.lifecycle import is_paused

bp = Blueprint("tickets", __name__, url_prefix="/staff", template_folder="templates")

TICKET_ROLES = (Role.DISPATCHER, Role.ADMIN, Role.LEADER, Role.UNIT_STAFF, Role.UNIT_HEAD)
ACTING_ROLES = (Role.DISPATCHER, Role.ADMIN, Role.UNIT_STAFF, Role.UNIT_HEAD)
STATES = (
    TicketState.RECEIVED,
    TicketState.DISPATCH,
    TicketState.ASSIGNED,
    TicketState.SIGNED,
    TicketState.APPROVAL,
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
    seconds = (due - now).total_seconds()
    overdue = seconds < 0
    return tr("time.overdue" if overdue else "time.left", span=formatting.span(seconds, language())), overdue


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
        # A ticket the unit returned (or that was moved to another unit) leaves its inbox at once;
        # the unit's current and finished tickets stay (issue 13 point 6).
        kept = (*AssignmentState.ACTIVE, AssignmentState.RESOLVED)
        mine = select(Assignment.ticket_id).where(Assignment.unit_id == u.unit_id, Assignment.state.in_(kept))
        if filters.get("mine"):
            mine = mine.where(Assignment.officer_id == u.id)
        query = query.where(Ticket.id.in_(mine))
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
    filters = {
        k: request.args.get(k, "") for k in ("state", "category", "overdue", "unit", "from", "to", "channel", "mine")
    }
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
    paused = overview.paused_clocks(s, [tk.id for tk, _, _ in rows])
    items = [
        {
            "ticket": tk,
            "category": names.get(tk.category_id, ""),
            "unit": units.get(tk.lead_unit_id, ""),
            "phone": services.shown_phone(u, tk),
            "sign": time_left(sign_due, now),
            "resolve": time_left(res_due, now),
            "paused": overview.pause_reason(paused[tk.id], language()) if tk.id in paused else None,
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
    lang = language()
    contactless = units_without_contact(s) if u.role in (Role.DISPATCHER, Role.ADMIN) else []
    return render_template(
        "staff/ticket.html",
        areas=s.scalars(select(Area).order_by(Area.code)).all(),
        earlier=services.earlier_tickets(s, u, tk),
        entries=overview.timeline(s, events, lang, local_time),
        paused={d.id: overview.pause_reason(d.pauses[-1].reason, lang) for d in deadlines if is_paused(d)},
        surveys=overview.surveys_of(s, tk.id),
        problems=overview.notification_problems(s, now, tk.id),
        officers=services.unit_officers(s, u.unit_id) if u.role == Role.UNIT_HEAD and mine else [],
        officer_names={
            o.id: o.display_name
            for o in s.scalars(select(User).where(User.id.in_([a.officer_id for a in assignments if a.officer_id])))
        },
        proposal=lifecycle.proposed_resolution(s, tk),
        needs_approval=services.needs_approval(s, runtime(), u, tk),
        contactless={x.id for x in contactless},
        contactless_names="、".join(x.name(lang) for x in contactless)
        if lang == "zh"
        else ", ".join(x.name(lang) for x in contactless),
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
        suggestions=suggestions(tk, events, {c.code: c for c in s.scalars(select(Category))}),
    )


def suggestions(
    tk: Ticket, events: Sequence[TicketEvent], categories: Mapping[str, Category]
) -> list[tuple[Category, float]]:
    """The classifier's three best categories for the ticket, as categories (pages show their names
    in the reader's language, never the codes); a code the directory no longer has is left out."""
    classified = [e for e in events if e.kind == "classified"]
    if not classified:
        return []
    scores = classified[-1].data.get("scores") or {}
    best = sorted(scores.items(), key=lambda kv: -kv[1])[:3]
    return [(categories[code], score) for code, score in best if code in categories]


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
    # issue 13 point 5: inside a unit
    "delegate": (Role.UNIT_HEAD,),
    "approve": (Role.UNIT_HEAD,),
    "send_back": (Role.UNIT_HEAD,),
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
            "error.portal.evidence_rejected",
            detail=tr("error.list_separator").join(tr(key, **fields) for key, fields in errors),
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
            proposed = action == "resolve" and tk.state == TicketState.APPROVAL
            done = "action.resolve.proposed" if proposed else f"action.{action}.done"
    except HotlineError as exc:
        # Shown on the ticket page itself, with the refusal's status (nothing was changed).
        flash_refusal(exc)
        return ticket(number), exc.status
    flash(tr(done), "ok")
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
            area_id=_int_or_none(form.get("area")),
        )
    elif action == "merge":
        into = s.scalars(select(Ticket).where(Ticket.number == form.get("into", "").strip())).first()
        if into is None:
            raise PortalError("action.merge.not_found")
        services.merge(s, rt, tk, into, u, ip)
    elif action == "delegate":
        services.delegate(s, rt, tk, u, _int_or_none(form.get("officer")), ip)
    elif action == "approve":
        services.approve_resolution(s, rt, tk, u, ip)
    elif action == "send_back":
        services.send_back_resolution(s, rt, tk, u, form.get("reason", ""), ip)
    elif action == "pause":
        from routing import services as routing

        routing.pause_clock(s, rt, tk, reason=form.get("reason") or "awaiting_citizen", actor=current_actor())
    elif action == "resume":
        from routing import services as routing

        routing.resume_clock(s, rt, tk, actor=current_actor())
