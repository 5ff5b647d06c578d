"""The life of a ticket: its states, the commands that move it, and the clocks they run.

This module is the only code that changes ``Ticket.state`` (an ORM guard below refuses any other
writer, and ``tests/routing/test_lifecycle.py`` proves it). Every command

1. checks the transition table (:data:`TRANSITIONS`: state x command -> state) and its own
   preconditions, raising :class:`TicketError` with a message key when it refuses;
2. moves the ticket, its assignments and its two clocks (sign-for and resolution, rows of
   ``deadlines``: started, paused, resumed, met or closed; the effective deadline is always
   recomputed with :class:`routing.deadlines.TicketClock`);
3. writes the timeline event and the audit entry.

Notifications (SMS to units and citizens) and jobs are the service layer's business
(``routing.services``, ``responders.services``, ``responders.survey``): they call these commands
and then tell people. A city that wants other rules (who may return, when a redo starts, what
pauses a clock) changes them here, in one place.

=============  =========================================  ==========================================
command        from                                       to
=============  =========================================  ==========================================
queue          received                                   dispatch (a person routes it)
assign         received, dispatch, assigned, signed       assigned (routing, transfer, arbitration)
sign_for       assigned                                   signed (the lead unit; co-units keep it)
contact        assigned, signed                           unchanged
extend         assigned, signed                           unchanged (the resolution clock moves)
pause, resume  assigned, signed                           unchanged
return         assigned, signed                           dispatch (resolution clock paused)
resolve        signed                                     resolved (clocks met, resolved_at set)
delegate       assigned, signed, approval                 unchanged (the unit head names an officer)
propose        signed                                     approval (the officer's resolution waits for
                                                          the unit head; the clocks keep running)
approve        approval                                   resolved (as resolve, with the proposed text)
send_back      approval                                   signed (the head's reason; the officer redoes)
reopen         resolved                                   assigned (重办: same unit, fresh clocks)
refer          resolved                                   dispatch (redo failed again)
close          resolved                                   closed (survey answered or no reply)
merge          received, dispatch, assigned, signed       merged (clocks closed)
=============  =========================================  ==========================================
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import event, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.base import NEVER_SET, NO_VALUE

from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.clock_types import Extension, Pause, PauseReason
from hotline_core.errors import Conflict, HotlineError, Label
from hotline_core.models import Assignment, Deadline, Ticket, TicketEvent, Unit, User
from hotline_core.models.routing import AssignmentRole, AssignmentState
from hotline_core.models.ticket import TicketState
from routing.config import RoutingConfig
from routing.deadlines import ClockKind, TicketClock

S = TicketState


class TicketError(HotlineError):
    """A command on a ticket refused; the key says why (``error.ticket.*``)."""


class InvalidTransition(TicketError, Conflict):
    """The ticket's state does not allow the command (e.g. resolving a closed ticket)."""

    status = 409


class Command(StrEnum):
    QUEUE = "queue"
    ASSIGN = "assign"
    SIGN_FOR = "sign_for"
    CONTACT = "contact"
    EXTEND = "extend"
    PAUSE = "pause"
    RESUME = "resume"
    RETURN = "return"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    REFER = "refer"
    CLOSE = "close"
    MERGE = "merge"
    DELEGATE = "delegate"
    PROPOSE = "propose"
    APPROVE = "approve"
    SEND_BACK = "send_back"


_WORKING = (S.ASSIGNED, S.SIGNED)
_OPEN = (S.RECEIVED, S.DISPATCH, S.ASSIGNED, S.SIGNED, S.APPROVAL)

