"""What staff do with tickets: who may see which, contact, reply, note, resolve, ask for time,
merge duplicates, call the citizen back without revealing the number. Views, jobs and tests call
these; each change is a timeline event and an audit entry."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from hotline_core import phones
from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.errors import Label
from hotline_core.models import (
    Assignment,
    CallbackCall,
    ExtensionRequest,
    Role,
    Ticket,
    TicketEvent,
    User,
)
from hotline_core.models.routing import AssignmentRole, AssignmentState
from hotline_core.models.ticket import TicketState
from hotline_core.runtime import Runtime
from hotline_core.twilio_gateway import NotConfigured, SendError
from intake.services import AttachmentIn, add_attachment
from responders.survey import start_survey_job
from routing import lifecycle, similarity
from routing import services as routing
from routing.deadlines import ClockKind
from routing.lifecycle import TicketError

MAX_TEXT = 5000
ALL_TICKETS = (Role.DISPATCHER, Role.ADMIN, Role.LEADER)
UNIT_ROLES = (Role.UNIT_STAFF, Role.UNIT_HEAD)


class PortalError(TicketError):
    """An action refused with a reason the user can act on (``error.portal.*``)."""


def may_see(session: Session, user: User, ticket: Ticket) -> bool:
    """Dispatchers, admins and leaders see every ticket; a unit's people see tickets ever given to their unit."""
    if user.role in ALL_TICKETS:
        return True
    if user.role in UNIT_ROLES and user.unit_id is not None:
        return (
            session.scalar(
                select(Assignment.id)
                .where(Assignment.ticket_id == ticket.id, Assignment.unit_id == user.unit_id)
                .limit(1)
            )
            is not None
        )
    return False


def may_see_phone(user: User, ticket: Ticket) -> bool:
    return user.role in Role.SEES_FULL_PHONE or (ticket.contact_consent and user.role in UNIT_ROLES)


def shown_phone(user: User, ticket: Ticket) -> str:
    return phones.display(ticket.citizen_phone, may_see_full=may_see_phone(user, ticket))


def unit_assignment(session: Session, user: User, ticket: Ticket, *, active: bool = True) -> Assignment | None:
    query = select(Assignment).where(Assignment.ticket_id == ticket.id, Assignment.unit_id == user.unit_id)
    if active:
        query = query.where(Assignment.state.in_(AssignmentState.ACTIVE))
    return session.scalars(query.order_by(Assignment.id.desc()).limit(1)).first()


def _actor(user: User, ip: str | None = None) -> Actor:
    return Actor(f"user:{user.username}", user.id, ip)


def _text(value: str, what: str) -> str:
    """``what`` names the field (``field.<what>`` in the catalogue) for the error message."""
    value = (value or "").strip()
    if not value:
        raise PortalError("error.portal.text_required", field=Label(f"field.{what}"))
    if len(value) > MAX_TEXT:
        raise PortalError("error.portal.text_too_long", field=Label(f"field.{what}"), limit=MAX_TEXT)
    return value


def _acting_assignment(session: Session, user: User, ticket: Ticket) -> Assignment:
    if user.role in (Role.DISPATCHER, Role.ADMIN):
        found = session.scalars(
            select(Assignment).where(
                Assignment.ticket_id == ticket.id,
                Assignment.role == AssignmentRole.LEAD,
                Assignment.state.in_(AssignmentState.ACTIVE),
            )
        ).first()
    else:
        found = unit_assignment(session, user, ticket)
    if found is None:
        raise PortalError("error.portal.no_assignment")
    return found


# --- unit actions --------------------------------------------------------------------------------


def sign_for(session: Session, runtime: Runtime, ticket: Ticket, user: User, ip: str | None = None) -> None:
    assignment = _acting_assignment(session, user, ticket)
    routing.sign_for(session, runtime, assignment, actor=_actor(user, ip))


