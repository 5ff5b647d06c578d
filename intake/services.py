"""The intake service: the one way a complaint becomes a ticket, whatever channel it came by.

Channels (the Twilio webhooks, the web form, the CLI, the demo loader) translate what they receive
into a :class:`Complaint` and call :func:`submit_complaint`. Nothing here knows about HTTP or TwiML.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import phonenumbers
from sqlalchemy import Table, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from hotline_core import outbox, phones
from hotline_core.audit import Actor
from hotline_core.audit import record as audit
from hotline_core.errors import HotlineError
from hotline_core.events import CitizenMessageAdded, ComplaintReceived
from hotline_core.i18n import guess_language, t
from hotline_core.models import Area, Attachment, Category, OutboxMessage, Ticket, TicketEvent, WebAcknowledgement
from hotline_core.models.messaging import Priority
from hotline_core.models.ticket import Channel, TicketState
from hotline_core.runtime import Runtime, current
from intake import evidence, numbers

log = logging.getLogger(__name__)

# A routing job hands over to a fresh one after this long, so that a worker looks at the more urgent
# queues (a dispatcher scheduled for its next send slot waits in 'messages') at least this often.
PROCESS_BUDGET_SECONDS = 5
PROCESS_BATCH_SIZE = 50  # routed as one batch (routing.services.route_new_tickets)
MAX_TEXT_LENGTH = 10_000


class IntakeError(HotlineError):
    """A complaint that cannot be accepted as given; the message says why."""


@dataclass(frozen=True)
class AttachmentIn:
    kind: str  # media | recording | upload
    url: str | None = None
    content_type: str | None = None
    filename: str | None = None
    storage_path: str | None = None
    size_bytes: int | None = None
    external_sid: str | None = None
    duration_seconds: int | None = None


@dataclass
class Complaint:
    """A complaint as a channel received it."""

    channel: str
    text: str
    phone: str | None = None
    language: str | None = None
    source_ref: str | None = None
    name: str | None = None
    anonymous: bool = False
    contact_consent: bool = False
    category_code: str | None = None
    area_code: str | None = None
    attachments: list[AttachmentIn] = field(default_factory=list)
    needs_review: bool = False
    review_reason: str | None = None
    acknowledge_by_sms: bool = True
    received_at: datetime | None = None
    # The channel guarantees no ticket has this source_ref yet (a text processed once under its
    # event's lock), so the lookup that makes repeats return the first ticket can be skipped.
    source_is_new: bool = False


def format_number(ticket_id: int, received_at: datetime, runtime: Runtime) -> str:
    """Human-readable ticket number: year of receipt (local time) and the ticket's serial."""
    return f"{received_at.astimezone(runtime.settings.tz).year}-{ticket_id:06d}"


def find_by_source(session: Session, channel: str, source_ref: str) -> Ticket | None:
    return session.scalars(select(Ticket).where(Ticket.channel == channel, Ticket.source_ref == source_ref)).first()


def find_by_number(session: Session, number: str) -> Ticket | None:
    """The ticket a typed number names, however it is written (see :mod:`intake.numbers`)."""
    canonical = numbers.normalise(number)
    if canonical is None:
        return None
    return session.scalars(select(Ticket).where(Ticket.number == canonical)).first()


