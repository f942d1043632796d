"""The handling forms in a real browser (Debian's Chromium via Playwright) against `hotline
serve api`, at the 1366x768 desktop: a case for the leader that its unit sends back moves on
from the console (报领导审批 again, approval, 交办 to another unit, the category following
the unit chosen); a refused reply and a refused dispatch keep every typed field, each error
at its field; a supervisor's 改派 and 催办 from the case page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, ViewportSize, expect

from accounts.models import User
from core.db import make_engine, make_session_factory, transaction
from core.settings import Settings
from dispatch.routing import units
from hotline import migrate
from tests.builders import PASSWORD, add_user
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

BEIJING = ZoneInfo("Asia/Shanghai")
DESKTOP: ViewportSize = {"width": 1366, "height": 768}
CASE = {
    "channel": "walk_in",
    "case_type": "complaint",
    "complainant_name": "李秀英",
    "complainant_phone": "13912345678",
    "subject_unit": "东郊化工厂",
    "title": "化工厂夜间排放刺鼻废气",
    "content": "小区旁的化工厂每天夜里排放刺鼻气味，已经持续一个月。",
    "request": "请环保部门查处",
    "decision": "accept",
}


@dataclass(frozen=True)
class Site:
    url: str
    housing: str
    environment: str


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("handling-forms")
    settings = Settings(data_dir=data, api_port=free_port())
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    people = [("op1", "operator"), ("sup1", "supervisor"), ("zj1", "unit_handler")]
    for name, role in [*people, ("hb1", "unit_handler")]:
        add_user(sessions, name, role)
    now = dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:
        housing = units.create_unit(session, "市住建局", "department", now)
        environment = units.create_unit(session, "市生态环境局", "department", now)
        for username, unit in (("zj1", housing), ("hb1", environment)):
            units.add_member(session, session.query(User).filter_by(username=username).one(), unit)
        units.set_catalogue(session, "城乡建设", housing, "sup1", now)
        units.set_catalogue(session, "环境保护", environment, "sup1", now)
        ids = (housing.id, environment.id)
    try:
        with console_api(settings) as url:
            yield Site(url, *ids)
    finally:
        engine.dispose()


def desk(browser: Browser, site: Site, username: str) -> Page:
    page = logged_in(browser, site.url, username)
    page.set_viewport_size(DESKTOP)
    return page


def api(page: Page, site: Site, path: str, body: dict[str, Any]) -> Any:
    """A JSON step as the logged-in person (the set-up the test is not about)."""
    token = page.evaluate("document.body.dataset.csrf")
    response = page.request.post(f"{site.url}{path}", data=body, headers={"X-CSRF-Token": token})
    assert response.ok, (path, response.status, response.text())
    return response.json() if response.body() else None


def new_case(op: Page, site: Site) -> tuple[str, str]:
    received = dt.datetime.now(BEIJING).strftime("%Y-%m-%dT%H:%M")  # the form's local time
    made = api(op, site, "/api/cases", {**CASE, "received_at": received})
    return made["id"], made["number"]


def badge(page: Page) -> Any:
    return expect(page.locator("h1 .badge"))


def test_a_case_for_the_leader_sent_back_by_its_unit_moves_on_from_the_console(
    site: Site, browser: Browser
) -> None:
    op, sup = desk(browser, site, "op1"), desk(browser, site, "sup1")
    case_id, number = new_case(op, site)
    op.goto(f"{site.url}/cases/{case_id}")
    op.locator("#approval-submit").get_by_label("报批事由").fill("涉及企业违法排污，报领导审批")
    op.locator("#approval-submit").get_by_role("button", name="报领导审批").click()
    badge(op).to_have_text("待领导审批")

    sup.goto(f"{site.url}/cases/{case_id}")
    sup.locator("#approval").get_by_label("审批意见").fill("同意交办")
    sup.get_by_role("button", name="同意交办").click()
    badge(sup).to_have_text("已审批待交办")

    # The operator dispatches: choosing the lead unit brings its category along.
    op.reload()
    op.select_option("#dispatch-lead", site.housing)
    expect(op.locator("#dispatch-category")).to_have_value("城乡建设")
    op.locator("#dispatch").get_by_role("button", name="交办").click()
    badge(op).to_have_text("已交办待签收")

    # 市住建局 sends it back: not its business.
    zj = desk(browser, site, "zj1")
    zj.goto(f"{site.url}/unit/cases/{case_id}")
    zj.get_by_label("退回理由（非本单位职责）").fill("属于环保部门职责")
    zj.locator("#return").get_by_role("button", name="退回").click()
    expect(zj.locator("#unit-cases")).not_to_contain_text(number)

    # Back at the centre: the page offers 报领导审批, not a 交办 the rules would refuse.
    op.reload()
    badge(op).to_have_text("已受理待交办")
    expect(op.locator("#approval-needed")).to_contain_text("重新交办前须再次报领导审批")
    expect(op.locator("#dispatch")).to_have_count(0)
    expect(op.locator("#assignments")).to_contain_text("已退回：属于环保部门职责")
    screenshot(op, "handling-returned-leader-case")
    op.locator("#approval-submit").get_by_label("报批事由").fill("市住建局退回，改派市生态环境局")
    op.locator("#approval-submit").get_by_role("button", name="报领导审批").click()
    badge(op).to_have_text("待领导审批")
    expect(op.locator("#approval-waiting")).to_be_visible()

    sup.reload()
    sup.get_by_role("button", name="同意交办").click()
    badge(sup).to_have_text("已审批待交办")

    # The unit that returned it is not proposed again; the category follows the new unit.
    op.reload()
    expect(op.locator("#dispatch-lead")).to_have_value("")
    expect(op.locator("#dispatch-category")).to_have_value("城乡建设")
    op.select_option("#dispatch-lead", site.environment)
    expect(op.locator("#dispatch-category")).to_have_value("环境保护")
    op.locator("#dispatch").get_by_role("button", name="交办").click()
    badge(op).to_have_text("已交办待签收")
    expect(op.locator("#assignments")).to_contain_text("主办：市生态环境局")
    expect(op.locator("#category")).to_have_text("环境保护")
    for step in ("报领导审批", "领导审批同意", "交办", "退回"):
        expect(op.locator("#history")).to_contain_text(step)


def test_a_refused_reply_keeps_every_typed_field(site: Site, browser: Browser) -> None:
    op = desk(browser, site, "op1")
    case_id, _ = new_case(op, site)
    api(
        op,
        site,
        f"/api/cases/{case_id}/dispatch",
        {"lead_unit_id": site.environment, "category": "环境保护"},
    )
    hb = desk(browser, site, "hb1")
    hb.goto(f"{site.url}/unit/cases/{case_id}")
    hb.get_by_role("button", name="签收").click()
    facts = "经夜间突击检查，该厂废气处理设施停运，群众反映属实。"
    measures = "责令立即停产整改，依法立案处罚。"
    responsible = "约谈企业负责人，责令书面检查。"
    hb.get_by_label("调查核实情况").fill(facts)
    hb.get_by_label("处理措施").fill(measures)
    hb.get_by_label("责任人处理情况").fill(responsible)
    hb.get_by_role("button", name="提交回复").click()  # no 核实结论 chosen

    reply = hb.locator("#reply")
    expect(reply.locator("#err-reply-finding")).to_have_text("请选择核实结论")
    expect(hb.get_by_label("调查核实情况")).to_have_value(facts)
    expect(hb.get_by_label("处理措施")).to_have_value(measures)
    expect(hb.get_by_label("责任人处理情况")).to_have_value(responsible)
    color = reply.locator("#err-reply-finding").evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(187, 0, 0)", color  # styled as an error
    screenshot(hb, "handling-reply-refused")
    hb.get_by_label("属实", exact=True).check()
    hb.get_by_role("button", name="提交回复").click()
    badge(hb).to_have_text("已回复待审核")


def test_a_refused_dispatch_keeps_every_typed_field(site: Site, browser: Browser) -> None:
    op = desk(browser, site, "op1")
    case_id, _ = new_case(op, site)
    op.goto(f"{site.url}/cases/{case_id}")
    form = op.locator("#dispatch")
    op.select_option("#dispatch-category", "环境保护")
    form.locator("select[name=mode]").select_option("assign")
    form.locator("select[name=assist_unit_ids]").select_option([site.housing])
    form.get_by_label("复杂件（办理时限按复杂件计算）").check()
    instructions = "请于三日内现场核查并书面答复，注意保护投诉人信息。"
    form.get_by_label("交办意见").fill(instructions)
    form.get_by_role("button", name="交办").click()  # no lead unit

    form = op.locator("#dispatch")
    expect(form.locator(".field-error")).to_have_text("请选择主办单位")
    expect(op.locator("#dispatch-lead")).to_be_focused()
    expect(op.locator("#dispatch-lead")).to_have_attribute("aria-invalid", "true")
    expect(op.locator("#dispatch-category")).to_have_value("环境保护")
    expect(form.locator("select[name=mode]")).to_have_value("assign")
    assists = form.locator("select[name=assist_unit_ids]")
    assert assists.evaluate("s => [...s.selectedOptions].map(o => o.value)") == [site.housing]
    expect(form.get_by_label("复杂件（办理时限按复杂件计算）")).to_be_checked()
    expect(form.get_by_label("交办意见")).to_have_value(instructions)
    color = form.locator(".field-error").evaluate("e => getComputedStyle(e).color")
    assert color == "rgb(187, 0, 0)", color
    screenshot(op, "handling-dispatch-refused")

    # The category chosen by hand stays when the lead unit is then picked.
    op.select_option("#dispatch-lead", site.housing)
    expect(op.locator("#dispatch-category")).to_have_value("环境保护")
    op.locator("#dispatch").get_by_role("button", name="交办").click()
    badge(op).to_have_text("已交办待签收")


def test_a_supervisor_reassigns_and_chases_from_the_case_page(site: Site, browser: Browser) -> None:
    op = desk(browser, site, "op1")
    case_id, number = new_case(op, site)
    api(
        op,
        site,
        f"/api/cases/{case_id}/dispatch",
        {"lead_unit_id": site.housing, "category": "城乡建设"},
    )
    sup = desk(browser, site, "sup1")
    sup.goto(f"{site.url}/cases/{case_id}")
    remind = sup.locator("#remind")
    remind.get_by_role("button", name="催办").click()
    expect(remind.locator(".field-error")).to_have_text("请填写催办事由")
    remind.get_by_label("催办事由（承办单位可见）").fill("群众再次来电，请今日内联系群众")
    remind.get_by_role("button", name="催办").click()
    expect(sup.locator("#supervision")).to_contain_text("群众再次来电，请今日内联系群众")
    expect(sup.locator("#supervision")).to_contain_text("sup1 催办")

    zj = desk(browser, site, "zj1")
    zj.goto(f"{site.url}/unit/cases/{case_id}")
    expect(zj.locator("#reminders")).to_contain_text("群众再次来电，请今日内联系群众")

    form = sup.locator("#reassign")
    form.get_by_label("改派或收回理由").fill("经核实属环保部门职责")
    sup.select_option("#reassign-lead", site.environment)
    expect(sup.locator("#reassign-category")).to_have_value("环境保护")
    form.get_by_label("交办意见").fill("请现场核查")
    screenshot(sup, "handling-reassign")
    form.get_by_role("button", name="改派").click()
    badge(sup).to_have_text("已交办待签收")
    expect(sup.locator("#assignments")).to_contain_text("已收回：经核实属环保部门职责")
    expect(sup.locator("#assignments")).to_contain_text("主办：市生态环境局")
    expect(sup.locator("#history")).to_contain_text("收回交办")

    zj.goto(f"{site.url}/unit")  # no longer 市住建局's (its 催办 stays in its records)
    expect(zj.locator("#unit-cases")).not_to_contain_text(number)
    zj.goto(f"{site.url}/unit/cases/{case_id}")
    expect(zj.locator("main")).not_to_contain_text("化工厂夜间排放刺鼻废气")


def test_the_handling_forms_fit_a_phone(site: Site, browser: Browser) -> None:
    op = desk(browser, site, "op1")
    case_id, _ = new_case(op, site)
    api(
        op,
        site,
        f"/api/cases/{case_id}/dispatch",
        {"lead_unit_id": site.housing, "category": "城乡建设"},
    )
    context = browser.new_context(
        locale="zh-CN",
        viewport={"width": 390, "height": 844},
        is_mobile=True,
        device_scale_factor=3,
        has_touch=True,
    )
    phone = context.new_page()
    phone.goto(f"{site.url}/login")
    phone.get_by_label("用户名").fill("sup1")
    phone.get_by_label("密码").fill(PASSWORD)
    phone.get_by_role("button", name="登录").click()
    phone.goto(f"{site.url}/cases/{case_id}")
    form = phone.locator("#reassign")
    form.get_by_label("改派或收回理由").fill("经核实属环保部门职责")
    form.get_by_role("button", name="改派").click()  # no new lead unit
    expect(form.locator(".field-error").first).to_have_text("请选择主办单位")
    expect(form.get_by_label("改派或收回理由")).to_have_value("经核实属环保部门职责")
    width = phone.evaluate("document.scrollingElement.scrollWidth")
    assert width <= 390, width
    screenshot(phone, "handling-reassign-refused-phone")
    context.close()
