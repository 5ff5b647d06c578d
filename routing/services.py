"""The routing service: what intake's "complaint received" triggers, and what dispatchers and units
call to route, return, extend or pause a ticket. Every change is a timeline event; every deadline
change says why."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import outbox
from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.events import ComplaintReceived
from hotline_core.i18n import t
from hotline_core.models import Area, Assignment, Category, Deadline, RoutingRule, Ticket, TicketEvent, Unit
from hotline_core.models.messaging import Priority
from hotline_core.models.routing import AssignmentRole, AssignmentState
from hotline_core.models.ticket import TicketState
from hotline_core.runtime import Runtime
from routing import engine, model_store
from routing.config import RoutingConfig, load_config
from routing.deadlines import ClockKind, Extension, Pause, TicketClock


class RoutingError(ValueError):
    """A routing action that cannot be done as asked; the message says why."""


# --- directory snapshot --------------------------------------------------------------------------


def snapshot(session: Session) -> tuple[list[engine.CategoryInfo], list[engine.AreaInfo], list[engine.RuleInfo]]:
    categories = [
        engine.CategoryInfo(c.id, c.code, c.parent_id, tuple(c.keywords or ()), c.urgency or "general", c.policy)
        for c in session.scalars(select(Category).where(Category.active))
    ]
    areas = [
        engine.AreaInfo(a.id, a.code, a.parent_id, (a.name_zh, a.name_en, *(a.aliases or ())), a.fallback_unit_id)
        for a in session.scalars(select(Area))
    ]
    rules = [
        engine.RuleInfo(r.id, r.category_id, r.area_id, r.lead_unit_id, tuple(r.co_unit_ids or ()))
        for r in session.scalars(select(RoutingRule).where(RoutingRule.active))
    ]
    return categories, areas, rules


def config(session: Session, runtime: Runtime) -> RoutingConfig:
    return load_config(session, runtime.settings.timezone)


def _routing_inputs(session: Session, runtime: Runtime) -> tuple[RoutingConfig, Any, Any]:
    """Config, directory snapshot and classifier, read once per transaction.

    A batch of new tickets routed in one transaction (``process_waiting_job``) reads the directory
    once instead of once per ticket; a new transaction always reads it afresh.
    """
    transaction = session.get_transaction()
    cached = session.info.get("hotline_routing_inputs")
    if cached is None or cached[0] is not transaction:
        inputs = (config(session, runtime), snapshot(session), model_store.load_active(session))
        session.info["hotline_routing_inputs"] = cached = (transaction, inputs)
    return cached[1]


# --- automatic routing ---------------------------------------------------------------------------


def on_complaint_received(session: Session, event: ComplaintReceived) -> None:
    """Subscribed to intake's ComplaintReceived (see hotline_app.bootstrap)."""
    from hotline_core.runtime import current

    route_new_ticket(session, current(), event.ticket_id)


def route_new_ticket(session: Session, runtime: Runtime, ticket_id: int) -> engine.Decision | None:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.state != TicketState.RECEIVED:
        return None  # already routed (a repeated job) or handled by a person
    cfg, (categories, areas, rules), model = _routing_inputs(session, runtime)
    text = ticket.text or ""
    model = model if text.strip() else None
    prediction = model.predict(text) if model is not None else None
    decision = engine.decide(
        text,
        categories=categories,
        areas=areas,
        rules=rules,
        prediction=prediction,
        min_confidence=cfg.min_confidence,
        explicit_category_id=ticket.category_id,
        explicit_area_id=ticket.area_id,
    )
    if ticket.needs_review and not text.strip():
        decision.manual_reason = "no text: a person must listen to the recording"
    now = runtime.now()
    ticket.category_id = decision.category.id if decision.category else None
    ticket.area_id = decision.area.id if decision.area else ticket.area_id
    ticket.urgency = decision.urgency
    ticket.policy = decision.policy
    session.add(TicketEvent(ticket=ticket, at=now, kind="classified", data=decision.as_event_data()))
    if decision.manual:
        ticket.state = TicketState.DISPATCH
        session.add(
            TicketEvent(ticket=ticket, at=now, kind="queued_for_dispatch", data={"reason": decision.manual_reason})
        )
        return decision
    assert decision.lead_unit_id is not None
    assign(
        session,
        runtime,
        ticket,
        decision.lead_unit_id,
        list(decision.co_unit_ids),
        actor=Actor.system(),
        reason=decision.reason,
        cfg=cfg,
    )
    return decision