def submit_complaint(session: Session, runtime: Runtime, complaint: Complaint) -> Ticket:
    """Store a complaint as a new ticket, or return the ticket it already made (same source).

    The ticket, its first timeline event, its attachments and its acknowledgement SMS are written
    in the caller's transaction; processing (classification, routing) is enqueued after commit.
    """
    if complaint.channel not in Channel.ALL:
        raise IntakeError("error.intake.unknown_channel", channel=complaint.channel)
    text = (complaint.text or "").strip()
    if len(text) > MAX_TEXT_LENGTH:
        raise IntakeError("error.intake.text_too_long", limit=MAX_TEXT_LENGTH)
    if complaint.source_ref and not complaint.source_is_new:
        existing = find_by_source(session, complaint.channel, complaint.source_ref)
        if existing is not None:
            return existing

    settings = runtime.settings
    now = complaint.received_at or runtime.now()
    phone = None if complaint.anonymous else phones.normalise(complaint.phone, settings.default_region)
    language = complaint.language or guess_language(text, settings.default_language)
    category = _lookup(session, Category, complaint.category_code)
    area = _lookup(session, Area, complaint.area_code)

    ticket = Ticket(
        channel=complaint.channel,
        source_ref=complaint.source_ref,
        language=language,
        citizen_phone=phone.value if phone else None,
        citizen_phone_valid=bool(phone and phone.valid),
        citizen_name=None if complaint.anonymous else (complaint.name or None),
        anonymous=complaint.anonymous,
        contact_consent=complaint.contact_consent and not complaint.anonymous,
        text=text,
        category_id=category.id if category else None,
        area_id=area.id if area else None,
        needs_review=complaint.needs_review,
        review_reason=complaint.review_reason,
        created_at=now,
        updated_at=now,
        last_citizen_message_at=now,
        lookup_code=None if phone and phone.valid else new_access_code(),
    )
    session.add(ticket)
    session.flush()
    ticket.number = format_number(ticket.id, now, runtime)
    session.add(
        TicketEvent(
            ticket=ticket,
            at=now,
            kind="received",
            actor=f"citizen:{complaint.channel}",
            body=text or None,
            data={
                "channel": complaint.channel,
                "phone_valid": ticket.citizen_phone_valid,
                "explicit_category": complaint.category_code,
                "explicit_area": complaint.area_code,
            },
        )
    )
    if phone and not phone.valid:
        session.add(TicketEvent(ticket=ticket, at=now, kind="phone_flagged", data={"raw": phone.value}))
    for item in complaint.attachments:
        add_attachment(session, ticket, item, now, runtime)
    if complaint.needs_review:
        session.add(
            TicketEvent(ticket=ticket, at=now, kind="flagged_for_review", data={"reason": complaint.review_reason})
        )
    if complaint.acknowledge_by_sms:
        acknowledge_by_sms(session, runtime, ticket, now)
    audit(session, Actor(f"citizen:{complaint.channel}"), "ticket.create", ticket, number=ticket.number)
    runtime.jobs.enqueue_after_commit(session, process_waiting_job, queue="routing", once=process_waiting_job)
    return ticket


def _lookup(session: Session, model: type[Category] | type[Area], code: str | None) -> Category | Area | None:
    if not code:
        return None
    found = cast(Category | Area | None, session.scalars(select(model).where(model.code == code)).first())
    if found is None:
        raise IntakeError(f"error.intake.unknown_{model.__name__.lower()}", code=code)
    return found


def add_attachment(
    session: Session, ticket: Ticket, item: AttachmentIn, now: datetime, runtime: Runtime | None = None
) -> Attachment | None:
    """Attach a file or link once (an external sid such as a RecordingSid is never added twice). With the
    runtime, a recording or MMS media file held by Twilio is fetched and kept by a job after the commit."""
    if item.external_sid:
        existing = session.scalars(select(Attachment).where(Attachment.external_sid == item.external_sid)).first()
        if existing is not None:
            return None
    attachment = Attachment(
        ticket=ticket,
        kind=item.kind,
        url=item.url,
        content_type=item.content_type,
        filename=item.filename,
        storage_path=item.storage_path,
        size_bytes=item.size_bytes,
        external_sid=item.external_sid,
        duration_seconds=item.duration_seconds,
        created_at=now,
    )
    session.add(attachment)
    session.flush()
    kind = "recording_added" if item.kind == "recording" else "attachment_added"
    session.add(
        TicketEvent(
            ticket=ticket, at=now, kind=kind, data={"attachment_id": attachment.id, "content_type": item.content_type}
        )
    )
    if runtime is not None:
        evidence.keep_later(session, runtime, attachment)
    return attachment


ACCESS_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed by people
ACCESS_CODE_LENGTH = 12  # 32**12 = 2**60 codes: hopeless to guess at a few attempts per ticket


def new_access_code() -> str:
    """The code an anonymous complainant tracks the ticket with (fits ``tickets.lookup_code``)."""
    return "".join(secrets.choice(ACCESS_CODE_ALPHABET) for _ in range(ACCESS_CODE_LENGTH))


