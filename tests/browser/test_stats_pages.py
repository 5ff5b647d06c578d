"""The statistics pages in a real browser: a leader reads the dashboard, the monthly ranking and the
weekly bulletin in both languages and downloads the exports; a visitor reads the public ranking; a
unit's staff member sees only their own unit.

The data is the hand-computed ``dataset`` of ``tests/stats``: three housing-bureau tickets created on
Monday 2026-11-23 (composite 62.5, response rate 33.3%). The fixture leaves the clock on Tuesday
2026-11-24 10:00 (Beijing), so the pages and screenshots do not depend on when the suite runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from hotline_core.models import Ticket
from hotline_core.runtime import Runtime
from tests.browser.conftest import sign_in
from tests.stats.conftest import dataset, housing_tickets  # noqa: F401  (the fixtures, shared with tests/stats)

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("dataset")]

HOUSING_ZH = "市住房和城乡建设局"
HOUSING_EN = "Housing and Urban-Rural Development Bureau"
DASHBOARD = "/stats/?period=month&date=2026-11-23"
RANKING = "/stats/ranking?month=2026-11&min=1"
WEEKLY = "/stats/weekly?week=2026-11-23"
PUBLIC = "/public/?month=2026-11"
DESKTOP_WIDTH = 1280


def switch_language(page: Page, heading: str) -> None:
    page.click("#lang-switch")
    expect(page.locator("main h1")).to_contain_text(heading)


def housing_row(page: Page, table: str) -> list[str]:
    row = page.locator(f"{table} tr", has=page.locator(f"td:text-matches('^({HOUSING_ZH}|{HOUSING_EN})')"))
    expect(row).to_have_count(1)
    return [cell.strip() for cell in row.locator("td").all_inner_texts()]


def rates_in_view(page: Page) -> bool:
    """The dashboard table's rate columns (through the composite score) lie inside its visible box,
    without scrolling it sideways."""
    composite = page.locator("#stats-table th").nth(7).bounding_box()
    wrap = page.locator("#stats-table").locator("xpath=..").bounding_box()
    assert composite and wrap
    return composite["x"] + composite["width"] <= wrap["x"] + wrap["width"] <= DESKTOP_WIDTH


def test_a_leader_reads_the_dashboard_in_both_languages_and_downloads_the_exports(
    live_server: str, browser_page: Page, shoot: Callable[[str], None]
) -> None:
    page = browser_page
    sign_in(page, live_server, "leader")
    page.goto(live_server + DASHBOARD)
    expect(page.locator("main h1")).to_have_text("办理时效统计")
    expect(page.locator("#total-count")).to_have_text("3")
    expect(page.locator("#charts > svg")).to_have_count(2)
    expect(page.locator("#stats-filters label", has_text="开始日期").locator("input[name=start]")).to_be_visible()
    cells = housing_row(page, "#stats-table")
    assert cells[0] == HOUSING_ZH and cells[1] == "3" and cells[7] == "62.5", cells
    assert cells[2].startswith("33.3%"), cells  # response rate: only T1 was signed and contacted on time
    assert cells[4].startswith("100.0%") and "未到期 1" in cells[4], cells  # resolution: T3 is not yet due
    assert cells[8].startswith("3小时 30分钟"), cells  # sign-for median of T1 (1 h) and T2 (6 h), clock time
    assert rates_in_view(page), "the rates of the figures table are off screen on a desktop"
    expect(page.locator("#as-of")).to_contain_text("数据截至 2026年11月24日 10:00")
    expect(page.locator("#provisional")).to_be_visible()
    expect(page.locator("#cmp-count td").nth(1)).to_contain_text("—")
    expect(page.locator("#chart-rates svg")).to_be_visible()
    expect(page.locator("#chart-times svg")).to_be_visible()
    expect(page.locator("#hot-spots")).to_be_visible()
    formulas = page.locator("#formulas")
    expect(formulas.locator("h2")).to_have_text("三率计算公式")
    expect(formulas).to_contain_text("响应率 = 按时签收并联系市民的工单数 ÷（按时 + 超时）的工单数")
    expect(formulas).to_contain_text("解决率 = 回访答复“已解决”的工单数 ÷ 已答复回访的工单数")
    expect(formulas).to_contain_text("满意率 = 评价为“满意”或“非常满意”(4-5分)的工单数 ÷ 有满意度评价的工单数")
    shoot("01-dashboard-zh")

    switch_language(page, "Response-time statistics")
    assert "lang=en" in page.url and "period=month" in page.url and "date=2026-11-23" in page.url
    expect(page.locator("#charts > svg")).to_have_count(2)
    cells = housing_row(page, "#stats-table")
    assert cells[0] == HOUSING_EN and cells[1] == "3" and cells[7] == "62.5", cells
    expect(page.locator("#stats-table th").first).to_have_text("Unit")
    assert rates_in_view(page), "the rates of the figures table are off screen on a desktop"
    expect(formulas.locator("h2")).to_have_text("How the three rates are computed")
    expect(formulas).to_contain_text(
        "Response rate = tickets signed for and citizen contacted within the sign-for deadline ÷ (on time + late)"
    )
    expect(formulas).to_contain_text('Resolution rate = callback surveys answering "solved" ÷ answered callback')
    expect(formulas).to_contain_text("Satisfaction rate = surveys rating 4 or 5")
    shoot("02-dashboard-en")

    with page.expect_download() as csv_download:
        page.click("#stats-csv")
    text = csv_download.value.path().read_text(encoding="utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].startswith("Unit,Tickets,Assigned,Sign-for median"), lines[0]
    assert len(lines) == 4 and lines[1].startswith(HOUSING_EN + ",3,3,"), lines
    assert "33.3%" in lines[1] and "As of Nov 24, 2026 10:00" in lines[3], lines
    assert csv_download.value.suggested_filename == "stats-2026-11-01-2026-11-30.csv"

    with page.expect_download() as xlsx_download:
        page.click("#stats-xlsx")
    assert xlsx_download.value.path().read_bytes()[:2] == b"PK"
    assert xlsx_download.value.suggested_filename.endswith(".xlsx")


def test_a_leader_follows_a_rate_to_the_tickets_behind_it_in_both_languages(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    with runtime.db.session() as s:
        numbers = sorted(t.number for t in s.scalars(select(Ticket)))
    sign_in(page, live_server, "leader")
    page.goto(live_server + DASHBOARD)
    row = page.locator("#stats-table tr", has=page.locator(f"td:text-is('{HOUSING_ZH}')"))
    row.locator("td.sign a.late").click()
    expect(page.locator("main h1")).to_have_text("统计明细工单")
    expect(page.locator("#drill-count")).to_have_text("共 2 件")
    listed = page.locator("#drill-table tr:has(td) td:first-child").all_inner_texts()
    assert listed == numbers[1:], listed  # T2 signed late, T3 never signed
    expect(page.locator("#drill-table tr.late")).to_have_count(2)
    expect(page.locator("#pager")).to_contain_text("第 1 / 1 页")
    shoot("09-drill-zh")
    switch_language(page, "Tickets behind the figure")
    expect(page.locator("#drill-count")).to_have_text("2 tickets")
    expect(page.locator("#drill-table th").first).to_have_text("Ticket number")
    with page.expect_download() as csv_download:
        page.click("#drill-csv")
    lines = csv_download.value.path().read_text(encoding="utf-8-sig").strip().splitlines()
    assert lines[0].startswith("Ticket number,State,Unit") and [x.split(",")[0] for x in lines[1:3]] == numbers[1:]
    shoot("10-drill-en")


def test_a_leader_reads_the_monthly_ranking_in_both_languages(
    live_server: str, browser_page: Page, shoot: Callable[[str], None]
) -> None:
    page = browser_page
    sign_in(page, live_server, "leader")
    page.goto(live_server + RANKING)
    expect(page.locator("main h1")).to_have_text("单位月度排名 · 2026-11")
    expect(page.locator("main h2").first).to_have_text("区县政府")
    expect(page.locator("main h2", has_text="市直部门")).to_have_count(1)
    cells = housing_row(page, "#ranking-department")
    assert cells[0] == "1" and cells[1] == HOUSING_ZH and cells[2] == "3" and cells[6] == "62.5", cells
    expect(page.locator("#ranking-department th").nth(7)).to_have_text("暗访平均得分")
    expect(page.locator("main")).to_contain_text("交办工单少于 1 件的单位不参加排名。")
    shoot("03-ranking-zh")

    switch_language(page, "Monthly unit ranking · 2026-11")
    expect(page.locator("main h2", has_text="City departments")).to_have_count(1)
    cells = housing_row(page, "#ranking-department")
    assert cells[0] == "1" and cells[1] == HOUSING_EN and cells[2] == "3" and cells[6] == "62.5", cells
    expect(page.locator("#ranking-department th").nth(7)).to_have_text("Mystery-call average")
    expect(page.locator("main")).to_contain_text("Units with fewer than 1 assigned tickets are not ranked.")
    shoot("04-ranking-en")


def test_a_leader_reads_the_weekly_bulletin_in_both_languages(
    live_server: str, browser_page: Page, shoot: Callable[[str], None]
) -> None:
    page = browser_page
    sign_in(page, live_server, "leader")
    page.goto(live_server + WEEKLY)
    expect(page.locator("main h1")).to_have_text("每周一报 · 第 1 期 · 2026-11-23 – 2026-11-29")
    expect(page.locator("#mail-state")).to_have_text("未发送：未配置邮件服务器（SMTP），本期已保存。")
    expect(page.locator("#wow-count td")).to_have_text(["3", "0", "—"])
    expect(page.locator("#weekly-charts svg")).to_have_count(2)
    expect(page.locator("#bulletin-meta")).to_contain_text("生成时间 2026年11月24日 10:00")
    expect(page.locator("#accountability td").nth(3)).to_have_text("2026年11月23日 14:30")  # local time
    chinese = housing_row(page, "#weekly-units")
    assert chinese[0] == HOUSING_ZH and chinese[1] == "3", chinese
    assert chinese[4] == "33.3%", chinese
    shoot("05-weekly-zh")

    switch_language(page, "Weekly bulletin · Issue 1 · 2026-11-23 – 2026-11-29")
    expect(page.locator("#mail-state")).to_contain_text("Not sent: no mail server (SMTP) is configured")
    english = housing_row(page, "#weekly-units")
    units = page.locator("#weekly-units").locator("xpath=..")
    assert units.evaluate("e => e.scrollWidth <= e.clientWidth"), "the bulletin's unit table scrolls sideways"
    assert english[0] == HOUSING_EN and english[1:] == chinese[1:], (chinese, english)
    expect(page.locator("main h2", has_text="Volumes and handling")).to_have_count(1)
    shoot("06-weekly-en")


def test_a_visitor_reads_the_public_ranking_without_any_personal_data(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    with runtime.db.session() as s:
        tickets = s.scalars(select(Ticket)).all()
    assert len(tickets) == 3
    secrets = [t.text for t in tickets] + [t.number for t in tickets]
    secrets += [t.citizen_phone for t in tickets if t.citizen_phone]
    secrets += [t.citizen_phone[-4:] for t in tickets if t.citizen_phone]

    page.goto(live_server + PUBLIC + "&lang=zh")
    expect(page.locator("main h1")).to_have_text("政务服务效能公开排名 · 2026-11")
    expect(page.locator("header form[action$='/staff/logout']")).to_have_count(0)  # nobody signed in
    # The public ranking keeps the default minimum volume (5 tickets): the bureau's 3 are not ranked.
    expect(page.locator("main")).to_contain_text("交办工单少于 5 件的单位不参加排名。")
    expect(page.locator("main table")).to_have_count(0)
    expect(page.locator("#formulas h2")).to_have_text("三率计算公式")
    for lang in ("zh", "en"):
        html = page.content()
        leaked = [secret for secret in secrets if secret in html]
        assert not leaked, (lang, leaked)
        assert not re.search(r"\+?86\s?1\d{10}|\b1[3-9]\d{9}\b", page.locator("body").inner_text()), lang
        if lang == "zh":
            shoot("07-public-zh")
            switch_language(page, "Public service efficiency ranking · 2026-11")
    expect(page.locator("main")).to_contain_text("Units with fewer than 5 assigned tickets are not ranked.")
    expect(page.locator("#formulas h2")).to_have_text("How the three rates are computed")
    shoot("08-public-en")


def test_a_unit_staff_member_sees_only_their_own_unit(live_server: str, browser_page: Page) -> None:
    page = browser_page
    sign_in(page, live_server, "unitstaff")
    response = page.goto(live_server + RANKING)
    assert response is not None and response.status == 403
    response = page.goto(live_server + "/stats/weekly?week=2026-11-23")
    assert response is not None and response.status == 403
    page.goto(live_server + DASHBOARD + "&unit=999")
    expect(page.locator("#stats-filters select[name=unit]")).to_have_count(0)
    rows = page.locator("#stats-table tr:has(td)")
    expect(rows).to_have_count(1)
    assert housing_row(page, "#stats-table")[:2] == [HOUSING_ZH, "3"]


def test_clicking_a_column_header_sorts_the_table(live_server: str, browser_page: Page) -> None:
    page = browser_page
    sign_in(page, live_server, "leader")
    page.goto(f"{live_server}/stats/?period=month&date=2026-11-23&by=channel&lang=en")
    header = page.locator("#stats-table th").nth(1)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