# --- assignment and deadlines --------------------------------------------------------------------


def _unit(session: Session, unit_id: int | None) -> Unit:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None or not unit.active:
        raise RoutingError(f"unit {unit_id} does not exist or is not active")
    return unit


def active_assignments(session: Session, ticket_id: int) -> list[Assignment]:
    return list(
        session.scalars(
            select(Assignment)
            .where(Assignment.ticket_id == ticket_id, Assignment.state.in_(AssignmentState.ACTIVE))
            .order_by(Assignment.id)
        )
    )


def open_deadline(session: Session, ticket_id: int, kind: str) -> Deadline | None:
    return session.scalars(
        select(Deadline)
        .where(
            Deadline.ticket_id == ticket_id,
            Deadline.kind == kind,
            Deadline.met_at.is_(None),
            Deadline.closed_at.is_(None),
        )
        .order_by(Deadline.id.desc())
        .limit(1)
    ).first()


def assign(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    lead_unit_id: int,
    co_unit_ids: list[int],
    *,
    actor: Actor,
    reason: str,
    cfg: RoutingConfig | None = None,
) -> list[Assignment]:
    """Give the ticket to a lead unit (and co-handling units): one ticket, several assignments.

    The sign-for clock starts afresh for the new lead; the resolution clock starts now, or resumes if
    the ticket was returned and arbitrated (its pause ends here).
    """
    cfg = cfg or config(session, runtime)
    lead = _unit(session, lead_unit_id)
    co = [_unit(session, u) for u in dict.fromkeys(co_unit_ids) if u != lead_unit_id]
    now = runtime.now()
    for old in active_assignments(session, ticket.id):
        old.state, old.ended_at = AssignmentState.ENDED, now
    old_sign_for = open_deadline(session, ticket.id, ClockKind.SIGN_FOR)
    if old_sign_for is not None:
        old_sign_for.closed_at = now
    made = [Assignment(ticket_id=ticket.id, unit_id=lead.id, role=AssignmentRole.LEAD, assigned_at=now)]
    made += [Assignment(ticket_id=ticket.id, unit_id=u.id, role=AssignmentRole.CO, assigned_at=now) for u in co]
    session.add_all(made)
    session.flush()
    ticket.state = TicketState.ASSIGNED
    ticket.lead_unit_id = lead.id
    ticket.updated_at = now
    policy = ticket.policy or "general"
    ticket.policy = policy
    for a in made:
        session.add(
            TicketEvent(
                ticket=ticket,
                at=now,
                kind="assigned",
                actor=actor.name,
                data={
                    "unit_id": a.unit_id,
                    "unit": session.get(Unit, a.unit_id).code,
                    "role": a.role,
                    "assignment_id": a.id,
                    "reason": reason,
                },
            )
        )
    sign_for = _start_deadline(session, ticket, made[0], ClockKind.SIGN_FOR, policy, now, cfg)
    resolution = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if resolution is None:
        resolution = _start_deadline(session, ticket, made[0], ClockKind.RESOLUTION, policy, now, cfg)
    else:
        resolution.assignment_id, resolution.unit_id = made[0].id, lead.id
        _end_pause(session, ticket, resolution, now, cfg, reason="reassigned after arbitration")
    for a in made:
        _notify_unit(
            session,
            runtime,
            ticket,
            a.unit_id,
            "notify.assigned",
            due=_local(runtime, sign_for.due_at),
            resolve_due=_local(runtime, resolution.due_at),
        )
    notify_citizen(
        session,
        runtime,
        ticket,
        "citizen.assigned",
        unit=lead.name(ticket.language),
        due=_local(runtime, resolution.due_at),
    )
    audit(session, actor, "ticket.assign", ticket, lead=lead.code, co=[u.code for u in co], reason=reason)
    return made


