"""Staff at work in a real browser: a dispatcher routes, a unit works the ticket, the citizen's survey
answer reopens it, an administrator reads the audit trail, and every staff page in both languages.

The app runs with CSRF protection on, behind a real HTTP server, with the demo city loaded (no
classifier model, so a vague complaint waits in the dispatch queue). Background jobs run only when
a test calls ``runtime.jobs.run_burst()``. The clock is a working Monday morning, so deadlines and
screenshots do not depend on when the suite runs.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import select

from hotline_core.models import AuditEntry, Category, OutboxMessage, Ticket, Unit, User
from hotline_core.runtime import Runtime
from hotline_core.settings import Settings
from intake.services import process_ticket_job
from responders import services
from routing import escalation
from simulator.replies import OutboxTexts
from simulator.twilio_requests import Phone
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
VAGUE = "我有个事情想说一下"
HOUSING_TEXT = "东湖小区物业乱收费，业主多次反映无人处理"
CONTACT_NOTE = "已电话联系市民，约定明日上门核实"
REPLY = "已责成物业公司退还多收费用"
RESOLUTION = "物业已退费并公示收费标准"
HOUSING_ZH = "市住房和城乡建设局"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Interface text on a page (not data such as ticket texts or people's names): must be in the page's language.
CHROME = ", ".join(
    ["header nav a:not(#lang-switch)", "header nav button"]
    + [f"main {part}" for part in ("h1", "h2", "h3", "th", "label", "button", ".help")]
)


@pytest.fixture(autouse=True)
def working_monday(clock: Clock) -> None:
    clock.set(MONDAY_MORNING)


# --- arranging tickets, as the intake pipeline makes them ------------------------------------------


def stored(runtime: Runtime, ticket_id: int) -> Ticket:
    with runtime.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        s.expunge(ticket)
        return ticket


def unit_id(runtime: Runtime, code: str) -> int:
    with runtime.db.session() as s:
        return s.scalars(select(Unit.id).where(Unit.code == code)).one()


def queued_ticket(runtime: Runtime, text: str = VAGUE) -> Ticket:
    """A complaint the keyword rules cannot place: it waits in the dispatcher's manual queue."""
    ticket = complaint(runtime, text, phone=CITIZEN)
    process_ticket_job(ticket.id)
    ticket = stored(runtime, ticket.id)
    assert ticket.state == "dispatch", ticket.state
    return ticket


def housing_ticket(runtime: Runtime, text: str = HOUSING_TEXT, phone: str = CITIZEN) -> Ticket:
    """A complaint the rules route to the housing bureau, the demo unit staff's unit."""
    ticket = complaint(runtime, text, phone=phone)
    process_ticket_job(ticket.id)
    ticket = stored(runtime, ticket.id)
    assert (ticket.state, ticket.lead_unit_id) == ("assigned", unit_id(runtime, "HOUSING"))
    return ticket


def live_phone(base: str, runtime: Runtime) -> Phone:
    """The citizen's phone, through simulated Twilio, posting signed webhooks to the live server.

    Texts are answered by a job: the phone runs the queued jobs and reads the replies it was sent.
    """

    def transport(path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        response = requests.post(base + path, data=form, headers=headers, timeout=10)
        return response.status_code, response.text

    settings = runtime.settings
    texts = OutboxTexts(runtime, run_jobs=runtime.jobs.run_burst)
    return Phone(base, settings.webhook_auth_token, transport, settings.hotline_number, read_texts=texts)


# --- what a person does in the browser -----------------------------------------------------------


def open_from_home(page: Page, path: str) -> None:
    """Follow a link of the staff home page, as people get around."""
    page.click(f"main a[href='{path}']")
    page.wait_for_url(re.compile(re.escape(path) + r"(\?.*)?$"))


def act(page: Page, action: str, done: str, **fields: str) -> None:
    """Fill one action form of the ticket page (``#form-<action>``), submit it, and see it done."""
    form = page.locator(f"#form-{action}")
    for selector, value in fields.items():
        form.locator(f"#{selector.replace('_', '-')}").fill(value)
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(f"/{action}")) as posted:
        form.locator("button[type=submit]").click()
    assert posted.value.status == 303, posted.value.status
    expect(page.locator("main > .flash")).to_have_text(done)
    expect(page.locator("main > .flash")).to_have_class(re.compile(r"\bok\b"))


