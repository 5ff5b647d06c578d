"""The escalation sweep: warn, mark overdue, remind (催办) and escalate up the ladder.

It runs as a periodic job in every mode and is idempotent: each step of each deadline is a row in
``escalation_steps`` (unique per deadline and step), inserted in the same transaction as its
notifications and timeline events. Two sweeps at once, or a sweep after a worker crashed half way,
therefore send every notification exactly once, in ladder order.

Ladder: ``warning`` (share of allowed time used >= warning_share) -> ``overdue`` (the deadline
passed: accountability list, reminder to the unit) -> ``unit_head`` -> ``supervision`` ->
``leaders`` (each a configured time after the deadline).
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hotline_core.models import AccountabilityEntry, Deadline, EscalationStep, Role, Ticket, TicketEvent, Unit, User
from hotline_core.runtime import Runtime, current
from routing import services
from routing.config import RoutingConfig
from routing.lifecycle import is_paused

log = logging.getLogger(__name__)

STEPS = ("warning", "overdue", "unit_head", "supervision", "leaders")


def due_steps(deadline: Deadline, now: datetime, cfg: RoutingConfig, share: float) -> list[str]:
    """The steps whose time has come for this deadline, in ladder order."""
    steps = []
    if share >= cfg.warning_share:
        steps.append("warning")
    if now > deadline.due_at:
        steps.append("overdue")
        for step, after in cfg.ladder:
            if now > deadline.due_at + after:
                steps.append(step)
    return steps


def _phones_for(session: Session, step: str, unit_id: int | None) -> list[str]:
    if step in ("warning", "overdue"):
        return services.unit_phones(session, unit_id) if unit_id else []
    if step == "unit_head":
        users = session.scalars(select(User).where(User.role == Role.UNIT_HEAD, User.unit_id == unit_id, User.active))
        return [u.phone for u in users if u.phone]
    if step == "supervision":
        offices = session.scalars(select(Unit).where(Unit.kind == "supervision", Unit.active))
        dispatchers = session.scalars(select(User).where(User.role == Role.DISPATCHER, User.active))
        return [p for o in offices for p in o.contact_phones or []] + [u.phone for u in dispatchers if u.phone]
    users = session.scalars(select(User).where(User.role == Role.LEADER, User.active))
    return [u.phone for u in users if u.phone]


def fire(session: Session, runtime: Runtime, deadline: Deadline, step: str, now: datetime) -> bool:
    """Take one step for one deadline, once. Returns False if it was already taken."""
    try:
        with session.begin_nested():
            session.add(EscalationStep(deadline_id=deadline.id, step=step, fired_at=now))
            session.flush()
    except IntegrityError:
        return False
    ticket = session.get(Ticket, deadline.ticket_id)
    assert ticket is not None
    local_due = deadline.due_at.astimezone(runtime.settings.tz).strftime("%Y-%m-%d %H:%M")
    kind = {"warning": "deadline_warning", "overdue": "overdue"}.get(step, "escalated")
    queued = services.queue_notifications(
        session,
        runtime,
        _phones_for(session, step, deadline.unit_id),
        ticket,
        f"notify.{step}",
        due=local_due,
        clock=deadline.kind,
    )
    session.flush()
    # The timeline says what was queued, by outbox row: the page reads each one's outcome (queued,
    # sent, failed), so it never claims a reminder went out when none did (issue 13 point 4).
    messages = [m.id for m in queued]
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            kind=kind,
            data={
                "deadline_id": deadline.id,
                "clock": deadline.kind,
                "step": step,
                "due_at": deadline.due_at.isoformat(),
                "unit_id": deadline.unit_id,
                "notified": len(queued),
                "messages": messages,
            },
        )
    )
    if step != "warning":
        session.add(
            TicketEvent(
                ticket=ticket,
                at=now,
                kind="reminder",
                data={"step": step, "clock": deadline.kind, "unit_id": deadline.unit_id, "messages": messages},
            )
        )
    if step == "overdue":
        session.add(
            AccountabilityEntry(
                deadline_id=deadline.id,
                ticket_id=ticket.id,
                unit_id=deadline.unit_id,
                kind=deadline.kind,
                due_at=deadline.due_at,
                overdue_at=now,
            )
        )
    elif step in ("unit_head", "supervision", "leaders"):
        entry = session.scalars(
            select(AccountabilityEntry).where(AccountabilityEntry.deadline_id == deadline.id)
        ).first()
        if entry is not None:
            entry.level = step
    return True


def skip_warning(session: Session, deadline: Deadline, now: datetime) -> bool:
    """A sweep catching up after a gap finds the deadline already past: the "due soon" warning is
    recorded as skipped (nothing is sent), so the unit does not get "due soon" and "late" in the
    same second (issue 13 point 6). Returns False if the warning was taken before."""
    try:
        with session.begin_nested():
            session.add(EscalationStep(deadline_id=deadline.id, step="warning", fired_at=now, outcome="skipped"))
            session.flush()
    except IntegrityError:
        return False
    session.add(
        TicketEvent(
            ticket_id=deadline.ticket_id,
            at=now,
            kind="deadline_warning",
            data={
                "deadline_id": deadline.id,
                "clock": deadline.kind,
                "step": "warning",
                "due_at": deadline.due_at.isoformat(),
                "unit_id": deadline.unit_id,
                "skipped": True,
                "notified": 0,
                "messages": [],
            },
        )
    )
    return True


def sweep(runtime: Runtime, limit: int = 5000) -> dict[str, int]:
    """One pass over every open deadline. Returns how many of each step fired."""
    fired = dict.fromkeys(STEPS, 0)
    now = runtime.now()
    with runtime.db.session() as session:
        cfg = services.config(session, runtime)  # once per sweep, not once per deadline
        ids = session.scalars(
            select(Deadline.id)
            .where(Deadline.met_at.is_(None), Deadline.closed_at.is_(None))
            .order_by(Deadline.due_at)
            .limit(limit)
        ).all()
    for deadline_id in ids:
        with runtime.db.transaction() as session:
            deadline = session.get(Deadline, deadline_id)
            if deadline is None or deadline.met_at is not None or deadline.closed_at is not None:
                continue
            if is_paused(deadline):
                continue  # the clock is stopped: nothing can fall due
            clock = services.ticket_clock(deadline, cfg)
            outcome = clock.evaluate(now)
            if outcome.deadline != deadline.due_at:
                deadline.due_at = outcome.deadline
            taken = set(session.scalars(select(EscalationStep.step).where(EscalationStep.deadline_id == deadline.id)))
            for step in due_steps(deadline, now, cfg, clock.elapsed_share(now)):
                if step in taken:
                    continue
                if step == "warning" and now > deadline.due_at:
                    skip_warning(session, deadline, now)  # already late: warning it is "due soon" is a lie
                elif fire(session, runtime, deadline, step, now):
                    fired[step] += 1
    return fired


def sweep_job() -> dict[str, int]:
    """Periodic RQ job (the beat enqueues it every minute in both modes)."""
    result = sweep(current())
    if any(result.values()):
        log.info("escalation sweep: %s", result)
    return result
