"""Mystery calls in a real browser: an auditor registers the hotlines, creates and plans a campaign, logs a
call made from an ordinary phone, scores it, corrects the score, and reads the unit ranking in both
languages; a city leader reads the ranking but cannot create campaigns.

The app runs with CSRF protection on, behind a real HTTP server, with the demo city loaded (its units
publish service hotlines). The clock is a working Monday morning and the campaign window that working
week, so the tests do not depend on when the suite runs (the planner still draws the call times at random).
"""

from __future__ import annotations

import csv
import io
import random
import re
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from hotline_core.audit import Actor
from hotline_core.models import AuditedHotline, CallScore, Campaign, MysteryCall, Unit, User
from hotline_core.runtime import Runtime
from mystery_calls import services
from mystery_calls.services import ScenarioIn
from tests.browser.conftest import sign_in
from tests.conftest import Clock

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

BEIJING = ZoneInfo("Asia/Shanghai")
MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=BEIJING)
HOUSING_ZH = "市住房和城乡建设局"
HOUSING_EN = "Housing and Urban-Rural Development Bureau"
HRSS_ZH = "市人力资源和社会保障局"
CAMPAIGN = "十一月第四周暗访"
CALLERS = ("+8613100000001", "+8613100000002")
SCENARIO = (
    "咨询公租房申请条件",
    "外地来大庆工作的青年",
    "公租房怎么申请，需要什么条件？",
    "持居住证、无自有住房，到住建局窗口或网上申请",
)
REASON = "复听录音：坐席有一句不文明用语"
CJK = re.compile(r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]")
# Interface text of a mystery page (headings, table heads, field labels, buttons, options), not data such as
# the hotline names beside the campaign form's checkboxes (label.check).
CHROME = ", ".join(
    ["header nav a:not(#lang-switch)", "header nav button"]
    + [f"main {part}" for part in ("h1", "h2", "h3", "th", "legend", "label:not(.check)", "button", "option", ".help")]
)

# The manual items of the default scorecard, as the auditor judges the call (N/A: nobody was rude or kind).
FIRST_SCORE = {
    "greeting": "0.8",
    "attitude": "na",
    "civil_language": "1",
    "understood": "1",
    "correct_answer": "1",
    "first_contact_ownership": "1",
    "resolved_first_contact": "1",
    "no_needless_transfer": "1",
}
# By hand: answered (20) and 8 s to answer (10) are full marks; attitude (10) is N/A, so 90 points are
# possible; greeting 0.8 of 10 loses 2: 88 / 90 = 97.78. The correction takes civil language (5) to 0: 83 / 90.
FIRST_TOTAL, CORRECTED_TOTAL = "97.78", "92.22"


@pytest.fixture(autouse=True)
def working_monday(clock: Clock) -> None:
    clock.set(MONDAY_MORNING)


# --- what a person does in the browser -----------------------------------------------------------


def open_from_home(page: Page, path: str) -> None:
    page.click(f"main a[href='{path}']")
    page.wait_for_url(re.compile(re.escape(path) + r"(\?.*)?$"))


def submit(page: Page, form: str, path: str, done: str) -> None:
    """Submit a form (by CSS selector), see the POST answered with a redirect and the flash message."""
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith(path)) as posted:
        page.locator(f"{form} button[type=submit]").click()
    assert posted.value.status == 303, posted.value.status
    expect(page.locator("main > .flash.ok")).to_have_text(done)


def chinese_interface_text(page: Page) -> list[str]:
    """Chinese in the page's interface text, leaving out data (the campaign's name heads its page)."""
    return [text for text in page.locator(CHROME).all_inner_texts() if CJK.search(text.replace(CAMPAIGN, ""))]


def hotlines_with_a_service_number(runtime: Runtime) -> int:
    with runtime.db.session() as s:
        return sum(len(u.service_hotlines or []) for u in s.scalars(select(Unit).where(Unit.active)))


