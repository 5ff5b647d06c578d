"""A citizen texts the hotline."""

from sqlalchemy import func, select

from hotline_core.models import Attachment, OptOut, OutboxMessage, Ticket, TicketEvent
from hotline_core.models.messaging import MessageStatus
from simulator.twilio_requests import sms_form

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
    assert exchange.messages == [
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
    assert exchange.messages[0].startswith("[Efficiency Hotline] Your complaint is registered as ticket")


def test_a_twilio_retry_of_the_same_message_makes_no_second_ticket(phone, runtime):
    form = sms_form(CITIZEN, "+8612345000000", "路灯坏了三天没人修")
    first = phone.post("/twilio/sms", form)
    again = phone.post("/twilio/sms", form)
    assert len(tickets(runtime)) == 1
    assert again.body == first.body


def test_a_retry_with_the_same_idempotency_token_makes_no_second_ticket(phone, runtime):
    token = {"I-Twilio-Idempotency-Token": "idem-123"}
    phone.post("/twilio/sms", sms_form(CITIZEN, "+8612345000000", "第一条"), headers=token)
    phone.post("/twilio/sms", sms_form(CITIZEN, "+8612345000000", "第一条"), headers=token)
    assert len(tickets(runtime)) == 1


def test_later_texts_within_the_window_join_the_thread(phone, runtime):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    reply = phone.text(CITIZEN, "补充：在让胡路区东湖小区")
    [ticket] = tickets(runtime)
    assert reply.messages == [f"【效能投诉热线】补充信息已加入工单 {ticket.number}。"]
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
    assert zh.messages == [f"【效能投诉热线】工单 {ticket.number} 当前状态：已受理。"]
    assert en.messages == [f"[Efficiency Hotline] Ticket {ticket.number} is now: received."]
    assert len(tickets(runtime)) == 1


def test_status_of_someone_elses_ticket_is_not_disclosed(phone, runtime):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    [ticket] = tickets(runtime)
    reply = phone.text("+8613900139000", f"查询 {ticket.number}")
    assert "未找到" in reply.messages[0]
    assert "已受理" not in reply.messages[0]


def test_stop_and_start_are_honoured(phone, runtime, drain):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    stop = phone.text(CITIZEN, "退订")
    assert "退订" in stop.messages[0]
    with runtime.db.session() as s:
        assert s.get(OptOut, CITIZEN).opted_out
    # A later acknowledgement by SMS is not sent to an opted-out number.
    from tests.factories import complaint

    complaint(runtime, phone=CITIZEN)
    drain()
    with runtime.db.session() as s:
        statuses = s.scalars(select(OutboxMessage.status).where(OutboxMessage.to_number == CITIZEN)).all()
    assert statuses == [MessageStatus.OPTED_OUT]
    start = phone.text(CITIZEN, "START")
    assert start.messages == ["[Efficiency Hotline] You will receive texts again."]
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
    assert "请用短信描述" in reply.messages[0]
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


def test_ticket_numbers_are_unique_and_readable(phone, runtime):
    for i in range(5):
        phone.text(f"+86138001380{i:02d}", f"投诉 {i}")
    numbers = [t.number for t in tickets(runtime)]
    assert len(set(numbers)) == 5
    assert all(n.startswith("2026-") or n[:4].isdigit() for n in numbers)


def test_sms_tickets_are_processed_once_by_the_job(phone, runtime, drain):
    phone.text(CITIZEN, "路灯坏了三天没人修")
    drain()
    drain()
    [ticket] = tickets(runtime)
    assert ticket.processed_at is not None
    assert len(events(runtime, ticket.id, "processed")) == 1
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 0  # the TwiML reply was the ack
