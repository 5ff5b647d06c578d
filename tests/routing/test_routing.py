"""Every stored complaint is classified and routed on the demo directory, or goes to a person."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import Assignment, Deadline, OutboxMessage, Ticket, TicketEvent, Unit
from intake.services import process_ticket_job
from routing import services
from routing.lifecycle import TicketError
from tests.factories import complaint

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
DISPATCHER = Actor("user:dispatcher", 1)


@pytest.fixture(autouse=True)
def monday_morning(clock):
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))  # a Monday


def routed(runtime, text, **fields):
    ticket = complaint(runtime, text, **fields)
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket.id)
        events = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket.id)).all()
        assignments = s.scalars(select(Assignment).where(Assignment.ticket_id == ticket.id)).all()
        units = {a.unit_id: s.get(Unit, a.unit_id).code for a in assignments}
    return ticket, events, [(units[a.unit_id], a.role) for a in assignments]


def unit_id(runtime, code):
    with runtime.db.session() as s:
        return s.scalars(select(Unit.id).where(Unit.code == code)).one()


def event(events, kind):
    return next(e for e in events if e.kind == kind)


def test_a_chinese_complaint_is_routed_by_category_and_area(runtime):
    ticket, events, assignments = routed(runtime, "让胡路区东湖小区路灯坏了半个月没人修")
    assert ticket.state == "assigned"
    assert assignments == [("GOV-RANGHULU", "lead"), ("HOUSING", "co")]
    classified = event(events, "classified").data
    assert classified["category"] == "CONSTRUCTION-LIGHTS" and classified["area"] == "RANGHULU"
    assert classified["reason"] == "keyword rule: 小区, 路灯" and classified["rule_id"]


def test_an_english_complaint_is_routed_through_the_parent_category_rule(runtime):
    _ticket, events, assignments = routed(runtime, "The bus driver shouted at my mother and drove off")
    assert event(events, "classified").data["category"] == "TRANSPORT-BUS"
    assert assignments == [("TRANSPORT", "lead")]


def test_the_citizens_own_category_is_trusted(runtime):
    _ticket, events, assignments = routed(runtime, "我想反映一个情况，希望有人处理", category_code="EDUCATION")
    assert event(events, "classified").data["reason"] == "explicit: chosen by the citizen"
    assert assignments == [("EDUCATION", "lead")]


def test_an_unclassifiable_complaint_goes_to_the_dispatch_queue(runtime):
    ticket, events, assignments = routed(runtime, "我有个事情想说一下")
    assert ticket.state == "dispatch" and assignments == []
    assert "confidence below" in event(events, "queued_for_dispatch").data["reason"]


def test_a_silent_recording_goes_to_a_person(runtime):
    ticket, events, _ = routed(runtime, "", channel="phone", needs_review=True, review_reason="recording only")
    assert ticket.state == "dispatch"
    assert "listen" in event(events, "queued_for_dispatch").data["reason"]


def test_a_category_without_a_rule_falls_to_the_district_government(runtime):
    from routing import directory

    with runtime.db.transaction() as s:
        directory.import_directory(
            s,
            directory.parse_yaml(
                "categories:\n  - {code: PARKS, name_zh: 公园管理, name_en: Parks, keywords: [公园]}\n"
            ),
            runtime.now(),
        )
    _ticket, events, assignments = routed(runtime, "萨尔图区的公园厕所常年锁门")
    assert assignments == [("GOV-SARTU", "lead")]
    assert "fallback" in event(events, "classified").data["reason"]


def test_danger_words_put_a_complaint_in_the_emergency_tier(runtime):
    ticket, _events, _ = routed(runtime, "小区楼道燃气泄漏，物业不管，太危险了")
    assert ticket.urgency == "emergency" and ticket.policy == "emergency"
    with runtime.db.session() as s:
        sign_for = s.scalars(select(Deadline).where(Deadline.ticket_id == ticket.id, Deadline.kind == "sign_for")).one()
    assert (sign_for.due_at - sign_for.started_at).total_seconds() == 30 * 60


def test_an_outage_gets_the_utility_tier(runtime):
    ticket, _, _ = routed(runtime, "我们楼停水两天了没有任何通知")
    assert ticket.urgency == "utility" and ticket.policy == "utility"


def test_general_deadlines_count_working_time(runtime):
    ticket, _events, _ = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    with runtime.db.session() as s:
        rows = {d.kind: d for d in s.scalars(select(Deadline).where(Deadline.ticket_id == ticket.id))}
    assert rows["sign_for"].due_at == datetime(2026, 11, 23, 14, 30, tzinfo=BEIJING)  # 4 working hours
    assert rows["resolution"].due_at == datetime(2026, 12, 2, 17, 30, tzinfo=BEIJING)  # 7 working days


def test_the_units_are_told_by_sms(runtime):
    ticket, _, _ = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    with runtime.db.session() as s:
        notices = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "assigned")).all()
    assert {n.to_number for n in notices} == {"+8613900000108", "+8613900000100"}
    assert all(ticket.number in n.body for n in notices)


def test_routing_twice_makes_no_second_assignment(runtime):
    ticket, _, first = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    with runtime.db.transaction() as s:
        assert services.route_new_ticket(s, runtime, ticket.id) is None
    with runtime.db.session() as s:
        assert len(s.scalars(select(Assignment).where(Assignment.ticket_id == ticket.id)).all()) == len(first)


def test_a_dispatcher_routes_from_the_queue_and_the_category_becomes_training_data(runtime):
    ticket, _, _ = routed(runtime, "我有个事情想说一下")
    with runtime.db.transaction() as s:
        t = s.get(Ticket, ticket.id)
        category_id = s.scalars(select(Ticket.category_id)).first()
        from hotline_core.models import Category

        category_id = s.scalars(select(Category.id).where(Category.code == "WORKSTYLE")).one()
        services.route_manually(
            s,
            runtime,
            t,
            lead_unit_id=unit_id(runtime, "SERVICE-CENTER"),
            co_unit_ids=[unit_id(runtime, "HRSS")],
            category_id=category_id,
            actor=DISPATCHER,
        )
    with runtime.db.session() as s:
        t = s.get(Ticket, ticket.id)
        label = s.scalars(select(TicketEvent).where(TicketEvent.kind == "category_set")).one().data["training_label"]
    assert t.state == "assigned" and label == "WORKSTYLE"


def test_routing_to_a_unit_that_does_not_exist_is_refused(runtime):
    ticket, _, _ = routed(runtime, "我有个事情想说一下")
    with runtime.db.transaction() as s, pytest.raises(TicketError, match="does not exist"):
        services.route_manually(s, runtime, s.get(Ticket, ticket.id), lead_unit_id=99999, actor=DISPATCHER)


def lead_assignment(runtime, ticket_id):
    with runtime.db.session() as s:
        return s.scalars(
            select(Assignment).where(
                Assignment.ticket_id == ticket_id, Assignment.role == "lead", Assignment.state == "assigned"
            )
        ).one()


def resolution(runtime, ticket_id):
    with runtime.db.session() as s:
        return s.scalars(select(Deadline).where(Deadline.ticket_id == ticket_id, Deadline.kind == "resolution")).one()


def test_a_returned_ticket_goes_back_to_dispatch_and_its_clock_pauses(runtime, clock):
    ticket, _, _ = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    before = resolution(runtime, ticket.id).due_at
    clock.advance(3600)  # Monday 10:00
    with runtime.db.transaction() as s:
        services.return_ticket(
            s,
            runtime,
            s.get(Assignment, lead_assignment(runtime, ticket.id).id),
            reason="本单位不负责营业执照",
            suggested_unit_id=unit_id(runtime, "COMMERCE"),
            actor=Actor("user:unitstaff", 3),
        )
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).state == "dispatch"
    clock.advance(2 * 3600)  # arbitration takes until 12:00: 2 working hours
    with runtime.db.transaction() as s:
        services.route_manually(
            s, runtime, s.get(Ticket, ticket.id), lead_unit_id=unit_id(runtime, "COMMERCE"), actor=DISPATCHER
        )
    after = resolution(runtime, ticket.id).due_at
    assert after == datetime(2026, 12, 3, 10, 30, tzinfo=BEIJING)  # two working hours after 12-02 17:30
    assert before == datetime(2026, 12, 2, 17, 30, tzinfo=BEIJING)


def test_a_return_after_one_working_day_is_refused(runtime, clock):
    ticket, _, _ = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    clock.advance(2 * 24 * 3600)  # Wednesday
    with runtime.db.transaction() as s, pytest.raises(TicketError, match="return window"):
        services.return_ticket(
            s,
            runtime,
            s.get(Assignment, lead_assignment(runtime, ticket.id).id),
            reason="不归我们管",
            suggested_unit_id=None,
            actor=Actor("user:unitstaff", 3),
        )


def test_a_return_needs_a_reason(runtime):
    ticket, _, _ = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    with runtime.db.transaction() as s, pytest.raises(TicketError, match="reason"):
        services.return_ticket(
            s,
            runtime,
            s.get(Assignment, lead_assignment(runtime, ticket.id).id),
            reason=" ",
            suggested_unit_id=None,
            actor=Actor("user:unitstaff", 3),
        )


def test_an_approved_extension_moves_the_deadline_and_says_why(runtime):
    ticket, _, _ = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    with runtime.db.transaction() as s:
        services.approve_extension(
            s, runtime, s.get(Ticket, ticket.id), working_days=3, reason="需要现场核查", actor=DISPATCHER
        )
    assert resolution(runtime, ticket.id).due_at == datetime(2026, 12, 7, 17, 30, tzinfo=BEIJING)
    with runtime.db.session() as s:
        change = s.scalars(select(TicketEvent).where(TicketEvent.kind == "deadline_changed")).one()
    assert change.data["reason"] == "extension approved: 需要现场核查"


def test_waiting_for_the_citizen_stops_the_clock(runtime, clock):
    ticket, _, _ = routed(runtime, "办事窗口推诿扯皮，让我来回跑了五次")
    with runtime.db.transaction() as s:
        services.pause_clock(s, runtime, s.get(Ticket, ticket.id), reason="awaiting_citizen", actor=DISPATCHER)
    clock.advance(24 * 3600)  # one whole working day waiting
    with runtime.db.transaction() as s:
        services.resume_clock(s, runtime, s.get(Ticket, ticket.id), actor=DISPATCHER)
    assert resolution(runtime, ticket.id).due_at == datetime(2026, 12, 3, 17, 30, tzinfo=BEIJING)


def test_the_citizen_is_told_who_handles_it_in_their_language(runtime):
    routed(runtime, "The bus driver shouted at my mother and drove off", language="en", phone="+8613700137000")
    with runtime.db.session() as s:
        [notice] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "citizen_assigned")).all()
    assert notice.to_number == "+8613700137000"
    assert "is now with the Transport Bureau; due by Dec 2, 2026 17:30" in notice.body
