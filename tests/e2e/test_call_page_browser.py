"""The call page and the case page in Debian's Chromium against `hotline serve api`, as an
operator works them: a repeat caller's case at a unit listed on the call page and the new
call registered into it (并单); the page laid out for the task at 1366x768 (transcript
beside the form, 保存登记 in view, the case's next action above the fold) and at 390x844;
the keyboard (first field focused, Tab in the form's order, Enter never submits, Ctrl+Enter
saves, the player's shortcuts); one phone rule; an expired session or a second log-in
while registering (nothing typed is lost, the operator is told); the live banner gone when
its call ends, earlier calls in Beijing time. Screenshots in ``test-artifacts/``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import LoginSession
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from dispatch.cases.models import Case
from dispatch.deadlines.policy import HOTLINE
from dispatch.deadlines.stage_clocks import Rules
from dispatch.deadlines.working_calendar import WorkingCalendar
from dispatch.handling import steps
from dispatch.handling.steps import DispatchOrder, Mode
from dispatch.intake import register
from dispatch.routing import units
from hotline import migrate
from ivr import call_store
from ivr.call_state import CallState
from tests.builders import PASSWORD, add_recorded_call, add_user, recently
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

ZONE = ZoneInfo("Asia/Shanghai")
RULES = Rules(WorkingCalendar(), HOTLINE, ZONE)
CALLER = "13800138000"  # add_recorded_call's caller
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
# The registration form's fields in reading order: Tab must follow it.
FORM_ORDER = [
    "f-received_at",
    "f-channel",
    "f-case_type",
    "f-complainant_name",
    "f-complainant_phone",
    "f-complainant_address",
    "f-complainant_org",
    "f-anonymous",
    "f-confidential",
    "f-identity_consent",
    "f-subject_unit",
    "f-subject_window",
    "f-subject_person",
    "f-title",
    "f-content",
    "f-request",
    "f-verified_with_caller",
    "decision=",  # the radio group: one stop, at 稍后决定
    "save",
]


# Every heading the live banner shows, in order (set up before the page's own scripts run).
BANNER_WATCH = """
document.addEventListener("DOMContentLoaded", () => {
  window.shownBanners = [];
  const live = document.getElementById("live");
  new MutationObserver(() => {
    const heading = live.querySelector("h2");
    if (heading) window.shownBanners.push(heading.textContent);
  }).observe(live, { childList: true });
});
"""


@dataclass(frozen=True)
class World:
    url: str
    sessions: sessionmaker[Session]
    settings: Settings
    at_unit: tuple[str, str]  # (id, number) of the caller's case at 市住建局
    registered: str  # id of a walk-in case awaiting its decision
    data: Path


def _config(settings: Settings) -> register.IntakeConfig:
    return register.IntakeConfig(
        ZONE,
        settings.case_number_format,
        settings.attachments_dir,
        settings.attachment_max_bytes,
        settings.attachment_max_files,
        RULES,
    )


def _form(**changes: str) -> dict[str, str]:
    received = dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
    return {
        "received_at": received.astimezone(ZONE).strftime("%Y-%m-%dT%H:%M"),
        "channel": "walk_in",
        "case_type": "complaint",
        "complainant_name": "张三",
        "complainant_phone": CALLER,
        "subject_unit": "幸福里小区物业",
        "title": "小区物业多收停车费",
        "content": "幸福里小区物业每月多收二十元停车费，没有任何收据。",
        "decision": "",
        **changes,
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The console with no speech model, an operator at phone 8001, the caller's case at a
    unit and another awaiting its decision."""
    data = tmp_path_factory.mktemp("call-page")
    settings = Settings(data_dir=data, api_port=free_port(), operator_replay_days=36500)
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    add_user(sessions, "op1", "operator", phone="8001")
    add_user(sessions, "op2", "operator")
    now = dt.datetime.now(dt.UTC)
    chased = register.register(
        sessions, _config(settings), _form(decision="accept"), [], "op1", now
    )
    with transaction(sessions) as session:
        unit = units.create_unit(session, "市住建局", "department", now)
        case = session.get(Case, chased.id)
        assert case is not None
        order = DispatchOrder(unit.id, Mode.TRANSFER, category="物业管理")
        steps.dispatch(session, case, order, "op1", now, RULES)
    waiting = register.register(
        sessions,
        _config(settings),
        _form(complainant_phone="13900000001", title="路灯不亮", content="滨河路路灯坏了一个月。"),
        [],
        "op1",
        now,
    )
    try:
        with console_api(settings) as url:
            yield World(url, sessions, settings, (chased.id, chased.number), waiting.id, data)
    finally:
        engine.dispose()


