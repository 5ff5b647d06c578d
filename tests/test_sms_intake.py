"""A citizen texts the hotline."""

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from hotline_core.i18n import t
from hotline_core.models import Attachment, InboundEvent, OptOut, OutboxMessage, Ticket, TicketEvent
from hotline_core.models.messaging import MessageStatus
from simulator.twilio_requests import Phone, sms_form
from tests.conftest import wsgi_transport
from webhooks import processors

CITIZEN = "+8613800138000"


def tickets(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Ticket).order_by(Ticket.id)).all()


def events(runtime, ticket_id, kind=None):
    with runtime.db.session() as s:
        q = select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
        if kind:
            q = q.where(TicketEvent.kind == kind)
        return s.scalars(q).all()


def test_the_first_text_opens_a_ticket_and_the_reply_gives_its_number(phone, runtime):
    exchange = phone.text(CITIZEN, "路灯坏了三天没人修")
    [ticket] = tickets(runtime)
    assert exchange.status == 200
    assert exchange.replies == [
        f"【效能投诉热线】您的投诉已受理，工单号 {ticket.number}。回复“查询 {ticket.number}”可查看进度。"
    ]
    assert ticket.channel == "sms" and ticket.language == "zh"
    assert ticket.citizen_phone == CITIZEN and ticket.citizen_phone_valid
    assert ticket.text == "路灯坏了三天没人修"
    assert [e.kind for e in events(runtime, ticket.id)][:2] == ["received", "acknowledged"]


def test_an_english_text_is_answered_in_english(phone, runtime):
    exchange = phone.text(CITIZEN, "The clerk at window 3 was rude and sent me away")
    [ticket] = tickets(runtime)
    assert ticket.language == "en"
    assert exchange.replies[0].startswith("[Efficiency Hotline] Your complaint is registered as ticket")


def test_a_twilio_retry_of_the_same_message_makes_no_second_ticket(phone, runtime):
    form = sms_form(CITIZEN, "+8612345000000", "路灯坏了三天没人修")
    first = phone.post("/twilio/sms", form)
    again = phone.post("/twilio/sms", form)
    assert len(tickets(runtime)) == 1
    assert again.body == first.body


def test_a_retry_with_the_same_idempotency_token_makes_no_second_ticket(phone, runtime):
    token = {"I-Twilio-Idempotency-Token": "idem-123"}
    form = sms_form(CITIZEN, "+8612345000000", "第一条")
    phone.post("/twilio/sms", form, headers=token)
    phone.post("/twilio/sms", form, headers=token)
    assert len(tickets(runtime)) == 1


def test_a_different_text_carrying_a_token_already_seen_is_not_lost(phone, runtime):
    """The token is not covered by the signature: only the signed MessageSid makes a text a repeat."""
    token = {"I-Twilio-Idempotency-Token": "idem-123"}
    phone.post("/twilio/sms", sms_form(CITIZEN, "+8612345000000", "第一条"), headers=token)
    second = phone.post("/twilio/sms", sms_form("+8613900139000", "+8612345000000", "另一条投诉"), headers=token)
    assert second.status == 200
    assert [t.text for t in tickets(runtime)] == ["第一条", "另一条投诉"]


def test_later_texts_within_the_window_join_the_thread(phone, runtime):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    reply = phone.text(CITIZEN, "补充：在让胡路区东湖小区")
    [ticket] = tickets(runtime)
    assert reply.replies == [f"【效能投诉热线】补充信息已加入工单 {ticket.number}。"]
    [message] = events(runtime, ticket.id, "citizen_message")
    assert message.body == "补充：在让胡路区东湖小区"


def test_a_text_after_the_window_opens_a_new_ticket(phone, runtime, clock):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    clock.advance(runtime.settings.sms_thread_window_hours * 3600 + 60)
    phone.text(CITIZEN, "另一件事：社保窗口排队太久")
    assert len(tickets(runtime)) == 2


def test_texts_from_another_number_open_their_own_ticket(phone, runtime):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    phone.text("+8613900139000", "路灯坏了三天没人修")
    assert len(tickets(runtime)) == 2


def test_status_query_answers_with_the_state(phone, runtime):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    [ticket] = tickets(runtime)
    zh = phone.text(CITIZEN, f"查询 {ticket.number}")
    en = phone.text(CITIZEN, f"STATUS {ticket.number}")
    # Without a directory routing cannot pick a unit, so the ticket waits for a dispatcher.
    assert ticket.state == "dispatch"
    assert zh.replies == [f"【效能投诉热线】工单 {ticket.number} 当前状态：待派单。"]
    assert en.replies == [f"[Efficiency Hotline] Ticket {ticket.number} is now: {t('state.dispatch', 'en')}."]
    assert len(tickets(runtime)) == 1


