"""A citizen files and tracks a complaint in a real browser; a dispatcher sees the SMS it caused.

The app runs with CSRF protection on, behind a real HTTP server, with the demo city loaded.
"""

from __future__ import annotations

import re
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from hotline_core.models import Attachment, OutboxMessage, Ticket
from hotline_core.runtime import Runtime
from tests.browser.conftest import sign_in

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = pytest.mark.browser

NUMBER = re.compile(r"\d{4}-\d{6}")
ZH_TEXT = "萨尔图区政务服务中心窗口办事拖延，同一个章让我跑了三次都没盖上。"
EN_TEXT = "The permit window in Sartu District sent me away three times for the same stamp."
PHONE = "139 1234 5678"
PHONE_E164 = "+8613912345678"


def tiny_png(path: Path) -> Path:
    """A valid 1x1 red PNG (the server checks the magic bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b""))
    return path


def fill_complaint(
    page: Page,
    text: str,
    *,
    phone: str | None = PHONE,
    anonymous: bool = False,
    category: str | None = None,
    district: str | None = None,
    files: list[Path] | None = None,
) -> None:
    page.wait_for_selector("#complaint-form")
    page.fill("#description", text)
    if category:
        page.select_option("#category", label=category)
    if district:
        page.select_option("#district", label=district)
    if phone:
        page.fill("#phone", phone)
    page.fill("#name", "王女士")
    if anonymous:
        page.check("#anonymous")
    else:
        page.check("#contact_consent")
    if files:
        page.set_input_files("#attachments", [str(f) for f in files])


def submit_and_read_number(page: Page) -> str:
    """Submit the form; the server must redirect to the "filed" page, which shows the ticket number."""
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("#submit")
    status = posted.value.status
    page.wait_for_load_state()
    assert status == 302, f"filing answered {status}; the page says: {page.inner_text('main').strip()[:200]!r}"
    page.wait_for_url(re.compile(r"/filed"))
    number = page.inner_text("#ticket-number").strip()
    assert NUMBER.fullmatch(number), number
    return number


def track(page: Page, base: str, number: str, secret: str) -> None:
    """Open the tracking page from the "filed" page's link, as a citizen would, and look the ticket up."""
    page.click("main a[href^='/track']")
    page.wait_for_selector("#lookup-form")
    assert page.url.startswith(f"{base}/track")
    page.fill("#number", number)
    page.fill("#last4", secret)
    page.click("#lookup-form button[type=submit]")
    page.wait_for_selector("#ticket")


def stored_ticket(runtime: Runtime, number: str) -> Ticket:
    with runtime.db.session() as s:
        ticket = s.scalars(select(Ticket).where(Ticket.number == number)).one()
        s.expunge(ticket)
        return ticket


def ticket_count(runtime: Runtime) -> int:
    with runtime.db.session() as s:
        return s.scalar(select(func.count()).select_from(Ticket)) or 0


