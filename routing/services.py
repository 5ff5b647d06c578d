"""The routing service: what intake's "complaint received" triggers, and what dispatchers and units
call to route, return, extend or pause a ticket. Every change is a timeline event; every deadline
change says why."""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import outbox
from hotline_core.audit import Actor
from hotline_core.events import ComplaintReceived
from hotline_core.i18n import t
from hotline_core.models import Area, Assignment, Category, Deadline, RoutingRule, Ticket, TicketEvent, Unit
from hotline_core.models.messaging import Priority
from hotline_core.models.ticket import TicketState
from hotline_core.runtime import Runtime
from routing import engine, lifecycle, model_store
from routing.classifier import operating_point as classifier_operating_point
from routing.config import RoutingConfig, load_config
from routing.deadlines import TicketClock
from routing.lifecycle import TicketError


class RoutingError(TicketError):
    """A routing action that cannot be done as asked; the key says why (``error.routing.*``)."""


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


# Fewer held-out predictions than this say too little about precision (a few hundred are uncertain by a point or two):
# such a model (the demo's 89 examples) dispatches at the directory's floor, auto_dispatch_min_confidence.
MIN_EVALUATED = 200


def model_evaluation(model: Any) -> dict[str, Any]:
    """The held-out evaluation kept with a model at training time (empty for a model trained before it was kept)."""
    evaluation: dict[str, Any] = (getattr(model, "metadata", None) or {}).get("evaluation") or {}
    return evaluation


def operating_point(model: Any, cfg: RoutingConfig) -> dict[str, float] | None:
    """The point of the model's held-out precision/coverage curve where it dispatches the most at the directory's
    target precision; ``None`` for a model without a usable evaluation or one that never reaches the target."""
    evaluation = model_evaluation(model)
    curve = evaluation.get("curve")
    if not curve or int(evaluation.get("n") or 0) < MIN_EVALUATED:
        return None
    return classifier_operating_point(curve, cfg.target_precision)


def auto_dispatch_threshold(model: Any, cfg: RoutingConfig) -> float:
    """The confidence at which the model dispatches by itself.

    From the target precision and the curve kept with the model (never below the directory's
    ``auto_dispatch_min_confidence`` floor); a model whose evaluation never reached the target dispatches nothing
    by itself; a model without an evaluation of at least :data:`MIN_EVALUATED` predictions uses the floor alone.
    """
    evaluation = model_evaluation(model)
    if not evaluation.get("curve") or int(evaluation.get("n") or 0) < MIN_EVALUATED:
        return cfg.min_confidence
    point = operating_point(model, cfg)
    if point is None:
        return math.nextafter(1.0, 2.0)  # above any confidence
    return max(cfg.min_confidence, float(point["threshold"]))


def on_complaint_received(session: Session, runtime: Runtime, event: ComplaintReceived) -> None:
    """Subscribed to intake's ComplaintReceived (see hotline_app.bootstrap)."""
    route_new_ticket(session, runtime, event.ticket_id)


def route_new_ticket(session: Session, runtime: Runtime, ticket_id: int) -> engine.Decision | None:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None or ticket.state != TicketState.RECEIVED:
        return None  # already routed (a repeated job) or handled by a person
    cfg, (categories, areas, rules), model = _routing_inputs(session, runtime)
    text = ticket.text or ""
    threshold = auto_dispatch_threshold(model, cfg)
    labels = tuple(model.labels) if model is not None else None
    model = model if text.strip() else None
    prediction = model.predict(text) if model is not None else None
    decision = engine.decide(
        text,
        categories=categories,
        areas=areas,
        rules=rules,
        prediction=prediction,
        min_confidence=threshold,
        explicit_category_id=ticket.category_id,
        explicit_area_id=ticket.area_id,
        model_labels=labels,
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
        lifecycle.queue_for_dispatch(session, ticket, now, reason=decision.manual_reason or "")
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


# --- assignment and deadlines: the service layer over routing.lifecycle -----------------------

active_assignments = lifecycle.active_assignments
open_deadline = lifecycle.open_deadline


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
    """Give the ticket to its units (``lifecycle.assign``) and tell them and the citizen."""
    cfg = cfg or config(session, runtime)
    made, sign_for_clock, resolution = lifecycle.assign(
        session, ticket, lead_unit_id, co_unit_ids, runtime.now(), cfg, actor=actor, reason=reason
    )
    notify_assigned(session, runtime, ticket, made, sign_for_clock, resolution)
    return made


def notify_assigned(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    made: list[Assignment],
    sign_for_clock: Deadline,
    resolution: Deadline,
) -> None:
    for a in made:
        _notify_unit(
            session,
            runtime,
            ticket,
            a.unit_id,
            "notify.assigned",
            due=_local(runtime, sign_for_clock.due_at),
            resolve_due=_local(runtime, resolution.due_at),
        )
    lead = session.get(Unit, made[0].unit_id)
    assert lead is not None
    notify_citizen(
        session,
        runtime,
        ticket,
        "citizen.assigned",
        unit=lead.name(ticket.language),
        due=_local(runtime, resolution.due_at),
    )


def ticket_clock(deadline: Deadline, cfg: RoutingConfig) -> TicketClock:
    return lifecycle.clock_of(deadline, cfg)


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
    """A dispatcher's routing (or arbitration of a returned ticket). The final category becomes
    training data for the classifier."""
    if not lifecycle.allowed(ticket, lifecycle.Command.ASSIGN):
        raise lifecycle.refused(ticket, lifecycle.Command.ASSIGN)
    if category_id is not None:
        category = session.get(Category, category_id)
        if category is None:
            raise RoutingError("error.routing.unknown_category", category=category_id)
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
    """A unit says the ticket is not theirs (``lifecycle.return_ticket``)."""
    lifecycle.return_ticket(
        session,
        assignment,
        runtime.now(),
        config(session, runtime),
        reason=reason,
        suggested_unit_id=suggested_unit_id,
        actor=actor,
    )


def pause_clock(session: Session, runtime: Runtime, ticket: Ticket, *, reason: str, actor: Actor) -> None:
    lifecycle.pause(session, ticket, runtime.now(), reason=reason, actor=actor)


def resume_clock(session: Session, runtime: Runtime, ticket: Ticket, *, actor: Actor) -> None:
    lifecycle.resume(session, ticket, runtime.now(), config(session, runtime), actor=actor)


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
    return lifecycle.extend(
        session,
        ticket,
        runtime.now(),
        config(session, runtime),
        reason=reason,
        actor=actor,
        until=until,
        working_days=working_days,
    )


def sign_for(session: Session, runtime: Runtime, assignment: Assignment, *, actor: Actor) -> None:
    lifecycle.sign_for(session, assignment, runtime.now(), actor=actor)


def resolve(session: Session, runtime: Runtime, ticket: Ticket, *, text: str, actor: Actor) -> None:
    lifecycle.resolve(session, ticket, runtime.now(), text=text, actor=actor)


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
