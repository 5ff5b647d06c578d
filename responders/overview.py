"""What staff see at a glance (issue 13 points 4-7): their counts, a unit's workload, notifications
that did not arrive, clocks that are paused, the citizen's survey answers and a timeline that names
people, units and dates. Read-only; no Flask here (the views pass the reader's language in)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hotline_core.i18n import MESSAGES, t
from hotline_core.models import Assignment, Deadline, OutboxMessage, Role, Survey, Ticket, TicketEvent, Unit, User
from hotline_core.models.messaging import MessageStatus
from hotline_core.models.routing import AssignmentState
from hotline_core.models.ticket import TicketState
from routing.lifecycle import is_paused

DUE_SOON = timedelta(hours=24)
PROBLEM_DAYS = 7
PROBLEM_KINDS = ("notification_failed", "notification_not_sent")


# --- counts on the home page and in the navigation (point 4) -------------------------------------


@dataclass
class Counts:
    new: int = 0  # waiting for this person: to route (dispatcher), to sign for (unit)
    due_soon: int = 0  # a running clock due within DUE_SOON
    overdue: int = 0
    approval: int = 0  # resolutions waiting for the unit head
    undelivered: int = 0  # notifications that did not arrive (dispatcher)
    unassigned: int = 0  # the unit's tickets no officer holds yet (unit head)
    shown: tuple[str, ...] = ()

    @property
    def waiting(self) -> int:
        """The number in the navigation: what needs this person's action now."""
        return self.new + self.approval


def _clock_counts(deadlines: Iterable[Deadline], now: datetime) -> tuple[int, int]:
    soon: set[int] = set()
    late: set[int] = set()
    for d in deadlines:
        if is_paused(d):
            continue
        (late if d.due_at < now else soon).add(d.ticket_id)
    return len(soon - late), len(late)


def _open_deadlines_due_by(session: Session, until: datetime, *, ticket_ids: Any = None, unit_id: int | None = None):
    query = select(Deadline).where(Deadline.met_at.is_(None), Deadline.closed_at.is_(None), Deadline.due_at <= until)
    if unit_id is not None:
        query = query.where(Deadline.unit_id == unit_id)
    if ticket_ids is not None:
        query = query.where(Deadline.ticket_id.in_(ticket_ids))
    return session.scalars(query)


def home_counts(session: Session, user: User, now: datetime, *, clocks: bool = True) -> Counts:
    """The counts for the person's role and unit; ``clocks=False`` (the navigation's count, on every
    page) skips the deadline and delivery counts."""
    if user.role in (Role.DISPATCHER, Role.ADMIN, Role.LEADER):
        c = Counts(shown=("new", "due_soon", "overdue", "undelivered"))
        c.new = session.scalar(select(func.count()).where(Ticket.state == TicketState.DISPATCH)) or 0
        if clocks:
            c.due_soon, c.overdue = _clock_counts(_open_deadlines_due_by(session, now + DUE_SOON), now)
            c.undelivered = len(notification_problems(session, now))
        return c
    if user.role not in (Role.UNIT_HEAD, Role.UNIT_STAFF) or user.unit_id is None:
        return Counts()
    active = select(Assignment).where(Assignment.unit_id == user.unit_id, Assignment.state.in_(AssignmentState.ACTIVE))
    if user.role == Role.UNIT_STAFF:  # the officer: what is theirs, and the unit's pool no one holds
        active = active.where((Assignment.officer_id == user.id) | Assignment.officer_id.is_(None))
    assignments = session.scalars(active).all()
    ids = [a.ticket_id for a in assignments]
    head = user.role == Role.UNIT_HEAD
    c = Counts(
        shown=("new", "due_soon", "overdue", "approval", "unassigned") if head else ("new", "due_soon", "overdue")
    )
    c.new = sum(1 for a in assignments if a.state == AssignmentState.ASSIGNED)
    c.unassigned = sum(1 for a in assignments if a.officer_id is None) if head else 0
    if ids and clocks:
        c.due_soon, c.overdue = _clock_counts(_open_deadlines_due_by(session, now + DUE_SOON, ticket_ids=ids), now)
    if ids and head:
        approval = select(func.count()).where(Ticket.id.in_(ids), Ticket.state == TicketState.APPROVAL)
        c.approval = session.scalar(approval) or 0
    return c


# --- a unit's workload (point 5) ------------------------------------------------------------------


@dataclass
class OfficerLoad:
    officer: User | None  # None: the unit's tickets no officer holds
    open: int = 0
    due_soon: int = 0
    overdue: int = 0
    approval: int = 0
    tickets: list[Ticket] = field(default_factory=list)


