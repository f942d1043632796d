"""The access log searched on a real database (SQLite and PostgreSQL): newest first, a page
at a time, by period, person, role, action, outcome, case number (typed in any case) and
words of the reason or the client."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from custody import access, audit_search
from custody.models import RecordingAccess
from dispatch.search.paging import Page
from tests.search_world import NOW, ZONE, register_case


def find(sessions: sessionmaker[Session], params: Mapping[str, str]) -> Page[RecordingAccess]:
    wanted, paging = audit_search.audit_filters(params, ZONE)
    with sessions() as session:
        return audit_search.search(session, wanted, paging)


def test_the_access_log_by_every_filter(sessions: sessionmaker[Session], tmp_path: Path) -> None:
    case = register_case(sessions, tmp_path)
    entries = [
        (40, access.Attempt("sup1", "supervisor", "10.0.0.9", "play", "allowed", "r1", case.id,
                            "核查话务员服务态度投诉")),
        (3, access.Attempt("op1", "operator", "10.0.0.5", "transcript", "allowed", "r2", None,
                           "话务员查看本人受理来电的转写", "calls list")),
        (2, access.Attempt("op2", "operator", "10.0.0.6", "play", "denied", "r1")),
        (1, access.Attempt("h_env", "unit_handler", "10.0.0.7", "download", "denied", "r1",
                           case.id)),
    ]  # fmt: skip
    for days_ago, attempt in entries:
        with transaction(sessions) as session:
            access.log(session, attempt, NOW - dt.timedelta(days=days_ago))

    def actors(params: Mapping[str, str]) -> list[str]:
        return [entry.actor for entry in find(sessions, params).items]

    assert actors({}) == ["h_env", "op2", "op1", "sup1"]  # newest first
    assert actors({"actor": "op1"}) == ["op1"]
    assert actors({"role": "operator"}) == ["op2", "op1"]
    assert actors({"role": "承办单位经办人"}) == ["h_env"]
    assert actors({"action": "play"}) == ["op2", "sup1"]
    assert actors({"status": "denied"}) == ["h_env", "op2"]
    assert actors({"case": case.number.lower()}) == ["h_env", "sup1"]
    assert actors({"q": case.number}) == ["h_env", "sup1"]
    assert actors({"q": "服务态度"}) == ["sup1"]
    assert actors({"q": "10.0.0.6"}) == ["op2"]
    assert actors({"q": "calls list"}) == ["op1"]
    assert actors({"case": "TS19990101" + "0001"}) == []
    day = (NOW - dt.timedelta(days=40)).astimezone(ZONE).date().isoformat()
    assert actors({"from": day, "to": day}) == ["sup1"]
    page = find(sessions, {"limit": "3", "page": "2"})
    assert page.total == 4 and [e.actor for e in page.items] == ["sup1"]