# --- the journeys ----------------------------------------------------------------------------------


def test_an_auditor_plans_logs_scores_corrects_and_reads_the_ranking(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page, base = browser_page, live_server
    sign_in(page, base, "auditor")
    open_from_home(page, "/staff/mystery/")
    expect(page.locator("main h1")).to_have_text("暗访拨测")
    expect(page.locator("#hotlines tr", has=page.locator("td"))).to_have_count(0)

    expected = hotlines_with_a_service_number(runtime)
    submit(page, "#from-directory", "/staff/mystery/hotlines", f"已导入 {expected} 条热线。")
    expect(page.locator("#hotlines tr", has=page.locator("td"))).to_have_count(expected)
    expect(page.locator("#hotlines tr", has_text=HOUSING_ZH)).to_contain_text("+864596100001")
    shoot("01-mystery-index")

    page.click("#new-campaign")
    page.wait_for_url(f"{base}/staff/mystery/campaigns/new")
    form = page.locator("#campaign-form")
    form.locator("#name").fill(CAMPAIGN)
    form.locator("#window_start").fill("2026-11-23")
    form.locator("#window_end").fill("2026-11-27")
    form.locator("#calls_per_hotline").fill("1")
    form.locator("#max_per_month").fill("2")
    form.locator("#caller_numbers").fill("\n".join(CALLERS))
    for unit in (HOUSING_ZH, HRSS_ZH):
        form.locator("label.check", has_text=unit).locator("input[name=hotlines]").check()
    form.locator("label.check", has_text="暗访员 Auditor").locator("input[name=auditors]").check()
    for field, value in zip(("title", "persona", "question", "expected"), SCENARIO, strict=True):
        form.locator(f"#scenario_{field}_0").fill(value)
    expect(form.locator("input[type=checkbox]:checked")).to_have_count(3)
    shoot("02-new-campaign")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/campaigns/new")) as posted:
        page.click("#create-campaign")
    assert posted.value.status == 303, posted.value.status
    page.wait_for_url(re.compile(r"/staff/mystery/campaigns/\d+$"))
    expect(page.locator("main h1")).to_contain_text(CAMPAIGN)
    expect(page.locator("main h1 .badge")).to_have_text("草稿")
    expect(page.locator("main .card")).to_contain_text(", ".join(CALLERS))
    expect(page.locator("main .card")).to_contain_text(SCENARIO[2])

    submit(page, "#plan-form", "/plan", "已安排 2 次拨测。")
    expect(page.locator("main h1 .badge")).to_have_text("已计划")
    expect(page.locator("#plan-form")).to_have_count(0)
    rows = page.locator("#calls tr", has=page.locator("td"))
    expect(rows).to_have_count(2)
    for unit in (HOUSING_ZH, HRSS_ZH):
        row = rows.filter(has_text=unit)
        expect(row).to_have_count(1)
        expect(row).to_contain_text("待拨打")
        expect(row).to_contain_text("暗访员 Auditor")
    assert set(rows.locator("td:nth-child(4)").all_inner_texts()) == set(CALLERS), "caller numbers rotate"
    shoot("03-campaign-planned")
    with runtime.db.session() as s:
        planned = s.scalars(select(MysteryCall).order_by(MysteryCall.planned_at)).all()
    tz = runtime.settings.tz
    assert all(
        date(2026, 11, 23) <= c.planned_at.astimezone(tz).date() <= date(2026, 11, 27)
        # the city's working periods, 08:30-12:00 and 13:30-17:30: never in the lunch break
        and (
            "08:30" <= c.planned_at.astimezone(tz).strftime("%H:%M") < "12:00"
            or "13:30" <= c.planned_at.astimezone(tz).strftime("%H:%M") < "17:30"
        )
        for c in planned
    ), [c.planned_at for c in planned]

    rows.filter(has_text=HOUSING_ZH).locator("a").click()
    page.wait_for_url(re.compile(r"/staff/mystery/calls/\d+$"))
    call_id = int(page.url.rsplit("/", 1)[1])
    expect(page.locator("#call-state")).to_have_text("待拨打")
    expect(page.locator("main .card").first).to_contain_text(SCENARIO[2])
    expect(page.locator("#scoring")).to_have_count(0)  # nothing to score before the call is logged
    shoot("04-call-to-log")

    log = page.locator("#form-log")
    log.locator("#called_at").fill("2026-11-23T10:05")
    log.locator("#answered").select_option("yes")
    log.locator("#seconds_to_answer").fill("8")
    log.locator("#talk_seconds").fill("95")
    log.locator("#agent_id").fill("A017")
    submit(page, "#form-log", f"/calls/{call_id}/log", "已登记。")
    expect(page.locator("#call-state")).to_have_text("已完成")
    expect(page.locator("#call-result")).to_contain_text("已接通")
    expect(page.locator("#call-result")).to_contain_text("8.0")
    expect(page.locator("#call-result")).to_contain_text("95")
    expect(page.locator("#call-result")).to_contain_text("A017")
    expect(page.locator("#form-log")).to_have_count(0)
    expect(page.locator("#score-total")).to_have_count(0)

    scoring = page.locator("#form-score")
    expect(scoring.locator("select")).to_have_count(len(FIRST_SCORE))
    for code, value in FIRST_SCORE.items():
        scoring.locator(f"select[name=item_{code}]").select_option(value)
    shoot("05-call-scoring")
    submit(page, "#form-score", f"/calls/{call_id}/score", "评分已保存。")
    expect(page.locator("#score-total")).to_have_text(FIRST_TOTAL)
    expect(page.locator("#score-history li")).to_have_count(1)
    expect(page.locator("#score-history li").first).to_contain_text(f"v1 · {FIRST_TOTAL}")
    # The form now corrects: it shows the submitted values (N/A stays N/A) and asks for a reason.
    expect(scoring.locator("select[name=item_attitude]")).to_have_value("na")
    expect(scoring.locator("select[name=item_greeting]")).to_have_value("0.8")
    expect(scoring.locator("button[type=submit]")).to_have_text("更正评分（新版本）")
    shoot("06-call-scored")

    scoring.locator("select[name=item_civil_language]").select_option("0")
    scoring.locator("#reason").fill(REASON)
    submit(page, "#form-score", f"/calls/{call_id}/score", "评分已保存。")
    expect(page.locator("#score-total")).to_have_text(CORRECTED_TOTAL)
    history = page.locator("#score-history li")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text(f"v1 · {FIRST_TOTAL}")
    expect(history.nth(1)).to_contain_text(f"v2 · {CORRECTED_TOTAL}")
    expect(history.nth(1)).to_contain_text(REASON)
    shoot("07-call-corrected")
    with runtime.db.session() as s:
        versions = s.scalars(select(CallScore).order_by(CallScore.number)).all()
    assert [(v.number, v.total, v.reason) for v in versions] == [
        (1, float(FIRST_TOTAL), None),
        (2, float(CORRECTED_TOTAL), REASON),
    ]
    assert versions[1].values["attitude"] is None and versions[1].values["civil_language"] == 0.0

    page.goto(f"{base}/staff/mystery/")
    page.click("main a[href='/staff/mystery/results']")
    page.wait_for_url(f"{base}/staff/mystery/results")
    expect(page.locator("main h1")).to_have_text("拨测结果与排名")
    ranking = page.locator("#unit-ranking tr", has=page.locator("td"))
    expect(ranking).to_have_count(1)  # only the housing bureau's call is done
    cells = ranking.first.locator("td")
    expect(cells.nth(0)).to_have_text("1")
    expect(cells.nth(1)).to_contain_text(HOUSING_ZH)
    expect(cells.nth(2)).to_have_text("1")
    expect(cells.nth(3)).to_have_text("100.0%")  # Babel, as the statistics write rates
    expect(cells.nth(4)).to_have_text(CORRECTED_TOTAL)
    expect(page.locator("#unit-ranking th", has_text="服务态度")).to_have_count(1)
    shoot("08-results-zh")

    page.click("#lang-switch")
    page.wait_for_function("document.documentElement.lang === 'en'")
    expect(page.locator("main h1")).to_have_text("Results and ranking")
    expect(page.locator("main h2").first).to_have_text("Unit ranking")
    expect(page.locator("#unit-ranking tr", has=page.locator("td")).first.locator("td").nth(4)).to_have_text(
        CORRECTED_TOTAL
    )
    expect(page.locator("#unit-ranking th", has_text="Attitude")).to_have_count(1)
    expect(page.locator("#unit-ranking tr", has=page.locator("td")).first.locator("td").nth(1)).to_contain_text(
        HOUSING_EN
    )
    assert not chinese_interface_text(page), chinese_interface_text(page)
    shoot("09-results-en")

    with page.expect_download() as downloading:
        page.click("#results-csv")
    download = downloading.value
    assert download.suggested_filename == "mystery-call-ranking.csv", download.suggested_filename
    text = Path(download.path()).read_text(encoding="utf-8")
    assert text.startswith("\ufeff"), "the BOM lets Excel read the Chinese"
    header, *lines = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert header[:3] == ["Rank", "Unit", "Calls"], header  # headed in the page's language
    # downloaded from the English page: unit names in English
    assert [line[:6] for line in lines] == [["1", HOUSING_EN, "1", "1", "1.000", CORRECTED_TOTAL]], lines
    assert lines[0][header.index("Attitude")] == "", "an N/A item has no average"


def a_scored_campaign(runtime: Runtime) -> None:
    """Arranged as an auditor would (services, not pages): two hotlines planned, the housing call scored."""
    actor = Actor("user:auditor")
    with runtime.db.transaction() as s:
        services.import_hotlines_from_directory(s, actor)
        hotlines = s.scalars(select(AuditedHotline).order_by(AuditedHotline.id)).all()
        auditor = s.scalars(select(User).where(User.username == "auditor")).one()
        campaign = services.create_campaign(
            s,
            name=CAMPAIGN,
            window_start=date(2026, 11, 23),
            window_end=date(2026, 11, 27),
            hotline_ids=[h.id for h in hotlines if h.name in (HOUSING_ZH, HRSS_ZH)],
            auditor_ids=[auditor.id],
            caller_numbers=list(CALLERS),
            calls_per_hotline=1,
            max_per_auditor_hotline_month=2,
            scenarios=[ScenarioIn(*SCENARIO)],
            actor=actor,
        )
        services.plan_campaign(s, runtime, campaign, actor=actor, rng=random.Random(7))
    with runtime.db.transaction() as s:
        housing = next(h.id for h in s.scalars(select(AuditedHotline)) if h.name == HOUSING_ZH)
        call = s.scalars(select(MysteryCall).where(MysteryCall.hotline_id == housing)).one()
        auditor = s.get(User, call.auditor_id)
        services.log_manual(
            s,
            runtime,
            call,
            auditor,
            called_at=MONDAY_MORNING,
            answered=True,
            seconds_to_answer=8,
            talk_seconds=95,
            agent_id="A017",
        )
        values = {code: None if v == "na" else float(v) for code, v in FIRST_SCORE.items()}
        services.submit_score(s, runtime, call, auditor, values)


def test_a_leader_reads_the_ranking_but_cannot_create_campaigns(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page, base = browser_page, live_server
    a_scored_campaign(runtime)
    sign_in(page, base, "leader")
    open_from_home(page, "/staff/mystery/")
    expect(page.locator("main h1")).to_have_text("暗访拨测")
    expect(page.locator("#new-campaign")).to_have_count(0)
    expect(page.locator("main a[href='/staff/mystery/campaigns/new']")).to_have_count(0)
    expect(page.locator("#from-directory, #add-hotline")).to_have_count(0)
    expect(page.locator("#my-tasks")).to_have_count(0)
    expect(page.locator("main li", has_text=CAMPAIGN)).to_have_count(1)

    page.click("main a[href='/staff/mystery/results']")
    page.wait_for_url(f"{base}/staff/mystery/results")
    ranking = page.locator("#unit-ranking tr", has=page.locator("td"))
    expect(ranking).to_have_count(1)
    expect(ranking.first).to_contain_text(HOUSING_ZH)
    expect(ranking.first.locator("td").nth(4)).to_have_text(FIRST_TOTAL)
    shoot("01-results-leader")

    page.goto(f"{base}/staff/mystery/")
    page.locator("main li a", has_text=CAMPAIGN).click()
    page.wait_for_url(re.compile(r"/staff/mystery/campaigns/\d+$"))
    expect(page.locator("#calls tr", has=page.locator("td"))).to_have_count(2)
    expect(page.locator("#plan-form")).to_have_count(0)

    refused = page.goto(f"{base}/staff/mystery/campaigns/new")
    assert refused is not None and refused.status == 403, refused and refused.status
    expect(page.locator("#campaign-form")).to_have_count(0)
    with runtime.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Campaign)) == 1


