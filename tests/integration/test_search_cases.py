"""Case search on a real database (SQLite and PostgreSQL, through the migrations): Chinese
words of one, two and more characters, ranked; case numbers however typed; phone numbers in
every stored form; each filter; pages; the index kept by the database when a case is
registered or changed; a unit's handler never finding another unit's case or a case by what
the unit may not read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text, update
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases.models import Case
from dispatch.search import case_search, filters, text_index
from dispatch.search.case_search import CaseHit
from dispatch.search.paging import Page
from hotline.migrate import alembic_config
from tests.search_world import (
    NOW,
    TODAY,
    ZONE,
    add_handler,
    dispatch,
    make_unit,
    register_case,
)


def find(
    sessions: sessionmaker[Session],
    params: Mapping[str, str],
    today: dt.date = TODAY,
    unit_id: str | None = None,
) -> Page[CaseHit]:
    wanted, paging = filters.case_filters(params, ZONE)
    with sessions() as session:
        return case_search.search(session, wanted, paging, today, unit_id)


def numbers(page: Page[CaseHit]) -> list[str]:
    return [hit.case.number for hit in page.items]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path


def test_chinese_words_of_any_length_are_found_every_term_required_ranked(
    sessions: sessionmaker[Session], folder: Path
) -> None:
    noise = register_case(
        sessions,
        folder,
        at=NOW - dt.timedelta(minutes=2),
        title="广场舞噪音扰民",
        content="每晚广场舞音响很大，噪音持续到十点以后，老人孩子无法休息。",
    )
    parking = register_case(
        sessions,
        folder,
        at=NOW - dt.timedelta(minutes=1),
        title="小区停车难",
        content="小区车位不足，业主停车难，物业不管。",
    )
    mention = register_case(
        sessions,
        folder,
        title="物业服务差",
        content="电梯经常坏，另外楼下偶尔有噪音。",
    )
    assert numbers(find(sessions, {"q": "广场舞"})) == [noise.number]  # three characters
    assert numbers(find(sessions, {"q": "噪音"})) == [noise.number, mention.number]  # ranked
    assert numbers(find(sessions, {"q": "停车"})) == [parking.number]  # two characters
    assert numbers(find(sessions, {"q": "梯"})) == [mention.number]  # one character
    assert numbers(find(sessions, {"q": "小区 物业"})) == [parking.number]  # both terms
    assert numbers(find(sessions, {"q": "噪音 停车"})) == []
    assert numbers(find(sessions, {"q": "休息"})) == [noise.number]  # at the very end
    assert numbers(find(sessions, {"q": "下水道"})) == []
    everything = find(sessions, {})
    assert numbers(everything) == [mention.number, parking.number, noise.number]  # newest first
    assert everything.total == 3


def test_too_many_matches_to_rank_come_newest_first_and_are_counted_up_to_a_limit(
    sessions: sessionmaker[Session], folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = [
        register_case(
            sessions, folder, at=NOW - dt.timedelta(minutes=3 - index), title=title, content=text
        )
        for index, (title, text) in enumerate(
            [("噪音扰民", "噪音噪音"), ("其他", "有噪音。"), ("夜间噪音", "吵。")]
        )
    ]
    newest_first = [c.number for c in reversed(made)]
    assert numbers(find(sessions, {"q": "噪音"})) != newest_first  # ranked: most 噪音 first
    monkeypatch.setattr(text_index, "RANK_LIMIT", 1)
    found = find(sessions, {"q": "噪音"})
    assert numbers(found) == newest_first and (found.total, found.exact) == (3, True)
    monkeypatch.setattr(case_search, "COUNT_LIMIT", 2)
    counted = find(sessions, {"q": "噪音", "type": "complaint", "limit": "1"})
    assert (counted.total, counted.exact) == (3, False)  # "more than 2"
    assert numbers(counted) == newest_first[:1] and counted.has_next


def test_a_case_number_is_found_however_typed_and_a_phone_in_every_form(
    sessions: sessionmaker[Session], folder: Path
) -> None:
    mobile = register_case(sessions, folder, complainant_phone="13911112222")
    landline = register_case(sessions, folder, complainant_phone="021-62345678")
    assert mobile.number.startswith("TS20261120")
    spaced = f"{mobile.number[:2].lower()} {mobile.number[2:10]} {mobile.number[10:]}"
    wide = "".join(chr(ord(c) + 0xFEE0) for c in mobile.number.lower())
    for typed in (mobile.number, mobile.number.lower(), spaced, wide):
        assert numbers(find(sessions, {"q": typed})) == [mobile.number], typed
    assert numbers(find(sessions, {"q": mobile.number[-6:]})) == [mobile.number]  # a part
    assert numbers(find(sessions, {"q": "139 1111 2222"})) == [mobile.number]
    assert numbers(find(sessions, {"q": "02162345678"})) == [landline.number]
    assert numbers(find(sessions, {"q": "62345678"})) == [landline.number]  # a part
    assert numbers(find(sessions, {"phone": "021 6234 5678"})) == [landline.number]
    assert numbers(find(sessions, {"phone": "+86 139-1111-2222"})) == [mobile.number]


def test_full_width_digits_in_a_text_are_found_by_ascii_ones(
    sessions: sessionmaker[Session], folder: Path
) -> None:
    typed_wide = register_case(
        sessions, folder, content="车牌号湘Ａ１２３４５的车辆长期占用消防通道。"
    )
    assert numbers(find(sessions, {"q": "湘a12345"})) == [typed_wide.number]
    assert numbers(find(sessions, {"q": "12345"})) == [typed_wide.number]


def test_every_field_of_a_case_s_text_is_searched(
    sessions: sessionmaker[Session], folder: Path
) -> None:
    """Each field the index holds (the migration's triggers write them): a word found only
    there finds the case; the case number is found by part of it too."""
    words = {
        "title": "铁路桥",
        "content": "菜市场",
        "request": "退还押金",
        "complainant_name": "欧阳修",
        "complainant_phone": "13912345678",
        "complainant_address": "梧桐巷",
        "complainant_org": "光明印刷厂",
        "subject_unit": "东风街道",
        "subject_window": "第九窗口",
        "subject_person": "司马光",
    }
    assert set(words) | {"number"} == set(case_search.CASE_FIELDS)
    case = register_case(sessions, folder, text=words)
    for field, word in [*words.items(), ("number", case.number[-7:])]:
        assert numbers(find(sessions, {"q": word})) == [case.number], field


def test_each_filter(sessions: sessionmaker[Session], folder: Path) -> None:
    housing, water = make_unit(sessions, "市住建局"), make_unit(sessions, "市水务局")
    old = register_case(
        sessions, folder, at=NOW - dt.timedelta(days=40), title="旧案", channel="letter"
    )
    dispatched = register_case(sessions, folder, at=NOW - dt.timedelta(days=2), title="在办")
    other = register_case(
        sessions, folder, title="供水", case_type="consultation", complainant_phone="13700001111"
    )
    waiting = register_case(sessions, folder, title="待交办", decision="")
    dispatch(sessions, dispatched.id, housing, at=NOW - dt.timedelta(days=2))
    dispatch(sessions, other.id, water, category="供水")
    assert set(numbers(find(sessions, {"status": "at_unit"}))) == {
        dispatched.number,
        other.number,
    }
    assert numbers(find(sessions, {"status": "registered"})) == [waiting.number]
    assert numbers(find(sessions, {"unit": housing})) == [dispatched.number]
    assert numbers(find(sessions, {"category": "供水"})) == [other.number]
    assert numbers(find(sessions, {"type": "consultation"})) == [other.number]
    assert numbers(find(sessions, {"channel": "letter"})) == [old.number]
    assert numbers(find(sessions, {"phone": "13700001111"})) == [other.number]
    assert numbers(find(sessions, {"operator": "op2"})) == []
    assert len(numbers(find(sessions, {"operator": "op1"}))) == 4
    day = (NOW - dt.timedelta(days=40)).astimezone(ZONE).date().isoformat()
    assert numbers(find(sessions, {"from": day, "to": day})) == [old.number]
    recent = (NOW - dt.timedelta(days=7)).astimezone(ZONE).date().isoformat()
    assert old.number not in numbers(find(sessions, {"from": recent}))
    # Overdue: the old case was never sent on (转办 within a working day); the unit's own
    # handling deadline is long past a month later.
    assert numbers(find(sessions, {"overdue": "1"})) == [old.number]
    assert find(sessions, {"overdue": "1"}).items[0].overdue
    later = TODAY + dt.timedelta(days=40)
    late = find(sessions, {"overdue": "1", "unit": housing}, today=later)
    assert numbers(late) == [dispatched.number]
    assert late.items[0].overdue and late.items[0].units == ("市住建局",)
    assert late.items[0].due_on is not None and late.items[0].due_on < later


def test_pages_of_a_long_list(sessions: sessionmaker[Session], folder: Path) -> None:
    made = [
        register_case(sessions, folder, at=NOW - dt.timedelta(minutes=index), title=f"第{index}件")
        for index in range(7)
    ]
    first = find(sessions, {"limit": "3"})
    third = find(sessions, {"limit": "3", "page": "3"})
    assert first.total == third.total == 7 and first.pages == 3
    assert numbers(first) == [c.number for c in made[:3]]
    assert numbers(third) == [made[6].number] and not third.has_next
    assert numbers(find(sessions, {"limit": "3", "sort": "oldest"}))[0] == made[6].number


def test_the_index_follows_the_case_as_it_is_registered_and_changed(
    sessions: sessionmaker[Session], folder: Path
) -> None:
    case = register_case(sessions, folder, title="路灯不亮", content="幸福路路灯坏了一个月。")
    assert numbers(find(sessions, {"q": "路灯"})) == [case.number]
    with transaction(sessions) as session:
        session.execute(
            update(Case)
            .where(Case.id == case.id)
            .values(title="井盖缺失", content="幸福路井盖缺失，夜里很危险。")
        )
    assert numbers(find(sessions, {"q": "路灯"})) == []
    assert numbers(find(sessions, {"q": "井盖缺失"})) == [case.number]
    assert numbers(find(sessions, {"q": "井盖", "status": "closed"})) == []
    with transaction(sessions) as session:  # a status change: the search row follows it
        session.execute(
            update(Case).where(Case.id == case.id).values(status="closed", category="市政设施")
        )
    assert numbers(find(sessions, {"q": "井盖"})) == [case.number]
    assert numbers(find(sessions, {"q": "井盖", "status": "closed"})) == [case.number]
    assert numbers(find(sessions, {"q": "井盖", "category": "市政设施"})) == [case.number]
    assert numbers(find(sessions, {"q": "井盖", "status": "open"})) == []


def test_a_unit_finds_only_its_cases_and_only_by_what_it_may_read(
    sessions: sessionmaker[Session], folder: Path
) -> None:
    mine_unit, other_unit = make_unit(sessions, "市住建局"), make_unit(sessions, "市环保局")
    add_handler(sessions, "h1", mine_unit)
    hidden = register_case(
        sessions,
        folder,
        complainant_name="李四",
        complainant_phone="13512345678",
        title="违章搭建",
        content="李四反映邻居违章搭建，联系电话13512345678。",
    )
    shared = register_case(
        sessions,
        folder,
        complainant_name="王五",
        complainant_phone="13687654321",
        title="违章搭建阳台",
        content="王五反映楼上违章搭建阳台。",
        identity_consent="on",
    )
    elsewhere = register_case(sessions, folder, title="违章排污", content="工厂违章排污。")
    dispatch(sessions, hidden.id, mine_unit)
    dispatch(sessions, shared.id, mine_unit)
    dispatch(sessions, elsewhere.id, other_unit)

    def unit_finds(params: Mapping[str, str]) -> list[str]:
        return numbers(find(sessions, params, unit_id=mine_unit))

    assert set(unit_finds({})) == {hidden.number, shared.number}
    assert set(unit_finds({"q": "违章"})) == {hidden.number, shared.number}
    assert unit_finds({"q": "排污"}) == []  # another unit's case
    assert unit_finds({"q": elsewhere.number}) == []
    assert unit_finds({"q": "李四"}) == []  # the withheld name, in the text too
    assert unit_finds({"q": "13512345678"}) == []  # the withheld phone
    assert unit_finds({"phone": "13512345678"}) == []
    assert unit_finds({"q": "王五"}) == [shared.number]  # the complainant agreed
    assert unit_finds({"phone": "13687654321"}) == [shared.number]
    assert set(numbers(find(sessions, {"q": "违章"}))) == {  # the centre sees everything
        hidden.number,
        shared.number,
        elsewhere.number,
    }
    assert numbers(find(sessions, {"q": "李四"})) == [hidden.number]
    seen = find(sessions, {"q": hidden.number}, unit_id=mine_unit).items[0]
    assert "李四" not in seen.text and "13512345678" not in seen.text and seen.phone == ""


def test_cases_already_there_are_indexed_by_the_migration(
    db_url: str, folder: Path, sessions: sessionmaker[Session]
) -> None:
    """The search tables are filled from the cases a database already holds."""
    case = register_case(sessions, folder, title="老旧小区加装电梯")
    with transaction(sessions) as session:
        session.execute(text("DELETE FROM case_search"))
        if session.get_bind().dialect.name == "sqlite":
            session.execute(text("INSERT INTO case_search_fts(case_search_fts) VALUES('rebuild')"))
    assert numbers(find(sessions, {"q": "加装电梯"})) == []
    command.downgrade(alembic_config(db_url), "0010")
    command.upgrade(alembic_config(db_url), "head")
    assert numbers(find(sessions, {"q": "加装电梯"})) == [case.number]


def test_searches_are_answered_from_the_indexes(
    sessions: sessionmaker[Session], folder: Path
) -> None:
    """Words of three characters from the trigram index, of two from the pairs (PostgreSQL's
    GIN index over them; SQLite's trigrams that start with them, from the vocabulary)."""
    for index in range(30):
        register_case(sessions, folder, title=f"第{index}件噪音扰民")
    with transaction(sessions) as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SET LOCAL enable_seqscan = off"))
            long_plan = session.scalars(
                text("EXPLAIN SELECT case_id FROM case_search WHERE body LIKE '%噪音扰%'")
            ).all()
            pair_plan = session.scalars(
                text(
                    "EXPLAIN SELECT case_id FROM case_search "
                    "WHERE bigrams && CAST(ARRAY['噪音'] AS text[])"
                )
            ).all()
            assert "ix_case_search_trgm" in "\n".join(long_plan)
            assert "ix_case_search_bigrams" in "\n".join(pair_plan)
        else:
            plan = session.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT rowid FROM case_search_fts "
                    "WHERE case_search_fts MATCH '\"噪音扰\"'"
                )
            ).all()
            assert "VIRTUAL TABLE INDEX" in " ".join(str(row[-1]) for row in plan)
            pairs = session.scalars(
                text("SELECT term FROM case_search_vocab WHERE term >= :low AND term < :high"),
                {"low": "噪音", "high": "噪" + chr(ord("音") + 1)},
            ).all()
            assert pairs == ["噪音扰"]