def test_status_of_someone_elses_ticket_is_not_disclosed(phone, runtime):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    [ticket] = tickets(runtime)
    reply = phone.text("+8613900139000", f"查询 {ticket.number}")
    assert "未找到" in reply.replies[0]
    assert "已受理" not in reply.replies[0]


def test_stop_and_start_are_honoured(phone, runtime, drain):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    stop = phone.text(CITIZEN, "退订")
    assert "退订" in stop.replies[0]
    with runtime.db.session() as s:
        assert s.get(OptOut, CITIZEN).opted_out
    # A later acknowledgement by SMS is not sent to an opted-out number.
    from tests.factories import complaint

    complaint(runtime, phone=CITIZEN)
    drain()
    with runtime.db.session() as s:
        sent = s.execute(
            select(OutboxMessage.kind, OutboxMessage.status)
            .where(OutboxMessage.to_number == CITIZEN)
            .order_by(OutboxMessage.id)
        ).all()
    assert [tuple(row) for row in sent] == [
        ("acknowledgement", MessageStatus.NOT_SENT_NO_CREDENTIALS),  # before STOP
        ("opt_out_confirmation", MessageStatus.NOT_SENT_NO_CREDENTIALS),  # the confirmation still goes
        ("acknowledgement", MessageStatus.OPTED_OUT),  # after STOP: held back
    ]
    start = phone.text(CITIZEN, "START")
    # Answered in the language the citizen complained in (issue 13, point 9), not the keyword's.
    assert start.replies[-1] == "【效能投诉热线】您已恢复接收短信通知。"
    with runtime.db.session() as s:
        assert not s.get(OptOut, CITIZEN).opted_out


def test_mms_media_urls_are_kept_as_attachments(phone, runtime):
    media = [
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg"),
        ("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2", "image/png"),
    ]
    phone.text(CITIZEN, "照片为证", media=media)
    with runtime.db.session() as s:
        rows = s.scalars(select(Attachment).order_by(Attachment.id)).all()
    assert [(a.kind, a.url, a.content_type) for a in rows] == [("media", u, c) for u, c in media]


def test_a_picture_without_text_still_opens_a_ticket(phone, runtime):
    phone.text(CITIZEN, "", media=[("https://api.twilio.com/media/ME1", "image/jpeg")])
    assert len(tickets(runtime)) == 1


def test_an_empty_text_asks_for_a_description_and_opens_nothing(phone, runtime):
    reply = phone.text(CITIZEN, "   ")
    assert "请用短信描述" in reply.replies[0]
    assert tickets(runtime) == []


def test_a_long_chinese_message_of_several_segments_is_kept_whole(phone, runtime):
    body = ("市政务服务中心社保窗口排队两个小时，工作人员一直在玩手机，" * 20)[:1500]
    phone.text(CITIZEN, body)
    [ticket] = tickets(runtime)
    assert ticket.text == body.strip()


def test_an_unparseable_sender_number_is_stored_raw_and_flagged(phone, runtime):
    phone.text("12345", "路灯坏了三天没人修")
    [ticket] = tickets(runtime)
    assert ticket.citizen_phone == "12345" and not ticket.citizen_phone_valid
    assert events(runtime, ticket.id, "phone_flagged")


def test_ticket_numbers_are_unique_and_readable(phone, runtime, clock):
    clock.set(datetime(2027, 1, 1, 0, 30, tzinfo=ZoneInfo("Asia/Shanghai")))  # still 2026 in UTC
    for i in range(5):
        phone.text(f"+86138001380{i:02d}", f"投诉 {i}")
    rows = tickets(runtime)
    assert len({t.number for t in rows}) == 5
    # the year of receipt in local time, then the ticket's serial in six digits
    assert [t.number for t in rows] == [f"2027-{t.id:06d}" for t in rows]


def test_a_text_is_processed_once_and_acknowledged_once(phone, runtime, drain):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    drain()
    drain()
    [ticket] = tickets(runtime)
    assert ticket.processed_at is not None
    assert len(events(runtime, ticket.id, "processed")) == 1
    with runtime.db.session() as s:
        kinds = s.scalars(select(OutboxMessage.kind)).all()
    assert kinds == ["acknowledgement"]


