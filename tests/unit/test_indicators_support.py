"""Builders for the indicator tests (no tests here): Beijing instants, history entries,
cases and their files, as a reader would fill them from the database."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from typing import Any
from zoneinfo import ZoneInfo

from dispatch.cases.lifecycle import Action, Status
from dispatch.indicators.rows import CaseEventRow, CaseFile, CaseRow

BEIJING = ZoneInfo("Asia/Shanghai")


def at(
    year: int, month: int, day: int, hour: int = 9, minute: int = 0, second: int = 0
) -> dt.datetime:
    """An instant given in Beijing time, stored as the database gives it (UTC)."""
    local = dt.datetime(year, month, day, hour, minute, second, tzinfo=BEIJING)
    return local.astimezone(dt.UTC)


def ev(action: Action, when: dt.datetime, to_status: Status | None = None) -> CaseEventRow:
    """A history entry; the status it leads to is the lifecycle's usual one unless given."""
    usual = {
        Action.ACCEPT: Status.ACCEPTED,
        Action.REJECT: Status.REJECTED,
        Action.ANSWER_ON_SPOT: Status.CLOSED,
        Action.MERGE: Status.MERGED,
        Action.WITHDRAW: Status.WITHDRAWN,
        Action.DISPATCH: Status.DISPATCHED,
        Action.UNIT_RETURN: Status.ACCEPTED,
        Action.SIGN: Status.SIGNED,
        Action.REPLY: Status.REPLIED,
        Action.PASS_REVIEW: Status.REVIEWED,
        Action.FEEDBACK: Status.FEEDBACK_GIVEN,
        Action.CLOSE: Status.CLOSED,
        Action.REOPEN: Status.ACCEPTED,
    }
    status = to_status or usual.get(action, Status.ACCEPTED)
    return CaseEventRow(at=when, action=action.value, to_status=status.value)


def case_row(case_id: str, received: dt.datetime, **fields: Any) -> CaseRow:
    base = CaseRow(
        id=case_id,
        number=f"TS-{case_id}",
        status="accepted",
        received_at=received,
        registered_at=received,
        channel="phone",
        case_type="complaint",
    )
    return dataclasses.replace(base, **fields)


def case_file(
    case_id: str,
    received: dt.datetime,
    events: Iterable[CaseEventRow] = (),
    **rows: Any,
) -> CaseFile:
    """A case with its history and any child rows (``assignments=``, ``deadlines=``…);
    other keywords are the case's own columns."""
    children = {
        name: tuple(rows.pop(name))
        for name in ("assignments", "deadlines", "extensions", "supervision", "replies", "feedback")
        if name in rows
    }
    return CaseFile(case_row(case_id, received, **rows), tuple(events), **children)


def ids(*names: str) -> tuple[str, ...]:
    return tuple(sorted(names))
