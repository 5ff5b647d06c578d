"""What a citizen is told about a ticket's progress, on the tracking page and by ``查询`` SMS.

Which unit handles it and by when (the open resolution deadline, in the city's time), what the
unit answered (its latest public reply) and how it was resolved. A merged ticket is followed to the
ticket it joined: the citizen sees that ticket's number and progress (never its citizen's words).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import formatting
from hotline_core.i18n import t
from hotline_core.models import Deadline, Ticket, TicketEvent, Unit
from hotline_core.models.ticket import TicketState

MAX_HOPS = 5  # a merged ticket's target may itself have been merged later
SMS_TEXT_LIMIT = 120


@dataclass(frozen=True)
class Progress:
    ticket: Ticket  # the ticket asked about
    followed: Ticket  # the ticket that carries the work: the one it joined, if merged
    unit: Unit | None
    due_at: datetime | None
    reply: str | None  # the unit's latest public reply
    resolution: str | None  # the resolution text, once resolved

    @property
    def merged(self) -> bool:
        return self.followed.id != self.ticket.id


def surviving(session: Session, ticket: Ticket) -> Ticket:
    """The ticket a merged ticket joined (following later merges); the ticket itself otherwise."""
    current = ticket
    for _ in range(MAX_HOPS):
        if current.merged_into_id is None:
            break
        target = session.get(Ticket, current.merged_into_id)
        if target is None:
            break
        current = target
    return current


def followers(session: Session, ticket: Ticket) -> list[Ticket]:
    """Tickets merged into ``ticket``, directly or through a ticket merged into it later."""
    found: list[Ticket] = []
    frontier = [ticket.id]
    seen = {ticket.id}
    for _ in range(MAX_HOPS):
        if not frontier:
            break
        rows = session.scalars(select(Ticket).where(Ticket.merged_into_id.in_(frontier)).order_by(Ticket.id)).all()
        rows = [r for r in rows if r.id not in seen]
        seen.update(r.id for r in rows)
        found.extend(rows)
        frontier = [r.id for r in rows]
    return found


def progress(session: Session, ticket: Ticket) -> Progress:
    followed = surviving(session, ticket)
    unit = session.get(Unit, followed.lead_unit_id) if followed.lead_unit_id else None
    due_at = None
    if followed.state in TicketState.OPEN:
        due_at = session.scalar(
            select(Deadline.due_at)
            .where(
                Deadline.ticket_id == followed.id,
                Deadline.kind == "resolution",
                Deadline.met_at.is_(None),
                Deadline.closed_at.is_(None),
            )
            .order_by(Deadline.id.desc())
            .limit(1)
        )

    def latest(kind: str) -> str | None:
        return session.scalar(
            select(TicketEvent.body)
            .where(TicketEvent.ticket_id == followed.id, TicketEvent.kind == kind, TicketEvent.body.is_not(None))
            .order_by(TicketEvent.id.desc())
            .limit(1)
        )

    resolved = followed.state in (TicketState.RESOLVED, TicketState.CLOSED)
    return Progress(
        ticket=ticket,
        followed=followed,
        unit=unit,
        due_at=due_at,
        reply=latest("replied"),
        resolution=latest("resolved") if resolved else None,
    )


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= SMS_TEXT_LIMIT else text[: SMS_TEXT_LIMIT - 1] + "…"


def sms_text(p: Progress, language: str, tz: object) -> str:
    """The ``查询`` answer: state, unit and deadline, the unit's answer; a merged ticket's target."""
    state = t(f"state.{p.followed.state}", language)
    if p.merged:
        parts = [t("sms.status_merged", language, number=p.ticket.number, into=p.followed.number, state=state)]
    else:
        parts = [t("sms.status", language, number=p.ticket.number, state=state)]
    if p.unit is not None and p.due_at is not None:
        due = formatting.moment(p.due_at, language, tz)  # type: ignore[arg-type]
        parts.append(t("sms.status_unit_due", language, unit=p.unit.name(language), due=due))
    elif p.unit is not None:
        parts.append(t("sms.status_unit", language, unit=p.unit.name(language)))
    if p.resolution:
        parts.append(t("sms.status_resolution", language, text=_short(p.resolution)))
    elif p.reply:
        parts.append(t("sms.status_reply", language, text=_short(p.reply)))
    return ("" if language == "zh" else " ").join(parts)