def _start_deadline(
    session: Session, ticket: Ticket, assignment: Assignment, kind: str, policy: str, now: datetime, cfg: RoutingConfig
) -> Deadline:
    clock = TicketClock(now, cfg.policy(policy), kind, calendar=cfg.calendar)
    due = clock.base_deadline()
    deadline = Deadline(
        ticket_id=ticket.id,
        assignment_id=assignment.id,
        unit_id=assignment.unit_id,
        kind=kind,
        policy=cfg.policy(policy).name,
        started_at=now,
        due_at=due,
    )
    session.add(deadline)
    session.flush()
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            kind="deadline_set",
            data={
                "deadline_id": deadline.id,
                "clock": kind,
                "policy": deadline.policy,
                "due_at": due.isoformat(),
                "allowance": str(cfg.policy(policy).allowance(kind)),
                "reason": "policy",
            },
        )
    )
    return deadline


def ticket_clock(deadline: Deadline, cfg: RoutingConfig) -> TicketClock:
    pauses = [
        Pause(
            datetime.fromisoformat(p["start"]),
            datetime.fromisoformat(p["end"]) if p.get("end") else None,
            p.get("reason", "awaiting_citizen"),
        )
        for p in deadline.pauses or []
    ]
    extensions = [
        Extension(
            datetime.fromisoformat(e["at"]),
            e["reason"],
            by=timedelta(seconds=e["by_seconds"]) if e.get("by_seconds") else None,
            working_days=e.get("working_days"),
            until=datetime.fromisoformat(e["until"]) if e.get("until") else None,
        )
        for e in deadline.extensions or []
    ]
    return TicketClock(
        deadline.started_at, cfg.policy(deadline.policy), deadline.kind, pauses, extensions, cfg.calendar
    )


def recompute(
    session: Session, ticket: Ticket, deadline: Deadline, now: datetime, cfg: RoutingConfig, reason: str
) -> None:
    old = deadline.due_at
    new = ticket_clock(deadline, cfg).deadline(now)
    if new != old:
        deadline.due_at = new
        session.add(
            TicketEvent(
                ticket=ticket,
                at=now,
                kind="deadline_changed",
                data={
                    "deadline_id": deadline.id,
                    "clock": deadline.kind,
                    "old": old.isoformat(),
                    "new": new.isoformat(),
                    "reason": reason,
                },
            )
        )


def _end_pause(
    session: Session, ticket: Ticket, deadline: Deadline, now: datetime, cfg: RoutingConfig, reason: str
) -> None:
    pauses = [dict(p) for p in deadline.pauses or []]
    if pauses and not pauses[-1].get("end"):
        pauses[-1]["end"] = now.isoformat()
        deadline.pauses = pauses
        session.add(
            TicketEvent(
                ticket=ticket, at=now, kind="clock_resumed", data={"deadline_id": deadline.id, "reason": reason}
            )
        )
        recompute(session, ticket, deadline, now, cfg, f"clock paused ({pauses[-1].get('reason')}) until now")


def _start_pause(session: Session, ticket: Ticket, deadline: Deadline, now: datetime, reason: str) -> None:
    pauses = [dict(p) for p in deadline.pauses or []]
    if pauses and not pauses[-1].get("end"):
        return
    pauses.append({"start": now.isoformat(), "end": None, "reason": reason})
    deadline.pauses = pauses
    session.add(
        TicketEvent(ticket=ticket, at=now, kind="clock_paused", data={"deadline_id": deadline.id, "reason": reason})
    )