def case_count(world: World) -> int:
    with world.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(Case)) or 0)


def new_call(world: World, uid: str) -> str:
    call_id, _ = add_recorded_call(world.sessions, world.data, uid, started_at=recently())
    return call_id


def focused(page: Page) -> str:
    return str(
        page.evaluate(
            "(() => { const e = document.activeElement;"
            " return e.id || (e.name + '=' + e.value); })()"
        )
    )


def type_the_complaint(page: Page, title: str) -> None:
    page.locator("#f-case_type").select_option("complaint")
    page.locator("#f-complainant_name").fill("张三")
    page.locator("#f-subject_unit").fill("幸福里小区物业")
    page.locator("#f-title").fill(title)
    page.locator("#f-content").fill("来电人称物业至今仍多收停车费，承办单位尚未联系。")


def test_a_repeat_caller_is_registered_into_the_case_at_the_unit_from_a_page_laid_out_for_it(
    world: World, browser: Browser
) -> None:
    target_id, target_number = world.at_unit
    call_id = new_call(world, "9.1")
    page = logged_in(browser, world.url, "op1")
    page.set_viewport_size(DESKTOP)
    try:
        page.goto(f"{world.url}/calls/{call_id}")
        # The caller's case at its unit, with its status, unit and 并入此案.
        repeat = page.locator(f'#same-phone li[data-case-number="{target_number}"]')
        expect(repeat).to_contain_text("已交办待签收")
        expect(repeat).to_contain_text("承办：市住建局")
        expect(repeat.get_by_role("button", name="并入此案")).to_be_visible()
        # No speech model: said plainly, not 等待转写 for ever.
        expect(page.locator("#job-state")).to_contain_text("未安装语音模型，本通话不会自动转写")
        expect(page.locator("#content-manual")).to_be_visible()

        # Laid out for the task: the recording beside the form, 保存登记 in view at once.
        evidence = page.locator(".call-evidence").bounding_box()
        form_box = page.locator(".call-form").bounding_box()
        assert evidence is not None and form_box is not None
        assert form_box["x"] >= evidence["x"] + evidence["width"]  # side by side
        assert abs(form_box["y"] - evidence["y"]) < 5
        save = page.locator("#save").bounding_box()
        assert save is not None and page.evaluate("window.scrollY") == 0
        assert save["y"] + save["height"] <= DESKTOP["height"], save  # without scrolling
        height = page.evaluate("document.getElementById('registration').scrollHeight")
        assert height <= 1100, height  # was 1,870 px (issue 16)
        expect(page.locator("#save-hint")).to_contain_text("Ctrl+Enter")
        screenshot(page, "call-page-desktop")

        # The keyboard: the first field has the focus, Tab follows the form.
        expect(page.locator("#f-received_at")).to_be_focused()
        seen = [focused(page)]
        for _ in range(60):
            page.keyboard.press("Tab")
            if focused(page) != seen[-1]:
                seen.append(focused(page))
            if seen[-1] == "save":
                break
        assert seen == FORM_ORDER
        page.keyboard.press("Alt+.")  # the player's shortcuts still work
        expect(page.locator("#speed")).to_have_value("1.25")

        # Enter in a one-line field moves on; it never saves the form as it stands.
        before = case_count(world)
        page.locator("#f-title").fill("催办：物业多收停车费")
        page.locator("#f-title").press("Enter")
        expect(page.locator("#f-content")).to_be_focused()
        assert page.url == f"{world.url}/calls/{call_id}" and case_count(world) == before

        # One phone rule: full-width digits and an extension pass, as on saving.
        phone = page.locator("#f-complainant_phone")
        phone.fill("12345")
        phone.press("Tab")
        expect(page.locator("#err-complainant_phone")).to_contain_text("联系电话格式不正确")
        phone.fill("１３８００１３８０００转１２３")
        phone.press("Tab")
        expect(page.locator("#err-complainant_phone")).to_be_empty()

        type_the_complaint(page, "催办：物业多收停车费")
        page.locator("#f-merge_reason").fill("来电人催办，称承办单位尚未联系")
        repeat.get_by_role("button", name="并入此案").click()
        expect(page.locator("#saved")).to_be_visible()
        expect(page.locator(".case-record")).to_contain_text(f"并入{target_number}")
        expect(page.locator("#phone")).to_have_text("13800138000转123")
        screenshot(page, "case-page-merged")

        # The case at the unit now holds the call: its record and history say so.
        page.goto(f"{world.url}/cases/{target_id}")
        expect(page.locator("#merged-cases")).to_contain_text("催办：物业多收停车费")
        expect(page.locator("#history")).to_contain_text("并入本案：来电人催办")
        expect(page.locator("#next-action")).to_contain_text("等待承办单位签收")
        heading = page.locator("#next-action").bounding_box()
        assert heading is not None and heading["y"] < DESKTOP["height"] / 3
        screenshot(page, "case-page-at-unit")

        # A case awaiting its decision: the decision form first, whole, above the fold.
        page.goto(f"{world.url}/cases/{world.registered}")
        expect(page.locator("#next-action")).to_contain_text("受理意见")
        decision = page.locator("#decision").bounding_box()
        assert decision is not None and decision["y"] + decision["height"] <= DESKTOP["height"]
        screenshot(page, "case-page-desktop")

        # 更正登记: the saved fields corrected with a reason, in the history.
        page.locator("#correction summary").click()
        correction = page.locator("#correction-form")
        correction.locator("#f-title").fill("滨河路路灯损坏一个月")
        correction.locator("#f-correction_reason").fill("来电人补充说明")
        screenshot(page, "case-page-correction")
        correction.locator("#f-correction_reason").press("Control+s")
        expect(page.locator("#corrected")).to_be_visible()
        expect(page.locator("#title")).to_have_text("滨河路路灯损坏一个月")
        expect(page.locator("#history")).to_contain_text(
            "更正登记：已登记待受理 → 已登记待受理"
            "（更正事项摘要（原为“路灯不亮”）；原因：来电人补充说明）"
        )
    finally:
        page.close()


