"""Citizens are never stranded (issue 13, points 8-10), in Chromium, in Chinese and in English.

8. A citizen tracks a ticket and sees the unit, the deadline and the unit's reply; a merged
   ticket's citizen is pointed to the ticket it joined and texted its news.
9. The SMS conversation (the simulator's Phone texting the live server): forgiving keywords, a new
   matter opens a new ticket, nothing non-urgent at night; the dispatcher reads the texts in the
   outbox page.
10. Double click, back and resubmit, two tabs: one ticket; the button says it is sending; ticking
    "anonymous" after typing a number says what happens to it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlalchemy import func, select

from hotline_core.models import OutboxMessage, Ticket, User
from hotline_core.runtime import Runtime
from intake.services import process_ticket_job
from responders import services as portal
from simulator.replies import OutboxTexts
from simulator.twilio_requests import Phone
from tests.browser.conftest import sign_in
from tests.factories import complaint

if TYPE_CHECKING:
    from playwright.sync_api import Page, Route

BEIJING = ZoneInfo("Asia/Shanghai")
CITIZEN = "+8613800138000"
NEIGHBOUR = "+8613700137000"
HOUSING = {
    "zh": "东湖小区物业乱收费，业主多次反映无人处理",
    "en": "The property manager of Donghu estate overcharges every owner",
}
REPLY = {"zh": "已约物业明天上午到现场核实", "en": "We will meet the property manager on site tomorrow morning"}
UNIT = {"zh": "市住房和城乡建设局", "en": "Housing and Urban-Rural Development Bureau"}
LANGS = pytest.mark.parametrize("lang", ["zh", "en"])


@pytest.fixture(autouse=True)
def monday_morning(clock) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING))


def housing_ticket(runtime: Runtime, lang: str, phone: str = CITIZEN, text: str | None = None) -> Ticket:
    ticket = complaint(runtime, text or HOUSING[lang], phone=phone, language=lang)
    process_ticket_job(ticket.id)
    return ticket


def staff(runtime: Runtime, username: str) -> User:
    with runtime.db.session() as s:
        user = s.scalars(select(User).where(User.username == username)).one()
        s.expunge(user)
        return user


def as_staff(runtime: Runtime, username: str, action: Callable[..., object], number: str, *args: object) -> None:
    """A staff action through the same service the portal's button calls."""
    with runtime.db.transaction() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        user = s.merge(staff(runtime, username), load=False)
        action(s, runtime, ticket, user, *args)


def live_phone(base: str, runtime: Runtime) -> Phone:
    def transport(path: str, form: dict[str, str], headers: dict[str, str]) -> tuple[int, str]:
        response = requests.post(base + path, data=form, headers=headers, timeout=10)
        return response.status_code, response.text

    settings = runtime.settings
    texts = OutboxTexts(runtime, run_jobs=runtime.jobs.run_burst)
    return Phone(base, settings.webhook_auth_token, transport, settings.hotline_number, read_texts=texts)


def track(page: Page, base: str, lang: str, number: str, last4: str) -> None:
    page.goto(f"{base}/track?lang={lang}")
    page.fill("#number", number)
    page.fill("#last4", last4)
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#ticket")


def no_latin(text: str) -> bool:
    """A Chinese text: no Latin letters once ticket numbers and digits are set aside."""
    return not re.search(r"[A-Za-z]", text)


# --- 8. The tracking page and the status SMS -----------------------------------------------------


DUE = {"zh": "2026年12月2日 17:30", "en": "Dec 2, 2026 17:30"}  # the resolution deadline, as the reader writes dates


@LANGS
def test_a_citizen_tracks_a_ticket_and_sees_who_handles_it_by_when_and_what_it_answered(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, lang: str
) -> None:
    ticket = housing_ticket(runtime, lang)
    as_staff(runtime, "unitstaff", portal.reply, ticket.number or "", REPLY[lang])
    page = browser_page
    track(page, live_server, lang, ticket.number or "", CITIZEN[-4:])
    shoot(f"01-tracked-{lang}")
    assert UNIT[lang] in page.inner_text("#progress-unit")
    assert DUE[lang] in page.inner_text("#progress-due")
    assert REPLY[lang] in page.inner_text("#progress-reply")
    if lang == "zh":
        assert no_latin(page.inner_text("#progress"))

    [status] = (
        live_phone(live_server, runtime)
        .text(CITIZEN, ("查询" if lang == "zh" else "STATUS ") + (ticket.number or ""))
        .replies
    )
    assert UNIT[lang] in status and DUE[lang] in status and REPLY[lang] in status
    if lang == "zh":
        assert no_latin(status.replace(ticket.number or "", ""))


