"""The routing service: what intake's "complaint received" triggers, and what dispatchers and units
call to route, return, extend or pause a ticket. Every change is a timeline event; every deadline
change says why."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import formatting, outbox, quiet_hours
from hotline_core.audit import Actor
from hotline_core.events import ComplaintReceived, Matter, MatterAsked
from hotline_core.i18n import t
from hotline_core.models import (
    Area,
    Assignment,
    Category,
    Deadline,
    OutboxMessage,
    Ticket,
    TicketEvent,
    Unit,
)
from hotline_core.models.messaging import Priority
from hotline_core.models.ticket import TicketState
from hotline_core.runtime import Runtime
from routing import directory, engine, lifecycle
from routing import inputs as routing_inputs
from routing.classifier import operating_point as classifier_operating_point
from routing.config import RoutingConfig, load_config
from routing.deadlines import TicketClock
from routing.lifecycle import TicketError


class RoutingError(TicketError):
    """A routing action that cannot be done as asked; the key says why (``error.routing.*``)."""


# --- routing settings ----------------------------------------------------------------------------


def config(session: Session, runtime: Runtime) -> RoutingConfig:
    return load_config(session, runtime.settings.timezone)


# --- what a text is about (issue 13, point 9) ----------------------------------------------------


def describe_matter(session: Session, runtime: Runtime, event: MatterAsked) -> Matter:
    """Subscribed to intake's MatterAsked: the level-1 category (the ticket's own, else the one the
    directory's keywords point to) and the district (the ticket's area, else the one named in the
    text); each None when unclear."""
    directory_now = routing_inputs.current(session, runtime)
    categories, areas = directory_now.categories, directory_now.areas
    by_id = {c.id: c for c in categories}
    parents = {c.id: c.parent_id for c in categories}
    category_id = event.category_id
    if category_id is None:
        chosen = engine.keyword_choice(engine.keyword_matches(event.text, categories), by_id)
        category_id = chosen[0].id if chosen is not None else None
    root = engine.chain(category_id, parents)[-1] if category_id in by_id else None
    area_by_id = {a.id: a for a in areas}
    area_id = event.area_id
    if area_id is None:
        named = engine.detect_area(event.text, areas)
        area_id = named.id if named is not None else None
    district = engine.chain(area_id, {a.id: a.parent_id for a in areas})[-1] if area_id in area_by_id else None
    return Matter(
        by_id[root].code if root is not None else None,
        area_by_id[district].code if district is not None else None,
    )


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
    """Subscribed to intake's ComplaintReceived (see hotline_app.bootstrap): a batch of new tickets."""
    route_new_tickets(session, runtime, event.ticket_ids)


def route_new_ticket(session: Session, runtime: Runtime, ticket_id: int) -> engine.Decision | None:
    return route_new_tickets(session, runtime, (ticket_id,))[0]


