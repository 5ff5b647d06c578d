"""What staff do with tickets: who may see which, contact, reply, note, resolve, ask for time,
merge duplicates, call the citizen back without revealing the number. Views, jobs and tests call
these; each change is a timeline event and an audit entry."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from hotline_core import phones
from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.errors import required_text
from hotline_core.models import (
    Assignment,
    CallbackCall,
    ExtensionRequest,
    Role,
    Ticket,
    TicketEvent,
    Unit,
    User,
)
from hotline_core.models.routing import AssignmentRole, AssignmentState
from hotline_core.models.ticket import Channel, TicketState
from hotline_core.runtime import Runtime
from hotline_core.twilio_gateway import NotConfigured, SendError
from intake import progress
from intake.services import AttachmentIn, Complaint, add_attachment, submit_complaint
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


EARLIER_SHOWN = 10


def earlier_tickets(session: Session, user: User, ticket: Ticket) -> list[Ticket]:
    """The same caller's other tickets, newest first, beside the one open: only for those who may see the
    caller's number (it is what links them), and for a unit's people only tickets given to their unit."""
    if not ticket.citizen_phone or not may_see_phone(user, ticket):
        return []
    query = select(Ticket).where(Ticket.citizen_phone == ticket.citizen_phone, Ticket.id != ticket.id)
    if user.role in UNIT_ROLES:
        query = query.where(Ticket.id.in_(select(Assignment.ticket_id).where(Assignment.unit_id == user.unit_id)))
    elif user.role not in ALL_TICKETS:
        return []
    return list(session.scalars(query.order_by(Ticket.created_at.desc(), Ticket.id.desc()).limit(EARLIER_SHOWN)))


def unit_assignment(session: Session, user: User, ticket: Ticket, *, active: bool = True) -> Assignment | None:
    query = select(Assignment).where(Assignment.ticket_id == ticket.id, Assignment.unit_id == user.unit_id)
    if active:
        query = query.where(Assignment.state.in_(AssignmentState.ACTIVE))
    return session.scalars(query.order_by(Assignment.id.desc()).limit(1)).first()


def _actor(user: User, ip: str | None = None) -> Actor:
    return Actor(f"user:{user.username}", user.id, ip)


def _text(value: str, what: str) -> str:
    """``what`` names the field (``field.<what>`` in the catalogue) for the error message."""
    return required_text(value, what, PortalError, MAX_TEXT)


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
    if needs_approval(session, runtime, user, ticket):
        # An officer of a unit whose head approves resolutions: proposed, not yet resolved; the
        # citizen hears nothing until the head approves (issue 13 point 5).
        lifecycle.propose_resolution(session, ticket, now, text=text, actor=_actor(user, ip))
        for item in evidence or []:
            add_attachment(session, ticket, item, now)
        return
    routing.resolve(session, runtime, ticket, text=text, actor=_actor(user, ip))
    for item in evidence or []:
        add_attachment(session, ticket, item, now)
    _tell_citizen_resolved(session, runtime, ticket, text)


def _tell_citizen_resolved(session: Session, runtime: Runtime, ticket: Ticket, text: str) -> None:
    routing.notify_citizen(session, runtime, ticket, "citizen.resolved", text=text[:300])
    told = {ticket.citizen_phone}
    for follower in progress.followers(session, ticket):  # merged tickets' citizens follow this one
        if follower.citizen_phone in told:
            continue
        if routing.notify_citizen(
            session, runtime, follower, "citizen.resolved_merged", into=ticket.number, text=text[:300]
        ):
            told.add(follower.citizen_phone)
    runtime.jobs.enqueue_after_commit(session, start_survey_job, ticket.id, queue="messages")


# --- inside a unit (issue 13 point 5) --------------------------------------------------------------


def needs_approval(session: Session, runtime: Runtime, user: User, ticket: Ticket) -> bool:
    """An officer's resolution waits for the head when the directory asks it of the lead unit."""
    if user.role != Role.UNIT_STAFF or ticket.lead_unit_id is None:
        return False
    unit = session.get(Unit, ticket.lead_unit_id)
    return routing.config(session, runtime).needs_approval(unit.code if unit else None)


def _head_of(session: Session, user: User, ticket: Ticket) -> Assignment:
    if user.role != Role.UNIT_HEAD:
        raise PortalError("error.portal.only_unit_head")
    assignment = unit_assignment(session, user, ticket)
    if assignment is None:
        raise PortalError("error.portal.no_assignment")
    return assignment