def route_manually(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    *,
    lead_unit_id: int,
    co_unit_ids: list[int] | None = None,
    category_id: int | None = None,
    actor: Actor,
    note: str = "",
) -> list[Assignment]:
    """A dispatcher's routing. The final category becomes training data for the classifier."""
    if ticket.state not in (TicketState.RECEIVED, TicketState.DISPATCH, TicketState.ASSIGNED, TicketState.SIGNED):
        raise RoutingError(f"ticket {ticket.number} is {ticket.state} and cannot be routed")
    if category_id is not None:
        category = session.get(Category, category_id)
        if category is None:
            raise RoutingError(f"category {category_id} does not exist")
        previous = ticket.category_id
        ticket.category_id = category.id
        session.add(
            TicketEvent(
                ticket=ticket,
                at=runtime.now(),
                kind="category_set",
                actor=actor.name,
                data={"category": category.code, "previous_category_id": previous, "training_label": category.code},
            )
        )
    return assign(
        session,
        runtime,
        ticket,
        lead_unit_id,
        co_unit_ids or [],
        actor=actor,
        reason=f"manual: {note}" if note else "manual",
    )


def return_ticket(
    session: Session,
    runtime: Runtime,
    assignment: Assignment,
    *,
    reason: str,
    suggested_unit_id: int | None,
    actor: Actor,
) -> None:
    """A unit says the ticket is not theirs: within the return window, with a reason and a suggestion."""
    cfg = config(session, runtime)
    now = runtime.now()
    if not (reason or "").strip():
        raise RoutingError("a return needs a reason")
    if assignment.state not in AssignmentState.ACTIVE or assignment.role != AssignmentRole.LEAD:
        raise RoutingError("only the lead unit's active assignment can be returned")
    if suggested_unit_id is not None:
        _unit(session, suggested_unit_id)
    window_end = cfg.calendar.add_working_days(assignment.assigned_at, cfg.return_window_working_days)
    if now > window_end:
        raise RoutingError(f"the return window ended at {_local(runtime, window_end)}; ask the dispatcher")
    ticket = session.get(Ticket, assignment.ticket_id)
    assert ticket is not None
    assignment.state, assignment.returned_at = AssignmentState.RETURNED, now
    assignment.return_reason, assignment.suggested_unit_id = reason.strip(), suggested_unit_id
    for co in active_assignments(session, ticket.id):
        co.state, co.ended_at = AssignmentState.ENDED, now
    sign_for = open_deadline(session, ticket.id, ClockKind.SIGN_FOR)
    if sign_for is not None:
        sign_for.closed_at = now
    resolution = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if resolution is not None:
        _start_pause(session, ticket, resolution, now, "arbitration")
    ticket.state = TicketState.DISPATCH
    ticket.updated_at = now
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            kind="returned",
            actor=actor.name,
            body=reason.strip(),
            data={
                "assignment_id": assignment.id,
                "unit_id": assignment.unit_id,
                "suggested_unit_id": suggested_unit_id,
            },
        )
    )
    audit(session, actor, "ticket.return", ticket, reason=reason.strip(), suggested_unit_id=suggested_unit_id)


def pause_clock(session: Session, runtime: Runtime, ticket: Ticket, *, reason: str, actor: Actor) -> None:
    deadline = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if deadline is None:
        raise RoutingError("the ticket has no running resolution clock")
    _start_pause(session, ticket, deadline, runtime.now(), reason)
    audit(session, actor, "deadline.pause", ticket, reason=reason)


def resume_clock(session: Session, runtime: Runtime, ticket: Ticket, *, actor: Actor) -> None:
    deadline = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if deadline is None:
        raise RoutingError("the ticket has no running resolution clock")
    _end_pause(session, ticket, deadline, runtime.now(), config(session, runtime), reason="resumed")
    audit(session, actor, "deadline.resume", ticket)