def test_the_webhook_answers_at_once_and_a_job_opens_the_ticket(app, settings, runtime, drain):
    phone = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app))  # no job runner
    exchange = phone.text(CITIZEN, "路灯坏了三天没人修")
    assert exchange.status == 200
    assert exchange.body.replace("\n", "") == '<?xml version="1.0" encoding="UTF-8"?><Response />'
    with runtime.db.session() as s:
        [event] = s.scalars(select(InboundEvent)).all()
    assert event.form["Body"] == "路灯坏了三天没人修" and event.processed_at is None  # stored first
    assert tickets(runtime) == []
    assert runtime.jobs.queues["intake"].count == 1
    drain()
    [ticket] = tickets(runtime)
    assert ticket.text == "路灯坏了三天没人修"


def test_in_a_burst_every_text_is_acknowledged_before_any_ticket_is_routed(app, settings, runtime):
    phone = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app))
    for i in range(3):
        phone.text(f"+86138001380{i:02d}", f"投诉 {i}")
    assert runtime.jobs.queues["intake"].count == 1  # one drain job for the whole burst
    runtime.jobs.run_burst(max_jobs=1)  # a worker takes the intake queue first
    assert [t.processed_at for t in tickets(runtime)] == [None, None, None]
    assert runtime.jobs.queues["routing"].count == 1  # one routing job for the whole burst, too
    runtime.jobs.run_burst()
    assert all(t.processed_at is not None for t in tickets(runtime))


def test_a_burst_of_texts_needs_one_outbox_dispatcher_job(app, settings, runtime):
    phone = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app))
    for i in range(5):
        phone.text(f"+86138001380{i:02d}", f"投诉 {i}")
    runtime.jobs.run_burst(max_jobs=1)  # one drain job: five acknowledgements queued
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 5
    assert runtime.jobs.queues["messages"].count == 1


def test_a_drain_job_hands_over_to_a_fresh_job_when_its_budget_is_spent(app, settings, runtime, monkeypatch):
    from intake import inbound

    phone = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app))
    for i in range(3):
        phone.text(f"+86138001380{i:02d}", f"投诉 {i}")
    runtime.jobs.queues["intake"].empty()
    monkeypatch.setattr(inbound, "BATCH_SIZE", 1)
    assert inbound.drain_job(budget_seconds=0) == 1
    assert len(tickets(runtime)) == 1
    assert runtime.jobs.queues["intake"].count == 1  # the next job takes the rest
    runtime.jobs.run_burst()
    assert len(tickets(runtime)) == 3


def test_a_text_whose_processing_failed_is_left_to_the_sweep(app, settings, runtime, monkeypatch):
    from intake import inbound

    phone = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app))
    monkeypatch.setitem(processors.PROCESSORS, "sms", lambda *args: 1 / 0)
    phone.text(CITIZEN, "第一条")
    phone.text("+8613900139000", "第二条")
    assert inbound.drain_job() == 2  # the failure does not stop the drain, nor is it retried at once
    with runtime.db.session() as s:
        events = s.scalars(select(InboundEvent).order_by(InboundEvent.id)).all()
    assert [(e.attempts, e.processed_at) for e in events] == [(1, None), (1, None)]
    assert all("ZeroDivisionError" in e.error for e in events)


def test_one_bad_text_in_a_batch_does_not_hold_up_the_others(app, settings, runtime, monkeypatch):
    from intake import inbound

    real = processors.PROCESSORS["sms"]

    def fragile(session, rt, event, deferred):
        if event.form["Body"] == "坏":
            raise ValueError("cannot handle this one")
        return real(session, rt, event, deferred)

    monkeypatch.setitem(processors.PROCESSORS, "sms", fragile)
    phone = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app))
    for i, body in enumerate(["第一条", "坏", "第三条"]):
        phone.text(f"+86138001380{i:02d}", body)
    assert inbound.drain_job() == 3
    assert sorted(t.text for t in tickets(runtime)) == ["第一条", "第三条"]
    with runtime.db.session() as s:
        failed = s.scalars(select(InboundEvent).where(InboundEvent.error.is_not(None))).all()
    assert [e.form["Body"] for e in failed] == ["坏"]


def test_two_texts_from_one_number_in_one_batch_make_one_ticket_and_a_follow_up(app, settings, runtime):
    from intake import inbound

    phone = Phone("http://localhost", settings.webhook_auth_token, wsgi_transport(app))
    phone.text(CITIZEN, "路灯坏了三天没人修")
    phone.text(CITIZEN, "补充：在东湖小区")
    assert inbound.process_batch(runtime) == 2
    [ticket] = tickets(runtime)
    [follow_up] = events(runtime, ticket.id, "citizen_message")
    assert follow_up.body == "补充：在东湖小区"
