"""Issue 13, point 2: emergencies first. Urgent tickets top the dispatch queue with a badge and a waiting
clock; the citizen gets the directory's safety advice; the area in the text is preselected; a caller can
press 0 for the operator during staffed hours."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from hotline_core.models import Area, Category, DirectorySetting, OutboxMessage, Role, Ticket, TicketEvent
from hotline_core.models.messaging import Priority
from intake.services import process_ticket_job
from routing import directory, lifecycle
from routing.operator import parse
from simulator.twilio_requests import call_form, sid
from tests.factories import complaint
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
CITIZEN = "+8613800138000"
HOTLINE = "+8612345000000"
GAS_LEAK = "家里闻到煤气味，怀疑燃气泄漏"


def queued(runtime, text, urgency=None, **fields):
    """A ticket waiting in the dispatch queue, with the urgency the router gave it."""
    ticket = complaint(runtime, text, **fields)
    with runtime.db.transaction() as s:
        row = s.get(Ticket, ticket.id)
        row.urgency = urgency
        lifecycle.queue_for_dispatch(s, row, runtime.now(), reason="test")
    return ticket


def outbox(runtime, kind):
    with runtime.db.session() as s:
        return s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)).all()


# --- the dispatch queue --------------------------------------------------------------------------------


def test_emergencies_then_utility_outages_sit_at_the_top_of_the_dispatch_queue(app, runtime, clock):
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=BEIJING))
    general = queued(runtime, "窗口办事拖延，三次都没办成。")
    clock.advance(60)
    utility = queued(runtime, "小区停水两天了", urgency="utility")
    clock.advance(60)
    emergency = queued(runtime, GAS_LEAK, urgency="emergency")
    page = sign_in(app, Role.DISPATCHER).get("/staff/dispatch/?lang=zh").get_data(as_text=True)
    order = re.findall(r'id="dispatch-([\d-]+)"', page)
    assert order == [emergency.number, utility.number, general.number]
    assert '<span class="badge urgent">紧急</span>' in page
    assert '<span class="badge urgent">水电气暖急件</span>' in page


def test_the_waiting_clock_counts_from_when_the_ticket_reached_a_person(app, runtime, clock):
    clock.set(datetime(2026, 12, 7, 9, 0, tzinfo=BEIJING))
    queued(runtime, GAS_LEAK, urgency="emergency")
    clock.advance(75 * 60)
    client = sign_in(app, Role.DISPATCHER)
    assert "已等待 1 小时 15 分钟" in client.get("/staff/dispatch/?lang=zh").get_data(as_text=True)
    english = client.get("/staff/dispatch/?lang=en").get_data(as_text=True)
    assert "waiting 1 h 15 min" in english and 'data-waited="4500"' in english


# --- safety advice -------------------------------------------------------------------------------------


def test_the_citizen_is_texted_the_directorys_safety_advice_for_the_category_first(runtime):
    ticket = complaint(runtime, GAS_LEAK, phone=CITIZEN)
    process_ticket_job(ticket.id)
    [advice] = outbox(runtime, "safety_advice")
    assert advice.to_number == CITIZEN and advice.priority == Priority.ACKNOWLEDGEMENT
    assert advice.body.startswith(f"【效能投诉热线】工单 {ticket.number} 安全提示：如闻到燃气味")
    assert "拨打119" in advice.body
    with runtime.db.session() as s:
        event = s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "safety_advice_sent")
        ).one()
    assert "119" in event.body


def test_an_english_ticket_gets_the_english_advice(runtime):
    ticket = complaint(
        runtime, "I smell gas at home (煤气味), I think it is a leak (燃气泄漏)", phone=CITIZEN, language="en"
    )
    process_ticket_job(ticket.id)
    [advice] = outbox(runtime, "safety_advice")
    assert advice.body.startswith(f"[Efficiency Hotline] Ticket {ticket.number}, for your safety: If you smell gas")


def test_the_advice_is_sent_once_even_when_a_dispatcher_routes_the_ticket_again(app, runtime):
    from hotline_core.models import Unit

    ticket = complaint(runtime, GAS_LEAK, phone=CITIZEN)
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        utilities = s.scalars(select(Category.id).where(Category.code == "UTILITIES")).one()
        unit = s.scalars(select(Unit.id).where(Unit.code == "GOV-SARTU")).one()
    routed = sign_in(app, Role.DISPATCHER).post(
        f"/staff/tickets/{ticket.number}/route", data={"lead_unit": unit, "category": utilities}
    )
    assert routed.status_code == 303
    assert len(outbox(runtime, "safety_advice")) == 1


def test_a_category_without_advice_sends_none(runtime):
    ticket = complaint(runtime, "某中学违规收取补课费，学校推诿不处理。", phone=CITIZEN)
    process_ticket_job(ticket.id)
    assert outbox(runtime, "safety_advice") == []


def test_an_anonymous_citizen_gets_no_advice_text(runtime):
    ticket = complaint(runtime, GAS_LEAK, anonymous=True)
    process_ticket_job(ticket.id)
    assert outbox(runtime, "safety_advice") == []


def test_safety_advice_goes_out_and_comes_back_with_the_directory(runtime):
    with runtime.db.transaction() as s:
        exported = directory.export_directory(s)
    [utilities] = [c for c in exported["categories"] if c["code"] == "UTILITIES"]
    assert "119" in utilities["safety_advice_zh"] and "119" in utilities["safety_advice_en"]
    utilities["safety_advice_zh"] = "停电时请拔下电器插头，远离断落电线。"
    with runtime.db.transaction() as s:
        directory.import_directory(s, directory.parse_yaml(directory.dump_yaml(exported)), runtime.now())
    with runtime.db.session() as s:
        row = s.scalars(select(Category).where(Category.code == "UTILITIES")).one()
    assert row.safety_advice_zh == "停电时请拔下电器插头，远离断落电线。" and "119" in row.safety_advice_en


def test_a_safety_advice_too_long_for_a_text_is_refused_by_the_import(runtime):
    text = yaml.safe_dump(
        {"categories": [{"code": "GAS", "name_zh": "燃气", "name_en": "Gas", "safety_advice_zh": "请" * 301}]},
        allow_unicode=True,
    )
    with runtime.db.session() as s:
        problems = directory.validate(s, directory.parse_yaml(text))
    assert any("safety_advice_zh must be a text of at most 300 characters" in str(p) for p in problems)


# --- the area recognised in the text ----------------------------------------------------------------


def test_the_area_recognised_in_the_text_is_preselected_when_routing(app, runtime):
    ticket = complaint(runtime, "让胡路区有人在小区门口乱停车，堵住消防通道", phone=CITIZEN)
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        row = s.get(Ticket, ticket.id)
        ranghulu = s.scalars(select(Area.id).where(Area.code == "RANGHULU")).one()
    assert row.area_id == ranghulu
    client = sign_in(app, Role.DISPATCHER)
    page = client.get(f"/staff/tickets/{ticket.number}").get_data(as_text=True)
    assert re.search(rf'<select id="route-area" name="area">.*?<option value="{ranghulu}" selected>', page, re.S)

    waiting = queued(runtime, "让胡路区某窗口推诿不办", area_code="RANGHULU")  # as a low-confidence ticket waits
    queue = client.get("/staff/dispatch/").get_data(as_text=True)
    card = queue[queue.index(f'id="dispatch-{waiting.number}"') :]
    area_select = card[card.index('<select name="area">') : card.index("</select>", card.index('<select name="area">'))]
    assert f'<option value="{ranghulu}" selected>' in area_select


def test_the_dispatcher_may_correct_the_area_and_the_timeline_says_so(app, runtime):
    ticket = queued(runtime, "窗口办事拖延，三次都没办成。")
    with runtime.db.session() as s:
        sartu = s.scalars(select(Area.id).where(Area.code == "SARTU")).one()
        from hotline_core.models import Unit

        unit = s.scalars(select(Unit.id).where(Unit.code == "SERVICE-CENTER")).one()
    routed = sign_in(app, Role.DISPATCHER).post(
        f"/staff/tickets/{ticket.number}/route", data={"lead_unit": unit, "area": sartu}
    )
    assert routed.status_code == 303
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).area_id == sartu
        kinds = s.scalars(select(TicketEvent.kind).where(TicketEvent.ticket_id == ticket.id)).all()
    assert "area_set" in kinds


# --- press 0 for the operator ---------------------------------------------------------------------


def test_during_staffed_hours_the_greeting_offers_the_operator(phone, clock):
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=BEIJING))
    exchange = phone.post("/twilio/voice", call_form(sid("CA"), CITIZEN, HOTLINE))
    says = exchange.says
    assert says[0].startswith("您好，这里是效能投诉热线") and says[1] == "转人工服务请按0。"


def test_pressing_0_during_staffed_hours_dials_the_directorys_operator(phone, clock):
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=BEIJING))
    exchange = phone.post(
        "/twilio/voice/gather?lang=zh", call_form(sid("CA"), CITIZEN, HOTLINE, "in-progress", Digits="0")
    )
    dial = exchange.verb("Dial")
    assert exchange.says == ["正在为您转接人工坐席，请稍候。"]
    assert dial.get("action") == "/twilio/voice/operator?lang=zh"
    assert dial.find("Number").text == "+864596123400"


def test_outside_staffed_hours_pressing_0_takes_the_complaint_as_before(phone, clock):
    clock.set(datetime(2026, 12, 7, 23, 0, tzinfo=BEIJING))
    greeting = phone.post("/twilio/voice", call_form(sid("CA"), CITIZEN, HOTLINE))
    assert "转人工服务请按0。" not in greeting.says
    exchange = phone.post(
        "/twilio/voice/gather?lang=zh", call_form(sid("CA"), CITIZEN, HOTLINE, "in-progress", Digits="0")
    )
    assert exchange.verb("Dial") is None and exchange.verb("Record") is not None


def test_without_an_operator_number_pressing_0_takes_the_complaint(phone, runtime, clock):
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=BEIJING))
    with runtime.db.transaction() as s:
        row = s.get(DirectorySetting, "settings")
        row.value = {**row.value, "operator": {"hours": ["00:00-24:00"]}}
    exchange = phone.post(
        "/twilio/voice/gather?lang=zh", call_form(sid("CA"), CITIZEN, HOTLINE, "in-progress", Digits="0")
    )
    assert exchange.verb("Dial") is None and exchange.verb("Record") is not None


def test_when_the_operator_does_not_answer_the_complaint_is_recorded(phone):
    exchange = phone.post(
        "/twilio/voice/operator?lang=zh",
        call_form(sid("CA"), CITIZEN, HOTLINE, "in-progress", DialCallStatus="no-answer"),
    )
    assert exchange.verb("Record") is not None


def test_after_talking_to_the_operator_the_call_ends(phone):
    exchange = phone.post(
        "/twilio/voice/operator?lang=zh",
        call_form(sid("CA"), CITIZEN, HOTLINE, "in-progress", DialCallStatus="completed"),
    )
    assert exchange.verb("Hangup") is not None and exchange.verb("Record") is None


def test_staffed_hours_may_run_overnight_and_on_chosen_days():
    night = parse({"phone": "+864596123400", "hours": ["20:00-08:00"], "days": [1, 2, 3, 4, 5]})
    assert night.number_now(datetime(2026, 12, 7, 23, 30, tzinfo=BEIJING)) == "+864596123400"  # Monday
    assert night.number_now(datetime(2026, 12, 8, 7, 59, tzinfo=BEIJING)) == "+864596123400"
    assert night.number_now(datetime(2026, 12, 8, 8, 0, tzinfo=BEIJING)) is None
    assert night.number_now(datetime(2026, 12, 13, 23, 0, tzinfo=BEIJING)) is None  # Sunday


def test_the_directory_import_checks_the_operator_setting(runtime):
    text = yaml.safe_dump({"settings": {"operator": {"phone": "12", "hours": ["8-20"], "days": [9]}}})
    with runtime.db.session() as s:
        problems = [str(p) for p in directory.validate(s, directory.parse_yaml(text))]
    assert any("hours '8-20' is not a period" in p for p in problems)
    assert any("day 9 is not an ISO weekday" in p for p in problems)
    assert any("phone '12' is not a valid phone number" in p for p in problems)
