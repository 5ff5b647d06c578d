"""A citizen phones the hotline."""

from sqlalchemy import select

from hotline_core.models import Attachment, OutboxMessage, Ticket
from simulator.twilio_requests import ACCOUNT_SID, call_form, sid

CALLER = "+8613900139000"
HOTLINE = "+8612345000000"


def tickets(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Ticket).order_by(Ticket.id)).all()


def test_the_greeting_is_mandarin_first_with_english_on_a_key_press(phone):
    exchange = phone.post("/twilio/voice", call_form(sid("CA"), CALLER, HOTLINE))
    gather = exchange.verb("Gather")
    assert exchange.status == 200
    assert gather.get("input") == "dtmf speech"
    assert gather.get("language") == "cmn-Hans-CN"
    assert gather.get("numDigits") == "1"
    assert gather.get("action") == "/twilio/voice/gather?lang=zh"
    say = gather.find("Say")
    assert say.get("language") == "cmn-CN" and say.get("voice") == "Polly.Zhiyu-Neural"
    assert "For English, press 1" in say.text


def test_pressing_1_switches_to_english_speech(phone):
    call_sid = sid("CA")
    exchange = phone.post(
        "/twilio/voice/gather?lang=zh", call_form(call_sid, CALLER, HOTLINE, "in-progress", Digits="1")
    )
    gather = exchange.verb("Gather")
    assert gather.get("language") == "en-US" and gather.get("input") == "speech"
    assert gather.get("action") == "/twilio/voice/gather?lang=en"


def test_a_spoken_complaint_becomes_a_ticket_and_the_caller_hears_its_number(phone, runtime):
    steps = phone.call(CALLER, speech="政务大厅窗口工作人员态度很差", recording_seconds=0)
    [ticket] = tickets(runtime)
    assert ticket.channel == "phone" and ticket.language == "zh" and ticket.text == "政务大厅窗口工作人员态度很差"
    assert not ticket.needs_review
    year, serial = ticket.number.split("-")
    spoken = f"{' '.join(year)}, {' '.join(serial)}"  # digit by digit: "2 0 2 6, 0 0 0 0 4 2"
    assert steps[-1].says[0] == f"您的投诉已受理，工单号是 {spoken}。再说一遍，工单号是 {spoken}。"


def test_the_complaint_is_also_recorded_as_evidence(phone, runtime):
    steps = phone.call(CALLER, speech="公交司机拒载", recording_seconds=12)
    record = steps[1].verb("Record")
    assert record.get("recordingStatusCallback") == "/twilio/voice/recording-status?lang=zh"
    assert record.get("action") == "/twilio/voice/recorded?lang=zh"
    [ticket] = tickets(runtime)
    with runtime.db.session() as s:
        [recording] = s.scalars(select(Attachment)).all()
    assert recording.ticket_id == ticket.id and recording.kind == "recording"
    assert recording.duration_seconds == 12 and recording.external_sid.startswith("RE")


def test_the_recording_callback_and_the_record_action_keep_one_recording(phone, runtime):
    phone.call(CALLER, speech="公交司机拒载", recording_seconds=12)  # both the action and the status callback
    with runtime.db.session() as s:
        assert len(s.scalars(select(Attachment)).all()) == 1


def test_an_english_call_makes_an_english_ticket(phone, runtime):
    steps = phone.call(CALLER, speech="Nobody answers the permit office phone", english=True)
    [ticket] = tickets(runtime)
    assert ticket.language == "en"
    assert any("Your ticket number is" in s for s in steps[2].says)


def test_a_silent_call_with_a_recording_becomes_a_ticket_for_a_person_to_hear(phone, runtime):
    steps = phone.call(CALLER, speech="", recording_seconds=20)
    assert steps[1].verb("Record") is not None
    [ticket] = tickets(runtime)
    assert ticket.needs_review and "recording" in ticket.review_reason
    assert any("工单号是" in s for s in steps[2].says)


def test_a_silent_call_without_any_recording_makes_no_ticket(phone, runtime):
    phone.call(CALLER, speech="", recording_seconds=0)
    assert tickets(runtime) == []


def test_garbled_speech_is_kept_but_marked_for_review(phone, runtime):
    phone.call(CALLER, speech="嗯 那个 就是", confidence=0.12)
    [ticket] = tickets(runtime)
    assert ticket.needs_review and ticket.review_reason == "low speech confidence"


def test_a_recording_whose_actions_never_arrived_still_makes_a_ticket(phone, runtime):
    call_sid = sid("CA")
    phone.post(
        "/twilio/voice/recording-status?lang=zh",
        {
            "AccountSid": ACCOUNT_SID,
            "CallSid": call_sid,
            "RecordingSid": sid("RE"),
            "RecordingStatus": "completed",
            "RecordingUrl": "https://api.twilio.com/rec/RE1",
            "RecordingDuration": "9",
        },
    )
    [ticket] = tickets(runtime)
    assert ticket.source_ref == call_sid and ticket.needs_review


def test_callers_are_texted_their_ticket_number(phone, runtime, drain):
    phone.call(CALLER, speech="政务大厅窗口工作人员态度很差")
    drain()
    [ticket] = tickets(runtime)
    with runtime.db.session() as s:
        [sms] = s.scalars(select(OutboxMessage)).all()
    assert sms.to_number == CALLER and ticket.number in sms.body and sms.kind == "acknowledgement"
    assert sms.status == "not_sent_no_credentials"


def test_retried_gather_requests_make_one_ticket(phone, runtime):
    call_sid = sid("CA")
    form = call_form(call_sid, CALLER, HOTLINE, "in-progress", SpeechResult="窗口推诿", Confidence="0.9")
    first = phone.post("/twilio/voice/gather?lang=zh", form)
    second = phone.post("/twilio/voice/gather?lang=zh", form)
    assert len(tickets(runtime)) == 1 and first.body == second.body


def test_call_status_callbacks_are_accepted(phone):
    exchange = phone.post(
        "/twilio/voice/status",
        call_form(sid("CA"), CALLER, HOTLINE, "completed", CallDuration="42", SequenceNumber="3"),
    )
    assert exchange.status == 200