#: state x command -> state. A pair not in the table is refused with ``InvalidTransition``.
TRANSITIONS: dict[tuple[str, Command], str] = {
    (S.RECEIVED, Command.QUEUE): S.DISPATCH,
    **{(state, Command.ASSIGN): S.ASSIGNED for state in _OPEN},
    (S.ASSIGNED, Command.SIGN_FOR): S.SIGNED,
    (S.SIGNED, Command.SIGN_FOR): S.SIGNED,  # a co-handling unit signs after the lead
    **{(state, command): state for state in _WORKING for command in (Command.CONTACT, Command.EXTEND)},
    **{(state, command): state for state in _WORKING for command in (Command.PAUSE, Command.RESUME)},
    **{(state, Command.RETURN): S.DISPATCH for state in _WORKING},
    (S.SIGNED, Command.RESOLVE): S.RESOLVED,
    (S.RESOLVED, Command.REOPEN): S.ASSIGNED,
    (S.RESOLVED, Command.REFER): S.DISPATCH,
    (S.RESOLVED, Command.CLOSE): S.CLOSED,
    **{(state, Command.MERGE): S.MERGED for state in _OPEN},
    # Inside a unit (issue 13 point 5): the head names the officer; with approval required, the
    # officer's resolution waits for the head, who approves it or sends it back.
    **{(state, Command.DELEGATE): state for state in (*_WORKING, S.APPROVAL)},
    (S.SIGNED, Command.PROPOSE): S.APPROVAL,
    (S.APPROVAL, Command.APPROVE): S.RESOLVED,
    (S.APPROVAL, Command.SEND_BACK): S.SIGNED,
}


def refused(ticket: Ticket, command: Command) -> InvalidTransition:
    return InvalidTransition(
        "error.ticket.not_allowed",
        number=ticket.number or "",
        state=Label(f"state.{ticket.state}"),
        command=Label(f"command.{command}"),
    )


def allowed(ticket: Ticket, command: Command) -> bool:
    return (ticket.state, command) in TRANSITIONS


def allowed_commands(ticket: Ticket) -> list[Command]:
    """The commands the ticket's state allows now."""
    return [command for command in Command if allowed(ticket, command)]


# --- the guard: no other code moves a ticket ---------------------------------------------------

_moving: contextvars.ContextVar[bool] = contextvars.ContextVar("hotline_ticket_moving", default=False)


class StateWrittenOutsideLifecycle(RuntimeError):
    """A programming error: only ``routing.lifecycle`` may assign ``Ticket.state``."""


@event.listens_for(Ticket.state, "set", propagate=True)
def _only_the_lifecycle_moves_tickets(target: Ticket, value: str, old: Any, _initiator: Any) -> None:
    if _moving.get() or value == old:
        return
    if value == S.RECEIVED and old in (None, NO_VALUE, NEVER_SET):  # a new ticket is born received
        return
    raise StateWrittenOutsideLifecycle(f"Ticket.state set to {value!r} outside routing.lifecycle")


@contextmanager
def _moving_ticket() -> Iterator[None]:
    token = _moving.set(True)
    try:
        yield
    finally:
        _moving.reset(token)


def _move(ticket: Ticket, command: Command, now: datetime) -> str:
    """Check the table and move the ticket; returns the state it was in."""
    before = ticket.state
    target = TRANSITIONS.get((before, command))
    if target is None:
        raise refused(ticket, command)
    with _moving_ticket():
        ticket.state = target
    ticket.updated_at = now
    return before


def _event(
    session: Session,
    ticket: Ticket,
    now: datetime,
    kind: str,
    actor: Actor | str = "system",
    body: str | None = None,
    **data: Any,
) -> TicketEvent:
    entry = TicketEvent(
        ticket=ticket, at=now, kind=kind, actor=actor if isinstance(actor, str) else actor.name, body=body, data=data
    )
    session.add(entry)
    return entry


# --- clocks --------------------------------------------------------------------------------------


def open_deadline(session: Session, ticket_id: int, kind: str) -> Deadline | None:
    """The running clock of ``kind`` (neither met nor closed), if any."""
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


def clock_of(deadline: Deadline, cfg: RoutingConfig) -> TicketClock:
    """The pure clock a deadline row describes."""
    return TicketClock(
        deadline.started_at,
        cfg.policy(deadline.policy),
        ClockKind(deadline.kind),
        list(deadline.pauses or ()),
        list(deadline.extensions or ()),
        cfg.calendar,
    )


def is_paused(deadline: Deadline) -> bool:
    pauses = deadline.pauses or []
    return bool(pauses) and pauses[-1].is_open


def _new_clock(ticket: Ticket, assignment: Assignment, kind: str, now: datetime, cfg: RoutingConfig) -> Deadline:
    """A clock of ``kind`` starting now under the ticket's policy (added to no session yet)."""
    policy = cfg.policy(ticket.policy or "general")
    due = TicketClock(now, policy, ClockKind(kind), calendar=cfg.calendar).base_deadline()
    return Deadline(
        ticket_id=ticket.id,
        assignment_id=assignment.id,
        unit_id=assignment.unit_id,
        kind=kind,
        policy=policy.name,
        started_at=now,
        due_at=due,
        pauses=[],
        extensions=[],
    )