def unit_workload(session: Session, unit_id: int, now: datetime) -> list[OfficerLoad]:
    """Open tickets per officer of the unit (and those no one holds), with how many are due soon or late."""
    officers = session.scalars(
        select(User)
        .where(User.unit_id == unit_id, User.active, User.role.in_((Role.UNIT_STAFF, Role.UNIT_HEAD)))
        .order_by(User.role.desc(), User.display_name)
    ).all()
    rows: dict[int | None, OfficerLoad] = {o.id: OfficerLoad(o) for o in officers}
    rows[None] = OfficerLoad(None)
    pairs = session.execute(
        select(Assignment, Ticket)
        .join(Ticket, Ticket.id == Assignment.ticket_id)
        .where(Assignment.unit_id == unit_id, Assignment.state.in_(AssignmentState.ACTIVE))
        .order_by(Ticket.id)
    ).all()
    clocks: dict[int, list[Deadline]] = {}
    if pairs:
        for d in session.scalars(
            select(Deadline).where(
                Deadline.ticket_id.in_([tk.id for _, tk in pairs]),
                Deadline.met_at.is_(None),
                Deadline.closed_at.is_(None),
            )
        ):
            clocks.setdefault(d.ticket_id, []).append(d)
    for assignment, ticket in pairs:
        row = rows.get(assignment.officer_id) or rows[None]
        row.open += 1
        row.tickets.append(ticket)
        row.approval += ticket.state == TicketState.APPROVAL
        running = [d for d in clocks.get(ticket.id, []) if not is_paused(d)]
        if any(d.due_at < now for d in running):
            row.overdue += 1
        elif any(d.due_at <= now + DUE_SOON for d in running):
            row.due_soon += 1
    return list(rows.values())


# --- notifications that did not arrive (point 4) --------------------------------------------------


def notification_problems(session: Session, now: datetime, ticket_id: int | None = None) -> list[TicketEvent]:
    """Texts about tickets that failed, were refused (opted out) or had nobody to go to, newest first:
    the last PROBLEM_DAYS days of them for the dispatcher, or all of one ticket's."""
    query = select(TicketEvent).where(TicketEvent.kind.in_(PROBLEM_KINDS))
    if ticket_id is not None:
        query = query.where(TicketEvent.ticket_id == ticket_id)
    else:
        query = query.where(TicketEvent.at >= now - timedelta(days=PROBLEM_DAYS))
    return list(session.scalars(query.order_by(TicketEvent.id.desc()).limit(200)))


def delivery(status: str | None) -> str:
    """An outbox status as the timeline tells it: queued, sent or failed."""
    if status in (MessageStatus.PENDING, MessageStatus.CLAIMED, "queued", "accepted", "scheduled", "sending"):
        return "queued"
    if status in ("sent", "delivered", "read"):
        return "sent"
    if status == MessageStatus.NOT_SENT_NO_CREDENTIALS:
        return "not_sent"
    return "failed"


# --- clocks (point 6) -----------------------------------------------------------------------------


def paused_clocks(session: Session, ticket_ids: Sequence[int]) -> dict[int, str]:
    """ticket id -> the reason its running resolution (or sign-for) clock is paused, if it is."""
    if not ticket_ids:
        return {}
    paused: dict[int, str] = {}
    for d in session.scalars(
        select(Deadline).where(
            Deadline.ticket_id.in_(list(ticket_ids)), Deadline.met_at.is_(None), Deadline.closed_at.is_(None)
        )
    ):
        if is_paused(d):
            paused[d.ticket_id] = d.pauses[-1].reason
    return paused


def pause_reason(reason: str, language: str) -> str:
    key = f"pause.{reason}"
    return t(key, language) if key in MESSAGES else reason


# --- the citizen's answers (point 7) --------------------------------------------------------------


def surveys_of(session: Session, ticket_id: int) -> list[Survey]:
    return list(session.scalars(select(Survey).where(Survey.ticket_id == ticket_id).order_by(Survey.round, Survey.id)))


# --- the timeline, said in people's words (point 7) -------------------------------------------------


@dataclass
class Entry:
    event: TicketEvent
    label: str
    actor: str
    details: list[str]


def actor_names(session: Session, events: Sequence[TicketEvent]) -> dict[str, str]:
    usernames = {e.actor.removeprefix("user:") for e in events if e.actor.startswith("user:")}
    if not usernames:
        return {}
    return {
        f"user:{u.username}": u.display_name for u in session.scalars(select(User).where(User.username.in_(usernames)))
    }


