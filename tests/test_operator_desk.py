"""Issue 13, point 3: the operator's desk. A dispatcher types in a caller's ticket through the one intake
service, finds tickets by number, phone (authorised, audited), words and dates, and sees the caller's
earlier tickets beside the one open."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.models import AuditEntry, Category, OutboxMessage, Role, Ticket, TicketEvent, Unit
from responders import services
from tests.factories import complaint, housing_ticket, user
from tests.helpers import sign_in

pytestmark = pytest.mark.demo_city

BEIJING = ZoneInfo("Asia/Shanghai")
CALLER = "+8613911112222"


def tickets(runtime):
    with runtime.db.session() as s:
        return s.scalars(select(Ticket).order_by(Ticket.id)).all()


def audit_of(runtime, action):
    with runtime.db.session() as s:
        return s.scalars(select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.id)).all()


def type_in(client, **fields):
    form = {
        "text": "来电反映政务大厅社保窗口排队两小时无人办理",
        "phone": "139 1111 2222",
        "form_token": "a1b2c3",
        **fields,
    }
    return client.post("/staff/desk", data=form)


# --- typing in a ticket -----------------------------------------------------------------------------


def test_a_dispatcher_types_in_a_callers_complaint_as_a_phone_ticket(app, runtime):
    with runtime.db.session() as s:
        labour = s.scalars(select(Category.id).where(Category.code == "LABOUR")).one()
    answer = type_in(sign_in(app, Role.DISPATCHER), category=str(labour), name="王先生", consent="1")
    [ticket] = tickets(runtime)
    assert answer.status_code == 303 and answer.headers["Location"].endswith(f"/staff/tickets/{ticket.number}")
    assert ticket.channel == "phone" and ticket.citizen_phone == CALLER and ticket.citizen_name == "王先生"
    assert ticket.category_id == labour and ticket.contact_consent and ticket.language == "zh"
    with runtime.db.session() as s:
        typed = s.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "typed_by_operator")
        ).one()
    assert typed.actor == "user:dispatcher"
    assert [a.object_id for a in audit_of(runtime, "desk.ticket_typed")] == [str(ticket.id)]


def test_the_caller_is_texted_the_acknowledgement_with_the_number(app, runtime):
    type_in(sign_in(app, Role.DISPATCHER))
    [ticket] = tickets(runtime)
    with runtime.db.session() as s:
        [ack] = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "acknowledgement")).all()
    assert ack.to_number == CALLER and ack.body.startswith("【效能投诉热线】您的来电投诉已受理")
    assert ticket.number in ack.body


def test_a_second_click_on_the_same_form_makes_one_ticket(app, runtime):
    client = sign_in(app, Role.DISPATCHER)
    first, second = type_in(client), type_in(client)
    assert first.headers["Location"] == second.headers["Location"]
    assert len(tickets(runtime)) == 1 and len(audit_of(runtime, "desk.ticket_typed")) == 1


def test_an_invalid_phone_is_refused_and_the_typed_text_is_kept(app, runtime):
    answer = type_in(sign_in(app, Role.DISPATCHER), phone="12345")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 400 and tickets(runtime) == []
    assert "号码 12345 不是有效的电话号码。" in page and "社保窗口排队两小时" in page


def test_an_empty_complaint_is_refused_in_the_readers_language(app, runtime):
    answer = type_in(sign_in(app, Role.DISPATCHER), text="  ", lang="en")
    assert answer.status_code == 400 and tickets(runtime) == []
    english = sign_in(app, Role.DISPATCHER).post("/staff/desk?lang=en", data={"text": "", "form_token": "x1"})
    assert "The complaint is required." in english.get_data(as_text=True)


def test_the_callers_language_is_taken_from_the_text_unless_chosen(app, runtime):
    client = sign_in(app, Role.DISPATCHER)
    client.get("/staff/?lang=en")  # an English-speaking dispatcher takes a Chinese call
    type_in(client, form_token="t1")
    type_in(client, text="The permit office sent me back three times", form_token="t2")
    type_in(client, text="窗口办事拖延", language="en", form_token="t3")
    assert [t.language for t in tickets(runtime)] == ["zh", "en", "en"]


def test_a_caller_without_a_number_still_gets_a_ticket(app, runtime):
    type_in(sign_in(app, Role.DISPATCHER), phone="")
    [ticket] = tickets(runtime)
    assert ticket.citizen_phone is None and ticket.lookup_code


# --- searching ----------------------------------------------------------------------------------------


def test_tickets_are_found_by_the_start_of_their_number(app, runtime):
    first = complaint(runtime, "窗口办事拖延")
    complaint(runtime, "另一件事")
    page = sign_in(app, Role.DISPATCHER).get(f"/staff/search?number={first.number}").get_data(as_text=True)
    assert f">{first.number}</a>" in page and "另一件事" not in page


def test_a_dispatcher_finds_a_callers_tickets_by_phone_and_the_search_is_audited(app, runtime):
    mine = complaint(runtime, "窗口办事拖延", phone=CALLER)
    complaint(runtime, "别人的投诉", phone="+8613700137000")
    page = sign_in(app, Role.DISPATCHER).get("/staff/search?phone=13911112222").get_data(as_text=True)
    assert f">{mine.number}</a>" in page and "别人的投诉" not in page
    [searched] = audit_of(runtime, "ticket.phone_searched")
    assert searched.actor == "user:dispatcher" and searched.details == {"phone": CALLER}


def test_roles_that_may_not_see_phones_cannot_search_by_phone(app, runtime):
    complaint(runtime, "窗口办事拖延", phone=CALLER)
    leader = sign_in(app, Role.LEADER)
    assert 'name="phone"' not in leader.get("/staff/search").get_data(as_text=True)
    refused = leader.get(f"/staff/search?phone={CALLER}&lang=en")
    assert refused.status_code == 400 and "Your role may not search by the caller" in refused.get_data(as_text=True)
    assert audit_of(runtime, "ticket.phone_searched") == []


def test_words_of_the_text_find_tickets_whatever_their_case(app, runtime):
    complaint(runtime, "The PERMIT office sent me back three times", language="en")
    complaint(runtime, "窗口办事拖延")
    page = sign_in(app, Role.DISPATCHER).get("/staff/search?q=permit+office").get_data(as_text=True)
    assert "The PERMIT office" in page and "窗口办事拖延" not in page


def test_a_search_for_percent_signs_matches_them_literally(app, runtime):
    complaint(runtime, "收费涨了 50% 没有公示")
    complaint(runtime, "窗口办事拖延")
    page = sign_in(app, Role.DISPATCHER).get("/staff/search?q=0%25").get_data(as_text=True)
    assert "收费涨了 50% 没有公示" in page and "窗口办事拖延" not in page


def test_the_date_range_defaults_to_ninety_days_and_is_bounded(app, runtime, clock):
    clock.set(datetime(2026, 6, 1, 10, 0, tzinfo=BEIJING))
    old = complaint(runtime, "半年前的投诉")
    clock.set(datetime(2026, 12, 7, 10, 0, tzinfo=BEIJING))
    recent = complaint(runtime, "最近的投诉")
    client = sign_in(app, Role.DISPATCHER)
    page = client.get("/staff/search?q=投诉").get_data(as_text=True)
    assert recent.number in page and old.number not in page and "受理日期 2026-09-08 至 2026-12-07" in page
    wide = client.get("/staff/search?q=投诉&from=2026-05-01&to=2026-12-07").get_data(as_text=True)
    assert old.number in wide
    too_long = client.get("/staff/search?q=投诉&from=2025-01-01&to=2026-12-07")
    assert too_long.status_code == 400 and "日期范围不能超过 366 天。" in too_long.get_data(as_text=True)
    reversed_range = client.get("/staff/search?from=2026-12-07&to=2026-12-01")
    assert reversed_range.status_code == 400


@pytest.mark.parametrize(
    "query", ["from=0001-01-01", "to=0001-01-01", "to=9999-12-31", "number=%00", "q=a%00b", "phone=%00"]
)
def test_nonsense_in_a_search_is_refused_or_ignored_never_an_error(app, runtime, query):
    complaint(runtime, "窗口办事拖延")
    answer = sign_in(app, Role.DISPATCHER).get(f"/staff/search?{query}")
    assert answer.status_code in (200, 400)


def test_results_come_in_pages_newest_first(app, runtime, monkeypatch):
    monkeypatch.setattr(services, "SEARCH_PAGE", 2)
    made = [complaint(runtime, f"窗口办事拖延 第{i}次") for i in range(5)]
    client = sign_in(app, Role.DISPATCHER)
    first = client.get("/staff/search?q=拖延").get_data(as_text=True)
    last = client.get("/staff/search?q=拖延&page=3").get_data(as_text=True)
    assert made[4].number in first and made[3].number in first and made[0].number not in first
    assert made[0].number in last and made[1].number not in last and "第 3 / 3 页" in last


def test_a_unit_finds_only_the_tickets_given_to_it(app, runtime):
    ours = housing_ticket(runtime)
    others = complaint(runtime, "东湖小区物业乱收费 另一件未派单的")
    page = sign_in(app, Role.UNIT_STAFF).get("/staff/search?q=物业乱收费").get_data(as_text=True)
    assert ours.number in page and others.number not in page


# --- the caller's earlier tickets ------------------------------------------------------------------------


def test_the_callers_earlier_tickets_are_beside_the_one_open(app, runtime, clock):
    earlier = complaint(runtime, "上个月反映过的窗口拖延", phone=CALLER)
    clock.advance(3600)
    complaint(runtime, "别人的投诉", phone="+8613700137000")
    current = complaint(runtime, "又来了，还是窗口拖延", phone=CALLER)
    page = sign_in(app, Role.DISPATCHER).get(f"/staff/tickets/{current.number}").get_data(as_text=True)
    box = page[page.index('id="earlier-tickets"') :]
    box = box[: box.index("</div>")]
    assert "该来电人的其他工单" in box and earlier.number in box and "别人的投诉" not in box
    assert current.number not in box


def test_roles_that_may_not_see_the_phone_do_not_see_the_callers_other_tickets(app, runtime):
    complaint(runtime, "上个月反映过的窗口拖延", phone=CALLER)
    current = complaint(runtime, "又来了，还是窗口拖延", phone=CALLER)
    page = sign_in(app, Role.LEADER).get(f"/staff/tickets/{current.number}").get_data(as_text=True)
    assert 'id="earlier-tickets"' not in page


def test_a_unit_sees_only_its_own_earlier_tickets_of_a_caller_who_agreed_to_be_contacted(app, runtime):
    ours = housing_ticket(runtime, phone=CALLER, contact_consent=True)
    not_ours = complaint(runtime, "公交司机拒载", phone=CALLER)
    current = housing_ticket(runtime, "东湖小区物业又乱收费了", phone=CALLER, contact_consent=True)
    with runtime.db.session() as s:
        assert s.get(Ticket, current.id).lead_unit_id == s.scalars(select(Unit.id).where(Unit.code == "HOUSING")).one()
    with runtime.db.session() as s:
        staff = s.scalars(select(services.User).where(services.User.username == "unitstaff")).one()
        found = services.earlier_tickets(s, staff, s.get(Ticket, current.id))
    assert [t.number for t in found] == [ours.number] and not_ours.number not in [t.number for t in found]


def test_a_unit_outside_the_ticket_cannot_search_it_by_number(app, runtime):
    ticket = housing_ticket(runtime)
    with runtime.db.session() as s:
        transport = s.scalars(select(Unit.id).where(Unit.code == "TRANSPORT")).one()
    user(runtime, "bus-officer", Role.UNIT_STAFF, "bus-officer-pass", unit_id=transport)
    page = sign_in(app, "bus-officer", "bus-officer-pass").get(f"/staff/search?number={ticket.number}&lang=zh")
    results = page.get_data(as_text=True).split("</form>", 2)[-1]
    assert ticket.number not in results and "没有符合条件的工单。" in results


def test_no_search_is_made_until_something_is_asked(app, runtime):
    complaint(runtime, "窗口办事拖延")
    page = sign_in(app, Role.DISPATCHER).get("/staff/search").get_data(as_text=True)
    assert 'id="search-results"' not in page and 'id="search-range"' not in page
