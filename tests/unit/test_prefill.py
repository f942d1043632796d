"""What the form fills in from a transcript: spoken numbers, type, subjects and title."""

from __future__ import annotations

import pytest

from dispatch.intake.prefill import (
    Suggestion,
    spoken_numbers,
    suggest_subjects,
    suggest_title,
    suggest_type,
)

# --- spoken numbers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "numbers"),
    [
        ("我的电话是幺三八零零幺三八零零零", ["13800138000"]),
        ("我 的 电话 是 幺 三 八 零 零 幺 三 八 零 零 零", ["13800138000"]),
        ("号码是一三九 一二三四 五六七八", ["13912345678"]),
        ("座机零幺零 八七六五 四三两幺", ["01087654321"]),
        ("座机是洞幺洞八七六五四三二一", ["01087654321"]),
        ("电话 138 0013 8000 谢谢", ["13800138000"]),
        ("手机138-0013-8000", ["13800138000"]),
        ("手机１３８００１３８０００", ["13800138000"]),
        ("0086 138 0013 8000", ["13800138000"]),
        ("座机021-62345678", ["02162345678"]),
        ("幺三八零零幺三八零零零，对，13800138000", ["13800138000"]),
    ],
)
def test_spoken_numbers(text: str, numbers: list[str]) -> None:
    assert spoken_numbers(text) == numbers


def test_valid_phones_come_first_then_the_rest_in_order() -> None:
    text = "房号是12345，订单号987654，电话13800138000，座机010 8765 4321"
    assert spoken_numbers(text) == ["13800138000", "01087654321", "12345", "987654"]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "你好，我想咨询一下",
        "分机1234",  # fewer than five digits
        "三三两两",
        "我住在3号楼2单元",
        "     ",
    ],
)
def test_no_spoken_numbers(text: str) -> None:
    assert spoken_numbers(text) == []


# --- type --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value", "reason"),
    [
        ("我要举报有人偷排污水", "report", "举报"),
        ("窗口工作人员索贿", "report", "索贿"),
        ("我要投诉物业", "complaint", "投诉"),
        ("他们乱收费，还推诿", "complaint", "乱收费"),
        ("老人走失了", "help", "走失"),
        ("想表扬一下窗口的小王", "praise", "表扬"),
        ("建议增加公交班次", "suggestion", "建议"),
        ("请问居住证怎么办理", "consultation", "请问"),
        ("办证需要什么材料", "consultation", "需要什么材料"),
    ],
)
def test_suggest_type(text: str, value: str, reason: str) -> None:
    assert suggest_type(text) == Suggestion(value, reason)


def test_report_wins_over_complaint_and_consultation() -> None:
    assert suggest_type("请问怎么投诉？我要举报他受贿") == Suggestion("report", "举报")


def test_complaint_wins_over_consultation() -> None:
    assert suggest_type("请问一下，他们态度差怎么办") == Suggestion("complaint", "态度差")


@pytest.mark.parametrize("text", ["", "你好", "喂，听得到吗"])
def test_no_type_without_its_words(text: str) -> None:
    assert suggest_type(text) is None


# --- subjects ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "subjects"),
    [
        ("我要投诉市场监督管理局的工作人员态度差", ["市场监督管理局"]),
        ("我在幸福小区物业那里反映过，找街道办事处也没用", ["幸福小区物业", "街道办事处"]),
        ("被城管局罚款", ["城管局"]),
        ("我们去人民医院看病", ["人民医院"]),
        ("举报城东派出所民警索贿", ["城东派出所"]),
        ("你好，我想问一下", []),
        ("", []),
    ],
)
def test_suggest_subjects(text: str, subjects: list[str]) -> None:
    assert suggest_subjects(text) == subjects


def test_subjects_in_order_of_first_mention_without_repeats() -> None:
    text = "税务局让我找人民医院，人民医院又让我找税务局，教育局不管，公安局也不管"
    assert suggest_subjects(text) == ["税务局", "人民医院", "教育局"]
    assert suggest_subjects(text, limit=2) == ["税务局", "人民医院"]
    assert suggest_subjects(text, limit=5) == ["税务局", "人民医院", "教育局", "公安局"]


# --- title -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("  我要投诉物业乱收费。他们每个月多收钱！", "我要投诉物业乱收费"),
        ("路灯坏了！三天了", "路灯坏了"),
        ("请问怎么办理？", "请问怎么办理"),
        ("第一句；第二句", "第一句"),
        ("第一行\n第二行", "第一行"),
        ("没有标点的一句话", "没有标点的一句话"),
        ("", ""),
    ],
)
def test_suggest_title_is_the_first_sentence(text: str, title: str) -> None:
    assert suggest_title(text) == title


def test_suggest_title_is_cut_to_the_limit() -> None:
    assert suggest_title("长" * 50) == "长" * 30
    assert suggest_title("物业乱收费的问题。", limit=4) == "物业乱收"