def route_new_tickets(session: Session, runtime: Runtime, ticket_ids: Sequence[int]) -> list[engine.Decision | None]:
    """Classify and route new tickets (one decision per id; None for one already routed or handled
    by a person).

    A batch is routed as one: the cached directory and model (``routing.inputs``: one statement),
    one call of the classifier for all texts (about five times cheaper per text than one at a time),
    and the rows written with a flush per table rather than several per ticket
    (``lifecycle.assign_new``). The decisions, deadlines and texts are those of routing each
    ticket alone.
    """
    inputs = routing_inputs.current(session, runtime)
    cfg = inputs.config
    tickets = [session.get(Ticket, ticket_id) for ticket_id in ticket_ids]
    todo = [t for t in tickets if t is not None and t.state == TicketState.RECEIVED]
    model = inputs.model
    threshold = auto_dispatch_threshold(model, cfg)
    texts = [ticket.text or "" for ticket in todo]
    predicted = model.predict_many([text for text in texts if text.strip()]) if model is not None else []
    predictions = iter(predicted)
    decisions: dict[int, engine.Decision] = {}
    to_assign: list[tuple[Ticket, engine.Decision, datetime]] = []
    for ticket, text in zip(todo, texts, strict=True):
        prediction = next(predictions) if model is not None and text.strip() else None
        decision = engine.decide(
            text,
            categories=inputs.categories,
            areas=inputs.areas,
            rules=inputs.rules,
            prediction=prediction,
            min_confidence=threshold,
            explicit_category_id=ticket.category_id,
            explicit_area_id=ticket.area_id,
            model_labels=inputs.labels,
        )
        if ticket.needs_review and not text.strip():
            decision.manual_reason = "no text: a person must listen to the recording"
        decisions[ticket.id] = decision
        now = runtime.now()
        ticket.category_id = decision.category.id if decision.category else None
        ticket.area_id = decision.area.id if decision.area else ticket.area_id
        ticket.urgency = decision.urgency
        ticket.policy = decision.policy
        session.add(TicketEvent(ticket=ticket, at=now, kind="classified", data=decision.as_event_data()))
        send_safety_advice(session, runtime, ticket, inputs)
        if decision.manual:
            lifecycle.queue_for_dispatch(session, ticket, now, reason=decision.manual_reason or "")
        else:
            to_assign.append((ticket, decision, now))
    assigned = lifecycle.assign_new(
        session,
        [
            lifecycle.NewAssignment(
                ticket,
                _unit(inputs, decision.lead_unit_id),
                [_unit(inputs, u) for u in decision.co_unit_ids],
                now,
                decision.reason,
            )
            for ticket, decision, now in to_assign
        ],
        cfg,
        actor=Actor.system(),
    )
    # Citizens' routine news waits for the end of the quiet hours (one window for the batch).
    for (ticket, _decision, now), (made, sign_for_clock, resolution) in zip(to_assign, assigned, strict=True):
        not_before = quiet_hours.ends_at(inputs.quiet_window, now, runtime.settings.tz) or now
        notify_assigned(
            session, runtime, ticket, made, sign_for_clock, resolution, inputs=inputs, not_before=not_before
        )
    return [decisions.get(ticket.id) if ticket is not None else None for ticket in tickets]


def _unit(inputs: routing_inputs.RoutingInputs, unit_id: int | None) -> lifecycle.UnitRef:
    unit = inputs.units.get(unit_id) if unit_id is not None else None
    if unit is None or not unit.active:
        raise TicketError("error.ticket.unknown_unit", unit=unit_id if unit_id is not None else "")
    return unit


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
    *,
    inputs: routing_inputs.RoutingInputs | None = None,
    not_before: datetime | None = None,
) -> None:
    """Text each new unit (its contact phones, else its staff) and the citizen (which unit, by when)."""
    inputs = inputs or routing_inputs.current(session, runtime)
    for a in made:
        unit = inputs.units.get(a.unit_id)
        numbers = list(unit.phones) if unit is not None else []
        fields = {
            "due": _local(runtime, sign_for_clock.due_at),
            "resolve_due": _local(runtime, resolution.due_at),
        }
        if not queue_notifications(session, runtime, numbers, ticket, "notify.assigned", **fields):
            not_notified(session, runtime, ticket, "notify.assigned", "no_contact", unit_id=a.unit_id)
    lead = inputs.units[made[0].unit_id]
    notify_citizen(
        session,
        runtime,
        ticket,
        "citizen.assigned",
        unit=lead.name(ticket.language),
        due=_local(runtime, resolution.due_at, ticket.language),
        deferrable=True,  # routine news: not at night (the acknowledgement already went out)
        not_before=not_before,
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
    area_id: int | None = None,
    actor: Actor,
    note: str = "",
) -> list[Assignment]:
    """A dispatcher's routing (or arbitration of a returned ticket). The final category becomes
    training data for the classifier; the area chosen (preselected from the text) is kept."""
    if not lifecycle.allowed(ticket, lifecycle.Command.ASSIGN):
        raise lifecycle.refused(ticket, lifecycle.Command.ASSIGN)
    if area_id is not None and area_id != ticket.area_id:
        area = session.get(Area, area_id)
        if area is None:
            raise RoutingError("error.routing.unknown_area", area=area_id)
        session.add(
            TicketEvent(
                ticket=ticket,
                at=runtime.now(),
                kind="area_set",
                actor=actor.name,
                data={"area": area.code, "previous_area_id": ticket.area_id},
            )
        )
        ticket.area_id = area.id
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
    made = assign(
        session,
        runtime,
        ticket,
        lead_unit_id,
        co_unit_ids or [],
        actor=actor,
        reason=f"manual: {note}" if note else "manual",
    )
    send_safety_advice(session, runtime, ticket)
    return made