def unit_officers(session: Session, unit_id: int | None) -> list[User]:
    """The active people of a unit a ticket can be given to (officers first, then the head)."""
    if unit_id is None:
        return []
    return list(
        session.scalars(
            select(User)
            .where(User.unit_id == unit_id, User.active, User.role.in_(UNIT_ROLES))
            .order_by(User.role.desc(), User.display_name)
        )
    )


def delegate(
    session: Session, runtime: Runtime, ticket: Ticket, user: User, officer_id: int | None, ip: str | None = None
) -> None:
    """The unit head gives the unit's ticket to a named officer, who is told by SMS if they have a phone."""
    assignment = _head_of(session, user, ticket)
    officer = session.get(User, officer_id) if officer_id is not None else None
    lifecycle.delegate(session, assignment, officer, runtime.now(), actor=_actor(user, ip))
    assert officer is not None
    if officer.phone and officer.id != user.id:
        routing.queue_notifications(session, runtime, [officer.phone], ticket, "notify.delegated")


def approve_resolution(session: Session, runtime: Runtime, ticket: Ticket, user: User, ip: str | None = None) -> None:
    """The head approves the officer's resolution: now the citizen is told and surveyed."""
    _head_of(session, user, ticket)
    text = lifecycle.approve_resolution(session, ticket, runtime.now(), actor=_actor(user, ip))
    _tell_citizen_resolved(session, runtime, ticket, text)


def send_back_resolution(
    session: Session, runtime: Runtime, ticket: Ticket, user: User, reason: str, ip: str | None = None
) -> None:
    _head_of(session, user, ticket)
    lifecycle.send_back_resolution(
        session, ticket, runtime.now(), reason=_text(reason, "reason"), actor=_actor(user, ip)
    )


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
    area_id: int | None = None,
) -> None:
    routing.route_manually(
        session,
        runtime,
        ticket,
        lead_unit_id=lead_unit_id,
        co_unit_ids=co_unit_ids,
        category_id=category_id,
        area_id=area_id,
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
    """Merge ``duplicate`` into ``into``; its citizen (and those of tickets merged into it before)
    is told the ticket it now follows, and later gets that ticket's resolution and survey."""
    lifecycle.merge(session, duplicate, into, runtime.now(), actor=_actor(user, ip))
    told: set[str | None] = set()
    for ticket in [duplicate, *progress.followers(session, duplicate)]:
        if ticket.citizen_phone in told:
            continue
        if routing.notify_citizen(session, runtime, ticket, "citizen.merged", into=into.number, deferrable=True):
            told.add(ticket.citizen_phone)
            session.add(
                TicketEvent(ticket=ticket, at=runtime.now(), kind="merge_notice_sent", data={"into": into.number})
            )


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
        raise PortalError("error.portal.call_failed", code=exc.code or "—") from exc  # Twilio's text is English
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


# --- the operator's desk (issue 13, desk13) ------------------------------------------------------

SEARCH_PAGE = 50
SEARCH_MAX_DAYS = 366
SEARCH_DEFAULT_DAYS = 90
SEARCH_MIN_TEXT = 2
SEARCH_MAX_TEXT = 100
SEARCH_EARLIEST, SEARCH_LATEST = date(2000, 1, 1), date(2099, 12, 31)


def _printable(value: str, limit: int) -> str:
    """A searched value without control characters (a NUL byte cannot even be sent to PostgreSQL)."""
    return "".join(ch for ch in (value or "") if ch.isprintable()).strip()[:limit]


class DeskError(PortalError):
    """A typed-in ticket or a search refused (``error.desk.*``)."""


@dataclass(frozen=True)
class TypedTicket:
    """What a dispatcher types for a caller on the phone."""

    text: str
    phone: str = ""
    name: str = ""
    language: str = ""  # "" : guessed from the text
    category_code: str | None = None
    area_code: str | None = None
    contact_consent: bool = False
    form_token: str = ""


def type_in_ticket(session: Session, runtime: Runtime, user: User, typed: TypedTicket, ip: str | None = None) -> Ticket:
    """A dispatcher files a caller's complaint (channel phone) through the one intake service: the caller
    gets the acknowledgement SMS; the timeline and the audit trail say who typed it. The form's token
    makes a second click return the first ticket."""
    text = _text("".join(ch for ch in typed.text or "" if ch.isprintable() or ch in "\n\t"), "complaint")
    raw_phone = _printable(typed.phone, 40)
    if raw_phone:
        parsed = phones.normalise(raw_phone, runtime.settings.default_region)
        if parsed is None or not parsed.valid:
            raise DeskError("error.desk.bad_phone", phone=raw_phone[:40])
    token = "".join(ch for ch in typed.form_token if ch.isalnum())[:40]
    ticket = submit_complaint(
        session,
        runtime,
        Complaint(
            channel=Channel.PHONE,
            text=text,
            phone=raw_phone or None,
            language=typed.language if typed.language in ("zh", "en") else None,
            source_ref=f"desk:{token}" if token else None,
            name=_printable(typed.name, 100) or None,
            contact_consent=typed.contact_consent,
            category_code=typed.category_code or None,
            area_code=typed.area_code or None,
        ),
    )
    typed_event = session.scalar(
        select(TicketEvent.id).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "typed_by_operator")
    )
    if typed_event is None:
        session.add(
            TicketEvent(ticket=ticket, at=runtime.now(), kind="typed_by_operator", actor=f"user:{user.username}")
        )
        audit(session, _actor(user, ip), "desk.ticket_typed", ticket, number=ticket.number)
    return ticket