def route_from_queue(page: Page, base: str, number: str, category: str, unit: str) -> None:
    sign_in(page, base, "dispatcher")
    open_from_home(page, "/staff/dispatch/")
    card = page.locator(f"#dispatch-{number}")
    card.locator("select[name=category]").select_option(label=category)
    card.locator("select[name=lead_unit]").select_option(label=unit)
    card.locator("button[type=submit]").click()
    expect(page.locator("main > .flash")).to_have_text("已派单。")


def open_ticket_from_inbox(page: Page, number: str) -> None:
    open_from_home(page, "/staff/tickets")
    page.locator("#tickets tr", has_text=number).locator(f"a:text-is('{number}')").click()
    page.wait_for_url(re.compile(rf"/staff/tickets/{number}$"))


def sign_and_resolve(page: Page, base: str, number: str) -> None:
    sign_in(page, base, "unitstaff")
    open_ticket_from_inbox(page, number)
    act(page, "sign", "已签收。")
    act(page, "resolve", "已办结，将向市民回访。", resolve_text=RESOLUTION)


def not_solved_by_sms(runtime: Runtime, base: str, settings: Settings) -> None:
    """The survey goes out after the resolution; the citizen answers "2" (not solved)."""
    runtime.jobs.run_burst()
    with runtime.db.session() as s:
        asked = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "survey")).all()
    assert [m.to_number for m in asked] == [CITIZEN]
    answer = live_phone(base, runtime).text(CITIZEN, "2")
    assert answer.status == 200, answer.body
    assert any("已重新交办" in text for text in answer.replies), answer.replies


# --- the journeys ----------------------------------------------------------------------------------


