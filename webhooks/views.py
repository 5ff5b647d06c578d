"""The Twilio webhook endpoints. Each one: check, store the raw request, process, answer TwiML.

Texts are processed by a job (the reply goes by SMS); calls and callbacks in the request.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, request
from werkzeug.exceptions import HTTPException

from intake import inbound
from webhooks import limits, processors, twiml  # noqa: F401  (processors registers the handlers)
from webhooks.security import cleaned, public_url, require, runtime, twilio_webhook, xml

bp = Blueprint("webhooks", __name__, url_prefix="/twilio")

EMPTY_MESSAGING_RESPONSE = twiml.message(None)

# If processing fails inside the request, the raw event is already stored; the caller still gets
# an answer and a sweep finishes the work (and texts the ticket number).
FALLBACK = {
    "voice_incoming": lambda lang: twiml.greeting(lang, f"/twilio/voice/gather?lang={lang}"),
    "voice_gather": lambda lang: twiml.goodbye(lang, None),
    "voice_recorded": lambda lang: twiml.goodbye(lang, None),
    "voice_operator": lambda lang: twiml.goodbye(lang, None),
}


def _stored(kind: str, dedupe_key: str, headers: dict[str, Any]) -> dict[str, Any]:
    """The raw event as it is stored: the cleaned form, its flags, every value within its column."""
    if len(dedupe_key) > limits.DEDUPE_KEY_MAX_CHARACTERS:
        abort(400, description="the request's identifiers are too long")
    form = cleaned()
    return {
        "kind": kind,
        "dedupe_key": dedupe_key,
        "url": limits.stored_url(public_url()),
        "form": form.form,
        "headers": {"signature": request.headers.get("X-Twilio-Signature", "")[:200], **headers, **form.flags()},
        "idempotency_token": limits.idempotency_token(request.headers.get("I-Twilio-Idempotency-Token")),
    }


def _handle(kind: str, dedupe_key: str, *, empty_status: int = 200, **extra: str) -> Response:
    rt = runtime()
    language = request.args.get("lang", rt.settings.default_language)
    if language not in twiml.SAY:
        language = rt.settings.default_language
    received = inbound.receive(rt, **_stored(kind, dedupe_key, {"lang": language, **extra}))
    if received.processed:
        body = received.response or ""
    else:
        ok, processed_body = inbound.process(rt, received.event_id)
        body = processed_body or ""
        if not ok:
            body = FALLBACK.get(kind, lambda lang: "")(language)
    if not body:
        return Response(status=empty_status)
    return xml(body)


def _accept(kind: str, dedupe_key: str) -> Response:
    """Store the request and answer at once; a drain job processes it (replies go by SMS)."""
    inbound.accept(runtime(), **_stored(kind, dedupe_key, {}))
    return xml(EMPTY_MESSAGING_RESPONSE)


@bp.post("/sms")
@twilio_webhook
def sms() -> Response:
    """A citizen's text: a job opens the ticket (or runs the command) and texts the answer."""
    form = require("MessageSid", "From")
    return _accept("sms", f"sms:{form['MessageSid']}")


@bp.post("/sms/status")
@twilio_webhook
def sms_status() -> Response:
    """Twilio's delivery report for a message we sent (several per message: accepted first too)."""
    form = require("MessageSid", "MessageStatus")
    return _accept("sms_status", f"sms_status:{form['MessageSid']}:{form['MessageStatus']}")


@bp.post("/voice")
@twilio_webhook
def voice() -> Response:
    form = require("CallSid", "From")
    return _handle("voice_incoming", f"voice:{form['CallSid']}:incoming")


@bp.post("/voice/gather")
@twilio_webhook
def voice_gather() -> Response:
    form = require("CallSid")
    lang = request.args.get("lang", "")
    step = "digits" if form.get("Digits") else ("speech" if form.get("SpeechResult") else "empty")
    return _handle("voice_gather", f"voice:{form['CallSid']}:gather:{lang}:{step}")


@bp.post("/voice/operator")
@twilio_webhook
def voice_operator() -> Response:
    """The operator's ``<Dial>`` ended (``DialCallStatus``): goodbye, or take the complaint if nobody answered."""
    form = require("CallSid")
    return _handle("voice_operator", f"voice:{form['CallSid']}:operator")


@bp.post("/voice/recorded")
@twilio_webhook
def voice_recorded() -> Response:
    form = require("CallSid")
    return _handle(
        "voice_recorded", f"voice:{form['CallSid']}:recorded:{form.get('RecordingSid') or form.get('RecordingUrl', '')}"
    )


@bp.post("/voice/recording-status")
@twilio_webhook
def recording_status() -> Response:
    form = require("CallSid", "RecordingSid")
    status = form.get("RecordingStatus", "completed")
    return _handle("recording_status", f"recording:{form['RecordingSid']}:{status}")


@bp.post("/voice/status")
@twilio_webhook
def call_status() -> Response:
    form = require("CallSid", "CallStatus")
    seq = form.get("SequenceNumber") or form["CallStatus"]
    return _handle("call_status", f"call_status:{form['CallSid']}:{seq}")


@bp.post("/survey/<int:survey_id>/voice")
@twilio_webhook
def survey_voice(survey_id: int) -> Response:
    form = require("CallSid")
    return _handle("survey_voice", f"survey:{survey_id}:{form['CallSid']}:voice", survey_id=str(survey_id))


@bp.post("/survey/<int:survey_id>/solved")
@twilio_webhook
def survey_solved(survey_id: int) -> Response:
    form = require("CallSid")
    return _handle("survey_solved", f"survey:{survey_id}:{form['CallSid']}:solved", survey_id=str(survey_id))


@bp.post("/survey/<int:survey_id>/rating")
@twilio_webhook
def survey_rating(survey_id: int) -> Response:
    form = require("CallSid")
    return _handle("survey_rating", f"survey:{survey_id}:{form['CallSid']}:rating", survey_id=str(survey_id))


@bp.post("/callback/<token>")
@twilio_webhook
def callback_call(token: str) -> Response:
    form = require("CallSid")
    return _handle("callback_twiml", f"callback:{form['CallSid']}:twiml", token=token[:64])


@bp.post("/callback/<token>/status")
@twilio_webhook
def callback_status(token: str) -> Response:
    form = require("CallSid", "CallStatus")
    seq = form.get("SequenceNumber") or form["CallStatus"]
    return _handle("callback_status", f"callback:{form['CallSid']}:status:{seq}", token=token[:64])


@bp.post("/mystery/<int:call_id>/answer")
@twilio_webhook
def mystery_answer(call_id: int) -> Response:
    form = require("CallSid")
    return _handle("mystery_answer", f"mystery:{form['CallSid']}:answer", call_id=str(call_id))


@bp.post("/mystery/<int:call_id>/status")
@twilio_webhook
def mystery_status(call_id: int) -> Response:
    form = require("CallSid", "CallStatus")
    seq = form.get("SequenceNumber") or form["CallStatus"]
    return _handle(
        "mystery_status", f"mystery:{form['CallSid']}:status:{seq}:{form['CallStatus']}", call_id=str(call_id)
    )


@bp.post("/mystery/<int:call_id>/recording")
@twilio_webhook
def mystery_recording(call_id: int) -> Response:
    form = require("CallSid", "RecordingSid")
    return _handle(
        "mystery_recording", f"mystery:{form['RecordingSid']}:{form.get('RecordingStatus', '')}", call_id=str(call_id)
    )


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    return Response(f"{exc.code} {exc.name}: {exc.description}\n", status=exc.code or 400, mimetype="text/plain")
