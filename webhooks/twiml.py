"""TwiML for the hotline's voice and SMS conversations, in Mandarin and English."""

from __future__ import annotations

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from hotline_core.i18n import spoken_number, t

SAY = {
    "zh": {"language": "cmn-CN", "voice": "Polly.Zhiyu-Neural"},
    "en": {"language": "en-US", "voice": "Polly.Joanna-Neural"},
}
SPEECH_LANGUAGE = {"zh": "cmn-Hans-CN", "en": "en-US"}


def message(text: str | None) -> str:
    response = MessagingResponse()
    if text:
        response.message(text)
    return str(response)


def empty_voice() -> str:
    return str(VoiceResponse())


def greeting(language: str, action: str, operator: bool = False) -> str:
    """One prompt, no menu tree: speak now (Mandarin by default) or press 1 for English; during the
    operator's staffed hours, press 0 for a person."""
    response = VoiceResponse()
    gather = Gather(
        input="dtmf speech",
        num_digits=1,
        language=SPEECH_LANGUAGE[language],
        speech_timeout="auto",
        timeout=6,
        action=action,
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(t("voice.greeting", language), **SAY[language])
    if operator:
        gather.say(t("voice.press_zero", language), **SAY[language])
    response.append(gather)
    return str(response)


def ask_again_in(language: str, action: str, operator: bool = False) -> str:
    response = VoiceResponse()
    gather = Gather(
        input="dtmf speech" if operator else "speech",
        num_digits=1 if operator else None,
        language=SPEECH_LANGUAGE[language],
        speech_timeout="auto",
        timeout=6,
        action=action,
        method="POST",
        action_on_empty_result=True,
    )
    gather.say(t("voice.greeting", language), **SAY[language])
    if operator:
        gather.say(t("voice.press_zero", language), **SAY[language])
    response.append(gather)
    return str(response)


def to_operator(language: str, number: str, action: str) -> str:
    """Put the caller through to the centre's operator; if nobody answers, ``action`` takes the complaint."""
    response = VoiceResponse()
    response.say(t("voice.connecting_operator", language), **SAY[language])
    dial = response.dial(action=action, method="POST", timeout=20)
    dial.number(number)
    return str(response)


def ticket_then_record(language: str, number: str, record_action: str, recording_callback: str) -> str:
    """Say the ticket number at once, then record anything more as evidence."""
    spoken = spoken_number(number)
    response = VoiceResponse()
    response.say(t("voice.ticket_number", language, spoken=spoken), **SAY[language])
    response.say(t("voice.record_more", language), **SAY[language])
    response.record(
        action=record_action,
        method="POST",
        max_length=120,
        finish_on_key="#",
        play_beep=True,
        timeout=5,
        recording_status_callback=recording_callback,
        recording_status_callback_method="POST",
    )
    # Reached only when nothing was recorded (Twilio skips the action for an empty recording).
    response.say(t("voice.thanks", language, spoken=spoken), **SAY[language])
    response.hangup()
    return str(response)


def record_instead(language: str, record_action: str, recording_callback: str) -> str:
    response = VoiceResponse()
    response.say(t("voice.record_instead", language), **SAY[language])
    response.record(
        action=record_action,
        method="POST",
        max_length=180,
        finish_on_key="#",
        play_beep=True,
        timeout=6,
        recording_status_callback=recording_callback,
        recording_status_callback_method="POST",
    )
    response.say(t("voice.nothing_heard", language), **SAY[language])
    response.hangup()
    return str(response)


def goodbye(language: str, number: str | None) -> str:
    response = VoiceResponse()
    if number:
        response.say(t("voice.thanks", language, spoken=spoken_number(number)), **SAY[language])
    else:
        response.say(t("voice.nothing_heard", language), **SAY[language])
    response.hangup()
    return str(response)


def survey_question(language: str, text: str, action: str) -> str:
    response = VoiceResponse()
    gather = Gather(input="dtmf", num_digits=1, timeout=8, action=action, method="POST")
    gather.say(text, **SAY[language])
    response.append(gather)
    response.say(t("survey.voice_thanks", language), **SAY[language])
    response.hangup()
    return str(response)


def say_and_hang_up(language: str, text: str) -> str:
    response = VoiceResponse()
    response.say(text, **SAY[language])
    response.hangup()
    return str(response)


def bridge(language: str, citizen: str, caller_id: str) -> str:
    """Connect the staff member (who answered) to the citizen, showing only the hotline's number."""
    response = VoiceResponse()
    response.say(t("callback.connecting", language), **SAY[language])
    dial = response.dial(caller_id=caller_id, timeout=30)
    dial.number(citizen)
    return str(response)


def connect(number: str, caller_id: str) -> str:
    """Bridge a second party in without any announcement (a mystery call must sound ordinary)."""
    response = VoiceResponse()
    dial = response.dial(caller_id=caller_id, timeout=30)
    dial.number(number)
    return str(response)


def hang_up() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)