def _clock_started(session: Session, ticket: Ticket, deadline: Deadline, now: datetime, cfg: RoutingConfig) -> None:
    """The timeline's record of a clock just started (the deadline has its id)."""
    _event(
        session,
        ticket,
        now,
        "deadline_set",
        deadline_id=deadline.id,
        clock=deadline.kind,
        policy=deadline.policy,
        due_at=deadline.due_at.isoformat(),
        allowance=str(cfg.policy(deadline.policy).allowance(deadline.kind)),
        reason="policy",
    )


def _start_clock(
    session: Session, ticket: Ticket, assignment: Assignment, kind: str, now: datetime, cfg: RoutingConfig
) -> Deadline:
    deadline = _new_clock(ticket, assignment, kind, now, cfg)
    session.add(deadline)
    session.flush()
    _clock_started(session, ticket, deadline, now, cfg)
    return deadline


def _recompute(
    session: Session, ticket: Ticket, deadline: Deadline, now: datetime, cfg: RoutingConfig, why: str
) -> None:
    old = deadline.due_at
    new = clock_of(deadline, cfg).deadline(now)
    if new != old:
        deadline.due_at = new
        _event(
            session,
            ticket,
            now,
            "deadline_changed",
            deadline_id=deadline.id,
            clock=deadline.kind,
            old=old.isoformat(),
            new=new.isoformat(),
            reason=why,
        )


def _pause_clock(session: Session, ticket: Ticket, deadline: Deadline, now: datetime, reason: str) -> bool:
    if is_paused(deadline):
        return False
    deadline.pauses = [*(deadline.pauses or []), Pause(now, None, reason)]
    _event(session, ticket, now, "clock_paused", deadline_id=deadline.id, reason=reason)
    return True


def _resume_clock(
    session: Session, ticket: Ticket, deadline: Deadline, now: datetime, cfg: RoutingConfig, reason: str
) -> bool:
    if not is_paused(deadline):
        return False
    pauses = list(deadline.pauses)
    pauses[-1] = pauses[-1].ended(now)
    deadline.pauses = pauses
    _event(session, ticket, now, "clock_resumed", deadline_id=deadline.id, reason=reason)
    _recompute(session, ticket, deadline, now, cfg, f"clock paused ({pauses[-1].reason}) until now")
    return True


def _close_clocks(
    session: Session, ticket_id: int, now: datetime, *, kinds: tuple[str, ...] = tuple(ClockKind)
) -> None:
    for deadline in session.scalars(
        select(Deadline).where(
            Deadline.ticket_id == ticket_id,
            Deadline.kind.in_(kinds),
            Deadline.met_at.is_(None),
            Deadline.closed_at.is_(None),
        )
    ):
        deadline.closed_at = now


def _running_resolution(session: Session, ticket: Ticket) -> Deadline:
    deadline = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if deadline is None:
        raise TicketError("error.ticket.no_resolution_clock", number=ticket.number or "")
    return deadline


# --- assignments ---------------------------------------------------------------------------------


def active_assignments(session: Session, ticket_id: int) -> list[Assignment]:
    return list(
        session.scalars(
            select(Assignment)
            .where(Assignment.ticket_id == ticket_id, Assignment.state.in_(AssignmentState.ACTIVE))
            .order_by(Assignment.id)
        )
    )


def _end_assignments(session: Session, ticket_id: int, now: datetime) -> None:
    for old in active_assignments(session, ticket_id):
        old.state, old.ended_at = AssignmentState.ENDED, now


def active_unit(session: Session, unit_id: int | None) -> Unit:
    unit = session.get(Unit, unit_id) if unit_id is not None else None
    if unit is None or not unit.active:
        raise TicketError("error.ticket.unknown_unit", unit=unit_id if unit_id is not None else "")
    return unit


def _ticket_of(session: Session, assignment: Assignment) -> Ticket:
    ticket = session.get(Ticket, assignment.ticket_id)
    assert ticket is not None
    return ticket


# --- commands ------------------------------------------------------------------------------------