def web_acknowledgement_allowed(session: Session, runtime: Runtime, phone: str, now: datetime) -> bool:
    """The web form texts a number only in the configured regions, and at most once per window:
    nobody can pump SMS to premium numbers abroad or bomb a victim's phone through the form.

    "At most once" holds for posts at the same instant too: the number's :class:`WebAcknowledgement`
    row is claimed in one statement (see :func:`claim_web_acknowledgement`); a post whose transaction
    loses the claim (or rolls back) texts nothing."""
    parsed = phones.normalise(phone, runtime.settings.default_region)
    region = phonenumbers.region_code_for_number(phonenumbers.parse(parsed.value)) if parsed and parsed.valid else None
    if region not in runtime.settings.acknowledgement_regions:
        return False
    since = now - timedelta(hours=runtime.settings.web_ack_window_hours)
    recent = session.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .join(Ticket, Ticket.id == OutboxMessage.ticket_id)
        .where(
            OutboxMessage.to_number == phone,
            OutboxMessage.kind == "acknowledgement",
            OutboxMessage.created_at >= since,
            Ticket.channel == Channel.WEB,
        )
    )
    return not recent and claim_web_acknowledgement(session, phone, now, since)


def claim_web_acknowledgement(session: Session, phone: str, now: datetime, since: datetime) -> bool:
    """Take the number's acknowledgement for this window, atomically: True for exactly one caller.

    ``INSERT ... ON CONFLICT (phone) DO UPDATE SET sent_at = now WHERE sent_at < since RETURNING``:
    a new number inserts its row; a number last texted before the window starts moves it on; a number
    texted within the window returns nothing. On PostgreSQL a second transaction racing for the same
    number waits on the first one's row and then re-checks the condition against the committed row
    (so it returns nothing); on SQLite writers are serialised by the write lock.
    """
    table = cast(Table, WebAcknowledgement.__table__)
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert(table) if dialect == "postgresql" else sqlite_insert(table)
    claim = (
        insert.values(phone=phone, sent_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.phone],
            set_={"sent_at": insert.excluded.sent_at},
            where=table.c.sent_at < since,
        )
        .returning(table.c.phone)
    )
    return session.execute(claim).first() is not None


def acknowledge_by_sms(session: Session, runtime: Runtime, ticket: Ticket, now: datetime) -> bool:
    """Text the citizen the ticket number (priority: acknowledgements go before everything else)."""
    if not (ticket.citizen_phone and ticket.citizen_phone_valid and ticket.number):
        return False
    if ticket.channel == Channel.WEB and not web_acknowledgement_allowed(session, runtime, ticket.citizen_phone, now):
        session.add(TicketEvent(ticket=ticket, at=now, kind="acknowledgement_skipped", data={"via": "web"}))
        return False
    key = {Channel.PHONE: "sms.ack_voice", Channel.WEB: "sms.ack_web"}.get(ticket.channel, "sms.ack")
    outbox.queue_sms(
        session,
        runtime,
        to=ticket.citizen_phone,
        body=t(key, ticket.language, number=ticket.number),
        kind="acknowledgement",
        priority=Priority.ACKNOWLEDGEMENT,
        ticket_id=ticket.id,
    )
    session.add(TicketEvent(ticket=ticket, at=now, kind="acknowledged", data={"via": "sms-outbox"}))
    return True


def add_citizen_message(
    session: Session,
    runtime: Runtime,
    ticket: Ticket,
    text: str,
    *,
    channel: str,
    attachments: list[AttachmentIn] | None = None,
    source_ref: str | None = None,
) -> TicketEvent:
    """A citizen's follow-up message joins the ticket's thread."""
    now = runtime.now()
    event = TicketEvent(
        ticket=ticket,
        at=now,
        kind="citizen_message",
        actor=f"citizen:{channel}",
        body=text[:MAX_TEXT_LENGTH] or None,
        data={"source_ref": source_ref},
    )
    session.add(event)
    for item in attachments or []:
        add_attachment(session, ticket, item, now, runtime)
    ticket.last_citizen_message_at = now
    ticket.updated_at = now
    session.flush()
    runtime.events.publish(session, runtime, CitizenMessageAdded(ticket.id, event.id))
    return event


def open_sms_thread(session: Session, runtime: Runtime, phone: str) -> Ticket | None:
    """The citizen's open SMS ticket still within the thread window, if any."""
    window = timedelta(hours=runtime.settings.sms_thread_window_hours)
    if window <= timedelta(0):
        return None
    since = runtime.now() - window
    return session.scalars(
        select(Ticket)
        .where(
            Ticket.citizen_phone == phone,
            Ticket.channel == Channel.SMS,
            Ticket.state.in_(TicketState.OPEN),
            Ticket.last_citizen_message_at >= since,
        )
        .order_by(Ticket.last_citizen_message_at.desc())
        .limit(1)
    ).first()


def flag_for_review(session: Session, ticket: Ticket, reason: str, now: datetime) -> None:
    if not ticket.needs_review:
        ticket.needs_review = True
        ticket.review_reason = reason
        session.add(TicketEvent(ticket=ticket, at=now, kind="flagged_for_review", data={"reason": reason}))


