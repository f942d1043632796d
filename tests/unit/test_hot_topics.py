"""热点诉求 with known answers: categories, places and terms rising against 环比 and 同比 (the
minimum count, an empty earlier period, a year boundary in Beijing time), places and
subjects normalised, near-duplicate titles grouped, and risk signals (five numbers within
24 hours, not four, not over 25 hours)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from dispatch.indicators import hot_topics as hot
from dispatch.indicators import periods
from dispatch.indicators.hot_topics import Appeal, Kind
from tests.unit.test_indicators_support import BEIJING, at

_serial = itertools.count(1)


def appeal(when: dt.datetime, **fields: object) -> Appeal:
    n = next(_serial)
    values: dict[str, object] = {"id": f"c{n:04d}", "number": f"TS{n:04d}", "received_at": when}
    values.update(fields)
    return Appeal(**values)  # type: ignore[arg-type]


def many(count: int, when: dt.datetime, **fields: object) -> list[Appeal]:
    """``count`` appeals an hour apart from ``when``, each from its own number."""
    return [
        appeal(when + dt.timedelta(hours=i), phone=f"1390000{next(_serial):04d}", **fields)
        for i in range(count)
    ]


NOVEMBER = periods.month(2026, 11, BEIJING)


def by_key(found: tuple[hot.Topic, ...] | list[hot.Topic]) -> dict[str, hot.Topic]:
    return {topic.key: topic for topic in found}


# -- rising topics -------------------------------------------------------------------------------


def test_categories_rise_against_the_month_before_with_a_minimum_count() -> None:
    nov, octo, last_nov = at(2026, 11, 3), at(2026, 10, 3), at(2025, 11, 3)
    rows = [
        # November 2025 (同比): as many as now, so only 环比 can rise.
        *many(6, last_nov, category="物业管理"),
        *many(5, last_nov, category="供水"),
        *many(6, nov, category="物业管理"),  # 4 → 6: +50 %, rising
        *many(4, octo, category="物业管理"),
        *many(5, nov, category="供水"),  # 4 → 5: +25 %, not rising
        *many(4, octo, category="供水"),
        *many(3, nov, category="交通"),  # 1 → 3: +200 % but only 3 cases, not rising
        *many(1, octo, category="交通"),
        *many(5, nov, category="噪声污染"),  # 0 → 5: new, rising
        *many(2, nov),  # no category: not a topic
    ]
    found = hot.hot_topics(rows, NOVEMBER)
    topics = by_key(found.categories)
    assert set(topics) == {"物业管理", "供水", "交通", "噪声污染"}
    assert [(t.key, t.count) for t in found.categories] == [
        ("物业管理", 6),
        ("噪声污染", 5),
        ("供水", 5),
        ("交通", 3),
    ]
    estate = topics["物业管理"]
    assert (estate.month_on_month.earlier.value, estate.month_on_month.delta) == (4.0, 2.0)
    assert estate.month_on_month.growth == pytest.approx(0.5)
    assert estate.rising_month_on_month and not estate.rising_year_on_year
    assert estate.year_on_year.growth == 0.0
    assert not topics["供水"].rising
    traffic = topics["交通"]
    assert traffic.month_on_month.growth == pytest.approx(2.0) and not traffic.rising
    noise = topics["噪声污染"]
    assert noise.month_on_month.earlier.value == 0.0 and noise.month_on_month.growth is None
    assert noise.rising_month_on_month and noise.rising_year_on_year
    assert [t.key for t in found.rising(Kind.CATEGORY)] == ["物业管理", "噪声污染"]
    assert found.appeals == 21
    # The cases behind a count are the period's own.
    assert noise.figure.ids == tuple(sorted(a.id for a in rows if a.category == "噪声污染"))
    assert noise.figure.definition.key == "hot.category"


def test_an_empty_earlier_period_makes_every_busy_topic_new() -> None:
    rows = [
        *many(5, at(2026, 11, 20), category="燃气"),
        *many(4, at(2026, 11, 21), category="电力"),
    ]
    found = hot.hot_topics(rows, NOVEMBER)
    topics = by_key(found.categories)
    for topic in topics.values():
        assert topic.month_on_month.earlier.value == 0.0
        assert topic.year_on_year.earlier.value == 0.0
        assert topic.month_on_month.growth is None and topic.year_on_year.growth is None
    assert topics["燃气"].rising_month_on_month and topics["燃气"].rising_year_on_year
    assert not topics["电力"].rising  # four cases: below the minimum
    assert [t.key for t in found.rising(Kind.CATEGORY)] == ["燃气"]


def test_year_on_year_across_a_year_boundary_in_beijing_time() -> None:
    january = periods.month(2026, 1, BEIJING)
    # 1 January 2026 00:30 in Beijing is still 31 December 2025 in UTC: January's.
    new_year = at(2026, 1, 1, 0, 30)
    assert new_year.date() == dt.date(2025, 12, 31)
    rows = [
        *many(6, new_year, category="供暖"),
        # December 2025 (环比): 31 December 23:00 in Beijing, two cases.
        *many(2, at(2025, 12, 31, 22, 0), category="供暖"),
        # January 2025 (同比): three cases, the last on 31 January 23:59.
        *many(2, at(2025, 1, 10), category="供暖"),
        appeal(at(2025, 1, 31, 23, 59), category="供暖"),
        # 1 February 2025 00:00 in Beijing: neither.
        appeal(at(2025, 2, 1, 0, 0), category="供暖"),
    ]
    current, before, year_ago = hot.split(rows, january)
    assert (len(current), len(before), len(year_ago)) == (6, 2, 3)
    heating = by_key(hot.hot_topics(rows, january).categories)["供暖"]
    assert heating.month_on_month.earlier.value == 2.0
    assert heating.year_on_year.earlier.value == 3.0
    assert heating.year_on_year.growth == pytest.approx(1.0)
    assert heating.rising_month_on_month and heating.rising_year_on_year


def test_a_week_compares_with_the_same_iso_week_a_year_earlier() -> None:
    # ISO week 1 of 2026 runs from Monday 29 December 2025 to Sunday 4 January 2026.
    week = periods.week(dt.date(2026, 1, 2), BEIJING)
    assert week.first == dt.date(2025, 12, 29)
    rows = [
        *many(5, at(2025, 12, 29, 10), category="停水"),
        *many(3, at(2024, 12, 30, 10), category="停水"),  # ISO week 1 of 2025
        *many(3, at(2025, 12, 22, 10), category="停水"),  # the week before
    ]
    water = by_key(hot.hot_topics(rows, week).categories)["停水"]
    assert (water.month_on_month.earlier.value, water.year_on_year.earlier.value) == (3.0, 3.0)
    assert water.rising_month_on_month and water.rising_year_on_year  # +67 %


def test_places_are_addresses_without_their_building_and_flat() -> None:
    assert hot.place_of("幸福里小区3栋502") == "幸福里小区"
    assert hot.place_of("幸福里小区 ５栋 101室") == "幸福里小区"
    assert hot.place_of("建设路18号") == "建设路"
    assert hot.place_of("万达广场1号楼2单元") == "万达广场"
    assert hot.place_of("锦绣花园十二栋") == "锦绣花园"
    assert hot.place_of("百货大楼") == "百货大楼"  # 百 is no house number here
    assert hot.place_of("3栋502") == ""
    assert hot.place_of("") == ""
    rows = [
        *many(3, at(2026, 11, 2), address="幸福里小区3栋502"),
        *many(2, at(2026, 11, 9), address="幸福里小区 5栋"),
        appeal(at(2026, 11, 9), address="建设路18号"),
    ]
    places = by_key(hot.hot_topics(rows, NOVEMBER).places)
    assert {key: t.count for key, t in places.items()} == {"幸福里小区": 5, "建设路": 1}
    assert places["幸福里小区"].rising


def test_terms_are_whole_phrases_of_two_cases_or_more_without_generic_words() -> None:
    assert "重影" not in hot.terms_of("严重影响休息")  # no term across a stop word
    assert hot.terms_of("希望相关部门尽快处理") == frozenset()
    assert "噪音" in hot.terms_of("施工噪音扰民") and "的噪" not in hot.terms_of("的噪音")
    rows = [
        *(appeal(at(2026, 11, 3 + i), title="希望尽快处理夜间施工噪音扰民") for i in range(5)),
        appeal(at(2026, 11, 12), title="广场舞噪音"),
        appeal(at(2026, 10, 12), title="工地夜间施工噪音扰民问题"),  # the phrase, a month before
        appeal(at(2026, 10, 13), title="噪音大"),  # 噪音 only
        appeal(at(2026, 11, 20), title="路灯不亮"),  # one case: no term
    ]
    terms = by_key(hot.hot_topics(rows, NOVEMBER).terms)
    # The five cases' words make one phrase; 噪音 is in a sixth case too, so it stays.
    assert {key: t.count for key, t in terms.items()} == {"夜间施工噪音扰民": 5, "噪音": 6}
    phrase = terms["夜间施工噪音扰民"]
    assert phrase.month_on_month.earlier.value == 1.0 and phrase.rising  # 1 → 5
    assert terms["噪音"].month_on_month.earlier.value == 2.0
    assert terms["噪音"].month_on_month.growth == pytest.approx(2.0)


def test_fragments_join_only_where_every_case_says_the_joined_phrase() -> None:
    rows = [
        appeal(at(2026, 11, 3), title="供暖温度不达标"),
        appeal(at(2026, 11, 4), title="供暖温度低，不达标"),
    ]
    terms = {t.key for t in hot.hot_topics(rows, NOVEMBER).terms}
    assert terms == {"供暖温度", "不达标"}


# -- clusters --------------------------------------------------------------------------------


def test_clusters_by_place_subject_and_near_duplicate_title() -> None:
    rows = [
        appeal(at(2026, 11, 3), address="幸福里小区3栋", title="电梯经常停运"),
        appeal(at(2026, 11, 4), address="幸福里小区8栋", title="小区电梯经常停运困人"),
        appeal(at(2026, 11, 5), subject_unit="县政务服务中心", subject_window="社保窗口"),
        appeal(at(2026, 11, 6), subject_unit="县政务服务中心 ", subject_window="社保窗口。"),
        appeal(at(2026, 11, 7), complained_unit_id="U1", subject_window="不动产登记"),
        appeal(at(2026, 11, 8), complained_unit_id="U1", subject_window="不动产窗口"),
        appeal(at(2026, 11, 9), title="路灯不亮"),
    ]
    found = {(c.kind, c.key): len(c.appeals) for c in hot.clusters(rows)}
    assert found == {
        (Kind.PLACE, "幸福里小区"): 2,
        (Kind.SUBJECT, "text:县政务服务中心社保窗口"): 2,
        (Kind.SUBJECT, "unit:U1"): 2,
        (Kind.TITLE, "电梯经常停运"): 2,
    }


def test_near_duplicate_titles_link_transitively_and_not_across_topics() -> None:
    a = appeal(at(2026, 11, 3), title="幸福路井盖丢失")
    b = appeal(at(2026, 11, 4), title="幸福路井盖丢失危险")
    c = appeal(at(2026, 11, 5), title="幸福路井盖丢失危险请修")
    d = appeal(at(2026, 11, 6), title="幸福路路灯不亮")
    groups = [g for g in hot.title_groups([a, b, c, d]) if len(g.appeals) > 1]
    assert [g.ids for g in groups] == [(a.id, b.id, c.id)]
    assert groups[0].key == "幸福路井盖丢失"


# -- risk signals ----------------------------------------------------------------------------


def test_five_numbers_within_a_day_on_one_place_is_a_risk_signal() -> None:
    start = at(2026, 11, 10, 8)
    spike = [
        appeal(start + dt.timedelta(hours=5 * i), address="和平路12号", phone=f"1380000000{i}")
        for i in range(5)  # 08:00 to 04:00 the next day: within 24 hours
    ]
    # The same number twice, and a case with no number: neither adds a caller.
    again = appeal(start + dt.timedelta(hours=1), address="和平路", phone="+86 138-0000-0000")
    unknown = appeal(start + dt.timedelta(hours=2), address="和平路")
    found = hot.hot_topics([*spike, again, unknown], NOVEMBER)
    assert [(s.cluster.kind, s.cluster.key, s.callers) for s in found.signals] == [
        (Kind.PLACE, "和平路", 5)
    ]
    signal = found.signals[0]
    assert set(signal.ids) == {a.id for a in [*spike, again, unknown]}
    assert (signal.first, signal.last) == (start, start + dt.timedelta(hours=20))


def test_four_numbers_or_five_over_more_than_a_day_are_no_signal() -> None:
    start = at(2026, 11, 10, 8)
    four = [
        appeal(start + dt.timedelta(hours=i), complained_unit_id="U9", phone=f"1370000000{i}")
        for i in range(4)
    ]
    slow = [
        appeal(start + dt.timedelta(hours=6 * i + 1), address="东风路", phone=f"1360000000{i}")
        for i in range(5)  # 0 h to 24 h + 1 h apart between the first and the last
    ]
    assert slow[-1].received_at - slow[0].received_at == dt.timedelta(hours=24)
    late = appeal(slow[-1].received_at + dt.timedelta(minutes=1), address="东风路", phone="1")
    found = hot.hot_topics([*four, *slow], NOVEMBER)
    assert [(s.cluster.key, s.callers) for s in found.signals] == [("东风路", 5)]  # 24 h: in
    shifted = [*slow[:-1], late]  # the fifth a minute after 24 hours: out
    assert hot.hot_topics([*four, *shifted], NOVEMBER).signals == ()
    assert [s.callers for s in hot.hot_topics(four, NOVEMBER, min_callers=4).signals] == [4]


def test_the_busiest_day_is_flagged_and_one_incident_flagged_once() -> None:
    early = at(2026, 11, 2, 9)
    later = at(2026, 11, 20, 9)
    rows = [
        *(  # two numbers early in the month, six later: the later day is the signal
            appeal(early + dt.timedelta(hours=i), address="人民广场", phone=f"135000000{i:02d}")
            for i in range(2)
        ),
        *(
            appeal(
                later + dt.timedelta(hours=i),
                address="人民广场",
                complained_unit_id="U5",
                title="广场夜间施工噪音扰民",
                phone=f"135000001{i:02d}",
            )
            for i in range(6)
        ),
    ]
    found = hot.hot_topics(rows, NOVEMBER)
    # Place, subject and title groups share the six later cases: one flag, the place's.
    assert [(s.cluster.kind, s.callers, s.first) for s in found.signals] == [(Kind.PLACE, 6, later)]
    assert len(found.signals[0].cluster.appeals) == 8  # the whole place's month


def test_a_year_compares_with_the_year_before_for_both() -> None:
    # For a year, the period before and the same period a year earlier are one year.
    rows = [*many(6, at(2026, 3, 1), category="养老"), *many(3, at(2025, 7, 1), category="养老")]
    care = by_key(hot.hot_topics(rows, periods.year(2026, BEIJING)).categories)["养老"]
    assert care.month_on_month.earlier.value == care.year_on_year.earlier.value == 3.0
    assert care.rising_month_on_month and care.rising_year_on_year