# --- safety advice (issue 13, desk13) ----------------------------------------------------------


def send_safety_advice(
    session: Session, runtime: Runtime, ticket: Ticket, inputs: routing_inputs.RoutingInputs | None = None
) -> bool:
    """Text the citizen the category's safety advice, once per ticket, before any other notice."""
    inputs = inputs or routing_inputs.current(session, runtime)
    advice = inputs.safety_advice(ticket.category_id, ticket.language)
    if not advice or ticket.anonymous or not ticket.citizen_phone or not ticket.citizen_phone_valid:
        return False
    sent = session.scalar(
        select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "safety_advice_sent")
    )
    if sent is not None:
        return False
    outbox.queue_sms(
        session,
        runtime,
        to=ticket.citizen_phone,
        body=t("sms.safety_advice", ticket.language, number=ticket.number, advice=advice),
        kind="safety_advice",
        priority=Priority.ACKNOWLEDGEMENT,
        ticket_id=ticket.id,
    )
    session.add(
        TicketEvent(ticket=ticket, at=runtime.now(), kind="safety_advice_sent", body=advice, data={"via": "sms-outbox"})
    )
    return True


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


def _local(runtime: Runtime, moment: datetime, language: str = "zh") -> str:
    return formatting.moment(moment, language, runtime.settings.tz)


def unit_phones(session: Session, unit_id: int) -> list[str]:
    """The unit's contact phones, or else its active staff's phones (``routing.directory``)."""
    unit = session.get(Unit, unit_id)
    return directory.unit_contact_numbers(session, unit) if unit else []


def not_notified(session: Session, runtime: Runtime, ticket: Ticket, key: str, reason: str, **data: Any) -> None:
    """A notification nobody could be sent (issue 13 point 4): said on the timeline, so the ticket
    page and the dispatcher's console show it, instead of nothing happening."""
    session.add(
        TicketEvent(
            ticket=ticket,
            at=runtime.now(),
            kind="notification_not_sent",
            data={"message": key, "reason": reason, **data},
        )
    )


def notify_citizen(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    key: str,
    *,
    deferrable: bool = False,
    not_before: datetime | None = None,
    **fields: Any,
) -> bool:
    """Text the citizen in the language they used, if they left a valid number. ``deferrable``:
    routine news that waits for the end of the quiet hours (``hotline_core.quiet_hours``), which
    the caller may have worked out already (``not_before``)."""
    if ticket.anonymous:
        return False
    if not ticket.citizen_phone or not ticket.citizen_phone_valid:
        not_notified(session, runtime, ticket, key, "no_number")
        return False
    outbox.queue_sms(
        session,
        runtime,
        to=ticket.citizen_phone,
        body=t(key, ticket.language, number=ticket.number, **fields),
        kind=key.replace(".", "_"),
        # Routine news (deferrable) queues behind the units' notifications: a unit hearing of its
        # ticket starts its clock's work; the citizen already has the ticket number.
        priority=Priority.NOTIFICATION if deferrable else Priority.REPLY,
        ticket_id=ticket.id,
        deferrable=deferrable,
        not_before=not_before if deferrable else None,
    )
    return True


def queue_notifications(
    session: Session, runtime: Runtime, numbers: list[str], ticket: Ticket, key: str, **fields: Any
) -> list[OutboxMessage]:
    """Queue one text per number; returns the outbox rows (their outcome is the outbox's)."""
    body = t(key, runtime.settings.default_language, number=ticket.number, **fields)
    return [
        outbox.queue_sms(
            session,
            runtime,
            to=number,
            body=body,
            kind=key.split(".")[-1],
            priority=Priority.NOTIFICATION,
            ticket_id=ticket.id,
        )
        for number in dict.fromkeys(numbers)
    ]


def send_sms(session: Session, runtime: Runtime, numbers: list[str], ticket: Ticket, key: str, **fields: Any) -> int:
    return len(queue_notifications(session, runtime, numbers, ticket, key, **fields))
