"""The Chinese clean-up on real phrasings: what to convert and what to leave alone."""

from __future__ import annotations

import pytest

from asr.normalize import clean, value_of

CONVERT = [
    ("我 的 电话 是 幺 三 八 零 零 幺 三 八 零 零 零", "我的电话是13800138000"),
    ("联系电话幺五九二二三四五六七八", "联系电话15922345678"),
    ("身份证号四一零一零五一九八八零三零七幺二三x", "身份证号41010519880307123X"),
    ("二零二六年十一月二十一日上午", "2026年11月21日上午"),
    ("住在三号楼二单元五零二室", "住在3号楼2单元502室"),
    ("建设路一百零八号的窗口", "建设路108号的窗口"),
    ("已经等了四十五天了", "已经等了45天了"),
    ("下午三点在一楼大厅", "下午3点在1楼大厅"),
    ("被罚了两千元", "被罚了2000元"),
    ("交了三万五千元押金", "交了35000元押金"),
    ("地铁一号线", "地铁1号线"),
    ("我今年六十八岁", "我今年68岁"),
    ("车牌号是九九六", "车牌号是996"),
    ("二零二五年一月", "2025年1月"),
]

LEAVE = [
    "有一些问题想反映",
    "一定要给我一个说法",
    "你们统一处理一下",
    "第一次来办事",
    "对处理结果十分满意",
    "万一办不下来怎么办",
    "态度能不能好一点",
    "排队的人三三两两",
    "他一五一十地说了",
    "一般要等一天",
    "两个人一起来的",
    "一直没有人管",
]


@pytest.mark.parametrize(("spoken", "written"), CONVERT)
def test_numbers_become_digits(spoken: str, written: str) -> None:
    assert clean(spoken) == written


@pytest.mark.parametrize("phrase", LEAVE)
def test_words_with_numeral_characters_are_left_alone(phrase: str) -> None:
    assert clean(phrase) == phrase


def test_spaces_go_between_chinese_but_stay_between_latin_words() -> None:
    assert clean("我 想 投诉 APP 不能 登录") == "我想投诉APP不能登录"
    assert clean("hello world 你 好") == "hello world你好"
    assert clean("幺三一一二二三三四四五") == "13112233445", "idioms inside a number are digits"


@pytest.mark.parametrize(
    ("numeral", "value"),
    [
        ("二十一", 21),
        ("十一", 11),
        ("一百零八", 108),
        ("两千", 2000),
        ("三万五千", 35000),
        ("十", 10),
        ("九十九", 99),
    ],
)
def test_positional_numerals(numeral: str, value: int) -> None:
    assert value_of(numeral) == value
