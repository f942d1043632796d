"""A case followed to its close in a real browser (Debian's Chromium via Playwright) against
`hotline serve api`: the operator registers it and sees the routing model's top three, the
dispatch goes to the catalogue's unit, the unit's handler (who never sees the complainant)
signs and replies, the supervisor reviews, the operator records the feedback and the
satisfaction, and the supervisor archives it."""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from accounts.models import User
from core.db import make_engine, make_session_factory, transaction
from core.settings import PROJECT_ROOT, Settings
from dispatch.routing import classifier, units
from hotline import migrate
from tests.builders import add_user
from tests.conftest import free_port
from tests.e2e.browser import console_api, logged_in, screenshot

TRAIN_CSV = PROJECT_ROOT.parent / "shared/data/complaints/train.csv"
NAME, PHONE = "王建国", "13700001111"


@dataclass(frozen=True)
class Site:
    url: str


def train_small_model(path: Path) -> None:
    """A routing model from 1,400 real labelled messages (200 per category)."""
    with TRAIN_CSV.open(encoding="utf-8", newline="") as handle:
        rows = [(r["text"], r["label"]) for r in csv.DictReader(handle)]
    random.Random(5).shuffle(rows)
    per_label: dict[str, list[tuple[str, str]]] = {}
    for text, label in rows:
        per_label.setdefault(label, [])
        if len(per_label[label]) < 200:
            per_label[label].append((text, label))
    classifier.train([r for group in per_label.values() for r in group]).save(path)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    data = tmp_path_factory.mktemp("dispatch")
    settings = Settings(data_dir=data, api_port=free_port())
    migrate.upgrade(settings.effective_database_url)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    for name, role in [("op1", "operator"), ("sup1", "supervisor"), ("env1", "unit_handler")]:
        add_user(sessions, name, role)
    now = dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:
        env = units.create_unit(session, "市生态环境局", "department", now)
        units.create_unit(session, "市住房和城乡建设局", "department", now)
        handler = session.query(User).filter_by(username="env1").one()
        units.add_member(session, handler, env)
        units.set_catalogue(session, "环境保护", env, "sup1", now)
    settings.routing_model_file.parent.mkdir(parents=True)
    train_small_model(settings.routing_model_file)
    try:
        with console_api(settings) as url:
            yield Site(url)
    finally:
        engine.dispose()


def test_a_case_is_followed_to_its_close_by_three_roles(site: Site, browser: Browser) -> None:
    # The operator registers a walk-in complaint and accepts it.
    op = logged_in(browser, site.url, "op1")
    op.get_by_role("link", name="登记其他渠道").click()
    op.select_option("#f-channel", "walk_in")
    op.select_option("#f-case_type", "complaint")
    op.locator("#f-complainant_name").fill(NAME)
    op.locator("#f-complainant_phone").fill(PHONE)
    op.locator("#f-subject_unit").fill("东郊化工厂")
    op.locator("#f-title").fill("化工厂夜间排放废气")
    op.locator("#f-content").fill(
        f"我是{NAME}，电话{PHONE}。东郊化工厂每天夜里偷排废气，气味刺鼻，"
        "小区居民晚上不敢开窗，环境污染严重。"
    )
    op.get_by_label("受理", exact=True).check()
    op.get_by_role("button", name="保存登记").click()
    number = op.locator("#case-number").inner_text()

    # Routing: three suggestions, the first is 环境保护 with the catalogue's unit.
    suggestions = op.locator("#suggestions li")
    expect(suggestions).to_have_count(3)
    expect(suggestions.first).to_contain_text("环境保护")
    expect(suggestions.first).to_contain_text("市生态环境局")
    expect(op.locator("#dispatch-category")).to_have_value("环境保护")
    screenshot(op, "dispatch-suggestions")
    op.get_by_role("button", name="交办").click()
    expect(op.locator("#assignments")).to_contain_text("主办：市生态环境局")
    expect(op.locator("#deadlines")).to_contain_text("办理时限")
    expect(op.locator("h1 .badge")).to_have_text("已交办待签收")

    # The unit's handler: the case is there, the complainant is not.
    unit = logged_in(browser, site.url, "env1")
    expect(unit.locator("#unit-cases")).to_contain_text(number)
    unit.get_by_role("link", name=number).click()
    expect(unit.locator("#complainant")).to_contain_text("诉求人信息已保密")
    body = unit.locator("main").inner_text()
    assert NAME not in body and PHONE not in body
    unit.get_by_role("button", name="签收").click()
    unit.get_by_role("button", name="开始办理").click()
    unit.get_by_label("调查核实情况").fill("经夜间突击检查，该厂废气处理设施停运。")
    unit.get_by_label("属实", exact=True).check()
    unit.get_by_label("处理措施").fill("责令立即停产整改，依法立案处罚。")
    screenshot(unit, "unit-reply")
    unit.get_by_role("button", name="提交回复").click()
    expect(unit.locator("h1 .badge")).to_have_text("已回复待审核")

    # The supervisor finds it waiting for review and passes it.
    sup = logged_in(browser, site.url, "sup1")
    sup.get_by_role("link", name="督办").click()
    expect(sup.locator("#to-review")).to_contain_text(number)
    sup.locator("#to-review").get_by_role("link", name=number).click()
    expect(sup.locator(".finding")).to_have_text("属实")
    sup.get_by_role("button", name="审核通过").click()
    expect(sup.locator("h1 .badge")).to_have_text("审核通过待回访")

    # The operator tells the citizen and records the satisfaction: the case closes.
    op.reload()
    op.select_option("#feedback-satisfaction", "satisfied")
    op.get_by_label("回访情况").fill("已电话告知处理结果，群众表示满意")
    op.get_by_role("button", name="保存回访").click()
    expect(op.locator("h1 .badge")).to_have_text("已办结")
    expect(op.locator(".satisfaction")).to_have_text("满意")

    sup.reload()
    sup.get_by_role("button", name="立卷归档").click()
    expect(sup.locator("h1 .badge")).to_have_text("已归档")
    history = sup.locator("#history")
    for step in (
        "登记",
        "受理",
        "交办",
        "签收",
        "开始办理",
        "办理回复",
        "审核通过",
        "回访反馈",
        "满意度评价",
        "办结",
        "归档",
    ):
        expect(history).to_contain_text(step)
    screenshot(sup, "case-archived")


def test_a_refused_step_comes_back_in_chinese(site: Site, browser: Browser) -> None:
    op = logged_in(browser, site.url, "op1")
    op.get_by_role("link", name="登记其他渠道").click()
    op.select_option("#f-channel", "letter")
    op.select_option("#f-case_type", "suggestion")
    op.locator("#f-complainant_name").fill("赵六")
    op.locator("#f-complainant_address").fill("滨河路 8 号")
    op.locator("#f-title").fill("建议增加公交班次")
    op.locator("#f-content").fill("早高峰公交车太挤，建议增加班次。")
    op.get_by_label("受理", exact=True).check()
    op.get_by_role("button", name="保存登记").click()
    expect(op.locator("#case-number")).to_be_visible()
    op.select_option("#dispatch-category", "")
    op.get_by_role("button", name="交办").click()
    expect(op.locator("p.error")).to_contain_text("请选择类别")
