"""Debian's Chromium driven by Playwright, and screenshots kept as test artefacts under
``test-artifacts/`` in the checkout (git-ignored); their paths are printed in the output."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from core.settings import PROJECT_ROOT, Settings
from core.waiting import wait_for
from hotline.processes import api_answers
from tests import artifacts
from tests.builders import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
# No network beyond the console itself: no updates, no sync, no metrics, no DNS prefetch.
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-sync",
    "--disable-component-update",
    "--no-first-run",
    "--disable-default-apps",
    "--metrics-recording-only",
    "--dns-prefetch-disable",
    "--autoplay-policy=no-user-gesture-required",
]


@contextmanager
def chromium() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("Debian's chromium is missing: scripts/setup installs it")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            yield launched
        finally:
            launched.close()


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    artifacts.kept.append(path)


def logged_in(browser: Browser, base_url: str, username: str) -> Page:
    """A new page, logged in as ``username``; any JavaScript dialog fails the test later
    through ``window.injected`` checks, and is dismissed so nothing blocks."""
    page = browser.new_page(locale="zh-CN", viewport={"width": 1400, "height": 900})
    page.on("dialog", lambda dialog: dialog.dismiss())
    page.goto(f"{base_url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("header.top .user")).to_contain_text(username)
    return page


@contextmanager
def serving(settings: Settings, part: str) -> Iterator[subprocess.Popen[bytes]]:
    """``hotline serve PART`` with these settings, its output in ``<data>/PART.log``;
    stopped on leaving."""
    env = {**os.environ, **settings.to_env()}
    with open(settings.data_dir / f"{part}.log", "ab") as log:
        process = subprocess.Popen(
            [str(PROJECT_ROOT / ".venv/bin/hotline"), "serve", part],
            env=env,
            stdout=log,
            stderr=log,
        )
    try:
        yield process
    finally:
        process.terminate()
        process.wait(timeout=30)


@contextmanager
def console_api(settings: Settings) -> Iterator[str]:
    """The console (``hotline serve api``) once it answers; yields its base URL."""
    with serving(settings, "api"):
        wait_for(lambda: api_answers(settings), 30, "the console to answer", 0.1)
        yield f"http://127.0.0.1:{settings.api_port}"