def test_every_mystery_page_reads_in_chinese_and_in_english(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    a_scored_campaign(runtime)
    with runtime.db.session() as s:
        campaign = s.scalars(select(Campaign.id)).one()
        calls = {h.name: c.id for c, h in s.execute(select(MysteryCall, AuditedHotline).join(AuditedHotline))}
        housing = s.scalars(select(Unit.id).where(Unit.code == "HOUSING")).one()
    pages = [
        ("index", "/staff/mystery/", "main h1", "暗访拨测", "Mystery calls"),
        ("new-campaign", "/staff/mystery/campaigns/new", "main h1", "新建拨测批次", "New campaign"),
        ("campaign", f"/staff/mystery/campaigns/{campaign}", "main h2", "拨测计划", "Planned calls"),
        ("call-to-log", f"/staff/mystery/calls/{calls[HRSS_ZH]}", "#form-log h3", "手工登记", "Log by hand"),
        ("call-scored", f"/staff/mystery/calls/{calls[HOUSING_ZH]}", "#scoring h2", "评分表", "Scorecard"),
        ("unit", f"/staff/mystery/units/{housing}", "main h1", HOUSING_ZH, HOUSING_EN),
        ("results", "/staff/mystery/results", "main h2", "单位排名", "Unit ranking"),
    ]
    sign_in(page, live_server, "auditor")
    problems: list[str] = []
    for name, path, selector, zh, en in pages:
        page.goto(f"{live_server}{path}?lang=zh")
        texts = page.locator(selector).all_inner_texts()
        if page.get_attribute("html", "lang") != "zh-CN" or not any(zh in text for text in texts):
            problems.append(f"{name} (zh): {selector} reads {texts}")
        if "</" in page.inner_text("main"):
            problems.append(f"{name} (zh): markup shown as text")
        shoot(f"{name}-zh")

        page.click("#lang-switch")
        page.wait_for_function("document.documentElement.lang === 'en'")
        texts = page.locator(selector).all_inner_texts()
        if not any(en in text for text in texts):
            problems.append(f"{name} (en): {selector} reads {texts}")
        if leftovers := chinese_interface_text(page):
            problems.append(f"{name} (en): Chinese interface text {leftovers}")
        placeholders = page.locator("main [placeholder]").evaluate_all("els => els.map(e => e.placeholder)")
        if chinese := [text for text in placeholders if CJK.search(text)]:
            problems.append(f"{name} (en): Chinese placeholders {chinese}")
        shoot(f"{name}-en")
    assert not problems, "\n".join(problems)