def test_a_citizen_files_a_chinese_complaint_and_tracks_it_with_the_last_four_digits(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    page.goto(f"{live_server}/")
    assert page.inner_text("#submit").strip() == "提交投诉"
    shoot("01-form-zh")
    fill_complaint(page, ZH_TEXT, category="作风效能", district="萨尔图区")
    shoot("02-form-zh-filled")

    number = submit_and_read_number(page)
    shoot("03-filed-zh")
    track(page, live_server, number, PHONE[-4:])
    shoot("04-tracked-zh")

    assert page.inner_text("#ticket-text").strip() == ZH_TEXT
    assert page.inner_text("#ticket-state").strip()
    ticket = stored_ticket(runtime, number)
    assert (ticket.channel, ticket.language, ticket.citizen_phone) == ("web", "zh", PHONE_E164)


def test_a_citizen_files_an_english_complaint_on_the_english_form_and_tracks_it(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    page.goto(f"{live_server}/?lang=en")
    assert page.inner_text("#submit").strip() == "Submit complaint"
    assert page.get_attribute("html", "lang") == "en"
    assert page.inner_text("label[for=description]").strip() == "What happened?"
    assert page.inner_text("label[for=phone]").strip() == "Mobile number"
    assert not re.search(r"[\u4e00-\u9fff]", page.inner_text("#complaint-form")), "Chinese left on the English form"
    shoot("01-form-en")
    fill_complaint(page, EN_TEXT, category="Work style and efficiency", district="Sartu District")

    number = submit_and_read_number(page)
    assert page.inner_text("h1").strip() == "Complaint received"
    shoot("02-filed-en")
    track(page, live_server, number, PHONE[-4:])
    shoot("03-tracked-en")

    assert page.inner_text("#ticket-text").strip() == EN_TEXT
    assert page.inner_text("#ticket-state").strip()
    ticket = stored_ticket(runtime, number)
    assert (ticket.channel, ticket.language, ticket.citizen_phone) == ("web", "en", PHONE_E164)


def test_an_uploaded_png_is_stored_as_an_attachment_of_the_ticket(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, tmp_path: Path
) -> None:
    page = browser_page
    photo = tiny_png(tmp_path / "queue.png")
    page.goto(f"{live_server}/")
    fill_complaint(page, ZH_TEXT, files=[photo])
    shoot("01-form-with-file")

    number = submit_and_read_number(page)
    shoot("02-filed")

    with runtime.db.session() as s:
        rows = s.scalars(select(Attachment).join(Ticket).where(Ticket.number == number)).all()
        assert [(a.kind, a.filename, a.content_type, a.size_bytes) for a in rows] == [
            ("upload", "queue.png", "image/png", photo.stat().st_size)
        ]
        assert (runtime.settings.instance_path / rows[0].storage_path).read_bytes() == photo.read_bytes()


def test_an_empty_description_is_refused_with_a_field_error_and_files_nothing(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    tickets_before = ticket_count(runtime)
    page.goto(f"{live_server}/")
    fill_complaint(page, "")
    page.click("#submit")
    page.wait_for_selector(".field-error")
    shoot("01-form-error-zh")

    assert page.inner_text("#description ~ .field-error").strip() == "此项为必填项。"
    assert page.input_value("#phone") == PHONE
    assert ticket_count(runtime) == tickets_before


def test_an_anonymous_complaint_is_tracked_with_its_access_code(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    page.goto(f"{live_server}/")
    fill_complaint(page, ZH_TEXT, phone=None, anonymous=True)

    number = submit_and_read_number(page)
    shoot("01-filed-anonymous")
    match = re.search(r"\b[A-Z2-9]{12}\b", page.inner_text("#access-code"))
    assert match, page.inner_text("#access-code")
    code = match.group(0)
    assert stored_ticket(runtime, number).lookup_code == code

    track(page, live_server, number, code)
    shoot("02-tracked-anonymous")
    assert page.inner_text("#ticket-text").strip() == ZH_TEXT


@pytest.mark.parametrize(
    ("lang", "status"), [("en", "not sent (no credentials)"), ("zh", "未发送（无凭据）")], ids=["en", "zh"]
)
def test_a_dispatcher_sees_the_acknowledgement_sms_in_the_outbox_as_not_sent_without_credentials(
    live_server: str,
    browser_page: Page,
    shoot: Callable[[str], None],
    runtime: Runtime,
    drain: Callable[[], bool],
    lang: str,
    status: str,
) -> None:
    page = browser_page
    page.goto(f"{live_server}/?lang={lang}")
    fill_complaint(page, ZH_TEXT if lang == "zh" else EN_TEXT)
    number = submit_and_read_number(page)
    drain()  # the outbox dispatcher runs as a job: without Twilio credentials it marks messages not sent
    with runtime.db.session() as s:
        kinds = s.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.body.contains(number), OutboxMessage.to_number == PHONE_E164)
        ).all()
        # the acknowledgement, and (if the complaint was routed at once) the "who handles it" notice
        assert kinds[0] == "acknowledgement" and set(kinds) <= {"acknowledgement", "citizen_assigned"}

    page.goto(f"{live_server}/staff/login?lang={lang}")
    shoot("01-login")
    sign_in(page, live_server, "dispatcher")
    shoot("02-staff-home")
    page.goto(f"{live_server}/staff/outbox?lang={lang}")
    page.wait_for_selector("#outbox")
    shoot("03-outbox")

    row = page.locator("#outbox tr", has_text=number).filter(has_text="受理回执" if lang == "zh" else "acknowledgement")
    assert row.count() == 1
    assert row.locator("td").nth(1).inner_text().strip() == PHONE_E164
    assert row.locator("td.status").inner_text().strip() == status