def queue_for_dispatch(session: Session, ticket: Ticket, now: datetime, *, reason: str) -> None:
    """Nothing could route it: a dispatcher decides."""
    _move(ticket, Command.QUEUE, now)
    _event(session, ticket, now, "queued_for_dispatch", reason=reason)


class UnitRef(Protocol):
    """What assigning needs of a unit (a ``Unit`` row, or ``routing.inputs.UnitInfo``)."""

    @property
    def id(self) -> int: ...
    @property
    def code(self) -> str: ...


@dataclass(frozen=True)
class NewAssignment:
    """One ticket of a batch for :func:`assign_new`."""

    ticket: Ticket
    lead: UnitRef
    co: Sequence[UnitRef]
    now: datetime
    reason: str


def _stage_assignments(ticket: Ticket, lead: UnitRef, co: Sequence[UnitRef], now: datetime) -> list[Assignment]:
    ticket.lead_unit_id = lead.id
    ticket.policy = ticket.policy or "general"
    made = [Assignment(ticket_id=ticket.id, unit_id=lead.id, role=AssignmentRole.LEAD, assigned_at=now)]
    made += [Assignment(ticket_id=ticket.id, unit_id=u.id, role=AssignmentRole.CO, assigned_at=now) for u in co]
    return made


def _assigned(
    session: Session,
    ticket: Ticket,
    made: list[Assignment],
    codes: dict[int, str],
    now: datetime,
    actor: Actor,
    reason: str,
) -> None:
    for a in made:
        _event(
            session,
            ticket,
            now,
            "assigned",
            actor,
            unit_id=a.unit_id,
            unit=codes[a.unit_id],
            role=a.role,
            assignment_id=a.id,
            reason=reason,
        )


def assign(
    session: Session,
    ticket: Ticket,
    lead_unit_id: int,
    co_unit_ids: list[int],
    now: datetime,
    cfg: RoutingConfig,
    *,
    actor: Actor,
    reason: str,
    command: Command = Command.ASSIGN,
) -> tuple[list[Assignment], Deadline, Deadline]:
    """Give the ticket to a lead unit and co-handling units: one ticket, several assignments.

    The sign-for clock starts afresh for the new lead; the resolution clock starts now, or resumes
    if the ticket was returned and is being arbitrated (its pause ends here). Returns the new
    assignments (lead first) and the two running clocks.
    """
    lead = active_unit(session, lead_unit_id)
    co = [active_unit(session, u) for u in dict.fromkeys(co_unit_ids) if u != lead_unit_id]
    _move(ticket, command, now)
    _end_assignments(session, ticket.id, now)
    _close_clocks(session, ticket.id, now, kinds=(ClockKind.SIGN_FOR,))
    made = _stage_assignments(ticket, lead, co, now)
    session.add_all(made)
    session.flush()
    _assigned(session, ticket, made, {lead.id: lead.code, **{u.id: u.code for u in co}}, now, actor, reason)
    sign_for_clock = _start_clock(session, ticket, made[0], ClockKind.SIGN_FOR, now, cfg)
    resolution = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if resolution is None:
        resolution = _start_clock(session, ticket, made[0], ClockKind.RESOLUTION, now, cfg)
    else:
        resolution.assignment_id, resolution.unit_id = made[0].id, lead.id
        _resume_clock(session, ticket, resolution, now, cfg, reason="reassigned after arbitration")
    audit(session, actor, "ticket.assign", ticket, lead=lead.code, co=[u.code for u in co], reason=reason)
    return made, sign_for_clock, resolution


