"""The dispatcher's console: the manual queue with the classifier's suggestions, returned tickets to
arbitrate, extension requests to decide, and everything overdue or escalated."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import case, select

from hotline_core.errors import HotlineError
from hotline_core.models import (
    AccountabilityEntry,
    Area,
    Assignment,
    Category,
    Deadline,
    ExtensionRequest,
    Role,
    Ticket,
    TicketEvent,
    Unit,
)
from hotline_core.models.ticket import TicketState
from hotline_web.auth import current_actor, roles_required
from hotline_web.context import db_session, language, local_time, runtime, tr
from hotline_web.errors import flash_refusal
from responders import overview, services
from responders.tickets import suggestions, time_left
from routing.directory import units_without_contact
from routing.lifecycle import is_paused

URGENT = ("emergency", "utility")
URGENT_FIRST = case((Ticket.urgency == "emergency", 0), (Ticket.urgency == "utility", 1), else_=2)

bp = Blueprint("dispatch", __name__, url_prefix="/staff/dispatch", template_folder="templates")


@bp.get("/")
@roles_required(Role.DISPATCHER, Role.ADMIN)
def queue():  # type: ignore[no-untyped-def]
    s = db_session()
    # Emergencies, then utility outages, at the top (issue 13); oldest first within each.
    tickets = s.scalars(
        select(Ticket).where(Ticket.state == TicketState.DISPATCH).order_by(URGENT_FIRST, Ticket.created_at, Ticket.id)
    ).all()
    areas = s.scalars(select(Area).order_by(Area.code)).all()
    categories = {c.code: c for c in s.scalars(select(Category))}
    units = s.scalars(select(Unit).where(Unit.active).order_by(Unit.kind, Unit.code)).all()
    unit_names = {u.id: u.name(language()) for u in s.scalars(select(Unit))}
    items = []
    duplicates = services.duplicate_candidates_many(s, tickets)
    for tk in tickets:
        events = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == tk.id).order_by(TicketEvent.id)).all()
        returned = next((e for e in reversed(events) if e.kind == "returned"), None)
        queued = next((e for e in reversed(events) if e.kind == "queued_for_dispatch"), None)
        classified = next((e for e in reversed(events) if e.kind == "classified"), None)
        model = (classified.data or {}) if classified is not None and not returned else {}
        items.append(
            {
                "ticket": tk,
                "suggestions": suggestions(tk, events, categories),
                "returned": returned,
                "queued": queued,
                "returned_by": unit_names.get(returned.data.get("unit_id") or 0) if returned else None,
                "suggested_unit": unit_names.get(returned.data.get("suggested_unit_id") or 0) if returned else None,
                "duplicates": duplicates[tk.id],
                "phone": services.shown_phone(current_user.user, tk),
                "urgent": tk.urgency in URGENT,
                # The clock runs from when the ticket last came to a person's queue (returned, queued, filed).
                "waiting_since": waited_from.at if (waited_from := returned or queued) else tk.created_at,
                # a twice-failed (referred) ticket: what the citizen said each round (issue 13 point 7)
                "surveys": overview.surveys_of(s, tk.id) if tk.redo_count else [],
                # The model's suggestion (below the auto-dispatch threshold), preselected in the routing form.
                "suggested_lead": model.get("suggested_lead_unit_id"),
                "suggested_co": set(model.get("suggested_co_unit_ids") or ()),
                "model_confidence": max((model.get("scores") or {}).values(), default=None),
                "threshold": model.get("threshold"),
            }
        )
    now = runtime().now()
    problems = overview.notification_problems(s, now)
    problem_tickets = (
        {tk.id: tk for tk in s.scalars(select(Ticket).where(Ticket.id.in_({e.ticket_id for e in problems})))}
        if problems
        else {}
    )
    contactless = units_without_contact(s)
    return render_template(
        "staff/dispatch.html",
        items=items,
        areas=areas,
        now=runtime().now(),
        problems=list(zip(overview.timeline(s, problems, language(), local_time), problems, strict=True)),
        problem_tickets=problem_tickets,
        contactless={u.id for u in contactless},
        contactless_names=("、" if language() == "zh" else ", ").join(u.name(language()) for u in contactless),
        units=units,
        unit_names=unit_names,
        categories=sorted(categories.values(), key=lambda c: (c.level, c.code)),
    )


@bp.get("/extensions")
@roles_required(Role.DISPATCHER, Role.ADMIN)
def extensions():  # type: ignore[no-untyped-def]
    s = db_session()
    rows = s.execute(
        select(ExtensionRequest, Ticket)
        .join(Ticket, Ticket.id == ExtensionRequest.ticket_id)
        .where(ExtensionRequest.state == "pending")
        .order_by(ExtensionRequest.requested_at)
    ).all()
    current = {
        d.ticket_id: d.due_at
        for d in s.scalars(
            select(Deadline).where(
                Deadline.kind == "resolution", Deadline.met_at.is_(None), Deadline.closed_at.is_(None)
            )
        )
    }
    unit_names = {u.id: u.name(language()) for u in s.scalars(select(Unit))}
    return render_template("staff/extensions.html", rows=rows, current=current, unit_names=unit_names)


@bp.post("/extensions/<int:request_id>")
@roles_required(Role.DISPATCHER, Role.ADMIN)
def decide(request_id: int):  # type: ignore[no-untyped-def]
    rt = runtime()
    decision = request.form.get("decision")
    if decision not in ("approve", "refuse"):
        abort(400)
    try:
        with rt.db.transaction() as s:
            found = s.get(ExtensionRequest, request_id)
            if found is None:
                abort(404)
            services.decide_extension(
                s,
                rt,
                found,
                s.merge(current_user.user, load=False),
                approve=decision == "approve",
                note=request.form.get("note", ""),
                ip=current_actor().ip,
            )
    except HotlineError as exc:
        flash_refusal(exc)
        return extensions(), exc.status
    flash(tr(f"action.extension.{decision}d"), "ok")
    return redirect(url_for("dispatch.extensions")), 303


@bp.get("/overdue")
@roles_required(Role.DISPATCHER, Role.ADMIN, Role.LEADER)
def overdue():  # type: ignore[no-untyped-def]
    s = db_session()
    now = runtime().now()
    rows = s.execute(
        select(AccountabilityEntry, Ticket)
        .join(Ticket, Ticket.id == AccountabilityEntry.ticket_id)
        .order_by(AccountabilityEntry.overdue_at.desc())
        .limit(500)
    ).all()
    unit_names = {u.id: u.name(language()) for u in s.scalars(select(Unit))}
    running = s.scalars(select(Deadline).where(Deadline.met_at.is_(None), Deadline.closed_at.is_(None))).all()
    open_now = {d.id for d in running}
    # a paused clock reads paused, with its reason, not "still open" (issue 13 point 6)
    paused = {d.id: overview.pause_reason(d.pauses[-1].reason, language()) for d in running if is_paused(d)}
    leads = {a.ticket_id: a.unit_id for a in s.scalars(select(Assignment).where(Assignment.role == "lead"))}
    return render_template(
        "staff/overdue.html",
        rows=rows,
        unit_names=unit_names,
        open_now=open_now,
        paused=paused,
        now=now,
        time_left=time_left,
        leads=leads,
    )