def timeline(
    session: Session, events: Sequence[TicketEvent], language: str, local: Callable[[datetime | None], str]
) -> list[Entry]:
    """Each event with its label, who did it (a person's name, 系统 or 市民, never a code) and what
    it names: the unit, the officer, the dates, what became of the texts it queued."""
    lang = language
    names = actor_names(session, events)
    units = {u.id: u.name(lang) for u in session.scalars(select(Unit))}
    ids: dict[str, set[int]] = {"users": set(), "messages": set()}
    for e in events:
        data = e.data or {}
        ids["users"] |= {v for k in ("officer_id", "previous_officer_id") if isinstance(v := data.get(k), int)}
        ids["messages"] |= {m for m in data.get("messages") or [] if isinstance(m, int)}
        if isinstance(data.get("message_id"), int):
            ids["messages"].add(data["message_id"])
    people = (
        {u.id: u.display_name for u in session.scalars(select(User).where(User.id.in_(ids["users"])))}
        if ids["users"]
        else {}
    )
    statuses: dict[int, str] = {}
    if ids["messages"]:
        query = select(OutboxMessage.id, OutboxMessage.status).where(OutboxMessage.id.in_(ids["messages"]))
        statuses = {message_id: status for message_id, status in session.execute(query)}

    def when(value: Any) -> str:
        if not isinstance(value, str):
            return ""
        try:
            return local(datetime.fromisoformat(value))
        except ValueError:
            return value

    def tt(key: str, **fields: Any) -> str:
        return t(key, lang, **fields)

    out = []
    for e in events:
        data = e.data or {}
        details: list[str] = []
        if isinstance(data.get("unit_id"), int) and data["unit_id"] in units:
            details.append(tt("timeline.unit", unit=units[data["unit_id"]]))
        if isinstance(data.get("officer_id"), int):
            details.append(tt("timeline.officer", name=people.get(data["officer_id"], "")))
        if isinstance(data.get("suggested_unit_id"), int) and data["suggested_unit_id"] in units:
            details.append(tt("timeline.suggested_unit", unit=units[data["suggested_unit_id"]]))
        if data.get("clock") and f"clock.{data['clock']}" in MESSAGES:
            details.append(tt("timeline.clock", clock=tt(f"clock.{data['clock']}")))
        if data.get("due_at"):
            details.append(tt("timeline.due", due=when(data["due_at"])))
        if data.get("old") and data.get("new"):
            details.append(tt("timeline.moved", old=when(data["old"]), new=when(data["new"])))
        if data.get("new_due_at"):
            details.append(tt("timeline.asked_until", due=when(data["new_due_at"])))
        if e.kind in ("clock_paused",) and data.get("reason"):
            details.append(pause_reason(str(data["reason"]), lang))
        if data.get("skipped"):
            details.append(tt("timeline.warning_skipped"))
        elif "messages" in data:
            found = [delivery(statuses.get(m)) for m in data["messages"] or []]
            if not found:
                details.append(tt("timeline.nobody_to_notify"))
            for outcome in dict.fromkeys(found):
                details.append(tt(f"timeline.delivery.{outcome}", n=found.count(outcome)))
        if e.kind == "notification_failed":
            details.append(tt(f"timeline.delivery.{delivery(data.get('status'))}", n=1))
            if data.get("status") == MessageStatus.OPTED_OUT:
                details.append(tt("timeline.opted_out"))
        if e.kind == "notification_not_sent":
            details.append(tt(f"timeline.not_sent.{data.get('reason')}"))
        if e.kind == "survey_answered":
            details.append(survey_summary(data.get("solved"), data.get("satisfaction"), lang))
        label_key = f"event.{e.kind}"
        out.append(
            Entry(
                event=e,
                label=tt(label_key) if label_key in MESSAGES else e.kind,
                actor=actor_name(e.actor, names, lang),
                details=details,
            )
        )
    return out


def actor_name(actor: str, names: dict[str, str], language: str) -> str:
    if actor in names:
        return names[actor]
    key = f"actor.{actor}"
    if key in MESSAGES:
        return t(key, language)
    who, _, channel = actor.partition(":")  # "citizen:web": the citizen, by the channel they used
    if who == "citizen" and f"channel.{channel}" in MESSAGES:
        return t("actor.citizen_by", language, channel=t(f"channel.{channel}", language))
    return actor.removeprefix("user:")


def survey_summary(solved: bool | None, satisfaction: int | None, language: str) -> str:
    said = t(
        "survey.solved_yes" if solved else "survey.solved_no" if solved is False else "survey.solved_unknown", language
    )
    if satisfaction:
        said += " · " + t("survey.rating", language, n=satisfaction)
    return said