def record_contact(
    session: Session, runtime: Runtime, ticket: Ticket, user: User, note: str, ip: str | None = None
) -> None:
    assignment = _acting_assignment(session, user, ticket)
    lifecycle.record_contact(
        session, assignment, runtime.now(), note=_text(note, "contact_note"), actor=_actor(user, ip)
    )


def reply(session: Session, runtime: Runtime, ticket: Ticket, user: User, text: str, ip: str | None = None) -> None:
    """A public answer: on the citizen's lookup page and by SMS."""
    _acting_assignment(session, user, ticket)
    text = _text(text, "reply")
    session.add(TicketEvent(ticket=ticket, at=runtime.now(), kind="replied", actor=_actor(user).name, body=text))
    routing.notify_citizen(session, runtime, ticket, "citizen.replied", text=text[:300])
    audit(session, _actor(user, ip), "ticket.reply", ticket)


def add_note(session: Session, runtime: Runtime, ticket: Ticket, user: User, text: str, ip: str | None = None) -> None:
    session.add(
        TicketEvent(ticket=ticket, at=runtime.now(), kind="note", actor=_actor(user).name, body=_text(text, "note"))
    )
    audit(session, _actor(user, ip), "ticket.note", ticket)


def resolve(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    user: User,
    text: str,
    evidence: list[AttachmentIn] | None = None,
    ip: str | None = None,
) -> None:
    """Close the unit's work with a resolution text and evidence; the citizen is told and surveyed."""
    assignment = _acting_assignment(session, user, ticket)
    if assignment.role != AssignmentRole.LEAD:
        raise PortalError("error.portal.only_lead_resolves")
    text = _text(text, "resolution")
    now = runtime.now()
    routing.resolve(session, runtime, ticket, text=text, actor=_actor(user, ip))
    for item in evidence or []:
        add_attachment(session, ticket, item, now)
    routing.notify_citizen(session, runtime, ticket, "citizen.resolved", text=text[:300])
    runtime.jobs.enqueue_after_commit(session, start_survey_job, ticket.id, queue="messages")


def return_ticket(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    user: User,
    reason: str,
    suggested_unit_id: int | None,
    ip: str | None = None,
) -> None:
    assignment = _acting_assignment(session, user, ticket)
    routing.return_ticket(
        session,
        runtime,
        assignment,
        reason=_text(reason, "reason"),
        suggested_unit_id=suggested_unit_id,
        actor=_actor(user, ip),
    )


def request_extension(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    user: User,
    reason: str,
    new_due_at: datetime,
    ip: str | None = None,
) -> ExtensionRequest:
    assignment = _acting_assignment(session, user, ticket)
    deadline = routing.open_deadline(session, ticket.id, ClockKind.RESOLUTION)
    if deadline is None:
        raise PortalError("error.ticket.no_resolution_clock", number=ticket.number or "")
    if new_due_at <= deadline.due_at:
        raise PortalError("error.portal.extension_not_later", due=deadline.due_at)
    if session.scalar(
        select(ExtensionRequest.id).where(ExtensionRequest.ticket_id == ticket.id, ExtensionRequest.state == "pending")
    ):
        raise PortalError("error.portal.extension_pending")
    request = ExtensionRequest(
        ticket_id=ticket.id,
        unit_id=assignment.unit_id,
        requested_by=user.id,
        requested_at=runtime.now(),
        reason=_text(reason, "reason"),
        new_due_at=new_due_at,
    )
    session.add(request)
    session.add(
        TicketEvent(
            ticket=ticket,
            at=runtime.now(),
            kind="extension_requested",
            actor=_actor(user).name,
            body=request.reason,
            data={"new_due_at": new_due_at.isoformat()},
        )
    )
    audit(session, _actor(user, ip), "extension.request", ticket, new_due_at=new_due_at.isoformat())
    return request


# --- dispatcher actions --------------------------------------------------------------------------