def test_a_dispatcher_routes_a_ticket_from_the_manual_queue_to_the_housing_bureau(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    ticket = queued_ticket(runtime)
    sign_in(page, live_server, "dispatcher")
    open_from_home(page, "/staff/dispatch/")
    card = page.locator(f"#dispatch-{ticket.number}")
    expect(card.locator(".ticket-text")).to_have_text(VAGUE)
    expect(card).to_contain_text(CITIZEN)  # dispatchers see the full number
    shoot("01-dispatch-queue-zh")
    page.click("#lang-switch")
    expect(page.locator("main h1")).to_have_text("Dispatch queue")
    shoot("02-dispatch-queue-en")
    page.click("#lang-switch")
    expect(page.locator("main h1")).to_have_text("人工派单")

    card.locator("select[name=category]").select_option(label="城乡建设")
    card.locator("select[name=lead_unit]").select_option(label=HOUSING_ZH)
    shoot("03-dispatch-route-chosen")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/route")) as posted:
        card.locator("button[type=submit]").click()
    assert posted.value.status == 303

    page.wait_for_url(f"{live_server}/staff/tickets/{ticket.number}")
    expect(page.locator("main > .flash")).to_have_text("已派单。")
    expect(page.locator("#ticket-state")).to_have_text("已派单")
    expect(page.locator("#assignments")).to_contain_text(HOUSING_ZH)
    # The dispatcher can route again from here: the route form shows real fields, not escaped markup.
    expect(page.locator("#form-route #lead-unit option", has_text=HOUSING_ZH)).to_have_count(1)
    expect(page.locator("#form-route #co-units")).to_be_visible()
    assert "<label" not in page.inner_text("#actions")
    shoot("04-ticket-routed")
    routed = stored(runtime, ticket.id)
    with runtime.db.session() as s:
        category = s.scalars(select(Category.code).where(Category.id == routed.category_id)).one()
    assert (routed.state, routed.lead_unit_id, category) == ("assigned", unit_id(runtime, "HOUSING"), "CONSTRUCTION")

    page.goto(f"{live_server}/staff/dispatch/")
    expect(page.locator("main")).to_contain_text("没有待派单的工单。")


def test_a_unit_member_signs_for_contacts_replies_and_resolves_and_the_citizen_reads_the_reply(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    ticket = housing_ticket(runtime)
    sign_in(page, live_server, "unitstaff")
    open_from_home(page, "/staff/tickets")
    row = page.locator("#tickets tr", has_text=ticket.number)
    expect(row).to_have_count(1)
    expect(row.locator("td.phone")).to_have_text("138****8000")
    shoot("01-inbox")
    row.locator(f"a:text-is('{ticket.number}')").click()
    page.wait_for_selector("#form-sign")
    expect(page.locator("#ticket-state")).to_have_text("已派单")
    shoot("02-ticket-to-sign")

    act(page, "sign", "已签收。")
    expect(page.locator("#ticket-state")).to_have_text("办理中")
    expect(page.locator("#form-sign")).to_have_count(0)
    for field in ("#contact-note", "#reply-text", "#resolve-text", "#evidence", "#return-reason", "#new-date"):
        expect(page.locator(field)).to_be_visible()
    expect(page.locator("#suggested-unit option", has_text="市商务局")).to_have_count(1)
    assert "<label" not in page.inner_text("#actions")
    shoot("03-ticket-action-forms")
    act(page, "contact", "已记录联系情况。", contact_note=CONTACT_NOTE)
    act(page, "reply", "答复已发送。", reply_text=REPLY)
    act(page, "resolve", "已办结，将向市民回访。", resolve_text=RESOLUTION)
    expect(page.locator("#ticket-state")).to_have_text("已办结")
    for text in (CONTACT_NOTE, REPLY, RESOLUTION):
        expect(page.locator("#timeline")).to_contain_text(text)
    shoot("04-ticket-resolved")

    page.locator("header form[action$='/staff/logout'] button").click()
    page.wait_for_selector("#complaint-form")
    page.click("header a[href='/track']")
    page.fill("#number", ticket.number)
    page.fill("#last4", CITIZEN[-4:])
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#ticket")
    shoot("05-citizen-tracking")
    expect(page.locator("#ticket-state")).to_have_text("已办结")
    public = page.locator("#ticket .public-body").all_inner_texts()
    assert REPLY in public and RESOLUTION in public, public
    assert CONTACT_NOTE not in page.inner_text("main"), "the unit's contact note is not for the citizen"


def test_a_not_solved_survey_answer_reopens_the_ticket_for_the_same_unit(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, settings: Settings
) -> None:
    page = browser_page
    ticket = housing_ticket(runtime)
    sign_and_resolve(page, live_server, ticket.number)
    expect(page.locator("#ticket-state")).to_have_text("已办结")

    not_solved_by_sms(runtime, live_server, settings)

    page.reload()
    expect(page.locator("#ticket-state")).to_have_text("已派单")
    expect(page.locator("main .card").first).to_contain_text("重办次数: 1")
    expect(page.locator("#form-sign")).to_be_visible()  # the unit signs for the redo afresh
    expect(page.locator("#timeline li.event-reopened")).to_have_count(1)
    shoot("01-reopened-zh")
    page.click("#lang-switch")
    expect(page.locator("#ticket-state")).to_have_text("assigned to a unit")
    expect(page.locator("main .card").first).to_contain_text("Redone: 1")
    shoot("02-reopened-en")
    reopened = stored(runtime, ticket.id)
    assert (reopened.state, reopened.redo_count, reopened.lead_unit_id) == (
        "assigned",
        1,
        unit_id(runtime, "HOUSING"),
    )


def test_an_admin_reads_filters_and_downloads_the_audit_trail(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, settings: Settings
) -> None:
    page = browser_page
    ticket = queued_ticket(runtime)
    route_from_queue(page, live_server, ticket.number, "城乡建设", HOUSING_ZH)
    sign_and_resolve(page, live_server, ticket.number)
    not_solved_by_sms(runtime, live_server, settings)

    sign_in(page, live_server, "admin")
    open_from_home(page, "/staff/admin/audit")
    rows = page.locator("#audit tr", has=page.locator("td.action"))
    actors, actions = rows.locator("td:nth-child(2)").all_inner_texts(), rows.locator("td.action").all_inner_texts()
    seen = set(zip(actors, actions, strict=True))
    for actor, action in (
        ("user:dispatcher", "ticket.assign"),
        ("user:unitstaff", "ticket.sign_for"),
        ("user:unitstaff", "ticket.resolve"),
        ("citizen", "ticket.reopen"),
        ("user:admin", "login.success"),
    ):
        assert (actor, action) in seen, f"{actor} {action} missing from {sorted(seen)}"
    shoot("01-audit")

    page.fill("#action", "ticket.re")
    page.click("#audit-filters button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]action=ticket\.re(&|$)"))
    expect(page.locator("#audit td.action")).to_have_text(["ticket.reopen", "ticket.resolve"])
    expect(page.locator("#action")).to_have_value("ticket.re")
    shoot("02-audit-filtered")

    with page.expect_download() as downloading:
        page.click("#audit-csv")
    download = downloading.value
    assert re.fullmatch(r"audit-\d{8}-\d{4}\.csv", download.suggested_filename), download.suggested_filename
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff"), "the BOM lets Excel read the Chinese"
    header, *lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header == ["时间", "操作人", "操作", "对象类型", "对象编号", "IP 地址", "详情"]
    assert [line[2] for line in lines] == ["ticket.reopen", "ticket.resolve"]
    assert all(line[3:5] == ["ticket", str(ticket.id)] for line in lines), lines
    assert '"redo_count": 1' in lines[0][6]

    page.click("#lang-switch")  # the filter survives the language switch
    expect(page.locator("main h1")).to_have_text("Audit trail")
    expect(page.locator("#action")).to_have_value("ticket.re")
    expect(page.locator("#audit td.action")).to_have_text(["ticket.reopen", "ticket.resolve"])
    shoot("03-audit-filtered-en")

    page.goto(f"{live_server}/staff/admin/audit?action=audit.")
    expect(page.locator("#audit td.action")).to_have_text(["audit.export"])
    with runtime.db.session() as s:
        [export] = s.scalars(select(AuditEntry).where(AuditEntry.action == "audit.export")).all()
        assert export.actor == "user:admin" and export.details == {"filters": {"action": "ticket.re"}}


# --- every staff page, in Chinese and in English -----------------------------------------------------

# (name, path, selector, Chinese text, English text): one characteristic text of each page.
PAGES = [
    ("inbox", "/staff/tickets", "main h1", "工单列表", "Tickets"),
    ("ticket", "/staff/tickets/{number}", "#actions h2", "办理", "Actions"),
    ("dispatch", "/staff/dispatch/", "main h1", "人工派单", "Dispatch queue"),
    ("extensions", "/staff/dispatch/extensions", "main h1", "延期申请", "Extension requests"),
    ("overdue", "/staff/dispatch/overdue", "main h1", "超期与督办", "Overdue and escalated"),
    ("admin-users", "/staff/admin/users", "main h2", "新建用户", "Create a user"),
    ("admin-directory", "/staff/admin/directory", "main h1", "派单目录", "Dispatch directory"),
    ("audit", "/staff/admin/audit", "main h1", "审计日志", "Audit trail"),
]


def a_busy_day(runtime: Runtime, clock: Clock) -> Ticket:
    """Something on every page: a ticket to route, an extension to decide, an overdue sign-for."""
    queued_ticket(runtime)
    extended = housing_ticket(runtime)
    housing_ticket(runtime, "西城小区物业不作为，楼道垃圾一周没人清", phone="+8613900139000")
    with runtime.db.transaction() as s:
        staff = s.scalars(select(User).where(User.username == "unitstaff")).one()
        ticket = s.get(Ticket, extended.id)
        services.sign_for(s, runtime, ticket, staff)
        services.request_extension(
            s, runtime, ticket, staff, "需要住建、市场监管联合调查", datetime(2026, 12, 10, 17, 30, tzinfo=BEIJING)
        )
    clock.advance(8 * 3600)  # 17:00: the unsigned ticket's sign-for deadline (16:00) has passed
    escalation.sweep(runtime)
    return extended


def test_every_staff_page_reads_in_chinese_and_in_english(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, clock: Clock
) -> None:
    page = browser_page
    ticket = a_busy_day(runtime, clock)
    sign_in(page, live_server, "admin")
    problems: list[str] = []
    for name, path, selector, zh, en in PAGES:
        page.goto(live_server + path.format(number=ticket.number) + "?lang=zh")
        page.wait_for_selector(selector)
        if page.get_attribute("html", "lang") != "zh-CN" or zh not in page.locator(selector).all_inner_texts():
            problems.append(f"{name} (zh): {selector} reads {page.locator(selector).all_inner_texts()}")
        if "</" in page.inner_text("main"):
            problems.append(f"{name} (zh): markup shown as text")
        shoot(f"{name}-zh")

        page.click("#lang-switch")
        page.wait_for_function("document.documentElement.lang === 'en'")
        page.wait_for_selector(selector)
        if en not in page.locator(selector).all_inner_texts():
            problems.append(f"{name} (en): {selector} reads {page.locator(selector).all_inner_texts()}")
        leftovers = [text for text in page.locator(CHROME).all_inner_texts() if CJK.search(text)]
        if leftovers:
            problems.append(f"{name} (en): Chinese interface text {leftovers}")
        shoot(f"{name}-en")
    assert not problems, "\n".join(problems)
