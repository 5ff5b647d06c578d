"""Outbound SMS: outbox row first, then a job sends it with the real twilio client."""

import pytest
from sqlalchemy import select

from hotline_core import outbox
from hotline_core.models import MessageStatusEvent, OptOut, OutboxMessage
from hotline_core.models.messaging import MessageStatus, Priority
from tests.conftest import wsgi_phone


@pytest.fixture
def twilio_runtime(make_runtime, twilio_settings):
    return make_runtime(twilio_settings)


def queue(rt, body="【效能投诉热线】您的投诉已受理，工单号 2026-000001。", to="+8613800138000", **kw):
    with rt.db.transaction() as s:
        message = outbox.queue_sms(s, rt, to=to, body=body, kind=kw.pop("kind", "acknowledgement"), **kw)
    return message.id


def message(rt, message_id):
    with rt.db.session() as s:
        return s.get(OutboxMessage, message_id)


def test_without_credentials_messages_are_recorded_not_sent(runtime, drain):
    message_id = queue(runtime)
    drain()
    row = message(runtime, message_id)
    assert row.status == MessageStatus.NOT_SENT_NO_CREDENTIALS and row.twilio_sid is None


def test_the_real_twilio_client_sends_exactly_this_request(twilio_runtime, fake_twilio):
    body = "【效能投诉热线】您的投诉已受理，工单号 2026-000001。"
    message_id = queue(twilio_runtime, body)
    twilio_runtime.jobs.run_burst()
    [request] = fake_twilio.messages()
    assert request.path == f"/2010-04-01/Accounts/{'AC' + '1' * 32}/Messages.json"
    assert (request.account, request.password) == ("AC" + "1" * 32, "fake-auth-token")
    assert request.field("To") == "+8613800138000"
    assert request.field("From") == "+8612345000000"
    assert request.field("Body") == body
    assert request.field("StatusCallback") == "https://hotline.example.org/twilio/sms/status"
    row = message(twilio_runtime, message_id)
    assert row.status == "queued" and row.twilio_sid.startswith("SM") and row.segments == 1


def test_a_server_error_is_retried_with_backoff(twilio_runtime, fake_twilio, clock):
    fake_twilio.fail_next(500, 20500)
    message_id = queue(twilio_runtime)
    twilio_runtime.jobs.run_burst()
    row = message(twilio_runtime, message_id)
    assert row.status == MessageStatus.PENDING and row.attempts == 1 and "20500" in row.last_error
    wait = (row.next_attempt_at - clock()).total_seconds()
    assert 25 <= wait <= 31
    twilio_runtime.jobs.run_burst()
    assert len(fake_twilio.messages()) == 1  # not due yet
    clock.advance(31)
    outbox.Dispatcher(twilio_runtime).run()
    row = message(twilio_runtime, message_id)
    assert row.status == "queued" and row.attempts == 2 and len(fake_twilio.messages()) == 2


