"""Cases waiting for the citizen's satisfaction, for the call-back tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases.lifecycle import Status
from dispatch.cases.models import Case


def add_case(
    sessions: sessionmaker[Session],
    number: str,
    phone: str = "13800138000",
    status: Status = Status.FEEDBACK_GIVEN,
    at: dt.datetime | None = None,
) -> str:
    """A case whose result was told to the citizen (by default); its id."""
    at = at or dt.datetime.now(dt.UTC)
    with transaction(sessions) as session:
        case = Case(
            number=number,
            status=status.value,
            received_at=at,
            registered_at=at,
            registered_by="op1",
            channel="phone",
            case_type="complaint",
            complainant_name="张三",
            complainant_phone=phone,
            title="小区物业乱收费",
            content="幸福里小区物业每月多收二十元停车费。",
        )
        session.add(case)
        session.flush()
        return case.id
