"""The key the citizen pressed on the satisfaction call-back: kept on the call and applied
to the case as its satisfaction level (the same rule as an operator's feedback,
``visits.record_satisfaction``)."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session

from dispatch.cases.survey_models import SatisfactionCall
from dispatch.feedback import visits
from dispatch.feedback.callbacks import CallStatus, NotDialling, move_status
from dispatch.feedback.scale import DIGIT_TO_LEVEL, Level

log = logging.getLogger(__name__)

ACTOR = "system:callback"


def level_for(digit: str) -> Level:
    try:
        return DIGIT_TO_LEVEL[digit]
    except KeyError:
        raise ValueError(f"{digit!r} is not a satisfaction key (1 to 5)") from None


def record_answer(session: Session, call_id: str, digit: str, now: dt.datetime) -> Level:
    """The citizen pressed ``digit``: the call is answered and the case gets its
    satisfaction level. ``NotDialling`` if the call was settled already. A case that cannot
    take the level any more (reopened, gone) keeps the key on the call, with the reason."""
    level = level_for(digit)
    row = session.get(SatisfactionCall, call_id)
    if row is None or not move_status(
        session,
        call_id,
        CallStatus.DIALLING,
        status=CallStatus.ANSWERED.value,
        digit=digit,
        finished_at=now,
        outcome=f"key {digit}: {level.value}",
    ):
        raise NotDialling(call_id)
    try:
        # A savepoint: if the case cannot take it, the key pressed is still kept on the call.
        with session.begin_nested():
            visits.record_satisfaction(
                session,
                row.case_id,
                level,
                method=visits.Method.AUTO_CALL.value,
                actor=ACTOR,
                at=now,
            )
    except (ValueError, LookupError) as exc:
        log.warning(
            "satisfaction call %s: key %s not applied to case %s: %s",
            call_id,
            digit,
            row.case_id,
            exc,
        )
        move_status(
            session,
            call_id,
            CallStatus.ANSWERED,
            outcome=f"key {digit}: {level.value}; not applied to the case: {exc}"[:500],
        )
    session.expire(row)
    return level