@LANGS
def test_a_merged_tickets_citizen_follows_the_ticket_it_joined(
    live_server: str,
    browser_page: Page,
    shoot: Callable[[str], None],
    runtime: Runtime,
    drain: Callable[[], bool],
    lang: str,
) -> None:
    first = housing_ticket(runtime, lang)
    second = housing_ticket(
        runtime, lang, phone=NEIGHBOUR, text=HOUSING[lang] + ("，我家也被多收了" if lang == "zh" else " (me too)")
    )
    page = browser_page
    page.goto(f"{live_server}/staff/login?lang={lang}")
    sign_in(page, live_server, "dispatcher", lang)
    page.goto(f"{live_server}/staff/tickets/{second.number}?lang={lang}")
    page.locator("#form-merge input[name=into]").fill(first.number or "")
    shoot(f"01-dispatcher-merges-{lang}")
    page.locator("#form-merge button[type=submit]").click()
    page.wait_for_load_state()

    track(page, live_server, lang, second.number or "", NEIGHBOUR[-4:])
    shoot(f"02-merged-ticket-tracked-{lang}")
    assert first.number in page.inner_text("#merged-into")
    assert UNIT[lang] in page.inner_text("#progress-unit")
    assert HOUSING[lang] not in page.inner_text("#progress")  # never the other citizen's words

    as_staff(runtime, "unitstaff", portal.sign_for, first.number or "")
    as_staff(runtime, "unitstaff", portal.resolve, first.number or "", "物业已退费" if lang == "zh" else "Refunded")
    drain()
    with runtime.db.session() as s:
        kinds = s.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.to_number == NEIGHBOUR).order_by(OutboxMessage.id)
        ).all()
    assert {"citizen_merged", "citizen_resolved_merged", "survey"} <= set(kinds)

    sign_in(page, live_server, "dispatcher", lang)
    page.goto(f"{live_server}/staff/outbox?lang={lang}")
    page.wait_for_selector("#outbox")
    shoot(f"03-outbox-merge-notice-resolution-survey-{lang}")
    assert second.number in page.inner_text("#outbox")


# --- 9. A forgiving SMS conversation -------------------------------------------------------------

CONVERSATION = {
    "zh": [
        ("东湖小区物业乱收费，业主多次反映无人处理", "您的投诉已受理"),
        ("查询", "您有 1 件工单在办"),
        ("查询２０２６ ０００００１", "当前状态"),
        ("帮助", "“新投诉”加描述另立新工单"),
        ("公司拖欠工资三个月，社保也没交", "这条短信反映的是另一件事"),
        ("新投诉", "请发送新问题的描述"),
        ("东湖小区电梯坏了一周", "您的投诉已受理"),
        ("START", "您已恢复接收短信通知"),
    ],
    "en": [
        ("The property manager of Donghu estate overcharges every owner", "Your complaint is registered"),
        ("status", "Your open tickets (1)"),
        ("STATUS 2026000001", "is now"),
        ("HELP", "NEW and a description opens a new ticket"),
        ("My employer has unpaid wages for three months", "This text is about another matter"),
        ("NEW", "text the new problem"),
        ("The lift in Donghu estate has been broken for a week", "Your complaint is registered"),
        ("START", "You will receive texts again"),
    ],
}


@LANGS
def test_a_forgiving_sms_conversation_read_in_the_outbox(
    live_server: str,
    browser_page: Page,
    shoot: Callable[[str], None],
    runtime: Runtime,
    clock,  # type: ignore[no-untyped-def]
    lang: str,
) -> None:
    phone = live_phone(live_server, runtime)
    for body, expected in CONVERSATION[lang]:
        clock.advance(60)
        replies = phone.text(CITIZEN, body).replies
        assert replies and expected in replies[0], (body, replies)
        if lang == "zh":
            assert all(no_latin(re.sub(r"\d{4}-\d{6}|START", "", r)) for r in replies), replies
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 3

    page = browser_page
    page.goto(f"{live_server}/staff/login?lang={lang}")
    sign_in(page, live_server, "dispatcher", lang)
    page.goto(f"{live_server}/staff/outbox?lang={lang}")
    page.wait_for_selector("#outbox")
    shoot(f"01-outbox-conversation-{lang}")
    assert CONVERSATION[lang][4][1] in page.inner_text("#outbox")