@dataclass(frozen=True)
class SearchQuery:
    number: str = ""
    phone: str = ""
    text: str = ""
    date_from: date | None = None
    date_to: date | None = None
    page: int = 1


@dataclass
class SearchResult:
    tickets: list[Ticket]
    total: int
    page: int
    pages: int
    date_from: date
    date_to: date


def search_tickets(
    session: Session, runtime: Runtime, user: User, query: SearchQuery, ip: str | None = None
) -> SearchResult:
    """Tickets the user may see, by number, caller's phone (only roles that may see phones; every such
    search is audited), words of the text and the day filed, within a bounded date range, newest first."""
    today = runtime.now().astimezone(runtime.settings.tz).date()
    for day in (query.date_from, query.date_to):
        if day is not None and not (SEARCH_EARLIEST <= day <= SEARCH_LATEST):
            raise DeskError("error.desk.bad_date", date=day.isoformat())
    date_to = query.date_to or today
    date_from = query.date_from or (date_to - timedelta(days=SEARCH_DEFAULT_DAYS))
    if date_from > date_to:
        raise DeskError("error.desk.dates_reversed")
    if (date_to - date_from).days > SEARCH_MAX_DAYS:
        raise DeskError("error.desk.range_too_long", days=SEARCH_MAX_DAYS)
    tz = runtime.settings.tz
    start = datetime.combine(date_from, time(0), tzinfo=tz)
    end = datetime.combine(date_to + timedelta(days=1), time(0), tzinfo=tz)
    found = select(Ticket).where(Ticket.created_at >= start, Ticket.created_at < end, Ticket.number.is_not(None))
    if user.role in UNIT_ROLES:
        found = found.where(Ticket.id.in_(select(Assignment.ticket_id).where(Assignment.unit_id == user.unit_id)))
    elif user.role not in ALL_TICKETS:
        raise DeskError("error.desk.not_allowed")
    number = _printable(query.number, 20).upper()
    if number:
        found = found.where(Ticket.number.startswith(number, autoescape=True))
    phone = _printable(query.phone, 40)
    if phone:
        if user.role not in Role.SEES_FULL_PHONE:
            raise DeskError("error.desk.phone_not_allowed")
        parsed = phones.normalise(phone, runtime.settings.default_region)
        if parsed is None:
            raise DeskError("error.desk.bad_phone", phone=phone)
        found = found.where(Ticket.citizen_phone == parsed.value)
        audit(session, _actor(user, ip), "ticket.phone_searched", None, phone=parsed.value)
    words = _printable(query.text, SEARCH_MAX_TEXT + 1)
    if words:
        if len(words) < SEARCH_MIN_TEXT or len(words) > SEARCH_MAX_TEXT:
            raise DeskError("error.desk.text_length", low=SEARCH_MIN_TEXT, high=SEARCH_MAX_TEXT)
        for word in words.split()[:5]:
            found = found.where(Ticket.text.icontains(word, autoescape=True))
    total = session.scalar(select(func.count()).select_from(found.order_by(None).subquery())) or 0
    pages = max(1, -(-total // SEARCH_PAGE))
    page = min(max(query.page, 1), pages)
    newest_first = found.order_by(Ticket.created_at.desc(), Ticket.id.desc())
    tickets = list(session.scalars(newest_first.limit(SEARCH_PAGE).offset((page - 1) * SEARCH_PAGE)))
    return SearchResult(tickets, total, page, pages, date_from, date_to)