def assign_new(
    session: Session, batch: Sequence[NewAssignment], cfg: RoutingConfig, *, actor: Actor
) -> list[tuple[list[Assignment], Deadline, Deadline]]:
    """:func:`assign` for tickets never assigned before (state received), a batch at a time.

    The rows, events and audit entries are :func:`assign`'s, in the same order for each ticket; a
    new ticket has no assignment to end and no clock to close or resume, so nothing is read and
    the batch is written with two flushes (assignments, then clocks: each needs the other's id)
    instead of three per ticket. The caller checked the units are active.
    """
    staged: list[tuple[NewAssignment, list[UnitRef], list[Assignment]]] = []
    for item in batch:
        if item.ticket.state != S.RECEIVED:
            raise refused(item.ticket, Command.ASSIGN)
        co = [u for u in {u.id: u for u in item.co}.values() if u.id != item.lead.id]
        _move(item.ticket, Command.ASSIGN, item.now)
        made = _stage_assignments(item.ticket, item.lead, co, item.now)
        session.add_all(made)
        staged.append((item, co, made))
    if not staged:
        return []
    session.flush()
    clocks: list[tuple[Deadline, Deadline]] = []
    for item, _co, made in staged:
        pair = (
            _new_clock(item.ticket, made[0], ClockKind.SIGN_FOR, item.now, cfg),
            _new_clock(item.ticket, made[0], ClockKind.RESOLUTION, item.now, cfg),
        )
        session.add_all(pair)
        clocks.append(pair)
    session.flush()
    done = []
    for (item, co, made), (sign_for_clock, resolution) in zip(staged, clocks, strict=True):
        ticket, now = item.ticket, item.now
        codes = {item.lead.id: item.lead.code, **{u.id: u.code for u in co}}
        _assigned(session, ticket, made, codes, now, actor, item.reason)
        _clock_started(session, ticket, sign_for_clock, now, cfg)
        _clock_started(session, ticket, resolution, now, cfg)
        lead_code, co_codes = item.lead.code, [u.code for u in co]
        audit(session, actor, "ticket.assign", ticket, lead=lead_code, co=co_codes, reason=item.reason)
        done.append((made, sign_for_clock, resolution))
    return done


def sign_for(session: Session, assignment: Assignment, now: datetime, *, actor: Actor) -> Ticket:
    """The unit takes the ticket on (签收): the lead's signature meets the sign-for clock."""
    if assignment.state != AssignmentState.ASSIGNED:
        raise TicketError("error.ticket.not_waiting_for_signature")
    ticket = _ticket_of(session, assignment)
    if assignment.role == AssignmentRole.LEAD:
        _move(ticket, Command.SIGN_FOR, now)
        deadline = open_deadline(session, ticket.id, ClockKind.SIGN_FOR)
        if deadline is not None:
            deadline.met_at = now
    elif not allowed(ticket, Command.CONTACT):
        raise refused(ticket, Command.SIGN_FOR)
    assignment.state, assignment.signed_at = AssignmentState.SIGNED, now
    _event(session, ticket, now, "signed", actor, assignment_id=assignment.id, unit_id=assignment.unit_id)
    audit(session, actor, "ticket.sign_for", ticket)
    return ticket


def record_contact(session: Session, assignment: Assignment, now: datetime, *, note: str, actor: Actor) -> None:
    ticket = _ticket_of(session, assignment)
    _move(ticket, Command.CONTACT, now)
    assignment.contacted_at = assignment.contacted_at or now
    _event(session, ticket, now, "contacted", actor, body=note)
    audit(session, actor, "ticket.contact", ticket)


