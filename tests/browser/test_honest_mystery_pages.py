"""The pages changed for honest mystery-call results, in a real browser and both languages: the admin's
working calendar (years with official data, the November warning, entering next year's schedule) and the
results page (tiers, group scores, the minimum scored calls, agreement between two auditors)."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from hotline_core.audit import Actor
from hotline_core.models import MysteryCall, User
from hotline_core.runtime import Runtime
from mystery_calls import services
from tests.conftest import Clock
from tests.factories import demo_city
from tests.test_mystery_calls import FULL, make_campaign

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

BEIJING = ZoneInfo("Asia/Shanghai")
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")


def sign_in(page: Page, base: str, username: str, lang: str) -> None:
    page.goto(f"{base}/staff/login?lang={lang}")
    page.fill("#username", username)
    page.fill("#password", f"{username}-demo-2026")
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/$"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_admin_is_warned_and_enters_next_years_schedule(
    browser_page: Page, live_server: str, runtime: Runtime, clock: Clock, shoot: Callable[[str], None], lang: str
) -> None:
    demo_city(runtime)
    clock.set(datetime(2026, 11, 16, 9, 0, tzinfo=BEIJING))
    page = browser_page
    sign_in(page, live_server, "admin", lang)
    warning = page.locator("#calendar-warning")
    expect(warning).to_contain_text("2027")
    warning.locator("a").click()
    page.wait_for_url(re.compile(r"/staff/admin/calendar$"))
    expect(page.locator("#year-2026")).to_contain_text("官方数据" if lang == "zh" else "chinesecalendar")
    expect(page.locator("#year-2027")).to_contain_text("无数据" if lang == "zh" else "no data")
    shoot(f"01-calendar-{lang}")
    page.fill("#year", "2027")
    page.fill("#holidays", "2027-01-01\n2027-02-05..2027-02-11")
    page.fill("#workdays", "2027-02-14")
    page.click("#form-schedule button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/admin/calendar$"))
    row = page.locator("#year-2027")
    expect(row).to_contain_text("管理员录入" if lang == "zh" else "entered by an admin")
    expect(row.locator("td").nth(2)).to_have_text("8")
    expect(row.locator("td").nth(3)).to_have_text("1")
    expect(page.locator("#calendar-warning")).to_have_count(0)
    if lang == "en":
        texts = page.locator("main h1, main h2, main th, main label, main button").all_inner_texts()
        assert not [t for t in texts if CJK.search(t)]
    shoot(f"02-calendar-saved-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_results_page_shows_tiers_groups_and_agreement(
    browser_page: Page, live_server: str, runtime: Runtime, clock: Clock, shoot: Callable[[str], None], lang: str
) -> None:
    demo_city(runtime)
    clock.set(datetime(2026, 11, 30, 18, 0, tzinfo=BEIJING))
    with runtime.db.transaction() as s:
        campaign = make_campaign(s, runtime, calls_per_hotline=1)
        services.plan_campaign(s, runtime, campaign, actor=Actor("user:auditor"), rng=random.Random(5))
        second = User(username="auditor2", display_name="暗访员乙 Auditor 2", role="auditor")
        second.set_password("auditor2-demo-2026")
        s.add(second)
    with runtime.db.transaction() as s:
        calls = s.scalars(select(MysteryCall).order_by(MysteryCall.id)).all()
        second = s.scalars(select(User).where(User.username == "auditor2")).one()
        for call, attitude in zip(calls, (1, 0, 1), strict=True):
            auditor = s.get(User, call.auditor_id)
            services.log_manual(
                s,
                runtime,
                call,
                auditor,
                called_at=datetime(2026, 11, 25, 10, 0, tzinfo=BEIJING),
                answered=True,
                seconds_to_answer=6,
                talk_seconds=90,
            )
            services.submit_score(s, runtime, call, auditor, dict(FULL, attitude=attitude))
            s.flush()
            services.submit_review(s, runtime, call, second, dict(FULL, attitude=1))
    page = browser_page
    sign_in(page, live_server, "auditor", lang)
    page.goto(f"{live_server}/staff/mystery/results")
    expect(page.locator("#tier-district")).to_have_text("区县政府" if lang == "zh" else "District governments")
    expect(page.locator("#unit-ranking tr", has=page.locator("td"))).to_have_count(3)
    expect(page.locator("#unit-ranking .badge", has_text="评分次数不足" if lang == "zh" else "too few")).to_have_count(
        3
    )
    # two of three attitude pairs agree; first auditor 1, 0, 1 and second 1, 1, 1: kappa 0 by hand
    expect(page.locator("#kappa-attitude td").nth(2)).to_have_text("2")
    expect(page.locator("#kappa-attitude td").nth(3)).to_have_text("0.000")
    expect(page.locator("#kappa-greeting td").nth(3)).to_have_text("—")
    if lang == "en":
        texts = page.locator("main h1, main h2, main h3, main th, main .help").all_inner_texts()
        assert not [t for t in texts if CJK.search(t)], texts
    shoot(f"01-results-{lang}")