def decide_extension(
    session: Session,
    runtime: Runtime,
    request: ExtensionRequest,
    user: User,
    *,
    approve: bool,
    note: str = "",
    ip: str | None = None,
) -> None:
    if request.state != "pending":
        raise PortalError("error.portal.already_decided")
    ticket = session.get(Ticket, request.ticket_id)
    assert ticket is not None
    now = runtime.now()
    request.state, request.decided_by, request.decided_at = ("approved" if approve else "refused"), user.id, now
    request.decision_note = note.strip() or None
    if approve:
        routing.approve_extension(
            session, runtime, ticket, until=request.new_due_at, reason=request.reason, actor=_actor(user, ip)
        )
    else:
        session.add(
            TicketEvent(
                ticket=ticket, at=now, kind="extension_refused", actor=_actor(user).name, body=request.decision_note
            )
        )
        audit(session, _actor(user, ip), "extension.refuse", ticket)


def route(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    user: User,
    *,
    lead_unit_id: int,
    co_unit_ids: list[int],
    category_id: int | None,
    note: str = "",
    ip: str | None = None,
) -> None:
    routing.route_manually(
        session,
        runtime,
        ticket,
        lead_unit_id=lead_unit_id,
        co_unit_ids=co_unit_ids,
        category_id=category_id,
        actor=_actor(user, ip),
        note=note,
    )


# Possible duplicates (多人一事): how far back and how many open tickets the text similarity compares with.
DUPLICATE_WINDOW_DAYS = 7
DUPLICATE_WINDOW_SIZE = 500
DUPLICATE_SHOWN = 8


@dataclass(frozen=True)
class DuplicateCandidate:
    """Another ticket that may be about the same matter, and why: the same caller, the same area and category,
    or a similar text (``score``, the cosine of their character n-gram TF-IDF vectors, 0-1)."""

    ticket: Ticket
    score: float | None
    same_caller: bool = False
    same_place: bool = False

    @property
    def number(self) -> str:
        return self.ticket.number or ""

    @property
    def similar(self) -> bool:
        return self.score is not None and self.score >= similarity.DEFAULT_MIN_SIMILARITY


def duplicate_candidates(
    session: Session, ticket: Ticket, days: int = DUPLICATE_WINDOW_DAYS
) -> list[DuplicateCandidate]:
    """Tickets that may be duplicates of ``ticket``, most alike first (see :func:`duplicate_candidates_many`)."""
    return duplicate_candidates_many(session, [ticket], days)[ticket.id]


def duplicate_candidates_many(
    session: Session, tickets: Sequence[Ticket], days: int = DUPLICATE_WINDOW_DAYS
) -> dict[int, list[DuplicateCandidate]]:
    """For each ticket, the others within ``days`` of it from the same caller, about the same area and category,
    or written alike (open tickets only; the last :data:`DUPLICATE_WINDOW_SIZE` of the window, vectorised once for
    all ``tickets``, so a dispatch queue costs one comparison)."""
    out: dict[int, list[DuplicateCandidate]] = {tk.id: [] for tk in tickets}
    if not tickets:
        return out
    earliest = min(tk.created_at for tk in tickets) - timedelta(days=days)
    latest = max(tk.created_at for tk in tickets) + timedelta(days=days)
    window = list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.created_at >= earliest,
                Ticket.created_at <= latest,
                Ticket.state.not_in((TicketState.MERGED, TicketState.CLOSED)),
                Ticket.merged_into_id.is_(None),
                Ticket.text != "",
            )
            .order_by(Ticket.created_at.desc())
            .limit(DUPLICATE_WINDOW_SIZE)
        )
    )
    texts = [tk.text or "" for tk in tickets]
    by_id = {w.id: w for w in window}
    matches = similarity.similar(texts, [w.text or "" for w in window], min_similarity=0.0, limit=len(window))
    for tk, found in zip(tickets, matches, strict=True):
        span = timedelta(days=days)
        scores = {
            window[m.index].id: m.score
            for m in found
            if window[m.index].id != tk.id and abs(window[m.index].created_at - tk.created_at) <= span
        }
        candidates: dict[int, DuplicateCandidate] = {}
        for other_id, score in scores.items():
            if score >= similarity.DEFAULT_MIN_SIMILARITY:
                candidates[other_id] = DuplicateCandidate(by_id[other_id], score)
        for other in _same_caller_or_place(session, tk, days):
            candidates[other.id] = DuplicateCandidate(
                other,
                scores.get(other.id),
                same_caller=bool(tk.citizen_phone) and other.citizen_phone == tk.citizen_phone,
                same_place=bool(tk.area_id and tk.category_id)
                and (other.area_id, other.category_id) == (tk.area_id, tk.category_id),
            )
        ranked = sorted(candidates.values(), key=lambda c: (-(c.score or 0.0), c.ticket.created_at, c.ticket.id))
        out[tk.id] = ranked[:DUPLICATE_SHOWN]
    return out


