"""What a search box's text means: terms, case numbers however typed, phone numbers in every
stored form, full-width spellings, LIKE and FTS5 quoting, and excerpts with the terms marked."""

from __future__ import annotations

import pytest

from dispatch.search import terms
from dispatch.search.paging import Page, Paging, of_slice
from dispatch.search.terms import Piece


def test_text_is_normalised_as_people_type_it() -> None:
    assert terms.normalise("  小区　ＡＢＣ  噪音\t\n扰民 ") == "小区 abc 噪音 扰民"
    assert terms.normalise("噪\u200b音\x07") == "噪音"  # format and control characters
    assert len(terms.normalise("字" * 500)) == terms.MAX_QUERY_CHARS


def test_terms_are_split_on_blanks_and_punctuation_but_not_inside_numbers() -> None:
    assert terms.split_terms("小区噪音，夜间施工；广场舞") == ("小区噪音", "夜间施工", "广场舞")
    assert terms.split_terms("噪音 噪音扰民 噪音") == ("噪音扰民",)  # contained, repeated
    assert terms.split_terms("021-62345678 a_b.c@x") == ("021-62345678", "a_b.c@x")
    assert terms.split_terms("“物业”【停车】") == ("物业", "停车")
    assert terms.split_terms(" ".join(str(n) * 3 for n in range(9))) == tuple(
        str(n) * 3 for n in range(terms.MAX_TERMS)
    )


@pytest.mark.parametrize(
    "typed",
    [
        "TS202611210001",
        "ts202611210001",
        "ts 2026 1121 0001",
        "ＴＳ２０２６１１２１０００１",
        "ｔｓ２０２６　１１２１　０００１",
    ],
)
def test_a_case_number_is_found_however_it_is_typed(typed: str) -> None:
    assert "TS202611210001" in terms.number_keys(typed)
    assert "TS202611210001" in terms.parse(typed).number_keys


def test_words_are_not_case_numbers() -> None:
    assert terms.number_keys("小区噪音") == ()
    assert terms.number_keys("abc") == ()  # no digit
    assert terms.number_keys("a/1") == ()


def test_a_phone_number_in_every_form_it_is_stored_in() -> None:
    mobile = terms.phone_forms("138 0013 8000")
    assert {"13800138000", "+8613800138000"} <= mobile
    assert terms.phone_forms("＋８６ １３８００１３８０００") == mobile
    landline = terms.phone_forms("021 6234 5678")
    assert {"02162345678", "021-62345678", "+862162345678"} <= landline
    assert "0571-88886666" in terms.phone_forms("057188886666")
    assert terms.phone_forms("8000") == frozenset()  # a partial number is a text term
    assert terms.phone_forms("小区噪音") == frozenset()
    assert terms.phone_forms("12345678901") == frozenset()  # not a Chinese number


def test_terms_are_looked_for_in_full_width_too() -> None:
    assert terms.variants("噪音") == ("噪音",)
    assert terms.variants("138") == ("138", "１３８")
    assert terms.variants("a座") == ("a座", "ａ座")


def test_like_patterns_and_fts5_strings_quote_what_the_user_typed() -> None:
    assert terms.like_pattern("50%_off\\") == "%50\\%\\_off\\\\%"
    assert terms.fts5_string('say "hi" OR') == '"say ""hi"" OR"'


def test_an_excerpt_is_cut_around_the_first_match_with_every_term_marked() -> None:
    text = "一" * 100 + "小区夜间噪音扰民，噪音持续到凌晨" + "二" * 100
    pieces = terms.excerpt(text, ("噪音",), width=40)
    joined = "".join(p.text for p in pieces)
    assert joined.startswith("…") and joined.endswith("…")
    assert [p.text for p in pieces if p.hit] == ["噪音", "噪音"]
    assert len(joined) <= 42
    assert terms.excerpt("门牌ＡＢ座", ("ab",)) == [Piece("门牌"), Piece("ＡＢ", True), Piece("座")]
    assert terms.excerpt("没有匹配", ("噪音",)) == [Piece("没有匹配")]
    assert terms.excerpt("", ()) == []


def test_pages_know_their_neighbours() -> None:
    page = Page(list(range(20)), 205, Paging(page=5, limit=20))
    assert page.pages == 11 and page.has_next and page.has_previous
    assert page.around() == [1, 0, 3, 4, 5, 6, 7, 0, 11]
    last = Page(list(range(5)), 205, Paging(page=11, limit=20))
    assert not last.has_next and last.around() == [1, 0, 9, 10, 11]
    assert Page([], 0, Paging()).pages == 1
    sliced = of_slice(list(range(45)), Paging(page=3, limit=20))
    assert list(sliced.items) == list(range(40, 45)) and sliced.total == 45
