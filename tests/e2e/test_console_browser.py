"""The console in a real browser: Debian's Chromium driven by Playwright.

Screenshots of each page are kept under ``test-artifacts/`` in the checkout (git-ignored);
their paths are printed in the test output.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from hotline import migrate
from hotline.db import make_engine, make_session_factory
from hotline.processes import api_answers
from hotline.settings import PROJECT_ROOT, Settings
from hotline.waiting import wait_for
from tests.builders import PASSWORD, add_recorded_call, add_user
from tests.conftest import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
# No network beyond the console itself: no updates, no sync, no metrics, no DNS prefetch.
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-background-networking", "--disable-sync",
                  "--disable-component-update", "--no-first-run", "--disable-default-apps",
                  "--metrics-recording-only", "--dns-prefetch-disable"]


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running API (`hotline serve api`) with one operator and one recorded message."""
    data = tmp_path_factory.mktemp("console")
    settings = Settings(data_dir=data, api_port=free_port())
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    add_user(sessions, "op1", "operator")
    add_recorded_call(sessions, data, "1.1", caller_name="<b>王五</b>")
    engine.dispose()
    env = {**os.environ, **settings.to_env()}
    with open(data / "api.log", "ab") as log:
        server = subprocess.Popen([str(PROJECT_ROOT / ".venv/bin/hotline"), "serve", "api"],
                                  env=env, stdout=log, stderr=log)
    try:
        wait_for(lambda: api_answers(settings), 30, "the console to answer", 0.1)
        yield f"http://127.0.0.1:{settings.api_port}"
    finally:
        server.terminate()
        server.wait(timeout=20)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: scripts/setup installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                              args=CHROMIUM_FLAGS)
        yield launched
        launched.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def test_an_operator_logs_in_and_sees_the_calls(console: str, browser: Browser) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{console}/")
    expect(page).to_have_url(f"{console}/login?next=/")
    screenshot(page, "login")
    page.get_by_label("用户名").fill("op1")
    page.get_by_label("密码").fill("wrong-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text("用户名或密码错误")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("heading", name="来电记录")).to_be_visible()
    expect(page.locator("header.user")).to_contain_text("op1 名（话务员）")
    row = page.locator("#calls tbody tr").first
    expect(row).to_contain_text("<b>王五</b>")  # typed HTML comes back as text
    assert page.locator("#calls b").count() == 0, "no markup was injected"
    expect(row.locator(".transcript")).to_contain_text("等待转写")
    screenshot(page, "calls")
    page.get_by_role("button", name="退出登录").click()
    expect(page).to_have_url(f"{console}/login")
