"""Issue 13, points 4-7 in a real browser, in Chinese and in English: a unit head gives a ticket to an
officer and approves the resolution; the dispatcher sees what could not be sent and what the
citizen said about a twice-failed ticket; a returned ticket leaves the unit at once and its paused
clock says why; a sweep catching up does not warn of a deadline already past."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.i18n import t
from hotline_core.models import DirectorySetting, Ticket, Unit, User
from hotline_core.runtime import Runtime
from intake.services import process_ticket_job
from responders import services
from responders.survey import record_answer, start_survey
from routing import escalation
from tests.browser.conftest import sign_in
from tests.conftest import Clock
from tests.factories import complaint

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)
CITIZEN = "+8613800138000"
HOUSING_TEXT = "东湖小区物业乱收费，业主多次反映无人处理"
PROPOSAL = "已约谈物业公司，多收费用下周退还"
OFFICER = "住建局承办人 Unit staff"


@pytest.fixture(autouse=True)
def working_monday(clock: Clock) -> None:
    clock.set(MONDAY_MORNING)


def housing_ticket(runtime: Runtime, text: str = HOUSING_TEXT, phone: str = CITIZEN) -> Ticket:
    ticket = complaint(runtime, text, phone=phone)
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        stored = s.get(Ticket, ticket.id)
        assert stored is not None and stored.state == "assigned"
        s.expunge(stored)
        return stored


def act(page: Page, action: str, done: str, **fields: str) -> None:
    form = page.locator(f"#form-{action}")
    for selector, value in fields.items():
        form.locator(f"#{selector.replace('_', '-')}").fill(value)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(f"/{action}")) as posted:
        form.locator("button[type=submit]").click()
    assert posted.value.status == 303, posted.value.status
    expect(page.locator("main > .flash.ok")).to_have_text(done)


def open_ticket(page: Page, base: str, number: str, lang: str = "zh") -> None:
    page.goto(f"{base}/staff/tickets/{number}?lang={lang}")
    page.wait_for_selector("#timeline")


def to_english(page: Page) -> None:
    page.click("#lang-switch")
    page.wait_for_function("document.documentElement.lang === 'en'")


def staff(runtime: Runtime, username: str) -> User:
    with runtime.db.session() as s:
        found = s.scalars(select(User).where(User.username == username)).one()
        s.expunge(found)
        return found


# --- point 5: inside a unit -------------------------------------------------------------------------


def test_a_unit_head_gives_a_ticket_to_an_officer_and_approves_the_resolution_before_the_citizen_hears(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    with runtime.db.transaction() as s:
        setting = s.get(DirectorySetting, "settings")
        assert setting is not None
        setting.value = {**setting.value, "resolution_approval": ["HOUSING"]}
    ticket = housing_ticket(runtime)

    sign_in(page, live_server, "unithead")
    expect(page.locator("#count-new strong")).to_have_text("1")
    expect(page.locator("#count-unassigned strong")).to_have_text("1")
    expect(page.locator("#nav-count")).to_have_text("1")
    shoot("01-head-home-zh")
    page.click("#workload-link")
    expect(page.locator("main h1")).to_contain_text("本单位工作量")
    expect(page.locator(".workload-row", has_text="未分派承办人").locator(".open")).to_have_text("1")
    shoot("02-workload-zh")
    page.locator(".workload-row", has_text="未分派承办人").locator(f"a:text-is('{ticket.number}')").click()
    page.locator("#officer").select_option(label=OFFICER)
    act(page, "delegate", "已分派承办人。")
    expect(page.locator("#assignments")).to_contain_text(f"承办人：{OFFICER}")
    shoot("03-delegated-zh")

    sign_in(page, live_server, "unitstaff")
    page.click("#my-tickets")
    page.locator("#tickets a", has_text=ticket.number).click()
    expect(page.locator("#form-delegate")).to_have_count(0)  # the officer's screen: no giving out
    act(page, "sign", "已签收。")
    expect(page.locator("#form-resolve h3")).to_have_text("提交办结（须负责人审核）")
    act(page, "resolve", t("action.resolve.proposed"), resolve_text=PROPOSAL)
    expect(page.locator("#ticket-state")).to_have_text("待审核办结")
    expect(page.locator("#awaiting-approval")).to_be_visible()
    shoot("04-officer-proposed-zh")

    sign_in(page, live_server, "unithead")
    expect(page.locator("#count-approval strong")).to_have_text("1")
    page.click("#count-approval a")
    page.locator("#tickets a", has_text=ticket.number).click()
    expect(page.locator("#proposal")).to_contain_text(PROPOSAL)
    shoot("05-head-approves-zh")
    act(page, "approve", "已批准办结，将向市民回访。")
    expect(page.locator("#ticket-state")).to_have_text("已办结")
    timeline = page.locator("#timeline")
    expect(timeline).to_contain_text("承办人提交办结，待负责人审核 · 住建局承办人 Unit staff")
    expect(timeline).to_contain_text("负责人批准办结 · 住建局负责人 Unit head")
    shoot("06-approved-zh")

    to_english(page)
    expect(page.locator("#ticket-state")).to_have_text("resolved")
    expect(timeline).to_contain_text("Resolution approved by the unit head · 住建局负责人 Unit head")
    expect(timeline).to_contain_text("Given to an officer by the unit head")
    expect(timeline).to_contain_text(f"officer: {OFFICER}")
    shoot("07-approved-en")
    page.goto(f"{live_server}/staff/unit?lang=en")
    expect(page.locator("main h1")).to_contain_text("The unit's workload")
    expect(page.locator("#workload th").first).to_have_text("Officer")
    shoot("08-workload-en")


# --- points 4 and 7: the dispatcher's view ----------------------------------------------------------


def twice_failed(runtime: Runtime) -> Ticket:
    """Resolved twice, and twice the citizen said it was not solved: back with the dispatcher."""
    ticket = housing_ticket(runtime)
    officer = staff(runtime, "unitstaff")
    for answer in ((False, None, "2 根本没人来看过"), (False, 1, "还是没有解决 1")):
        with runtime.db.transaction() as s:
            tk = s.get(Ticket, ticket.id)
            assert tk is not None
            services.sign_for(s, runtime, tk, officer)
            services.resolve(s, runtime, tk, officer, "已处理")
            survey = start_survey(s, runtime, tk)
            assert survey is not None
            record_answer(s, runtime, survey, solved=answer[0], rating=answer[1], raw=answer[2])
    with runtime.db.session() as s:
        referred = s.get(Ticket, ticket.id)
        assert referred is not None and referred.state == "dispatch"
        s.expunge(referred)
        return referred


def test_the_dispatcher_sees_what_could_not_be_sent_and_what_the_citizen_said(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    referred = twice_failed(runtime)
    with runtime.db.transaction() as s:  # the housing bureau loses every phone it had
        housing = s.scalars(select(Unit).where(Unit.code == "HOUSING")).one()
        housing.contact_phones = []
        for person in s.scalars(select(User).where(User.unit_id == housing.id)):
            person.phone = None
    unreachable = housing_ticket(runtime, "西城小区物业不作为，楼道垃圾一周没人清", phone="+8613900139000")

    sign_in(page, live_server, "dispatcher")
    expect(page.locator("#count-new strong")).to_have_text("1")
    expect(page.locator("#count-undelivered strong")).not_to_have_text("0")
    shoot("01-dispatcher-home-zh")
    page.click("#count-new a")
    problems = page.locator("#notification-problems")
    expect(problems.locator("li", has_text=unreachable.number)).to_contain_text("承办单位没有有效联系方式")
    expect(page.locator("#contactless-warning")).to_contain_text("市住房和城乡建设局")
    card = page.locator(f"#surveys-{referred.number}")
    expect(card).to_contain_text("根本没人来看过")
    expect(card).to_contain_text("还是没有解决")
    expect(card).to_contain_text("满意度 1/5")
    shoot("02-dispatch-queue-zh")
    to_english(page)
    expect(problems.locator("h2")).to_have_text("Notifications not delivered (last 7 days)")
    expect(problems.locator("li", has_text=unreachable.number)).to_contain_text("the unit has no working contact")
    expect(card).to_contain_text("What the citizen said (redone 2 times, still not satisfied):")
    expect(card).to_contain_text("rating 1/5")
    shoot("03-dispatch-queue-en")

    open_ticket(page, live_server, referred.number)
    rows = page.locator("#surveys .survey-row")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("未解决")
    expect(rows.nth(1)).to_contain_text("还是没有解决")
    expect(page.locator("#timeline")).to_contain_text("市民评价 · 市民 (未解决 · 满意度 1/5)")
    shoot("04-referred-ticket-zh")
    open_ticket(page, live_server, unreachable.number)
    expect(page.locator("#notification-problems")).to_contain_text("承办单位没有有效联系方式")
    expect(page.locator("#lead-unit option", has_text="市住房和城乡建设局")).to_contain_text("无有效联系方式")
    shoot("05-unreachable-ticket-zh")
    to_english(page)
    expect(page.locator("#notification-problems")).to_contain_text("the unit has no working contact")
    expect(page.locator("#lead-unit option", has_text="Housing and Urban")).to_contain_text("no working contact")
    shoot("06-unreachable-ticket-en")


# --- point 6: the clock tells the truth -------------------------------------------------------------


def test_a_returned_ticket_leaves_the_unit_at_once_and_its_clock_reads_paused_with_the_reason(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, clock: Clock
) -> None:
    page = browser_page
    ticket = housing_ticket(runtime)
    late = housing_ticket(runtime, "东湖小区物业又乱收费了", phone="+8613900139001")
    clock.set(MONDAY_MORNING + timedelta(hours=7))  # the worker was down: both sign-for clocks are late
    escalation.sweep(runtime)

    sign_in(page, live_server, "unitstaff")
    page.goto(f"{live_server}/staff/tickets")
    expect(page.locator("#tickets a", has_text=ticket.number)).to_have_count(1)
    open_ticket(page, live_server, ticket.number)
    act(page, "return", t("action.return.done"), return_reason="非本单位职责，属市场监管")
    page.goto(f"{live_server}/staff/tickets")
    expect(page.locator("#tickets a", has_text=ticket.number)).to_have_count(0)
    expect(page.locator("#tickets a", has_text=late.number)).to_have_count(1)
    shoot("01-unit-inbox-after-return-zh")

    sign_in(page, live_server, "dispatcher")
    page.goto(f"{live_server}/staff/tickets")
    row = page.locator("#tickets tr", has_text=ticket.number)
    expect(row.locator(".clock-paused")).to_have_text("已暂停：退回待重新派单")
    shoot("02-dispatcher-inbox-paused-zh")
    open_ticket(page, live_server, ticket.number)
    expect(page.locator("#deadlines .clock-paused")).to_have_text("已暂停：退回待重新派单")
    expect(page.locator("#timeline")).to_contain_text("承办单位退回 · 住建局承办人 Unit staff")
    shoot("03-ticket-paused-zh")
    to_english(page)
    expect(page.locator("#deadlines .clock-paused")).to_have_text("paused: returned, awaiting a new unit")
    shoot("04-ticket-paused-en")

    open_ticket(page, live_server, late.number)
    warning = page.locator("#timeline li.event-deadline_warning")
    expect(warning).to_contain_text("已超期，未再发送“即将到期”提醒")
    expect(page.locator("#timeline li.event-reminder").first).to_contain_text("短信")
    shoot("05-catch-up-sweep-zh")
    to_english(page)
    expect(warning).to_contain_text("already late: no “due soon” warning was sent")
    shoot("06-catch-up-sweep-en")