def test_backoff_doubles_and_is_capped():
    assert [outbox.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert outbox.backoff(30).total_seconds() == outbox.BACKOFF_MAX_SECONDS


def test_an_invalid_number_fails_at_once(twilio_runtime, fake_twilio):
    fake_twilio.fail_next(400, 21211)
    message_id = queue(twilio_runtime)
    twilio_runtime.jobs.run_burst()
    row = message(twilio_runtime, message_id)
    assert row.status == MessageStatus.FAILED and row.error_code == "21211" and row.attempts == 1


def test_retries_stop_after_the_configured_attempts(twilio_runtime, fake_twilio, clock):
    fake_twilio.fail_next(503, 20503, times=10)
    message_id = queue(twilio_runtime)
    for _ in range(twilio_runtime.settings.outbox_max_attempts):
        outbox.Dispatcher(twilio_runtime).run()
        clock.advance(outbox.BACKOFF_MAX_SECONDS + 1)
    row = message(twilio_runtime, message_id)
    assert row.status == MessageStatus.FAILED and row.attempts == twilio_runtime.settings.outbox_max_attempts


def test_acknowledgements_go_before_lower_priority_messages(make_runtime, twilio_settings, fake_twilio):
    # One text in flight at a time, so Twilio sees them in the order they were claimed (with more,
    # neighbours in that order may reach it a few milliseconds apart either way).
    rt = make_runtime(twilio_settings.with_overrides(sms_send_concurrency=1))
    queue(rt, "survey", kind="survey", priority=Priority.SURVEY)
    queue(rt, "notice", kind="notification", priority=Priority.NOTIFICATION)
    queue(rt, "ack", priority=Priority.ACKNOWLEDGEMENT)
    outbox.Dispatcher(rt).run()
    assert [r.field("Body") for r in fake_twilio.messages()] == ["ack", "notice", "survey"]


def test_opted_out_numbers_get_nothing(twilio_runtime, fake_twilio):
    with twilio_runtime.db.transaction() as s:
        s.add(OptOut(phone="+8613800138000", opted_out=True))
    message_id = queue(twilio_runtime)
    outbox.Dispatcher(twilio_runtime).run()
    assert fake_twilio.messages() == []
    assert message(twilio_runtime, message_id).status == MessageStatus.OPTED_OUT


def test_status_callbacks_update_the_message_and_repeats_are_harmless(twilio_runtime, fake_twilio, twilio_settings):
    from hotline_app.factory import create_app

    message_id = queue(twilio_runtime)
    outbox.Dispatcher(twilio_runtime).run()
    sid = message(twilio_runtime, message_id).twilio_sid
    app = create_app(runtime=twilio_runtime)
    phone = wsgi_phone(app, twilio_settings)
    phone.base_url = "https://hotline.example.org"
    for status in ("sent", "delivered", "delivered", "sent"):  # late and repeated callbacks
        ex = phone.post(
            "/twilio/sms/status",
            {
                "MessageSid": sid,
                "SmsSid": sid,
                "MessageStatus": status,
                "SmsStatus": status,
                "AccountSid": "AC" + "1" * 32,
                "From": "+8612345000000",
                "To": "+8613800138000",
            },
        )
        assert ex.status == 200
    assert message(twilio_runtime, message_id).status == "delivered"
    with twilio_runtime.db.session() as s:
        kept = s.scalars(select(MessageStatusEvent.status).where(MessageStatusEvent.message_sid == sid)).all()
    assert sorted(kept) == ["delivered", "sent"]


def test_an_undelivered_callback_keeps_the_error_code(twilio_runtime, fake_twilio, twilio_settings):
    from hotline_app.factory import create_app

    message_id = queue(twilio_runtime)
    outbox.Dispatcher(twilio_runtime).run()
    sid = message(twilio_runtime, message_id).twilio_sid
    phone = wsgi_phone(create_app(runtime=twilio_runtime), twilio_settings)
    phone.base_url = "https://hotline.example.org"
    phone.post("/twilio/sms/status", {"MessageSid": sid, "MessageStatus": "undelivered", "ErrorCode": "30003"})
    row = message(twilio_runtime, message_id)
    assert row.status == "undelivered" and row.error_code == "30003"


def test_a_burst_of_complaints_queues_rather_than_fails(twilio_runtime, fake_twilio):
    fake_twilio.fail_next(429, 20429, times=3)
    ids = [queue(twilio_runtime, f"ack {i}", to=f"+86138001380{i:02d}") for i in range(10)]
    twilio_runtime.jobs.run_burst()
    rows = [message(twilio_runtime, i) for i in ids]
    assert sum(r.status == "queued" for r in rows) == 7
    assert all(r.status in ("queued", MessageStatus.PENDING) for r in rows)


def test_a_status_callback_is_stored_and_answered_at_once_and_a_job_applies_it(
    twilio_runtime, fake_twilio, twilio_settings
):
    from hotline_app.factory import create_app
    from hotline_core.models import InboundEvent
    from simulator.twilio_requests import Phone
    from tests.conftest import wsgi_transport

    message_id = queue(twilio_runtime)
    outbox.Dispatcher(twilio_runtime).run()
    sid = message(twilio_runtime, message_id).twilio_sid
    phone = Phone(
        "https://hotline.example.org",
        twilio_settings.webhook_auth_token,
        wsgi_transport(create_app(runtime=twilio_runtime)),
    )
    assert phone.post("/twilio/sms/status", {"MessageSid": sid, "MessageStatus": "delivered"}).status == 200
    with twilio_runtime.db.session() as s:
        assert s.scalars(select(InboundEvent.kind)).all() == ["sms_status"]
    assert message(twilio_runtime, message_id).status != "delivered"  # not yet: a job applies it
    twilio_runtime.jobs.run_burst()
    assert message(twilio_runtime, message_id).status == "delivered"