def return_ticket(
    session: Session,
    assignment: Assignment,
    now: datetime,
    cfg: RoutingConfig,
    *,
    reason: str,
    suggested_unit_id: int | None,
    actor: Actor,
) -> Ticket:
    """A unit says the ticket is not theirs: the lead, within the return window, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise TicketError("error.ticket.return_needs_reason")
    if assignment.state not in AssignmentState.ACTIVE or assignment.role != AssignmentRole.LEAD:
        raise TicketError("error.ticket.only_lead_returns")
    if suggested_unit_id is not None:
        active_unit(session, suggested_unit_id)
    window_end = cfg.calendar.add_working_days(assignment.assigned_at, cfg.return_window_working_days)
    if now > window_end:
        raise TicketError("error.ticket.return_window_over", until=window_end)
    ticket = _ticket_of(session, assignment)
    _move(ticket, Command.RETURN, now)
    assignment.state, assignment.returned_at = AssignmentState.RETURNED, now
    assignment.return_reason, assignment.suggested_unit_id = reason, suggested_unit_id
    _end_assignments(session, ticket.id, now)
    _close_clocks(session, ticket.id, now, kinds=(ClockKind.SIGN_FOR,))
    resolution = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if resolution is not None:
        _pause_clock(session, ticket, resolution, now, PauseReason.ARBITRATION)
    _event(
        session,
        ticket,
        now,
        "returned",
        actor,
        body=reason,
        assignment_id=assignment.id,
        unit_id=assignment.unit_id,
        suggested_unit_id=suggested_unit_id,
    )
    audit(session, actor, "ticket.return", ticket, reason=reason, suggested_unit_id=suggested_unit_id)
    return ticket


def pause(session: Session, ticket: Ticket, now: datetime, *, reason: str, actor: Actor) -> None:
    _move(ticket, Command.PAUSE, now)
    _pause_clock(session, ticket, _running_resolution(session, ticket), now, reason)
    audit(session, actor, "deadline.pause", ticket, reason=reason)


def resume(session: Session, ticket: Ticket, now: datetime, cfg: RoutingConfig, *, actor: Actor) -> None:
    _move(ticket, Command.RESUME, now)
    _resume_clock(session, ticket, _running_resolution(session, ticket), now, cfg, reason="resumed")
    audit(session, actor, "deadline.resume", ticket)


def extend(
    session: Session,
    ticket: Ticket,
    now: datetime,
    cfg: RoutingConfig,
    *,
    reason: str,
    actor: Actor,
    until: datetime | None = None,
    working_days: int | None = None,
) -> Deadline:
    """An approved extension moves the resolution clock (by working days or to a date)."""
    _move(ticket, Command.EXTEND, now)
    deadline = _running_resolution(session, ticket)
    try:
        extension = Extension(now, reason, working_days=working_days, until=until)
    except ValueError as exc:
        raise TicketError("error.ticket.bad_extension") from exc
    deadline.extensions = [*(deadline.extensions or []), extension]
    _recompute(session, ticket, deadline, now, cfg, f"extension approved: {reason}")
    audit(session, actor, "deadline.extend", ticket, reason=reason, due_at=deadline.due_at.isoformat())
    return deadline


def _signed_lead(session: Session, ticket: Ticket) -> Assignment:
    lead = next((a for a in active_assignments(session, ticket.id) if a.role == AssignmentRole.LEAD), None)
    if lead is None or lead.state != AssignmentState.SIGNED:
        raise TicketError("error.ticket.sign_before_resolving")
    return lead


def resolve(
    session: Session, ticket: Ticket, now: datetime, *, text: str, actor: Actor, command: Command = Command.RESOLVE
) -> None:
    """The lead unit, having signed for it, resolves the ticket: the clocks are met."""
    _signed_lead(session, ticket)
    _move(ticket, command, now)
    deadline = open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if deadline is not None:
        deadline.met_at = now
    for a in active_assignments(session, ticket.id):
        a.state, a.resolved_at = AssignmentState.RESOLVED, now
    ticket.resolved_at = now
    _event(session, ticket, now, "resolved", actor, body=text)
    audit(session, actor, "ticket.resolve", ticket)


def reopen(session: Session, ticket: Ticket, now: datetime, cfg: RoutingConfig, *, reason: str, max_redos: int) -> bool:
    """重办: the citizen was not satisfied. The same unit redoes it with fresh clocks; once the redo
    has failed ``max_redos`` times the dispatcher decides. Returns True if it went back to the unit."""
    if ticket.state != S.RESOLVED:
        raise refused(ticket, Command.REOPEN)
    ticket.redo_count += 1
    ticket.resolved_at = None
    _event(session, ticket, now, "reopened", "citizen", reason=reason, redo_count=ticket.redo_count)
    audit(session, Actor("citizen"), "ticket.reopen", ticket, reason=reason, redo_count=ticket.redo_count)
    if ticket.redo_count > max_redos or ticket.lead_unit_id is None:
        _move(ticket, Command.REFER, now)
        _event(
            session,
            ticket,
            now,
            "queued_for_dispatch",
            reason=f"redo failed {ticket.redo_count} times: the dispatcher decides",
        )
        return False
    officer_id = session.scalar(  # the officer who resolved it redoes it (issue 13 point 5)
        select(Assignment.officer_id)
        .where(Assignment.ticket_id == ticket.id, Assignment.role == AssignmentRole.LEAD)
        .order_by(Assignment.id.desc())
        .limit(1)
    )
    made, _, _ = assign(
        session,
        ticket,
        ticket.lead_unit_id,
        [],
        now,
        cfg,
        actor=Actor.system(),
        reason=f"redo ({reason})",
        command=Command.REOPEN,
    )
    made[0].officer_id = officer_id
    return True


def close(session: Session, ticket: Ticket, now: datetime, *, by: str) -> bool:
    """The citizen answered the survey, or did not in time: a resolved ticket is closed."""
    if not allowed(ticket, Command.CLOSE):
        return False
    _move(ticket, Command.CLOSE, now)
    _event(session, ticket, now, "closed", by=by)
    return True


def merge(session: Session, duplicate: Ticket, into: Ticket, now: datetime, *, actor: Actor) -> None:
    """多人一事: the duplicate joins ``into``; its assignments end and its clocks close."""
    if duplicate.id == into.id:
        raise TicketError("error.ticket.merge_into_itself")
    if into.merged_into_id is not None or into.state == S.MERGED:
        raise TicketError("error.ticket.merge_target_merged", number=into.number or "")
    _move(duplicate, Command.MERGE, now)
    _end_assignments(session, duplicate.id, now)
    _close_clocks(session, duplicate.id, now)
    duplicate.merged_into_id = into.id
    _event(session, duplicate, now, "merged", actor, into=into.number)
    _event(session, into, now, "merged_in", actor, body=duplicate.text, duplicate=duplicate.number)
    audit(session, actor, "ticket.merge", duplicate, into=into.number)


# --- inside a unit (issue 13 point 5) --------------------------------------------------------------


def delegate(session: Session, assignment: Assignment, officer: User | None, now: datetime, *, actor: Actor) -> Ticket:
    """The unit head gives the unit's ticket to a named officer of the unit (an active user of it)."""
    if assignment.state not in AssignmentState.ACTIVE:
        raise TicketError("error.ticket.not_the_units")
    if officer is None or not officer.active or officer.unit_id != assignment.unit_id:
        raise TicketError("error.ticket.officer_not_in_unit")
    ticket = _ticket_of(session, assignment)
    _move(ticket, Command.DELEGATE, now)
    previous, assignment.officer_id = assignment.officer_id, officer.id
    _event(
        session,
        ticket,
        now,
        "delegated",
        actor,
        assignment_id=assignment.id,
        unit_id=assignment.unit_id,
        officer_id=officer.id,
        previous_officer_id=previous,
    )
    audit(session, actor, "ticket.delegate", ticket, officer=officer.username)
    return ticket