def test_a_survey_due_at_night_waits_for_the_morning_and_the_outbox_shows_it_waiting(
    live_server: str,
    browser_page: Page,
    shoot: Callable[[str], None],
    runtime: Runtime,
    drain: Callable[[], bool],
    clock,  # type: ignore[no-untyped-def]
) -> None:
    ticket = housing_ticket(runtime, "zh")
    clock.set(datetime(2026, 11, 23, 23, 30, tzinfo=BEIJING))
    as_staff(runtime, "unitstaff", portal.sign_for, ticket.number or "")
    as_staff(runtime, "unitstaff", portal.resolve, ticket.number or "", "物业已退费")
    drain()
    with runtime.db.session() as s:
        survey = s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "survey")).one()
        assert survey.status == "pending"
        assert survey.next_attempt_at == datetime(2026, 11, 24, 8, 0, tzinfo=BEIJING)
    page = browser_page
    page.goto(f"{live_server}/staff/login")
    sign_in(page, live_server, "dispatcher")
    page.goto(f"{live_server}/staff/outbox")
    page.wait_for_selector("#outbox")
    shoot("01-outbox-survey-waiting-zh")


# --- 10. One tap, one ticket ---------------------------------------------------------------------

FORM_TEXT = {
    "zh": "萨尔图区政务服务中心窗口办事拖延，同一个章让我跑了三次。",
    "en": "The permit window in Sartu sent me away three times.",
}


def fill(page: Page, lang: str) -> None:
    page.wait_for_selector("#complaint-form")
    page.fill("#description", FORM_TEXT[lang])
    page.fill("#phone", "139 1234 5678")


def tickets(runtime: Runtime) -> list[str]:
    with runtime.db.session() as s:
        return list(s.scalars(select(Ticket.number).order_by(Ticket.id)))


@LANGS
def test_a_double_click_a_resubmit_after_back_and_a_second_tab_make_one_ticket(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, lang: str
) -> None:
    page = browser_page
    page.goto(f"{live_server}/?lang={lang}")
    fill(page, lang)
    # First the browser alone: the POST is answered "204 No Content" (the page stays), so the
    # button can be seen while sending, and the double click sends one request.
    posts: list[str] = []
    form_url = re.compile(r"^[^?]*/(\?.*)?$")

    def answer(route: Route) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        posts.append(route.request.url)
        route.fulfill(status=204)

    page.route(form_url, answer)
    page.dblclick("#submit")
    page.wait_for_function("document.querySelector('#submit').disabled")
    shoot(f"01-sending-{lang}")
    assert page.inner_text("#submit").strip() == ("正在提交…" if lang == "zh" else "Sending…")
    assert len(posts) == 1  # the second click sent nothing
    page.unroute(form_url)

    # Then for real: a double click files one ticket.
    page.goto(f"{live_server}/?lang={lang}")
    fill(page, lang)
    page.dblclick("#submit")
    page.wait_for_url(re.compile(r"/filed"))
    assert len(tickets(runtime)) == 1
    number = page.inner_text("#ticket-number").strip()
    shoot(f"02-filed-{lang}")

    page.go_back()
    page.wait_for_selector("#complaint-form")
    if not page.input_value("#description"):
        fill(page, lang)  # the browser did not keep the form: the citizen types it again
    page.click("#submit")
    page.wait_for_url(re.compile(r"/filed"))
    shoot(f"03-resubmitted-after-back-{lang}")
    assert page.inner_text("#ticket-number").strip() == number
    assert page.is_visible("#already-filed")

    # Two tabs showing the same form (a duplicated tab keeps the form's token).
    page.goto(f"{live_server}/?lang={lang}")
    token = page.get_attribute("input[name=submission]", "value")
    other = page.context.new_page()
    other.goto(f"{live_server}/?lang={lang}")
    other.evaluate("t => { document.querySelector('input[name=submission]').value = t; }", token)
    for tab in (page, other):
        tab.fill("#description", FORM_TEXT[lang] + " 2")
        tab.fill("#phone", "139 1234 5679")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/filed"))
    other.click("#submit")
    other.wait_for_url(re.compile(r"/filed"))
    assert other.inner_text("#ticket-number").strip() == page.inner_text("#ticket-number").strip()
    assert len(tickets(runtime)) == 2


@LANGS
def test_ticking_anonymous_after_typing_a_phone_says_what_happens_to_it(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, lang: str
) -> None:
    page = browser_page
    page.goto(f"{live_server}/?lang={lang}")
    fill(page, lang)
    assert not page.is_visible("#anonymous-note")
    page.check("#anonymous")
    shoot(f"01-anonymous-with-phone-{lang}")
    note = page.inner_text("#anonymous-note")
    assert ("不会保存" in note) if lang == "zh" else ("will not be kept" in note)
    page.uncheck("#anonymous")
    assert not page.is_visible("#anonymous-note")
    page.check("#anonymous")
    page.click("#submit")
    page.wait_for_url(re.compile(r"/filed"))
    shoot(f"02-filed-anonymous-{lang}")
    assert page.is_visible("#phone-dropped") and page.is_visible("#access-code")
    with runtime.db.session() as s:
        assert s.scalars(select(Ticket.citizen_phone)).one() is None
