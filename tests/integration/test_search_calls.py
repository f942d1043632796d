"""Call search on a real database (SQLite and PostgreSQL): words of a transcript find its
call only for those who may read that transcript (the replay rule, the same answer as
``custody.transcript_reads.decide`` for every person and call), digits find the caller's
number, and the filters narrow the list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role, User
from core.db import transaction
from core.settings import Settings
from custody import call_search, replay, transcript_reads
from custody.requester import Requester
from dispatch.search.paging import Page
from ivr import call_store
from ivr.models import Call
from recordings import lookup
from tests.builders import add_user
from tests.search_world import NOW, ZONE, add_call, register_case, transcript_record

DAYS = 7
WORDS = "您好，我家楼下的广场舞噪音太大了，每天晚上十点还不停"


@pytest.fixture
def people(sessions: sessionmaker[Session]) -> dict[str, Requester]:
    found = {}
    for name, role, phone in [
        ("op1", "operator", "1001"),
        ("op2", "operator", "1002"),
        ("sup1", "supervisor", ""),
        ("inv1", "investigator", ""),
        ("admin1", "admin", ""),
    ]:
        add_user(sessions, name, role, phone)
        with sessions() as session:
            user = session.scalars(select(User).where(User.username == name)).one()
            found[name] = Requester(user.id, name, Role(role), phone)
    return found


@pytest.fixture
def calls(sessions: sessionmaker[Session]) -> dict[str, str]:
    day, minute = dt.timedelta(days=1), dt.timedelta(minutes=1)
    return {
        "op1 yesterday": add_call(sessions, "13800000001", NOW - day, WORDS, operator="1001"),
        "op2 yesterday": add_call(
            sessions, "13800000002", NOW - day - minute, WORDS, operator="1002"
        ),
        "op1 long ago": add_call(sessions, "13800000003", NOW - 40 * day, WORDS, "1001"),
        "message": add_call(
            sessions,
            "13800000004",
            NOW - day - 2 * minute,
            "我家厨房漏水了",
            outcome="message_left",
        ),
        "untranscribed": add_call(sessions, "021-62345678", NOW - 2 * day, operator="1001"),
    }


def find(sessions: sessionmaker[Session], who: Requester, params: Mapping[str, str]) -> Page[Call]:
    wanted, paging = call_search.call_filters(params, ZONE)
    with sessions() as session:
        return call_search.search(session, wanted, paging, who, NOW, DAYS)


def named(page: Page[Call], calls: dict[str, str]) -> set[str]:
    by_id = {call_id: name for name, call_id in calls.items()}
    return {by_id[call.id] for call in page.items}


def test_transcript_words_find_only_the_calls_whose_transcript_you_may_read(
    sessions: sessionmaker[Session],
    people: dict[str, Requester],
    calls: dict[str, str],
    tmp_path: Path,
) -> None:
    def finds(who: str, words: str) -> set[str]:
        return named(find(sessions, people[who], {"q": words}), calls)

    assert finds("op1", "广场舞噪音") == {"op1 yesterday"}  # not op2's, not past 7 days
    assert finds("op2", "噪音") == {"op2 yesterday"}
    assert finds("op1", "漏水") == finds("op2", "漏水") == {"message"}  # the pool's work
    assert finds("sup1", "噪音") == finds("inv1", "噪音") == set()  # no reason given yet
    assert finds("admin1", "噪音") == set()  # may never read transcripts
    case = register_case(sessions, tmp_path, call_id=calls["op2 yesterday"])
    with transaction(sessions) as session:
        replay.give_reason(
            session, case, people["sup1"].user_id, "sup1", "核查话务员服务态度投诉", NOW
        )
    assert finds("sup1", "噪音") == {"op2 yesterday"}
    assert finds("inv1", "噪音") == set()  # a reason is the person's own


@pytest.mark.parametrize("readable_looked_through", [True, False])
def test_the_search_rule_is_the_reading_rule(
    sessions: sessionmaker[Session],
    people: dict[str, Requester],
    calls: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    readable_looked_through: bool,
) -> None:
    """For every person and call with a transcript: found by its words exactly when the
    transcript rule lets them read it, whether the readable transcripts are looked through
    (a few) or the index is used (many)."""
    if not readable_looked_through:
        monkeypatch.setattr(call_search, "SCAN_LIMIT", 0)
    case = register_case(sessions, tmp_path, call_id=calls["op1 long ago"])
    with transaction(sessions) as session:
        replay.give_reason(session, case, people["inv1"].user_id, "inv1", "复核投诉处理过程", NOW)
    settings = Settings(data_dir=tmp_path, operator_replay_days=DAYS)
    transcribed = {k: v for k, v in calls.items() if k != "untranscribed"}
    for who in people.values():
        found = {c.id for c in find(sessions, who, {"q": "我家"}).items}
        with sessions() as session:
            for name, call_id in transcribed.items():
                call = call_store.get_call(session, call_id)
                assert call is not None
                recording = lookup.of_call(session, call_id)
                decision = transcript_reads.decide(session, settings, who, call, recording, NOW)
                assert (call_id in found) == decision.allowed, (who.username, name)


def test_digits_find_the_caller_and_filters_narrow_the_list(
    sessions: sessionmaker[Session], people: dict[str, Requester], calls: dict[str, str]
) -> None:
    admin = people["admin1"]

    def finds(params: Mapping[str, str]) -> set[str]:
        return named(find(sessions, admin, params), calls)

    assert finds({"q": "13800000004"}) == {"message"}
    assert finds({"q": "0000003"}) == {"op1 long ago"}  # part of a number
    assert finds({"phone": "021 6234 5678"}) == {"untranscribed"}
    assert finds({"status": "message_left"}) == {"message"}
    assert finds({"operator": "op2"}) == {"op2 yesterday"}
    assert finds({"operator": "sup1"}) == set()  # answers no calls
    day = (NOW - dt.timedelta(days=40)).astimezone(ZONE).date().isoformat()
    assert finds({"from": day, "to": day}) == {"op1 long ago"}
    newest = find(sessions, admin, {"limit": "2"})
    assert newest.total == 5 and newest.pages == 3
    assert [c.id for c in newest.items] == [calls["op1 yesterday"], calls["op2 yesterday"]]


def test_a_transcript_stored_later_is_found(
    sessions: sessionmaker[Session], people: dict[str, Requester], calls: dict[str, str]
) -> None:
    op1 = people["op1"]
    assert find(sessions, op1, {"q": "燃气泄漏"}).total == 0
    with transaction(sessions) as session:
        recording = lookup.of_call(session, calls["untranscribed"])
        assert recording is not None
        session.add(transcript_record(recording.sha256, "楼道里有燃气泄漏的味道", NOW))
    assert [c.id for c in find(sessions, op1, {"q": "燃气泄漏"}).items] == [calls["untranscribed"]]
