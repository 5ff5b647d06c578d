"""Issue 13, points 1-3 in a real browser, in Chinese and English: evidence opens for those who may see
the ticket, emergencies top the dispatch queue with a running clock, and the operator's desk types in a
caller's ticket, finds tickets and shows the caller's earlier ones.

The clock is a working Monday morning (inside the demo operator's staffed hours); jobs run only when a
test runs them.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.models import Attachment, Role, Ticket, Unit
from hotline_core.runtime import Runtime
from intake.services import AttachmentIn, add_attachment, process_ticket_job
from routing import lifecycle
from tests.browser.conftest import sign_in
from tests.conftest import Clock
from tests.factories import complaint, user

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)
CALLER = "+8613911112222"
HOUSING_TEXT = "东湖小区物业乱收费，业主多次反映无人处理"
GAS_LEAK = "家里闻到煤气味，怀疑燃气泄漏"
MEDIA_URL = "https://api.twilio.com/2010-04-01/Accounts/AC00000000000000000000000000000000/Messages/MM1/Media/ME1"


@pytest.fixture(autouse=True)
def working_monday(clock: Clock) -> None:
    clock.set(MONDAY_MORNING)


def png(width: int = 48, height: int = 32) -> bytes:
    """A real (red) PNG picture, as a citizen's phone would upload."""
    row = b"\x00" + b"\xd0\x30\x30" * width
    raw = zlib.compress(row * height)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def housing_ticket(runtime: Runtime, text: str = HOUSING_TEXT, **fields: object) -> Ticket:
    ticket = complaint(runtime, text, phone=CALLER, **fields)
    process_ticket_job(ticket.id)
    return ticket


def with_photo(runtime: Runtime, ticket: Ticket) -> int:
    """The citizen's photo, kept under the instance path as the web form keeps it, and an MMS picture
    Twilio still holds (no credentials in this runtime)."""
    relative = "uploads/desk13-photo.png"
    path = Path(runtime.settings.instance_path) / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png())
    with runtime.db.transaction() as s:
        row = s.get(Ticket, ticket.id)
        photo = add_attachment(
            s,
            row,
            AttachmentIn(kind="upload", content_type="image/png", filename="现场照片.png", storage_path=relative),
            runtime.now(),
        )
        add_attachment(s, row, AttachmentIn(kind="media", url=MEDIA_URL, content_type="image/jpeg"), runtime.now())
        assert photo is not None
        return photo.id


def queued(runtime: Runtime, text: str, urgency: str | None = None, **fields: object) -> Ticket:
    ticket = complaint(runtime, text, phone=CALLER, **fields)
    with runtime.db.transaction() as s:
        row = s.get(Ticket, ticket.id)
        row.urgency = urgency
        lifecycle.queue_for_dispatch(s, row, runtime.now(), reason="no confident classification")
    return ticket


# --- point 1: evidence opens ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_staff_open_a_citizens_photo_and_see_what_twilio_still_holds(
    live_server: str, browser_page: Page, runtime: Runtime, shoot: Callable[[str], None], lang: str
) -> None:
    page, base = browser_page, live_server
    ticket = housing_ticket(runtime)
    photo_id = with_photo(runtime, ticket)
    sign_in(page, base, "unitstaff", lang)
    page.goto(f"{base}/staff/tickets/{ticket.number}?lang={lang}")
    thumb = page.locator(f"#evidence-{photo_id} img.evidence-thumb")
    expect(thumb).to_be_visible()
    assert page.evaluate("el => el.naturalWidth", thumb.element_handle()) == 48  # the picture really loads
    remote = page.locator("#evidence .evidence-remote")
    expected = "仅存于 Twilio（未配置 Twilio 账号，未下载保存）" if lang == "zh" else "Held by Twilio only"
    expect(remote).to_contain_text(expected)
    expect(page.locator("#evidence code.evidence-url")).to_have_text(MEDIA_URL)
    shoot(f"01-evidence-{lang}")
    with page.expect_popup() as popup:
        page.click(f"#evidence-{photo_id} a.evidence-open")
    opened = popup.value
    opened.wait_for_load_state()
    assert opened.url.endswith(f"/staff/tickets/{ticket.number}/evidence/{photo_id}")
    assert opened.evaluate("document.images.length && document.images[0].naturalWidth") == 48  # shown, not saved
    opened.screenshot(path=str(Path(__file__).resolve().parent.parent / "screenshots" / f"desk13-opened-{lang}.png"))
    opened.close()


def test_an_officer_of_another_unit_cannot_open_the_evidence(
    live_server: str, browser_page: Page, runtime: Runtime, shoot: Callable[[str], None]
) -> None:
    page, base = browser_page, live_server
    ticket = housing_ticket(runtime)
    photo_id = with_photo(runtime, ticket)
    with runtime.db.session() as s:
        transport = s.scalars(select(Unit.id).where(Unit.code == "TRANSPORT")).one()
    user(runtime, "bus-officer", Role.UNIT_STAFF, "bus-officer-pass", unit_id=transport)
    page.goto(f"{base}/staff/login?lang=zh")
    page.fill("#username", "bus-officer")
    page.fill("#password", "bus-officer-pass")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/$"))
    answer = page.goto(f"{base}/staff/tickets/{ticket.number}/evidence/{photo_id}")
    assert answer is not None and answer.status == 404
    shoot("02-other-unit-refused-zh")


