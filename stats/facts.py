"""Build the per-ticket fact rows that every statistic aggregates.

Definitions (shown to readers on the statistics pages, and tested against hand-computed tickets):

* time to sign for: first "signed" event minus the first "assigned" event (clock and working time);
* time to first contact: first "contacted" event minus the first "assigned" event;
* time to resolution: the ticket's final resolution (the last "resolved" event not followed by a
  "reopened" one: a reopened ticket, 重办, is judged on its final resolution) minus its creation;
* each clock's outcome is judged when the figures are read (``as of``), from the moment the clock
  stopped and its deadline (sign-for deadline for signing and for first contact; the latest
  resolution deadline, with approved extensions, for resolution):
  - **on time**: it stopped no later than its deadline;
  - **late**: it stopped after its deadline, or it has not stopped and the deadline has passed;
  - **not yet due**: it has not stopped and the deadline has not passed. Such tickets are in
    neither the numerator nor the denominator of a rate; they are counted and shown apart;
* responded: signed for AND citizen contacted (the later of the two is the moment of response),
  judged against the sign-for deadline in the same way;
* overdue: the ticket is on the accountability list; escalated: a step beyond "overdue" fired;
* survey: the latest answered callback survey (solved; satisfaction 1-5);
* ``refreshed_at``: when the fact was last rebuilt; the pages show the latest one as "as of". The
  refresh job runs every minute and rebuilds the tickets with new events.

The boolean ``*_on_time`` columns keep the outcome as judged at refresh time (None: not yet due)
for readers of single facts; the figures judge again at reading time from the ``*_at`` columns.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline_core.db import utcnow
from hotline_core.models import (
    AccountabilityEntry,
    Category,
    Deadline,
    DirectorySetting,
    EscalationStep,
    Survey,
    Ticket,
    TicketEvent,
    TicketFact,
    Unit,
)
from hotline_core.runtime import Runtime, current
from routing.calendar import BusinessCalendar
from routing.config import load_config
from routing.engine import chain

log = logging.getLogger(__name__)
WATERMARK_KEY = "stats_watermark"


def _first(events: list[TicketEvent], kind: str) -> datetime | None:
    return next((e.at for e in events if e.kind == kind), None)


def final_resolution(events: list[TicketEvent]) -> datetime | None:
    """The last "resolved" event, unless the ticket was reopened after it (then it is not resolved)."""
    resolved: datetime | None = None
    for e in events:
        if e.kind == "resolved":
            resolved = e.at
        elif e.kind == "reopened":
            resolved = None
    return resolved


def judge(done: datetime | None, due: datetime | None, now: datetime) -> bool | None:
    """True on time, False late, None not yet due (or no deadline)."""
    if due is None:
        return None
    if done is not None:
        return done <= due
    return False if due < now else None


def build_fact(
    session: Session,
    ticket: Ticket,
    *,
    calendar: BusinessCalendar,
    category_parents: dict[int, int | None],
    now: datetime | None = None,
) -> TicketFact:
    now = now or utcnow()
    events = list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.at, TicketEvent.id)
        )
    )
    deadlines = list(session.scalars(select(Deadline).where(Deadline.ticket_id == ticket.id).order_by(Deadline.id)))
    assigned = _first(events, "assigned")
    signed = _first(events, "signed")
    contacted = _first(events, "contacted")
    resolved = final_resolution(events)
    sign_due = next((d.due_at for d in deadlines if d.kind == "sign_for"), None)
    resolve_due = next((d.due_at for d in reversed(deadlines) if d.kind == "resolution"), None)
    responded = max(signed, contacted) if signed and contacted else None
    local = ticket.created_at.astimezone(calendar.timezone)
    unit = session.get(Unit, ticket.lead_unit_id) if ticket.lead_unit_id else None
    root = chain(ticket.category_id, category_parents)
    category_id = root[-1] if root else None
    survey = session.scalars(
        select(Survey)
        .where(Survey.ticket_id == ticket.id, Survey.state == "answered")
        .order_by(Survey.id.desc())
        .limit(1)
    ).first()
    ids = [d.id for d in deadlines]
    overdue = (
        bool(ids)
        and (
            session.scalar(
                select(func.count()).select_from(AccountabilityEntry).where(AccountabilityEntry.deadline_id.in_(ids))
            )
            or 0
        )
        > 0
    )
    escalated = (
        bool(ids)
        and (
            session.scalar(
                select(func.count())
                .select_from(EscalationStep)
                .where(
                    EscalationStep.deadline_id.in_(ids),
                    EscalationStep.step.in_(("unit_head", "supervision", "leaders")),
                )
            )
            or 0
        )
        > 0
    )

    def seconds(a: datetime | None, b: datetime | None) -> float | None:
        return (b - a).total_seconds() if a and b else None

    def working(a: datetime | None, b: datetime | None) -> float | None:
        return calendar.working_time_between(a, b).total_seconds() if a and b else None

    fact = session.get(TicketFact, ticket.id) or TicketFact(ticket_id=ticket.id)
    fact.created_at, fact.day, fact.month = ticket.created_at, local.date(), local.strftime("%Y-%m")
    fact.channel, fact.state = ticket.channel, ticket.state
    fact.unit_id, fact.unit_tier = (unit.id, unit.kind) if unit else (None, None)
    fact.category_id, fact.area_id = category_id, ticket.area_id
    fact.assigned = assigned is not None
    fact.sign_seconds, fact.sign_working_seconds = seconds(assigned, signed), working(assigned, signed)
    fact.contact_seconds = seconds(assigned, contacted)
    fact.resolve_seconds, fact.resolve_working_seconds = (
        seconds(ticket.created_at, resolved),
        working(ticket.created_at, resolved),
    )
    if not assigned:
        sign_due = resolve_due = None
    fact.signed_at, fact.contacted_at, fact.responded_at, fact.resolved_at = signed, contacted, responded, resolved
    fact.sign_due_at, fact.resolve_due_at = sign_due, resolve_due
    fact.sign_on_time = judge(signed, sign_due, now)
    fact.contact_on_time = judge(contacted, sign_due, now)
    fact.resolve_on_time = judge(resolved, resolve_due, now)
    fact.responded_in_time = bool(judge(responded, sign_due, now))
    fact.overdue, fact.escalated = bool(overdue), bool(escalated)
    fact.returns = sum(1 for e in events if e.kind == "returned")
    fact.extensions = sum(
        1
        for e in events
        if e.kind == "deadline_changed" and str(e.data.get("reason", "")).startswith("extension approved")
    )
    fact.reopened = ticket.redo_count
    fact.surveyed = survey is not None
    fact.solved = survey.solved if survey else None
    fact.satisfaction = survey.satisfaction if survey else None
    fact.refreshed_at = now
    session.add(fact)
    return fact


def refresh(runtime: Runtime, ticket_ids: list[int] | None = None) -> int:
    """Rebuild facts for the given tickets, or for every ticket with events since the last run."""
    with runtime.db.transaction() as session:
        cfg = load_config(session, runtime.settings.timezone)
        mark = session.get(DirectorySetting, WATERMARK_KEY) or DirectorySetting(
            key=WATERMARK_KEY, value={"event_id": 0}
        )
        last = int(mark.value.get("event_id", 0))
        top = session.scalar(select(func.max(TicketEvent.id))) or 0
        if ticket_ids is None:
            ticket_ids = list(session.scalars(select(TicketEvent.ticket_id).where(TicketEvent.id > last).distinct()))
            mark.value = {"event_id": top, "at": runtime.now().isoformat()}
            session.add(mark)
        parents = dict(session.execute(select(Category.id, Category.parent_id)).tuples().all())
        for ticket_id in ticket_ids:
            ticket = session.get(Ticket, ticket_id)
            if ticket is not None:
                build_fact(session, ticket, calendar=cfg.calendar, category_parents=parents, now=runtime.now())
    return len(ticket_ids)


REFRESH_LOCK = "hotline:stats:refresh"
REFRESH_LOCK_SECONDS = 900


def refresh_job() -> int:
    """Periodic job: keep the facts current (only tickets with new events are rebuilt).

    One refresh at a time: after a burst a refresh can outlast its period, and a second one
    beside it would rebuild the same facts (and race to create the watermark). The next period's
    run picks up whatever the running one did not see.
    """
    refreshed = refresh_exclusively(current(), wait=False)
    return refreshed or 0


def refresh_exclusively(runtime: Runtime, *, wait: bool = True) -> int | None:
    """Refresh every changed ticket while no other process refreshes. Returns None if another
    refresh was running and ``wait`` is False (or it outlasted the lock's timeout)."""
    lock = runtime.jobs.connection.lock(REFRESH_LOCK, timeout=REFRESH_LOCK_SECONDS)
    if not lock.acquire(blocking=wait, blocking_timeout=REFRESH_LOCK_SECONDS if wait else None):
        return None
    try:
        return refresh(runtime)
    finally:
        lock.release()


def as_of(session: Session) -> datetime | None:
    """The facts' latest refresh: what every page, export and bulletin shows as "as of" (the last
    periodic refresh, even if it found nothing new; else the newest fact)."""
    mark = session.get(DirectorySetting, WATERMARK_KEY)
    if mark and mark.value.get("at"):
        return datetime.fromisoformat(mark.value["at"])
    return session.scalar(select(func.max(TicketFact.refreshed_at)))