def expire_sessions(world: World) -> None:
    with transaction(world.sessions) as session:
        session.execute(
            update(LoginSession).values(expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(1))
        )


def test_an_expired_session_while_registering_keeps_the_typed_form_and_says_so(
    world: World, browser: Browser
) -> None:
    call_id = new_call(world, "9.2")
    page = logged_in(browser, world.url, "op1")
    page.set_viewport_size(DESKTOP)
    try:
        page.goto(f"{world.url}/calls/{call_id}")
        type_the_complaint(page, "小区门口垃圾无人清运")
        page.locator("#f-request").fill("尽快清运")
        before = case_count(world)
        expire_sessions(world)
        page.get_by_role("button", name="保存登记").click()
        alert = page.locator("#session-alert")
        expect(alert).to_be_visible()
        expect(alert).to_contain_text("登录已过期或已退出，本次登记尚未保存")
        expect(page.locator("#f-title")).to_have_value("小区门口垃圾无人清运")  # nothing lost
        assert page.url == f"{world.url}/calls/{call_id}" and case_count(world) == before
        screenshot(page, "call-page-session-expired")

        # Log in again from the message: back on the call page, the form as it was typed.
        page.locator("#relogin").click()
        expect(page).to_have_url(re.compile(r"/login\?next="))
        page.get_by_label("用户名").fill("op1")
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(f"{world.url}/calls/{call_id}")
        expect(page.locator("#draft-restored")).to_be_visible()
        expect(page.locator("#f-title")).to_have_value("小区门口垃圾无人清运")
        expect(page.locator("#f-request")).to_have_value("尽快清运")
        expect(page.locator("#f-case_type")).to_have_value("complaint")
        screenshot(page, "call-page-draft-restored")
        page.keyboard.press("Control+Enter")  # the save shortcut
        expect(page.locator("#saved")).to_be_visible()
        expect(page.locator("#title")).to_have_text("小区门口垃圾无人清运")
        assert case_count(world) == before + 1
        # Saved: the draft is gone; the call page shows the case, no form to restore.
        page.goto(f"{world.url}/calls/{call_id}")
        expect(page.locator("#draft-restored")).to_have_count(0)
    finally:
        page.close()


