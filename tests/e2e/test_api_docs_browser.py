"""The API description in a real browser: ``/docs`` is Swagger UI from the
``swagger-ui-py`` package, served by the console itself (no CDN: a hotline may have no
internet), started by our own script so the Content-Security-Policy stays as strict as on
every page, and behind the log-in like every route."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Request, expect

from core.db import make_engine, make_session_factory
from core.settings import Settings
from hotline import migrate
from tests.builders import add_user
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A running API with one operator; yields its base URL."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("docs"), api_port=free_port())
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    try:
        add_user(make_session_factory(engine), "op1", "operator")
        with console_api(settings) as url:
            yield url
    finally:
        engine.dispose()


def test_a_logged_in_user_reads_the_operations_offline(console: str, browser: Browser) -> None:
    page = logged_in(browser, console, "op1")
    messages: list[str] = []
    elsewhere: list[str] = []
    page.on("console", lambda message: messages.append(f"{message.type}: {message.text}"))
    page.on("pageerror", lambda error: messages.append(f"pageerror: {error}"))

    def requested(request: Request) -> None:
        if not request.url.startswith(console):
            elsewhere.append(request.url)

    page.on("request", requested)
    page.goto(f"{console}/docs")
    log_in = page.locator("#operations-session-api_login_api_session_post")
    expect(log_in.locator(".opblock-summary-path")).to_have_text("/api/session")
    expect(log_in.locator(".opblock-summary-description")).to_have_text("Api Login")
    expect(page.locator(".opblock-tag", has_text="recordings")).to_be_visible()
    screenshot(page, "api-docs")
    assert [m for m in messages if "Content Security Policy" in m] == []
    assert [m for m in messages if m.startswith(("error", "pageerror"))] == []
    assert elsewhere == []


def test_without_a_log_in_the_docs_send_to_the_login(console: str, browser: Browser) -> None:
    page = browser.new_page(locale="zh-CN")
    page.goto(f"{console}/docs")
    expect(page).to_have_url(f"{console}/login?next=/docs")
    expect(page.get_by_label("用户名")).to_be_visible()
    page.close()


def test_try_it_out_sends_the_session_and_its_csrf_token(console: str, browser: Browser) -> None:
    """A change from the docs page passes the CSRF check: log-out answers 204, not 403."""
    page = logged_in(browser, console, "op1")
    page.goto(f"{console}/docs")
    log_out = page.locator("#operations-session-api_logout_api_session_delete")
    log_out.locator(".opblock-summary").click()
    log_out.get_by_role("button", name="Try it out").click()
    log_out.get_by_role("button", name="Execute").click()
    status = log_out.locator(".live-responses-table .response-col_status:not(.col_header)")
    expect(status).to_have_text("204")
    page.goto(f"{console}/docs")
    expect(page).to_have_url(f"{console}/login?next=/docs")
    page.close()