def lookup_for_citizen(session: Session, number: str, last4_or_code: str) -> Ticket | None:
    """A ticket, if ``last4_or_code`` matches its phone's last four digits or its access code."""
    ticket = find_by_number(session, number)
    if ticket is None:
        return None
    given = (last4_or_code or "").strip().upper()
    if not given:
        return None
    if (
        ticket.citizen_phone
        and len(given) == 4
        and secrets.compare_digest(phones.last_four(ticket.citizen_phone), given)
    ):
        return ticket
    if ticket.lookup_code and secrets.compare_digest(ticket.lookup_code, given):
        return ticket
    return None


def process_tickets(session: Session, runtime: Runtime, tickets: Sequence[Ticket]) -> list[Ticket]:
    """Hand stored tickets to whatever reacts to new complaints (routing), as one batch. Each
    ticket is processed once; returns those processed now."""
    waiting = [ticket for ticket in tickets if ticket.processed_at is None]
    if not waiting:
        return []
    runtime.events.publish(session, runtime, ComplaintReceived(tuple(ticket.id for ticket in waiting)))
    now = runtime.now()
    for ticket in waiting:
        ticket.processed_at = now
        session.add(TicketEvent(ticket=ticket, at=now, kind="processed"))
    return waiting


def process_ticket(session: Session, runtime: Runtime, ticket_id: int) -> bool:
    """:func:`process_tickets` for one ticket; a second run does nothing."""
    ticket = session.get(Ticket, ticket_id)
    return ticket is not None and bool(process_tickets(session, runtime, [ticket]))


def process_ticket_job(ticket_id: int) -> bool:
    """RQ job: process one ticket; a second run does nothing."""
    runtime = current()
    with runtime.db.transaction() as session:
        ticket = session.get(Ticket, ticket_id, with_for_update=runtime.db.dialect == "postgresql")
        return process_ticket(session, runtime, ticket_id) if ticket else False


def process_waiting_job(budget_seconds: float = PROCESS_BUDGET_SECONDS) -> int:
    """RQ job (routing queue): process waiting tickets in batches, oldest first, until none is left.

    New tickets enqueue it with ``once``; see :meth:`JobQueue.drain` for how workers share a
    backlog. If a batch fails, its tickets are processed one at a time; one that still fails is
    not claimed again by this job and is left for a later one (the sweep starts one every minute).
    """
    runtime = current()
    after_id = 0

    def batch() -> int | None:
        nonlocal after_id
        ids = _process_batch(runtime, after_id)
        if not ids:
            return None
        after_id = ids[-1]
        return len(ids)

    return runtime.jobs.drain(process_waiting_job, "routing", batch, budget_seconds)


def _process_batch(runtime: Runtime, after_id: int) -> list[int]:
    """Claim and process up to ``PROCESS_BATCH_SIZE`` waiting tickets; returns their ids."""
    ids: list[int] = []
    try:
        with runtime.db.transaction() as session:
            claim = (
                select(Ticket)  # whole rows: processing finds them in the session, no second read
                .where(Ticket.processed_at.is_(None), Ticket.id > after_id)
                .order_by(Ticket.id)
                .limit(PROCESS_BATCH_SIZE)
            )
            tickets = list(session.scalars(runtime.db.claim(claim)))  # held: the session keeps them weakly
            ids = [ticket.id for ticket in tickets]
            process_tickets(session, runtime, tickets)
        return ids
    except Exception:
        if not ids:
            raise
        log.warning("a batch of %d tickets failed; processing them one at a time", len(ids))
    for ticket_id in ids:
        try:
            process_ticket_job(ticket_id)
        except Exception:
            log.exception("processing ticket %s failed; left for a later job", ticket_id)
    return ids


def sweep_unprocessed_job(older_than_seconds: float = 60) -> int:
    """Periodic job: start processing tickets left waiting (Redis was down, a crash, a failure)."""
    runtime = current()
    cutoff = runtime.now() - timedelta(seconds=older_than_seconds)
    with runtime.db.session() as session:
        waiting = session.scalar(
            select(func.count()).select_from(Ticket).where(Ticket.processed_at.is_(None), Ticket.created_at <= cutoff)
        )
    if waiting:
        runtime.jobs.enqueue(process_waiting_job, queue="routing", once=process_waiting_job)
    return waiting or 0
