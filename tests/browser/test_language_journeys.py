"""Chinese first (issue 13, point 14) in a real browser: a refused mystery-call campaign and a refused
directory import list every problem in the reader's language, with no text of the other language."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from hotline_core.models import User
from hotline_core.runtime import Runtime
from tests.browser.conftest import sign_in
from tests.language_check import foreign_on_page

if TYPE_CHECKING:
    from playwright.sync_api import Page

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = pytest.mark.browser

CAMPAIGN_PROBLEMS = {
    "zh": ["请填写批次名称", "结束日期早于开始日期", "主叫号码“12”无效"],
    "en": ["A name is required", "The window ends before it starts", "The caller number “12” is not valid"],
}
DIRECTORY_PROBLEMS = {
    "zh": ["第 2 行，「units」第 1 条：缺少「name_en」", "「areas」：须为列表"],
    "en": ["line 2: units[0]: name_en is required", "areas: must be a list"],
}


def people(runtime: Runtime) -> list[str]:
    """The names people gave (the demo users' names): shown as written, in any language."""
    with runtime.db.session() as s:
        return [*s.scalars(select(User.display_name)), *s.scalars(select(User.username))]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_campaign_lists_every_problem_in_the_readers_language(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, lang: str
) -> None:
    page = browser_page
    sign_in(page, live_server, "auditor", lang)
    page.goto(f"{live_server}/staff/mystery/campaigns/new?lang={lang}")
    page.fill("#window_start", "2027-03-10")
    page.fill("#window_end", "2027-03-01")
    page.fill("#caller_numbers", "12")
    page.click("#create-campaign")
    alert = page.locator("main .errors[role=alert]")
    for problem in CAMPAIGN_PROBLEMS[lang]:
        expect(alert).to_contain_text(problem)
    assert foreign_on_page(page.content(), lang, ["12", *people(runtime)]) == []
    shoot(f"01-campaign-refused-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_refused_directory_import_names_each_line_in_the_readers_language(
    live_server: str, browser_page: Page, shoot: Callable[[str], None], runtime: Runtime, tmp_path: Path, lang: str
) -> None:
    page = browser_page
    bad = tmp_path / "directory.yaml"
    bad.write_text("units:\n  - {code: X1, name_zh: 一局}\nareas: 3\n", encoding="utf-8")
    sign_in(page, live_server, "admin", lang)
    page.goto(f"{live_server}/staff/admin/directory?lang={lang}")
    page.set_input_files("#file", str(bad))
    page.click("#directory-form button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/admin/directory"))
    problems = page.locator("#import-problems")
    for problem in DIRECTORY_PROBLEMS[lang]:
        expect(problems).to_contain_text(problem)
    assert foreign_on_page(page.content(), lang, ["X1", "一局", *people(runtime)]) == []
    shoot(f"02-directory-refused-{lang}")
