"""Turn stored Twilio requests into intake calls and TwiML replies.

Each processor receives the stored :class:`InboundEvent` (its form fields exactly as Twilio sent
them). Calls are processed in the webhook request and, if that failed, again from a sweep
(``deferred``); texts always by a job.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from hotline_core import outbox
from hotline_core.events import EventBus, InboundDue, inbound_topic
from hotline_core.i18n import spoken_number, t
from hotline_core.models import InboundEvent, MysteryCall, Survey, Ticket, User
from hotline_core.runtime import Runtime
from intake import conversation
from mystery_calls import services as mystery
from responders import services as portal
from responders import survey as surveys
from routing import operator
from webhooks import twiml

# kind -> processor(session, runtime, event, deferred) -> response body (TwiML) or None. Filled by
# the decorator below and subscribed to the event bus by :func:`subscribe` (hotline_app.bootstrap).
Processor = Callable[[Session, Runtime, InboundEvent, bool], str | None]
PROCESSORS: dict[str, Processor] = {}


def processor(kind: str) -> Callable[[Processor], Processor]:
    def register(func: Processor) -> Processor:
        PROCESSORS[kind] = func
        return func

    return register


def subscribe(bus: EventBus) -> None:
    """Each stored webhook kind is processed by its processor (looked up when it runs)."""
    for kind in PROCESSORS:
        bus.subscribe(inbound_topic(kind), _process)


def _process(session: Session, runtime: Runtime, due: InboundDue) -> str | None:
    return PROCESSORS[due.event.kind](session, runtime, due.event, due.deferred)


def _language(event: InboundEvent, runtime: Runtime) -> str:
    lang = event.headers.get("lang") or runtime.settings.default_language
    return lang if lang in twiml.SAY else runtime.settings.default_language


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except ValueError:
        return None


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


def _paths(runtime: Runtime, language: str) -> tuple[str, str]:
    return (f"/twilio/voice/recorded?lang={language}", f"/twilio/voice/recording-status?lang={language}")


@processor("sms")
def process_sms(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    form = event.form
    count = _int(form.get("NumMedia")) or 0
    media = [
        (form[f"MediaUrl{i}"], form.get(f"MediaContentType{i}", ""))
        for i in range(min(count, 10))
        if form.get(f"MediaUrl{i}")
    ]
    reply = conversation.handle_sms(
        session,
        runtime,
        conversation.InboundSms(
            message_sid=form["MessageSid"],
            from_number=form["From"],
            body=form.get("Body", ""),
            media=media,
        ),
    )
    if reply.ticket is not None:
        event.ticket_id = reply.ticket.id
    return twiml.message(None)  # the reply went to the outbox


@processor("sms_status")
def process_sms_status(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    outbox.record_status_callback(session, event.form, runtime.now())
    return ""


def _operator_number(session: Session, runtime: Runtime) -> str | None:
    """The number pressing 0 reaches now (directory ``settings.operator``), or None outside staffed hours."""
    return operator.load(session).number_now(runtime.now().astimezone(runtime.settings.tz))


@processor("voice_incoming")
def process_incoming_call(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    language = _language(event, runtime)
    staffed = _operator_number(session, runtime) is not None
    return twiml.greeting(language, f"/twilio/voice/gather?lang={language}", operator=staffed)


@processor("voice_gather")
def process_gather(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    form = event.form
    language = _language(event, runtime)
    if form.get("Digits") == "1" and language != "en":
        staffed = _operator_number(session, runtime) is not None
        return twiml.ask_again_in("en", "/twilio/voice/gather?lang=en", operator=staffed)
    if form.get("Digits") == "0" and not deferred:
        number = _operator_number(session, runtime)
        if number:  # a person takes the call; outside staffed hours the complaint is taken as always
            return twiml.to_operator(language, number, f"/twilio/voice/operator?lang={language}")
    speech = (form.get("SpeechResult") or "").strip()
    record_action, recording_callback = _paths(runtime, language)
    if not speech:
        return twiml.record_instead(language, record_action, recording_callback)
    call = conversation.CallInput(form["CallSid"], form.get("From", ""), language)
    ticket = conversation.ticket_from_speech(session, runtime, call, speech, _float(form.get("Confidence")))
    event.ticket_id = ticket.id
    return twiml.ticket_then_record(language, ticket.number or "", record_action, recording_callback)


@processor("voice_operator")
def process_operator_done(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    """The operator's line ended: after a conversation, goodbye; if nobody answered, take the complaint."""
    form = event.form
    language = _language(event, runtime)
    if form.get("DialCallStatus") in ("completed", "answered"):
        return twiml.hang_up()
    record_action, recording_callback = _paths(runtime, language)
    return twiml.record_instead(language, record_action, recording_callback)


