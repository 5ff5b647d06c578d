"""The edge and the database agree: what a webhook answers 200 to can be stored and processed.

Each case is a signed request Twilio could (or an attacker with a leaked token would) send; the
answer is either a clear 4xx with nothing stored, or a 200 whose event becomes a ticket.
"""

from sqlalchemy import func, select

from hotline_core.models import Attachment, InboundEvent, Ticket
from simulator.twilio_requests import call_form, sign, sms_form

CITIZEN = "+8613800138000"
HOTLINE = "+8612345000000"


def count(runtime, model):
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def events(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(InboundEvent).order_by(InboundEvent.id)).all()


def tickets(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Ticket).order_by(Ticket.id)).all()


def post(client, settings, path, form, **headers):
    headers.setdefault("X-Twilio-Signature", sign(settings.webhook_auth_token, f"http://localhost{path}", form))
    return client.post(path, data=form, headers=headers)


def test_a_nul_byte_in_a_text_is_stripped_and_the_text_becomes_a_ticket(client, settings, runtime, drain):
    response = post(client, settings, "/twilio/sms", sms_form(CITIZEN, HOTLINE, "路灯\x00坏了"))
    assert response.status_code == 200
    drain()
    [ticket] = tickets(runtime)
    assert ticket.text == "路灯坏了"
    assert events(runtime)[0].error is None


def test_an_over_long_media_content_type_is_truncated_and_flagged(client, settings, runtime, drain):
    form = sms_form(CITIZEN, HOTLINE, "窗口推诿", media=[("https://api.twilio.com/m/1", "image/" + "x" * 300)])
    assert post(client, settings, "/twilio/sms", form).status_code == 200
    drain()
    assert len(tickets(runtime)) == 1
    with runtime.db.session() as s:
        [attachment] = s.scalars(select(Attachment)).all()
    assert len(attachment.content_type) == 100
    assert "MediaContentType0" in events(runtime)[0].headers["truncated"]


def test_an_unusable_media_url_drops_the_attachment_but_keeps_the_complaint(client, settings, runtime, drain):
    form = sms_form(
        CITIZEN,
        HOTLINE,
        "窗口推诿",
        media=[("https://api.twilio.com/" + "m" * 1500, "image/jpeg"), ("https://api.twilio.com/ok", "image/png")],
    )
    assert post(client, settings, "/twilio/sms", form).status_code == 200
    drain()
    [ticket] = tickets(runtime)
    assert ticket.text == "窗口推诿"
    with runtime.db.session() as s:
        urls = s.scalars(select(Attachment.url)).all()
    assert urls == ["https://api.twilio.com/ok"]
    assert "MediaUrl0" in events(runtime)[0].headers["dropped"]


def test_an_over_long_message_sid_gets_400_and_stores_nothing(client, settings, runtime):
    form = sms_form(CITIZEN, HOTLINE, "窗口推诿", message_sid="SM" + "a" * 300)
    response = post(client, settings, "/twilio/sms", form)
    assert response.status_code == 400
    assert b"MessageSid" in response.data
    assert count(runtime, InboundEvent) == 0


def test_an_over_long_idempotency_token_is_ignored_and_the_text_is_kept(client, settings, runtime, drain):
    form = sms_form(CITIZEN, HOTLINE, "窗口推诿")
    response = post(client, settings, "/twilio/sms", form, **{"I-Twilio-Idempotency-Token": "t" * 5000})
    assert response.status_code == 200
    drain()
    assert len(tickets(runtime)) == 1
    assert events(runtime)[0].idempotency_token is None


def test_an_over_long_url_is_kept_truncated(client, settings, runtime, drain):
    form = sms_form(CITIZEN, HOTLINE, "窗口推诿")
    path = "/twilio/sms?pad=" + "p" * 3000
    assert post(client, settings, path, form).status_code == 200
    drain()
    assert len(tickets(runtime)) == 1
    assert len(events(runtime)[0].url) <= 2000


def test_an_over_long_call_sid_gets_400_and_stores_nothing(client, settings, runtime):
    form = call_form("CA" + "b" * 100, CITIZEN, HOTLINE)
    response = post(client, settings, "/twilio/voice", form)
    assert response.status_code == 400
    assert b"CallSid" in response.data
    assert count(runtime, InboundEvent) == 0


def test_a_recording_duration_beyond_32_bits_gets_400(client, settings, runtime):
    form = call_form(
        "CA" + "c" * 32,
        CITIZEN,
        HOTLINE,
        RecordingSid="RE" + "d" * 32,
        RecordingUrl="https://api.twilio.com/r/1",
        RecordingDuration=str(2**40),
    )
    response = post(client, settings, "/twilio/voice/recorded?lang=zh", form)
    assert response.status_code == 400
    assert b"RecordingDuration" in response.data
    assert count(runtime, InboundEvent) == 0


def test_a_path_id_beyond_32_bits_is_refused_before_anything_is_stored(client, settings, runtime):
    form = call_form("CA" + "e" * 32, CITIZEN, HOTLINE, Digits="1")
    response = post(client, settings, f"/twilio/survey/{2**40}/solved", form)
    assert response.status_code == 404  # route ids are capped at 2**31 - 1: no such survey can exist
    assert count(runtime, InboundEvent) == 0


def test_an_unknown_message_status_gets_400_instead_of_failing_for_ever(client, settings, runtime):
    form = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "exploded", "AccountSid": "AC" + "0" * 32}
    response = post(client, settings, "/twilio/sms/status", form)
    assert response.status_code == 400
    assert count(runtime, InboundEvent) == 0


def test_a_delivery_report_with_an_inbound_status_gets_400(client, settings, runtime):
    form = {"MessageSid": "SM" + "f" * 32, "MessageStatus": "received", "AccountSid": "AC" + "0" * 32}
    assert post(client, settings, "/twilio/sms/status", form).status_code == 400
    assert count(runtime, InboundEvent) == 0


def test_a_non_finite_speech_confidence_is_dropped_and_the_call_becomes_a_ticket(client, settings, runtime):
    form = call_form("CA" + "9" * 32, CITIZEN, HOTLINE, SpeechResult="窗口态度很差", Confidence="nan")
    response = post(client, settings, "/twilio/voice/gather?lang=zh", form)
    assert response.status_code == 200
    [ticket] = tickets(runtime)
    assert ticket.text == "窗口态度很差"
    assert events(runtime)[0].error is None