# --- point 2: emergencies first ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_emergency_tops_the_queue_with_a_badge_a_clock_and_its_area_chosen(
    live_server: str, browser_page: Page, runtime: Runtime, clock: Clock, shoot: Callable[[str], None], lang: str
) -> None:
    page, base = browser_page, live_server
    general = queued(runtime, "我有个事情想说一下")
    clock.advance(120)
    utility = queued(runtime, "小区停水两天了，没人通知", urgency="utility")
    clock.advance(120)
    emergency = queued(runtime, "让胡路区某小区楼道燃气泄漏，味道很大", urgency="emergency", area_code="RANGHULU")
    clock.advance(17 * 60)
    sign_in(page, base, "dispatcher", lang)
    page.clock.install()  # the page's own timers, moved on by the test below
    page.goto(f"{base}/staff/dispatch/?lang={lang}")
    cards = page.locator(".dispatch-item")
    expect(cards.nth(0)).to_have_id(f"dispatch-{emergency.number}")
    expect(cards.nth(1)).to_have_id(f"dispatch-{utility.number}")
    expect(cards.nth(2)).to_have_id(f"dispatch-{general.number}")
    first = cards.nth(0)
    expect(first.locator(".badge.urgent")).to_have_text("紧急" if lang == "zh" else "Emergency")
    expect(first.locator(".wait-clock")).to_have_text("已等待 17 分钟" if lang == "zh" else "waiting 17 min")
    page.clock.run_for(3 * 60 * 1000)  # the clock runs while the ticket waits on the open page
    expect(first.locator(".wait-clock")).to_have_text("已等待 20 分钟" if lang == "zh" else "waiting 20 min")
    area = first.locator("select[name=area]")
    expect(area.locator("option:checked")).to_have_text("让胡路区" if lang == "zh" else "Ranghulu District")
    shoot(f"03-dispatch-urgent-{lang}")
    zh = lang == "zh"
    first.locator("select[name=category]").select_option(
        label="供水供电供暖供气" if zh else "Water, power, heating and gas"
    )
    # the district has no contact phone, so its option also carries the routing form's warning
    district = first.locator(
        "select[name=lead_unit] option", has_text="让胡路区人民政府" if zh else "Ranghulu District Government"
    )
    first.locator("select[name=lead_unit]").select_option(value=district.get_attribute("value"))
    first.locator("button.primary[type=submit]").click()
    page.wait_for_url(re.compile(rf"/staff/tickets/{emergency.number}$"))
    expect(page.locator("#ticket-urgency")).to_have_text("紧急" if zh else "Emergency")
    advice = page.locator("#timeline li.event-safety_advice_sent")
    expect(advice).to_contain_text("已短信发送安全提示" if zh else "Safety advice texted")
    expect(advice).to_contain_text("拨打119")  # the advice in the citizen's language (the complaint is Chinese)
    shoot(f"04-urgent-ticket-{lang}")


# --- point 3: the operator's desk ----------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_dispatcher_types_in_a_call_and_finds_the_callers_tickets(
    live_server: str, browser_page: Page, runtime: Runtime, clock: Clock, shoot: Callable[[str], None], lang: str
) -> None:
    page, base = browser_page, live_server
    earlier = complaint(runtime, "上个月反映过：政务大厅社保窗口排队太久", phone=CALLER)
    clock.advance(3600)
    sign_in(page, base, "dispatcher", lang)
    page.click("main a[href='/staff/desk']")
    page.wait_for_url(re.compile(r"/staff/desk"))
    page.fill("#desk-phone", "139 1111 2222")
    page.fill("#desk-name", "王先生")
    page.fill("#desk-text", "来电反映政务大厅社保窗口又排队两小时，工作人员玩手机")
    shoot(f"05-desk-form-{lang}")
    page.click("#desk-submit")
    page.wait_for_url(re.compile(r"/staff/tickets/\d{4}-\d{6}$"))
    number = page.url.rsplit("/", 1)[-1]
    done = (
        f"已录入工单 {number}，受理短信已排队发送。"
        if lang == "zh"
        else f"Ticket {number} filed; the caller is texted."
    )
    expect(page.locator("main > .flash")).to_have_text(done)
    box = page.locator("#earlier-tickets")
    expect(box.locator("h2")).to_have_text("该来电人的其他工单" if lang == "zh" else "This caller's other tickets")
    expect(box.locator("a")).to_have_text([earlier.number])
    expect(page.locator("#timeline")).to_contain_text("话务员代为录入" if lang == "zh" else "Typed in by an operator")
    shoot(f"06-typed-ticket-{lang}")
    with runtime.db.session() as s:
        row = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        assert (row.channel, row.citizen_phone) == ("phone", CALLER)
    page.goto(f"{base}/staff/search?lang={lang}")
    page.fill("#search-form input[name=phone]", "13911112222")
    page.click("#search-form button[type=submit]")
    rows = page.locator("#search-results tr td:first-child a")
    expect(rows).to_have_text([number, earlier.number])
    shoot(f"07-search-by-phone-{lang}")
    page.fill("#search-form input[name=phone]", "")
    page.fill("#search-form input[name=from]", "2025-01-01")
    page.click("#search-form button[type=submit]")
    expected = "日期范围不能超过 366 天。" if lang == "zh" else "The dates may span at most 366 days."
    expect(page.locator("main > .flash")).to_have_text(expected)
    shoot(f"08-search-too-long-{lang}")


def test_a_leader_searches_without_the_phone_field(
    live_server: str, browser_page: Page, runtime: Runtime, shoot: Callable[[str], None]
) -> None:
    page, base = browser_page, live_server
    ticket = housing_ticket(runtime)
    sign_in(page, base, "leader")
    page.goto(f"{base}/staff/search?number={ticket.number}")
    expect(page.locator("#search-form input[name=phone]")).to_have_count(0)
    expect(page.locator("#search-results td.phone")).not_to_contain_text("13911112222")
    with runtime.db.session() as s:
        assert s.scalars(select(Attachment)).all() == []
    shoot("09-leader-search-zh")
