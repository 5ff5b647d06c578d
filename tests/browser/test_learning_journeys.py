"""Routing that learns, in a real browser (issue 13, points 11-13), in Chinese and English:

* a dispatcher sees two citizens' reports of the same crossing suggested together, with their similarity, and
  merges one into the other from the queue;
* a ticket below the model's operating point waits with the model's unit preselected, and the dispatcher routes
  it with one click;
* the administrator reads the classifier page (the precision/coverage curve, the operating point, a directory newer
  than the model), sets the target precision and retrains from the dispatchers' corrections with one click.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pytest
import yaml
from sqlalchemy import select

from hotline_core.models import Ticket, TicketEvent, Unit
from hotline_core.runtime import Runtime
from intake.services import process_ticket_job
from routing import directory, model_store, training
from tests.browser.conftest import sign_in
from tests.conftest import Clock
from tests.factories import complaint
from tests.routing.test_learning import CROSSING_A, CROSSING_B, generated_training

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

MONDAY_MORNING = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DEMO_YAML = Path(__file__).resolve().parents[2] / "hotline_app" / "demo_city.yaml"
UNRELATED = "我家楼下那家早餐店每天天不亮就开始吆喝"  # no keyword: it waits in the queue too
MIXED = "班主任反映换乘站台问题"  # education and transport words: below the operating point


@pytest.fixture(autouse=True)
def working_monday(clock: Clock) -> None:
    clock.set(MONDAY_MORNING)


def open_from_home(page: Page, path: str) -> None:
    page.click(f"main a[href='{path}']")
    page.wait_for_url(re.compile(re.escape(path) + r"(\?.*)?$"))


def queued(runtime: Runtime, text: str, phone: str) -> Ticket:
    ticket = complaint(runtime, text, phone=phone)
    process_ticket_job(ticket.id)
    with runtime.db.session() as s:
        row = s.get(Ticket, ticket.id)
        assert row is not None and row.state == "dispatch", row and row.state
        s.expunge(row)
        return row


def trained(runtime: Runtime) -> str:
    texts, labels = generated_training()
    return training.train(runtime, texts, labels, source="generated for the test")


def test_a_dispatcher_sees_reports_of_the_same_crossing_together_and_merges_them(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    first = queued(runtime, CROSSING_A, "+8613800000001")
    queued(runtime, UNRELATED, "+8613800000003")
    second = queued(runtime, CROSSING_B, "+8613800000002")
    sign_in(page, live_server, "dispatcher")
    open_from_home(page, "/staff/dispatch/")
    card = page.locator(f"#dispatch-{second.number}")
    suggestion = card.locator(f".duplicate[data-number='{first.number}']")
    expect(suggestion.locator(".similarity")).to_have_text(re.compile(r"^文字相似度 0\.\d\d$"))
    expect(card.locator(".duplicate")).to_have_count(1)  # the breakfast shop is not suggested
    expect(suggestion).to_contain_text(CROSSING_A[:20])
    shoot("01-duplicates-zh")
    page.click("#lang-switch")
    expect(suggestion.locator(".similarity")).to_have_text(re.compile(r"^text similarity 0\.\d\d$"))
    expect(suggestion.locator("button")).to_have_text(f"Merge into {first.number}")
    shoot("02-duplicates-en")
    page.click("#lang-switch")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/merge")) as posted:
        suggestion.locator("button").click()
    assert posted.value.status == 303
    expect(page.locator("main > .flash")).to_have_text("已合并。")
    shoot("03-merged")
    with runtime.db.session() as s:
        merged = s.get(Ticket, second.id)
        assert merged is not None and merged.state == "merged" and merged.merged_into_id == first.id


def test_below_the_operating_point_the_dispatcher_routes_the_preselected_suggestion(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime
) -> None:
    page = browser_page
    trained(runtime)
    ticket = queued(runtime, MIXED, "+8613800000004")
    with runtime.db.session() as s:
        data = s.scalars(
            select(TicketEvent.data).where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == "classified")
        ).one()
        suggested = s.get(Unit, data["suggested_lead_unit_id"])
        assert suggested is not None
        names = (suggested.name_zh, suggested.name_en)
    sign_in(page, live_server, "dispatcher")
    open_from_home(page, "/staff/dispatch/")
    card = page.locator(f"#dispatch-{ticket.number}")
    expect(card.locator(".model-suggestion")).to_contain_text(f"模型建议派给 {names[0]}")
    expect(card.locator("select[name=lead_unit] option:checked")).to_have_text(names[0])
    shoot("01-suggestion-zh")
    page.click("#lang-switch")
    expect(card.locator(".model-suggestion")).to_contain_text(f"The model suggests {names[1]}")
    expect(card.locator("select[name=lead_unit] option:checked")).to_have_text(names[1])
    shoot("02-suggestion-en")
    page.click("#lang-switch")
    with page.expect_response(lambda r: r.request.method == "POST" and r.url.endswith("/route")) as posted:
        card.locator("button[type=submit]").click()  # nothing changed: the suggestion as it was preselected
    assert posted.value.status == 303
    expect(page.locator("main > .flash")).to_have_text("已派单。")
    with runtime.db.session() as s:
        routed = s.get(Ticket, ticket.id)
        assert routed is not None and (routed.state, routed.lead_unit_id) == ("assigned", suggested.id)


def _add_category(runtime: Runtime) -> None:
    data = yaml.safe_load(DEMO_YAML.read_text(encoding="utf-8"))
    data = {k: v for k, v in data.items() if k in ("settings", "calendar", "units", "areas", "categories", "rules")}
    data["categories"].append(
        {"code": "EPIDEMIC", "name_zh": "疫情防控", "name_en": "Epidemic control", "keywords": ["核酸"]}
    )
    with runtime.db.transaction() as s:
        directory.import_directory(s, directory.parse_yaml(yaml.safe_dump(data, allow_unicode=True)), runtime.now())


def test_the_administrator_reads_the_curve_sets_the_target_and_retrains_in_one_click(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, clock: Clock
) -> None:
    page = browser_page
    before = trained(runtime)
    clock.advance(3600)
    _add_category(runtime)  # the directory is now newer than the model
    sign_in(page, live_server, "admin")
    open_from_home(page, "/staff/admin/model/")
    expect(page.locator("main h1")).to_have_text("智能分类模型")
    expect(page.locator("#model-curve svg")).to_have_count(1)
    expect(page.locator("#operating-point-text")).to_contain_text("目标准确率 97.0%")
    expect(page.locator("#model-stale")).to_contain_text("晚于当前模型的训练时间")
    expect(page.locator("#model-unlearnt")).to_contain_text("疫情防控")
    shoot("01-model-zh")
    page.click("#lang-switch")
    expect(page.locator("main h1")).to_have_text("Complaint classifier")
    expect(page.locator("#operating-point-text")).to_contain_text("Target precision 97.0%")
    expect(page.locator("#model-curve svg")).to_contain_text("Operating point")
    shoot("02-model-en")
    page.click("#lang-switch")

    page.fill("#target", "90")
    page.click("#form-target button[type=submit]")
    expect(page.locator("main > .flash")).to_have_text("目标准确率已设为 90%。")
    expect(page.locator("#operating-point-text")).to_contain_text("目标准确率 90.0%")

    page.click("#form-retrain button[type=submit]")
    expect(page.locator("main > .flash")).to_have_text("已开始重新训练，完成后新模型自动启用。")
    clock.advance(60)
    runtime.jobs.run_burst()  # the worker runs the retraining job
    page.reload()
    with runtime.db.session() as s:
        after = model_store.active_version(s)
    assert after and after != before
    expect(page.locator("#model-last-run")).to_contain_text(after)
    expect(page.locator("#model-stale")).to_have_count(0)
    shoot("03-retrained-zh")
