"""Issue 13, points 4-7: no silent failure, inside a unit, the clock tells the truth, the citizen's
answer is visible. The rules at the service level, and the pages that show them."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.models import (
    DirectorySetting,
    OptOut,
    OutboxMessage,
    Ticket,
    TicketEvent,
    Unit,
    User,
)
from hotline_core.outbox import Dispatcher
from intake.services import process_ticket_job
from responders import overview
from responders.survey import record_answer, start_survey
from routing import directory, escalation
from routing import services as routing
from tests.factories import complaint, user
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)
CITIZEN = "+8613800138000"


@pytest.fixture(autouse=True)
def monday_morning(clock):
    clock.set(MONDAY_9)


def housing_ticket(runtime, text="东湖小区物业乱收费，业主多次反映无人处理", **fields):
    fields.setdefault("phone", CITIZEN)
    ticket = complaint(runtime, text, **fields)
    process_ticket_job(ticket.id)
    return ticket


def act(client, number, action, **data):
    response = client.post(f"/staff/tickets/{number}/{action}", data=data)
    assert response.status_code == 303, response.get_data(as_text=True)[:3000]
    return client.get(response.headers["Location"]).get_data(as_text=True)


def page(client, path):
    response = client.get(path)
    assert response.status_code == 200, response.get_data(as_text=True)[:3000]
    return response.get_data(as_text=True)


def events(runtime, ticket_id, kind):
    with runtime.db.session() as s:
        return s.scalars(
            select(TicketEvent)
            .where(TicketEvent.ticket_id == ticket_id, TicketEvent.kind == kind)
            .order_by(TicketEvent.id)
        ).all()


def housing(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Unit).where(Unit.code == "HOUSING")).one()


def set_setting(runtime, **values):
    with runtime.db.transaction() as s:
        setting = s.get(DirectorySetting, "settings")
        setting.value = {**setting.value, **values}


def strip_contacts(runtime, code="HOUSING"):
    """The unit loses its contact phone and its staff their phones: nobody can be told."""
    with runtime.db.transaction() as s:
        unit = s.scalars(select(Unit).where(Unit.code == code)).one()
        unit.contact_phones = []
        for person in s.scalars(select(User).where(User.unit_id == unit.id)):
            person.phone = None


# --- point 4: no silent failure ------------------------------------------------------------------


def test_the_directory_import_warns_about_a_unit_nobody_can_be_told_of_without_failing(runtime):
    parsed = directory.parse_yaml(
        "units:\n  - {code: PARKS, name_zh: 市园林局, name_en: Parks Bureau, kind: department}\n"
    )
    with runtime.db.transaction() as s:
        summary = directory.import_directory(s, parsed, runtime.now())
    assert summary.created == {"units": 1}
    assert (
        "warning.unit_without_contact",
        {"code": "PARKS", "zh": "市园林局", "en": "Parks Bureau"},
    ) in summary.warnings
    with runtime.db.session() as s:
        assert s.scalars(select(Unit).where(Unit.code == "PARKS")).one().active


def test_a_unit_without_contact_phones_is_told_through_its_staffs_phones(runtime):
    with runtime.db.transaction() as s:
        unit = s.scalars(select(Unit).where(Unit.code == "HOUSING")).one()
        unit.contact_phones = []
    with runtime.db.session() as s:
        assert sorted(routing.unit_phones(s, housing(runtime).id)) == ["+8613900000201", "+8613900000202"]
        assert housing(runtime).code not in {u.code for u in directory.units_without_contact(s)}


def test_the_admin_import_page_lists_the_warning_with_the_result(app, runtime):
    admin = sign_in(app, "admin")
    import io

    body = "units:\n  - {code: PARKS, name_zh: 市园林局, name_en: Parks Bureau}\n".encode()
    response = admin.post(
        "/staff/admin/directory", data={"file": (io.BytesIO(body), "parks.yaml")}, content_type="multipart/form-data"
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "市园林局" in html and "没有联系电话" in html


def test_routing_to_a_unit_without_contact_is_on_the_ticket_and_with_the_dispatcher(app, runtime):
    strip_contacts(runtime)
    ticket = housing_ticket(runtime)
    [missed] = events(runtime, ticket.id, "notification_not_sent")
    assert missed.data["reason"] == "no_contact" and missed.data["unit_id"] == housing(runtime).id
    dispatcher = sign_in(app, "dispatcher")
    ticket_page = page(dispatcher, f"/staff/tickets/{ticket.number}")
    assert 'id="notification-problems"' in ticket_page and "承办单位没有有效联系方式" in ticket_page
    assert "无有效联系方式" in ticket_page  # the routing form marks the unit
    queue = page(dispatcher, "/staff/dispatch/")
    assert ticket.number in queue.split('id="notification-problems"')[1].split("</div>")[0]


def test_a_text_to_an_opted_out_citizen_is_marked_undelivered_on_the_ticket(runtime):
    with runtime.db.transaction() as s:
        s.add(OptOut(phone=CITIZEN, opted_out=True))
    ticket = housing_ticket(runtime)
    Dispatcher(runtime).run()
    failed = events(runtime, ticket.id, "notification_failed")
    assert failed and {e.data["status"] for e in failed} == {"opted_out"}
    with runtime.db.session() as s:
        assert {e.ticket_id for e in overview.notification_problems(s, runtime.now())} == {ticket.id}


def test_a_citizen_without_a_valid_number_is_recorded_as_not_notified(runtime):
    ticket = housing_ticket(runtime, phone="12")
    assert [e.data["reason"] for e in events(runtime, ticket.id, "notification_not_sent")] == ["no_number"]


def test_an_anonymous_citizen_is_not_a_delivery_problem(runtime):
    ticket = housing_ticket(runtime, anonymous=True)
    assert events(runtime, ticket.id, "notification_not_sent") == []


def reminder_details(runtime, ticket_id, language="zh"):
    with runtime.db.session() as s:
        found = s.scalars(select(TicketEvent).where(TicketEvent.ticket_id == ticket_id)).all()
        entries = overview.timeline(s, found, language, lambda d: d.strftime("%m-%d %H:%M") if d else "")
    return [" · ".join(e.details) for e in entries if e.event.kind == "reminder"]


def test_the_reminder_on_the_timeline_says_queued_then_what_the_outbox_did(runtime, clock):
    ticket = housing_ticket(runtime)
    clock.set(MONDAY_9 + timedelta(hours=6))  # the sign-for clock is late
    escalation.sweep(runtime)
    [details] = reminder_details(runtime, ticket.id)
    assert "1 条短信排队待发" in details and "已发出" not in details
    Dispatcher(runtime).run()  # no Twilio credentials here: nothing really went out
    [details] = reminder_details(runtime, ticket.id)
    assert "未发出" in details and "排队" not in details


def test_a_reminder_with_nobody_to_tell_says_so(runtime, clock):
    strip_contacts(runtime)
    ticket = housing_ticket(runtime)
    clock.set(MONDAY_9 + timedelta(hours=6))
    escalation.sweep(runtime)
    assert reminder_details(runtime, ticket.id, "en") == [
        "unit: Housing and Urban-Rural Development Bureau · sign-for clock · nobody to send to: not sent"
    ]


def test_home_counts_what_waits_for_the_dispatcher_and_for_the_unit(app, runtime, clock):
    housing_ticket(runtime)
    queued = complaint(runtime, "我想问一下这个事情怎么办理")
    process_ticket_job(queued.id)
    with runtime.db.session() as s:
        assert s.get(Ticket, queued.id).state == "dispatch"
        staff = {u.username: u for u in s.scalars(select(User))}
        assert overview.home_counts(s, staff["dispatcher"], runtime.now()).new == 1
        unit = overview.home_counts(s, staff["unithead"], runtime.now())
        assert (unit.new, unit.unassigned, unit.overdue) == (1, 1, 0)
    clock.set(MONDAY_9 + timedelta(hours=4))  # the sign-for clock is due at 14:30: within 24 hours
    with runtime.db.session() as s:
        assert overview.home_counts(s, staff["unitstaff"], runtime.now()).due_soon == 1
    home = page(sign_in(app, "unitstaff"), "/staff/")
    assert 'id="nav-count"' in home and 'id="count-due-soon"><strong>1</strong>' in home


# --- point 5: inside a unit ----------------------------------------------------------------------


def test_the_head_gives_a_ticket_to_an_officer_who_finds_it_under_mine(app, runtime):
    ticket = housing_ticket(runtime)
    officer = user(runtime, "officer2", "unit_staff", unit_id=housing(runtime).id)
    head = sign_in(app, "unithead")
    html = act(head, ticket.number, "delegate", officer=str(officer.id))
    assert "Officer2" in html.split('id="assignments"')[1].split("</ul>")[0]
    sign_in(app, "officer2", "correct horse")
    mine = page(sign_in(app, "officer2", "correct horse"), "/staff/tickets?mine=1")
    assert ticket.number in mine
    assert ticket.number not in page(sign_in(app, "unitstaff"), "/staff/tickets?mine=1")


def test_an_officer_cannot_give_tickets_out_or_approve(app, runtime):
    ticket = housing_ticket(runtime)
    officer = sign_in(app, "unitstaff")
    assert officer.post(f"/staff/tickets/{ticket.number}/delegate", data={"officer": "1"}).status_code == 403
    assert officer.post(f"/staff/tickets/{ticket.number}/approve").status_code == 403


def test_the_workload_shows_open_due_soon_and_overdue_per_officer(app, runtime, clock):
    first, second = housing_ticket(runtime), housing_ticket(runtime, "东湖小区物业又乱收费了")
    with runtime.db.session() as s:
        officer_id = s.scalars(select(User.id).where(User.username == "unitstaff")).one()
    act(sign_in(app, "unithead"), first.number, "delegate", officer=str(officer_id))
    clock.set(MONDAY_9 + timedelta(hours=8))  # both sign-for clocks are late
    with runtime.db.session() as s:
        rows = {
            r.officer.username if r.officer else None: r
            for r in overview.unit_workload(s, housing(runtime).id, clock())
        }
    assert (rows["unitstaff"].open, rows["unitstaff"].overdue) == (1, 1)
    assert (rows[None].open, rows[None].overdue) == (1, 1) and rows[None].tickets[0].id == second.id
    html = page(sign_in(app, "unithead"), "/staff/unit")
    assert "住建局承办人" in html and "未分派承办人" in html


def test_with_approval_required_the_citizen_hears_only_after_the_head_approves(app, runtime, drain):
    set_setting(runtime, resolution_approval=["HOUSING"])
    ticket = housing_ticket(runtime)
    officer = sign_in(app, "unitstaff")
    act(officer, ticket.number, "sign")
    html = act(officer, ticket.number, "resolve", text="已督促物业退费")
    assert "待负责人审核" in html and 'id="awaiting-approval"' in html
    drain()
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).state == "approval"
        kinds = set(s.scalars(select(OutboxMessage.kind).where(OutboxMessage.ticket_id == ticket.id)))
    assert "citizen_resolved" not in kinds and "survey" not in kinds
    head = sign_in(app, "unithead")
    head_page = page(head, f"/staff/tickets/{ticket.number}")
    assert 'id="form-approve"' in head_page and "已督促物业退费" in head_page
    act(head, ticket.number, "approve")
    drain()
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).state == "resolved"
        resolved = s.scalars(
            select(OutboxMessage).where(OutboxMessage.ticket_id == ticket.id, OutboxMessage.kind == "citizen_resolved")
        ).one()
        assert "已督促物业退费" in resolved.body
        assert s.scalar(select(OutboxMessage.id).where(OutboxMessage.kind == "survey")) is not None


def test_the_head_sends_a_proposal_back_and_the_officer_resolves_again(app, runtime):
    set_setting(runtime, resolution_approval=True)
    ticket = housing_ticket(runtime)
    officer = sign_in(app, "unitstaff")
    act(officer, ticket.number, "sign")
    act(officer, ticket.number, "resolve", text="已处理")
    act(sign_in(app, "unithead"), ticket.number, "send_back", reason="缺少退费凭证")
    html = page(sign_in(app, "unitstaff"), f"/staff/tickets/{ticket.number}")
    assert "缺少退费凭证" in html and 'id="form-resolve"' in html
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).state == "signed"


def test_without_the_setting_an_officer_resolves_directly(app, runtime):
    ticket = housing_ticket(runtime)
    officer = sign_in(app, "unitstaff")
    act(officer, ticket.number, "sign")
    act(officer, ticket.number, "resolve", text="已处理")
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).state == "resolved"


def test_the_unit_head_resolves_without_approving_their_own_work(app, runtime):
    set_setting(runtime, resolution_approval=True)
    ticket = housing_ticket(runtime)
    head = sign_in(app, "unithead")
    act(head, ticket.number, "sign")
    act(head, ticket.number, "resolve", text="已处理")
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).state == "resolved"


def test_the_directory_refuses_a_malformed_approval_setting(runtime):
    parsed = directory.parse_yaml("settings:\n  resolution_approval: sometimes\n")
    with runtime.db.session() as s:
        assert any("resolution_approval" in p.message for p in directory.validate(s, parsed))


# --- point 6: the clock tells the truth ----------------------------------------------------------


def test_a_returned_ticket_leaves_the_units_inbox_at_once(app, runtime):
    ticket = housing_ticket(runtime)
    officer = sign_in(app, "unitstaff")
    assert ticket.number in page(officer, "/staff/tickets")
    act(officer, ticket.number, "return", reason="非本单位职责")
    assert ticket.number not in page(officer, "/staff/tickets")


def test_a_paused_clock_shows_paused_with_its_reason_on_the_ticket_and_in_the_list(app, runtime):
    ticket = housing_ticket(runtime)
    dispatcher = sign_in(app, "dispatcher")
    act(dispatcher, ticket.number, "pause", reason="awaiting_citizen")
    html = page(dispatcher, f"/staff/tickets/{ticket.number}")
    assert "已暂停：等待市民补充材料" in html.split('id="deadlines"')[1].split("</ul>")[0]
    listed = page(dispatcher, "/staff/tickets").split(f">{ticket.number}</a>")[1].split("</tr>")[0]
    assert "已暂停：等待市民补充材料" in listed and "剩余" not in listed.split("clock-paused")[1]
    english = page(dispatcher, f"/staff/tickets/{ticket.number}?lang=en")
    assert "paused: waiting for the citizen" in english


def test_a_returned_tickets_clock_reads_paused_for_arbitration(app, runtime):
    ticket = housing_ticket(runtime)
    act(sign_in(app, "unitstaff"), ticket.number, "return", reason="非本单位职责")
    html = page(sign_in(app, "dispatcher"), f"/staff/tickets/{ticket.number}")
    assert "已暂停：退回待重新派单" in html


# --- point 7: the citizen's answer is visible ----------------------------------------------------


def resolve_and_answer(app, runtime, ticket, answer):
    officer = sign_in(app, "unitstaff")
    act(officer, ticket.number, "sign")
    act(officer, ticket.number, "resolve", text="已处理完毕")
    with runtime.db.transaction() as s:
        tk = s.get(Ticket, ticket.id)
        survey = start_survey(s, runtime, tk)
        record_answer(s, runtime, survey, solved=answer[0], rating=answer[1], raw=answer[2])


def test_the_survey_answers_are_on_the_ticket_page(app, runtime):
    ticket = housing_ticket(runtime)
    resolve_and_answer(app, runtime, ticket, (True, 4, "1 4 物业已退费"))
    html = page(sign_in(app, "dispatcher"), f"/staff/tickets/{ticket.number}")
    surveys = html.split('id="surveys"')[1].split("</table>")[0]
    assert "已解决" in surveys and "满意度 4/5" in surveys and "物业已退费" in surveys


def test_a_twice_failed_tickets_card_shows_what_the_citizen_said(app, runtime):
    ticket = housing_ticket(runtime)
    resolve_and_answer(app, runtime, ticket, (False, None, "2 根本没人来"))
    resolve_and_answer(app, runtime, ticket, (False, 1, "还是没解决 1"))
    with runtime.db.session() as s:
        assert s.get(Ticket, ticket.id).state == "dispatch"
    card = (
        page(sign_in(app, "dispatcher"), "/staff/dispatch/")
        .split(f'id="surveys-{ticket.number}"')[1]
        .split("</div>")[0]
    )
    assert "根本没人来" in card and "还是没解决" in card and "满意度 1/5" in card and "未解决" in card


def test_the_timeline_names_people_units_and_dates_not_codes(app, runtime):
    ticket = housing_ticket(runtime)
    act(sign_in(app, "unitstaff"), ticket.number, "sign")
    html = page(sign_in(app, "dispatcher"), f"/staff/tickets/{ticket.number}")
    timeline = html.split('id="timeline"')[1].split("</ul>")[0]
    assert "住建局承办人 Unit staff" in timeline and "user:unitstaff" not in timeline
    assert "单位：市住房和城乡建设局" in timeline and "系统" in timeline
    assert "期限 2026年11月23日 14:30" in timeline  # the sign-for due date, in Beijing time
    english = page(sign_in(app, "dispatcher"), f"/staff/tickets/{ticket.number}?lang=en")
    timeline = english.split('id="timeline"')[1].split("</ul>")[0]
    assert "unit: Housing and Urban-Rural Development Bureau" in timeline and "system" in timeline


def test_the_survey_answer_on_the_timeline_says_what_the_citizen_chose(app, runtime):
    ticket = housing_ticket(runtime)
    resolve_and_answer(app, runtime, ticket, (True, 5, "1 5"))
    html = page(sign_in(app, "dispatcher"), f"/staff/tickets/{ticket.number}")
    timeline = html.split('id="timeline"')[1].split("</ul>")[0]
    assert "市民评价" in timeline and "已解决 · 满意度 5/5" in timeline


def test_a_late_clock_paused_since_reads_paused_on_the_overdue_list(app, runtime, clock):
    ticket = housing_ticket(runtime)
    clock.set(MONDAY_9 + timedelta(days=30))  # both clocks long past
    escalation.sweep(runtime)
    dispatcher = sign_in(app, "dispatcher")
    act(dispatcher, ticket.number, "pause", reason="awaiting_citizen")
    listed = page(dispatcher, "/staff/dispatch/overdue")
    assert "已暂停：等待市民补充材料" in listed  # the resolution clock
    assert "仍未完成" in listed  # the sign-for clock, not paused