def log_in_on(page: Page, url: str, username: str = "op1") -> None:
    page.goto(f"{url}/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("header.top .user")).to_contain_text(username)


def test_a_second_log_in_elsewhere_does_not_cost_an_open_registration(
    world: World, browser: Browser
) -> None:
    context = browser.new_context(locale="zh-CN", viewport=DESKTOP)
    try:
        first, second = context.new_page(), context.new_page()
        log_in_on(first, world.url)
        first.goto(f"{world.url}/cases/new")
        first.locator("#f-channel").select_option("letter")
        first.locator("#f-case_type").select_option("suggestion")
        first.locator("#f-complainant_name").fill("李四")
        first.locator("#f-complainant_address").fill("滨河路 8 号")
        first.locator("#f-title").fill("建议增设公交站")
        first.locator("#f-content").fill("滨河路与建设路口附近没有公交站，建议增设。")
        before = case_count(world)
        # Someone else logs in in this browser: the form is not sent in their name.
        log_in_on(second, world.url, "op2")
        first.get_by_role("button", name="保存登记").click()
        expect(first.locator("#session-alert")).to_contain_text("本浏览器现已以“op2”的身份登录")
        expect(first.locator("#f-title")).to_have_value("建议增设公交站")
        assert case_count(world) == before
        log_in_on(second, world.url)  # the same operator again, in another tab: a new session
        first.get_by_role("button", name="保存登记").click()
        expect(first.locator("#saved")).to_be_visible()
        expect(first.locator("#title")).to_have_text("建议增设公交站")
        expect(first.locator(".case-record")).to_contain_text("已与反映人核实无误")
    finally:
        context.close()


def test_on_a_phone_the_call_page_and_the_case_page_are_one_column(
    world: World, browser: Browser
) -> None:
    call_id = new_call(world, "9.3")
    context: BrowserContext = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        device_scale_factor=3,
        has_touch=True,
    )
    try:
        page = context.new_page()
        log_in_on(page, world.url)
        for path, name in [
            (f"/calls/{call_id}", "call-page-phone"),
            (f"/cases/{world.registered}", "case-page-phone"),
        ]:
            page.goto(f"{world.url}{path}")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            assert width <= 390, (path, width)  # no sideways scrolling
            screenshot(page, name)
        # The case's next action comes first on a phone.
        action = page.locator("#next-action").bounding_box()
        record = page.locator(".case-record").bounding_box()
        assert action is not None and record is not None and action["y"] < record["y"]
    finally:
        context.close()


def test_the_live_banner_goes_when_its_call_ends_and_shows_earlier_calls_in_beijing_time(
    world: World, browser: Browser
) -> None:
    caller = "13700000009"
    started = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(seconds=30)
    earlier_at = started - dt.timedelta(days=1, hours=3)
    with transaction(world.sessions) as session:
        call_store.save_state(
            session,
            CallState(
                "9.8",
                caller_number=caller,
                started_at=earlier_at,
                ended_at=earlier_at + dt.timedelta(minutes=2),
            ),
        )
        call_store.save_state(
            session,
            CallState("9.9", caller_number=caller, caller_name="王先生", started_at=started),
        )
        call_store.announce(session, "9.9", "8001", "ringing", started)
        call_store.announce(session, "9.9", "8001", "answered", started)
    page = logged_in(browser, world.url, "op1")
    try:
        page.goto(f"{world.url}/")
        banner = page.locator("#live")
        expect(banner).to_be_visible()
        expect(banner.locator("h2")).to_have_text(f"通话中：{caller}（来电显示：王先生）")
        local = earlier_at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
        expect(banner.get_by_role("link", name=local)).to_be_visible()  # Beijing time
        screenshot(page, "live-banner")
        with transaction(world.sessions) as session:  # hang-up
            call_store.save_state(
                session,
                CallState(
                    "9.9",
                    caller_number=caller,
                    caller_name="王先生",
                    started_at=started,
                    ended_at=started + dt.timedelta(seconds=40),
                ),
            )
        expect(banner).to_be_hidden()
        # A reload after the call ended never shows it again: the next call is the first.
        page.add_init_script(BANNER_WATCH)
        page.reload()
        expect(page.locator("body")).to_have_attribute("data-live", "1")
        with transaction(world.sessions) as session:
            call_store.save_state(
                session, CallState("9.10", caller_number="13700000010", started_at=started)
            )
            call_store.announce(session, "9.10", "8001", "ringing", started)
        expect(banner.locator("h2")).to_have_text("来电振铃：13700000010")
        assert page.evaluate("window.shownBanners") == ["来电振铃：13700000010"]
    finally:
        page.close()
