"""What the hotline answers a texting or calling citizen, independent of TwiML.

The webhooks turn Twilio's form fields into the small records below, call these functions and
render the result as TwiML. Texts are handled by a job after the webhook has answered, so every
answer to a text goes out by SMS through the outbox (acknowledgements first).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from hotline_core import outbox, phones
from hotline_core.events import TextArrived
from hotline_core.i18n import guess_language, t
from hotline_core.models import OptOut, Ticket
from hotline_core.models.messaging import Priority
from hotline_core.models.ticket import Channel
from hotline_core.runtime import Runtime
from intake import services, sms_commands
from intake.services import AttachmentIn, Complaint


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

    if command is not None:
        reply = _run_command(session, runtime, command, phone_key)
        if reply.text:
            # The confirmation of STOP itself is the one text an opted-out number still gets.
            kind = outbox.OPT_OUT_CONFIRMATION if command.kind == "stop" else "command_reply"
            outbox.queue_sms(session, runtime, to=phone_key, body=reply.text, kind=kind, priority=Priority.REPLY)
        return reply

    claimed = runtime.events.ask(session, runtime, TextArrived(phone_key, sms.body))
    if claimed is not None:
        return _reply(session, runtime, SmsReply(claimed), phone_key)

    attachments = [AttachmentIn(kind="media", url=url, content_type=ctype) for url, ctype in sms.media]
    if not sms.body.strip() and not attachments:
        return _reply(session, runtime, SmsReply(t("sms.empty", language)), phone_key)

    thread = services.open_sms_thread(session, runtime, phone_key) if phone else None
    if thread is not None and services.find_by_source(session, Channel.SMS, sms.message_sid) is None:
        services.add_citizen_message(
            session, runtime, thread, sms.body, channel=Channel.SMS, attachments=attachments, source_ref=sms.message_sid
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
            text=sms.body,
            phone=sms.from_number,
            language=language,
            source_ref=sms.message_sid,
            attachments=attachments,
            received_at=now,
            source_is_new=True,  # this MessageSid's event is processed once, under its lock
        ),
    )
    return SmsReply(t("sms.ack", ticket.language, number=ticket.number), ticket, created=True)


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


def _run_command(session: Session, runtime: Runtime, command: sms_commands.Command, phone: str) -> SmsReply:
    if command.kind == "stop":
        row = session.get(OptOut, phone) or OptOut(phone=phone)
        row.opted_out = True
        row.updated_at = runtime.now()
        session.add(row)
        return SmsReply(t("sms.stopped", command.language))
    if command.kind == "start":
        existing = session.get(OptOut, phone)
        if existing is not None:
            existing.opted_out = False
            existing.updated_at = runtime.now()
        return SmsReply(t("sms.started", command.language))
    number = command.argument or ""
    ticket = services.find_by_number(session, number)
    if ticket is None or ticket.citizen_phone != phone:
        # Only the citizen who filed a ticket learns its state by SMS.
        return SmsReply(t("sms.status_not_found", command.language, number=number))
    state = t(f"state.{ticket.state}", command.language)
    return SmsReply(t("sms.status", command.language, number=number, state=state), ticket)


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