@processor("voice_recorded")
def process_recorded(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    form = event.form
    language = _language(event, runtime)
    call = conversation.CallInput(form["CallSid"], form.get("From", ""), language)
    ticket = conversation.attach_recording(
        session,
        runtime,
        call,
        recording_sid=form.get("RecordingSid"),
        url=form.get("RecordingUrl", ""),
        duration=_int(form.get("RecordingDuration")),
    )
    if ticket is not None:
        event.ticket_id = ticket.id
    return twiml.goodbye(language, ticket.number if ticket else None)


@processor("recording_status")
def process_recording_status(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    form = event.form
    if form.get("RecordingStatus", "completed") != "completed":
        return ""
    language = _language(event, runtime)
    call = conversation.CallInput(form["CallSid"], form.get("From", ""), language)
    ticket = conversation.attach_recording(
        session,
        runtime,
        call,
        recording_sid=form.get("RecordingSid"),
        url=form.get("RecordingUrl", ""),
        duration=_int(form.get("RecordingDuration")),
    )
    if ticket is not None:
        event.ticket_id = ticket.id
    return ""


@processor("call_status")
def process_call_status(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    return ""  # kept as raw events; mystery calls read their own call progress


def _survey(session: Session, event: InboundEvent) -> tuple[Survey, Ticket] | None:
    survey = session.get(Survey, int(event.headers.get("survey_id", 0)))
    ticket = session.get(Ticket, survey.ticket_id) if survey else None
    return (survey, ticket) if survey and ticket else None


@processor("survey_voice")
def process_survey_call(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    found = _survey(session, event)
    if found is None:
        return twiml.empty_voice()
    survey, ticket = found
    if event.form.get("AnsweredBy", "human") not in ("human", "unknown"):
        survey.channel = "sms"  # an answering machine: ask by text instead
        outbox.queue_sms(
            session,
            runtime,
            to=ticket.citizen_phone or "",
            body=t("survey.ask", survey.language, number=ticket.number),
            kind="survey",
            ticket_id=ticket.id,
        )
        return twiml.say_and_hang_up(survey.language, t("survey.voice_thanks", survey.language))
    question = t("survey.voice_solved", survey.language, spoken=spoken_number(ticket.number or ""))
    return twiml.survey_question(survey.language, question, f"/twilio/survey/{survey.id}/solved")


@processor("survey_solved")
def process_survey_solved(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    found = _survey(session, event)
    if found is None:
        return twiml.empty_voice()
    survey, _ticket = found
    digit = event.form.get("Digits", "")
    if digit not in ("1", "2") or survey.state != "pending":
        return twiml.say_and_hang_up(survey.language, t("survey.voice_thanks", survey.language))
    surveys.record_answer(session, runtime, survey, solved=digit == "1", rating=None, raw=f"voice:{digit}")
    if survey.state != "pending":
        return twiml.say_and_hang_up(survey.language, t("survey.voice_thanks", survey.language))
    return twiml.survey_question(
        survey.language, t("survey.voice_rating", survey.language), f"/twilio/survey/{survey.id}/rating"
    )


@processor("survey_rating")
def process_survey_rating(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    found = _survey(session, event)
    if found is None:
        return twiml.empty_voice()
    survey, _ticket = found
    digit = event.form.get("Digits", "")
    if digit in ("1", "2", "3", "4", "5") and survey.state == "pending":
        surveys.record_answer(session, runtime, survey, solved=None, rating=int(digit), raw=f"voice:{digit}")
    return twiml.say_and_hang_up(survey.language, t("survey.voice_thanks", survey.language))


@processor("callback_twiml")
def process_callback(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    found = portal.callback_target(session, event.headers.get("token", ""))
    if found is None or not found[1].citizen_phone:
        return twiml.say_and_hang_up(runtime.settings.default_language, t("voice.nothing_heard", "zh"))
    call, ticket = found
    call.status = "bridging"
    return twiml.bridge(runtime.settings.default_language, ticket.citizen_phone or "", runtime.settings.hotline_number)


@processor("callback_status")
def process_callback_status(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    found = portal.callback_target(session, event.headers.get("token", ""))
    if found is not None:
        found[0].status = event.form.get("CallStatus", found[0].status)[:20]
    return ""


def _mystery_call(session: Session, event: InboundEvent) -> MysteryCall | None:
    call = session.get(MysteryCall, int(event.headers.get("call_id", 0)))
    if call is None or (call.call_sid and event.form.get("CallSid") and call.call_sid != event.form["CallSid"]):
        return None
    return call


@processor("mystery_answer")
def process_mystery_answer(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    """The audited hotline answered: bridge the auditor in; an answering machine is not bridged."""
    call = _mystery_call(session, event)
    auditor = session.get(User, call.auditor_id) if call else None
    if call is None or auditor is None or not auditor.phone:
        return twiml.say_and_hang_up(runtime.settings.default_language, t("voice.nothing_heard", "zh"))
    if event.form.get("AnsweredBy", "human") not in ("human", "unknown"):
        return twiml.hang_up()
    return twiml.connect(auditor.phone, call.caller_number)


@processor("mystery_status")
def process_mystery_status(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    call = _mystery_call(session, event)
    if call is not None:
        mystery.record_progress(session, runtime, call, event.form)
    return ""


@processor("mystery_recording")
def process_mystery_recording(session: Session, runtime: Runtime, event: InboundEvent, deferred: bool) -> str:
    call = _mystery_call(session, event)
    if call is not None:
        mystery.record_recording(session, call, event.form, runtime=runtime)
    return ""
