"""Browser fixtures: the app with CSRF on, served over real HTTP, driven by Debian's Chromium.

* Every test here starts from the demo city (``demo_city`` marker) and is a ``browser`` test;
  on PostgreSQL it commits for real (a live server answers from other threads).
* ``live_server``: the ``csrf_app`` (as in production), served by werkzeug in a background
  thread; yields the base URL.
* ``browser_page``: a fresh Chromium page (own cookies) per test. Without /usr/bin/chromium the
  test is skipped, or fails under ``CI=true``. Playwright's own browsers are never used.
* ``sign_in(page, base, who)``: signs the demo user ``who`` (a username or a role) in on the login
  form, as a person would.
* ``shoot``: saves a full-page screenshot of the current page, on desktop and on a phone-sized
  viewport, to ``tests/screenshots/`` (gitignored).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from werkzeug.serving import make_server

from tests.helpers import DEMO_PASSWORDS, DEMO_USERS

if TYPE_CHECKING:
    from flask import Flask
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IN_CI = os.environ.get("CI", "").lower() == "true"
SCREENSHOTS = Path(__file__).resolve().parent.parent / "screenshots"
DESKTOP = {"width": 1280, "height": 900}
MOBILE = {"width": 390, "height": 844}
TIMEOUT_MS = 5000


@pytest.fixture
def live_server(csrf_app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, csrf_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """One Chromium process for the whole session; each test gets its own context."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing (apt-get install chromium)"
        if IN_CI:
            pytest.fail(f"CI=true needs {reason}", pytrace=False)
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(chromium: Browser) -> Iterator[Page]:
    """A page in a fresh context: a Chinese-speaking desktop browser unless the test switches."""
    context = chromium.new_context(locale="zh-CN", viewport=DESKTOP)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def shoot(browser_page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """``shoot("01-form-zh")`` saves ``<test>--01-form-zh--desktop.png`` and ``--mobile.png``."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    prefix = re.sub(r"[^A-Za-z0-9_.-]+", "-", request.node.name.removeprefix("test_")).strip("-")

    def save(name: str) -> None:
        page = browser_page
        for label, size in (("desktop", DESKTOP), ("mobile", MOBILE)):
            page.set_viewport_size(size)
            page.screenshot(path=str(SCREENSHOTS / f"{prefix}--{name}--{label}.png"), full_page=True)
        page.set_viewport_size(DESKTOP)

    return save


def sign_in(page: Page, base: str, who: str, lang: str = "zh") -> None:
    """Sign the demo user ``who`` (a username, or a role such as ``Role.AUDITOR``) in on the login
    form: whoever is signed in signs out first with the header's button; a login page already open
    is used as it is, otherwise ``/staff/login?lang=<lang>`` is opened."""
    logout = page.locator("header form[action$='/staff/logout'] button")
    if page.url.startswith(base) and logout.count():
        logout.click()
        page.wait_for_selector("#complaint-form")
    if not page.url.startswith(f"{base}/staff/login"):
        page.goto(f"{base}/staff/login?lang={lang}")
    username = DEMO_USERS.get(who, who)
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORDS[username])
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/staff/$"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this folder drives a browser (``-m "not browser"`` leaves them out) and starts
    from the demo city."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.demo_city)
