"""What the hotline answers a texting or calling citizen, independent of TwiML.

The webhooks turn Twilio's form fields into the small records below, call these functions and
render the result as TwiML. Texts are handled by a job after the webhook has answered, so every
answer to a text goes out by SMS through the outbox (acknowledgements first).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from hotline_core import outbox, phones
from hotline_core.events import Matter, MatterAsked, TextArrived
from hotline_core.i18n import guess_language, t
from hotline_core.models import OptOut, SmsConversation, Ticket, TicketEvent
from hotline_core.models.messaging import Priority
from hotline_core.models.ticket import Channel, TicketState
from hotline_core.runtime import Runtime
from intake import progress, services, sms_commands
from intake.services import AttachmentIn, Complaint

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InboundSms:
    message_sid: str
    from_number: str
    body: str
    media: list[tuple[str, str]] = field(default_factory=list)  # (url, content type)


@dataclass
class SmsReply:
    text: str | None
    ticket: Ticket | None = None
    created: bool = False


def handle_sms(session: Session, runtime: Runtime, sms: InboundSms) -> SmsReply:
    """Decide what an inbound text does: a command, a follow-up on an open ticket, or a new ticket.

    The reply is queued in the outbox (the new ticket's acknowledgement, or ``reply.text``).
    """
    settings = runtime.settings
    now = runtime.now()
    phone = phones.normalise(sms.from_number, settings.default_region)
    phone_key = phone.value if phone else sms.from_number
    command = sms_commands.parse(sms.body)
    language = guess_language(sms.body, settings.default_language)

    if command is not None and not (command.kind == "new" and command.argument):
        reply = _run_command(session, runtime, command, phone_key)
        if reply.text:
            # The confirmation of STOP itself is the one text an opted-out number still gets.
            kind = outbox.OPT_OUT_CONFIRMATION if command.kind == "stop" else "command_reply"
            outbox.queue_sms(session, runtime, to=phone_key, body=reply.text, kind=kind, priority=Priority.REPLY)
        return reply

    body = sms.body
    fresh = False
    if command is not None:  # 新投诉/NEW followed by the complaint: a new ticket, whatever is open
        body, fresh = command.argument or "", True
        _mark_new_complaint(session, runtime, phone_key)
        language = guess_language(body, settings.default_language)
    else:
        claimed = runtime.events.ask(session, runtime, TextArrived(phone_key, sms.body))
        if claimed is not None:
            return _reply(session, runtime, SmsReply(claimed), phone_key)

    attachments = [AttachmentIn(kind="media", url=url, content_type=ctype) for url, ctype in sms.media]
    if not body.strip() and not attachments:
        return _reply(session, runtime, SmsReply(t("sms.empty", language)), phone_key)

    thread = services.open_sms_thread(session, runtime, phone_key) if phone and not fresh else None
    if thread is not None and _after_new_mark(session, phone_key, thread):
        thread = None  # the citizen said 新投诉/NEW after the thread's last message
    previous: Ticket | None = None
    if thread is not None and body.strip() and (why := _new_matter(session, runtime, thread, body)):
        previous, thread = thread, None
        log.info("text from %s opens a new ticket: its %s differs from ticket %s", "citizen", why, previous.number)
    if thread is not None and services.find_by_source(session, Channel.SMS, sms.message_sid) is None:
        services.add_citizen_message(
            session, runtime, thread, body, channel=Channel.SMS, attachments=attachments, source_ref=sms.message_sid
        )
        return _reply(
            session,
            runtime,
            SmsReply(t("sms.appended", thread.language, number=thread.number), thread),
            phone_key,
        )

    ticket = services.submit_complaint(
        session,
        runtime,
        Complaint(
            channel=Channel.SMS,
            text=body,
            phone=sms.from_number,
            language=language,
            source_ref=sms.message_sid,
            attachments=attachments,
            received_at=now,
            source_is_new=True,  # this MessageSid's event is processed once, under its lock
            acknowledge_by_sms=previous is None,
        ),
    )
    if previous is not None:
        # Told apart from the open ticket: the acknowledgement says so, and names both numbers.
        outbox.queue_sms(
            session,
            runtime,
            to=phone_key,
            body=t("sms.ack_new_matter", ticket.language, number=ticket.number, previous=previous.number),
            kind="acknowledgement",
            priority=Priority.ACKNOWLEDGEMENT,
            ticket_id=ticket.id,
        )
        session.add(
            TicketEvent(
                ticket=ticket,
                at=now,
                kind="acknowledged",
                data={"via": "sms-outbox", "new_matter_beside": previous.number},
            )
        )
    return SmsReply(t("sms.ack", ticket.language, number=ticket.number), ticket, created=True)


FOLLOW_UP = re.compile(r"^\s*(?:补充|再补充|另外补充|追加|又|还是|ADD\b|ALSO\b|UPDATE\b)", re.IGNORECASE)


def _new_matter(session: Session, runtime: Runtime, thread: Ticket, body: str) -> str | None:
    """Is this text clearly about another matter than the open ticket? The rule, explainable to a
    citizen and a dispatcher: the directory's keywords put the text in another broad category than
    the ticket's, or it names another district than the ticket's. A text naming neither (补充, 还没修)
    is a follow-up, and so is a text that says it is one (补充…, "add:")."""
    if FOLLOW_UP.match(body):
        return None
    new = runtime.events.ask(session, runtime, MatterAsked(body))
    if not isinstance(new, Matter):
        return None
    old = runtime.events.ask(session, runtime, MatterAsked(thread.text or "", thread.category_id, thread.area_id))
    return new.differs_from(old) if isinstance(old, Matter) else None


def _mark_new_complaint(session: Session, runtime: Runtime, phone: str) -> None:
    row = session.get(SmsConversation, phone) or SmsConversation(phone=phone)
    row.new_since = runtime.now()
    row.updated_at = runtime.now()
    session.add(row)


def _after_new_mark(session: Session, phone: str, thread: Ticket) -> bool:
    row = session.get(SmsConversation, phone)
    if row is None or row.new_since is None or thread.last_citizen_message_at is None:
        return False
    return thread.last_citizen_message_at < row.new_since


def _reply(session: Session, runtime: Runtime, reply: SmsReply, to: str) -> SmsReply:
    if reply.text:
        outbox.queue_sms(
            session,
            runtime,
            to=to,
            body=reply.text,
            kind="reply",
            priority=Priority.REPLY,
            ticket_id=reply.ticket.id if reply.ticket else None,
        )
    return reply


def citizen_language(session: Session, phone: str, default: str) -> str:
    """The language of the citizen's latest ticket, else ``default``."""
    known = session.scalar(
        select(Ticket.language).where(Ticket.citizen_phone == phone).order_by(Ticket.id.desc()).limit(1)
    )
    return known or default


def _run_command(session: Session, runtime: Runtime, command: sms_commands.Command, phone: str) -> SmsReply:
    # START, STOP and HELP are Twilio's English keywords, texted by everyone (our Chinese texts
    # mention START): answer in the citizen's language (their latest ticket's); a Chinese keyword
    # is answered in Chinese, STATUS and NEW in English.
    own_language = command.ascii and command.kind in ("start", "stop", "help")
    language = citizen_language(session, phone, command.language) if own_language else command.language
    if command.kind == "stop":
        row = session.get(OptOut, phone) or OptOut(phone=phone)
        row.opted_out = True
        row.updated_at = runtime.now()
        session.add(row)
        return SmsReply(t("sms.stopped", language))
    if command.kind == "start":
        existing = session.get(OptOut, phone)
        if existing is not None:
            existing.opted_out = False
            existing.updated_at = runtime.now()
        return SmsReply(t("sms.started", language))
    if command.kind == "help":
        return SmsReply(t("sms.help", language))
    if command.kind == "new":  # alone: the next text opens a new ticket
        _mark_new_complaint(session, runtime, phone)
        return SmsReply(t("sms.new_ready", language))
    if command.kind == "list":
        return SmsReply(_open_tickets_text(session, runtime, phone, language))
    number = command.argument or ""
    ticket = services.find_by_number(session, number)
    if ticket is None or ticket.citizen_phone != phone:
        # Only the citizen who filed a ticket learns its state by SMS.
        return SmsReply(t("sms.status_not_found", language, number=number))
    return SmsReply(progress.sms_text(progress.progress(session, ticket), language, runtime.settings.tz), ticket)


LIST_LIMIT = 5


def _open_tickets_text(session: Session, runtime: Runtime, phone: str, language: str) -> str:
    """``查询`` alone: the caller's open tickets (newest first, at most five), each with its state
    and deadline; a merged ticket counts while the ticket it joined is open."""
    rows = session.scalars(
        select(Ticket)
        .where(Ticket.citizen_phone == phone, Ticket.state.in_((*TicketState.OPEN, TicketState.MERGED)))
        .order_by(Ticket.id.desc())
        .limit(50)
    ).all()
    items = []
    for ticket in rows:
        p = progress.progress(session, ticket)
        if p.followed.state not in TicketState.OPEN:
            continue
        state = t(f"state.{p.followed.state}", language)
        if p.due_at is not None:
            due = p.due_at.astimezone(runtime.settings.tz).strftime("%m-%d %H:%M")
            items.append(t("sms.list_item_due", language, number=ticket.number, state=state, due=due))
        else:
            items.append(t("sms.list_item", language, number=ticket.number, state=state))
    if not items:
        return t("sms.list_none", language)
    shown = items[:LIST_LIMIT]
    more = len(items) - len(shown)
    text = t("sms.list", language, count=len(items), items=t("sms.list_separator", language).join(shown))
    if more:
        text += t("sms.list_more", language, count=more)
    return text


# --- Voice ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CallInput:
    call_sid: str
    from_number: str
    language: str


def ticket_from_speech(
    session: Session, runtime: Runtime, call: CallInput, speech: str, confidence: float | None
) -> Ticket:
    """The caller described the problem: open (or find) the call's ticket."""
    low = confidence is not None and confidence < runtime.settings.speech_min_confidence
    existing = services.find_by_source(session, Channel.PHONE, call.call_sid)
    if existing is not None:
        if speech and speech not in (existing.text or ""):
            services.add_citizen_message(session, runtime, existing, speech, channel=Channel.PHONE)
        return existing
    return services.submit_complaint(
        session,
        runtime,
        Complaint(
            channel=Channel.PHONE,
            text=speech,
            phone=call.from_number,
            language=call.language,
            source_ref=call.call_sid,
            needs_review=low or not speech.strip(),
            review_reason="low speech confidence" if low else ("no speech recognised" if not speech.strip() else None),
        ),
    )


def ticket_for_call(session: Session, call_sid: str) -> Ticket | None:
    return services.find_by_source(session, Channel.PHONE, call_sid)


def attach_recording(
    session: Session, runtime: Runtime, call: CallInput, *, recording_sid: str | None, url: str, duration: int | None
) -> Ticket | None:
    """Keep a call's recording as evidence. A call with a recording and no ticket yet (silence,
    garbled speech, a hang-up before the action ran) still becomes a ticket, marked for review."""
    if not url or (duration is not None and duration <= 0):
        return ticket_for_call(session, call.call_sid)
    ticket = ticket_for_call(session, call.call_sid)
    item = AttachmentIn(
        kind="recording",
        url=url,
        content_type="audio/x-wav",
        external_sid=recording_sid or None,
        duration_seconds=duration,
    )
    if ticket is None:
        return services.submit_complaint(
            session,
            runtime,
            Complaint(
                channel=Channel.PHONE,
                text="",
                phone=call.from_number,
                language=call.language,
                source_ref=call.call_sid,
                attachments=[item],
                needs_review=True,
                review_reason="recording only: listen to it",
            ),
        )
    services.add_attachment(session, ticket, item, runtime.now(), runtime)
    if not (ticket.text or "").strip():
        services.flag_for_review(session, ticket, "recording only: listen to it", runtime.now())
    return ticket