def approve_extension(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    *,
    reason: str,
    actor: Actor,
    until: datetime | None = None,
    working_days: int | None = None,
) -> Deadline:
    deadline = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if deadline is None:
        raise RoutingError("the ticket has no running resolution clock")
    now = runtime.now()
    extension = Extension(now, reason, working_days=working_days, until=until)  # validates
    extensions = [
        *(deadline.extensions or []),
        {
            "at": extension.at.isoformat(),
            "reason": extension.reason,
            "working_days": extension.working_days,
            "until": extension.until.isoformat() if extension.until else None,
        },
    ]
    deadline.extensions = extensions
    recompute(session, ticket, deadline, now, config(session, runtime), f"extension approved: {reason}")
    audit(session, actor, "deadline.extend", ticket, reason=reason, due_at=deadline.due_at.isoformat())
    return deadline


def sign_for(session: Session, runtime: Runtime, assignment: Assignment, *, actor: Actor) -> None:
    if assignment.state != AssignmentState.ASSIGNED:
        raise RoutingError("this assignment is not waiting to be signed for")
    now = runtime.now()
    assignment.state, assignment.signed_at = AssignmentState.SIGNED, now
    ticket = session.get(Ticket, assignment.ticket_id)
    assert ticket is not None
    if assignment.role == AssignmentRole.LEAD:
        ticket.state = TicketState.SIGNED
        deadline = open_deadline(session, ticket.id, ClockKind.SIGN_FOR)
        if deadline is not None:
            deadline.met_at = now
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            kind="signed",
            actor=actor.name,
            data={"assignment_id": assignment.id, "unit_id": assignment.unit_id},
        )
    )
    audit(session, actor, "ticket.sign_for", ticket)


def resolve(session: Session, runtime: Runtime, ticket: Ticket, *, text: str, actor: Actor) -> None:
    now = runtime.now()
    deadline = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if deadline is not None:
        deadline.met_at = now
    for a in active_assignments(session, ticket.id):
        a.state, a.resolved_at = AssignmentState.RESOLVED, now
    ticket.state = TicketState.RESOLVED
    session.add(TicketEvent(ticket=ticket, at=now, kind="resolved", actor=actor.name, body=text))
    audit(session, actor, "ticket.resolve", ticket)


# --- notifications -------------------------------------------------------------------------------


def _local(runtime: Runtime, moment: datetime) -> str:
    return moment.astimezone(runtime.settings.tz).strftime("%Y-%m-%d %H:%M")


def unit_phones(session: Session, unit_id: int) -> list[str]:
    unit = session.get(Unit, unit_id)
    return list(unit.contact_phones or []) if unit else []


def _notify_unit(session: Session, runtime: Runtime, ticket: Ticket, unit_id: int, key: str, **fields: Any) -> None:
    send_sms(session, runtime, unit_phones(session, unit_id), ticket, key, **fields)


def notify_citizen(session: Session, runtime: Runtime, ticket: Ticket, key: str, **fields: Any) -> bool:
    """Text the citizen in the language they used, if they left a valid number."""
    if ticket.anonymous or not ticket.citizen_phone or not ticket.citizen_phone_valid:
        return False
    outbox.queue_sms(
        session,
        runtime,
        to=ticket.citizen_phone,
        body=t(key, ticket.language, number=ticket.number, **fields),
        kind=key.replace(".", "_"),
        priority=Priority.REPLY,
        ticket_id=ticket.id,
    )
    return True


def send_sms(session: Session, runtime: Runtime, numbers: list[str], ticket: Ticket, key: str, **fields: Any) -> int:
    body = t(key, runtime.settings.default_language, number=ticket.number, **fields)
    for number in dict.fromkeys(numbers):
        outbox.queue_sms(
            session,
            runtime,
            to=number,
            body=body,
            kind=key.split(".")[-1],
            priority=Priority.NOTIFICATION,
            ticket_id=ticket.id,
        )
    return len(set(numbers))