def propose_resolution(session: Session, ticket: Ticket, now: datetime, *, text: str, actor: Actor) -> None:
    """The officer's resolution, when the unit's head must approve it: nothing reaches the citizen
    yet, and the resolution clock keeps running (the head's time is the unit's time)."""
    if not (text or "").strip():
        raise TicketError("error.ticket.resolution_needs_text")
    _signed_lead(session, ticket)
    _move(ticket, Command.PROPOSE, now)
    _event(session, ticket, now, "resolution_proposed", actor, body=text)
    audit(session, actor, "ticket.propose_resolution", ticket)


def proposed_resolution(session: Session, ticket: Ticket) -> TicketEvent | None:
    """The latest proposal waiting for the head's decision."""
    if ticket.state != S.APPROVAL:
        return None
    return session.scalars(
        select(TicketEvent)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "resolution_proposed")
        .order_by(TicketEvent.id.desc())
        .limit(1)
    ).first()


def approve_resolution(session: Session, ticket: Ticket, now: datetime, *, actor: Actor) -> str:
    """The head approves the proposal: the ticket is resolved with the proposed text (returned)."""
    if not allowed(ticket, Command.APPROVE):
        raise refused(ticket, Command.APPROVE)
    proposal = proposed_resolution(session, ticket)
    text = (proposal.body if proposal else "") or ""
    _event(session, ticket, now, "resolution_approved", actor)
    resolve(session, ticket, now, text=text, actor=actor, command=Command.APPROVE)
    return text


def send_back_resolution(session: Session, ticket: Ticket, now: datetime, *, reason: str, actor: Actor) -> None:
    """The head sends the proposal back to the officer, with a reason."""
    reason = (reason or "").strip()
    if not reason:
        raise TicketError("error.ticket.send_back_needs_reason")
    _move(ticket, Command.SEND_BACK, now)
    _event(session, ticket, now, "resolution_sent_back", actor, body=reason)
    audit(session, actor, "ticket.send_back_resolution", ticket, reason=reason)