def _same_caller_or_place(session: Session, ticket: Ticket, days: int) -> list[Ticket]:
    """Open tickets from the same caller, or about the same place and category, within ``days``."""
    since = ticket.created_at - timedelta(days=days)
    same = []
    if ticket.citizen_phone:
        same.append(Ticket.citizen_phone == ticket.citizen_phone)
    if ticket.area_id and ticket.category_id:
        same.append((Ticket.area_id == ticket.area_id) & (Ticket.category_id == ticket.category_id))
    if not same:
        return []
    return list(
        session.scalars(
            select(Ticket)
            .where(
                Ticket.id != ticket.id,
                Ticket.created_at >= since,
                Ticket.state != TicketState.MERGED,
                Ticket.merged_into_id.is_(None),
                or_(*same),
            )
            .order_by(Ticket.created_at)
            .limit(20)
        )
    )


def merge(
    session: Session, runtime: Runtime, duplicate: Ticket, into: Ticket, user: User, ip: str | None = None
) -> None:
    lifecycle.merge(session, duplicate, into, runtime.now(), actor=_actor(user, ip))


# --- masked call-back ----------------------------------------------------------------------------


@dataclass(frozen=True)
class CallbackStarted:
    call: CallbackCall
    sid: str


def start_callback(
    session: Session, runtime: Runtime, ticket: Ticket, user: User, ip: str | None = None
) -> CallbackStarted:
    """Ring the staff member's phone; when they answer, Twilio fetches TwiML that dials the citizen
    with the hotline's number as caller ID. The citizen's number is never shown to the staff member."""
    _acting_assignment(session, user, ticket)
    if not user.phone:
        raise PortalError("error.portal.no_own_phone")
    if not (ticket.citizen_phone and ticket.citizen_phone_valid) or ticket.anonymous:
        raise PortalError("error.portal.no_citizen_phone")
    if not runtime.settings.public_base_url:
        raise PortalError("error.portal.no_public_url")
    call = CallbackCall(ticket_id=ticket.id, user_id=user.id, token=secrets.token_urlsafe(24), created_at=runtime.now())
    session.add(call)
    session.flush()
    base = runtime.settings.public_base_url
    try:
        placed = runtime.twilio.place_call(
            user.phone,
            f"{base}/twilio/callback/{call.token}",
            status_callback=f"{base}/twilio/callback/{call.token}/status",
        )
    except NotConfigured as exc:
        raise PortalError("error.portal.twilio_not_configured") from exc
    except SendError as exc:
        raise PortalError("error.portal.call_failed", detail=str(exc)[:200]) from exc
    call.call_sid, call.status = placed.sid, placed.status
    session.add(
        TicketEvent(
            ticket=ticket,
            at=runtime.now(),
            kind="callback_placed",
            actor=_actor(user).name,
            data={"callback_id": call.id},
        )
    )
    audit(session, _actor(user, ip), "ticket.callback", ticket)
    return CallbackStarted(call, placed.sid)


def callback_target(session: Session, token: str) -> tuple[CallbackCall, Ticket] | None:
    call = session.scalars(select(CallbackCall).where(CallbackCall.token == token)).first()
    if call is None:
        return None
    ticket = session.get(Ticket, call.ticket_id)
    return (call, ticket) if ticket is not None else None
