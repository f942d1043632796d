"""Reading a call's transcript over HTTP: the pages and the JSON routes hand the person and
the place to ``custody.transcript_reads``, which applies the recordings' rule and logs each
text shown (and each refusal where the transcript itself was asked for)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import Request
from sqlalchemy.orm import Session, sessionmaker

from api.auth import Login
from api.deps import now
from api.evidence import requester
from core.settings import Settings
from custody import replay_rules, transcript_reads
from custody.replay_rules import Decision
from dispatch.intake import call_context
from ivr.models import Call

# Short words for a list's cell where the text is withheld.
WITHHELD_LABELS = {
    replay_rules.NEEDS_REASON: "需先说明调听事由",
    replay_rules.NOT_HANDLED: "非本人受理，不显示转写",
    replay_rules.TOO_OLD: "已超过复听期限，不显示转写",
    replay_rules.ROLE: "无权查看转写",
}


def call_context_for(
    session: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    login: Login,
    request: Request,
    call: Call,
    place: str,
) -> tuple[call_context.CallContext, Decision | None]:
    """The call's registration context, its transcript's part only for those who may read
    it (the read logged at ``place``); the decision is None for a call without a recording."""
    return transcript_reads.call_context_for(
        session, sessions, settings, requester(login, request), call, place, now()
    )


def summaries(
    session: Session,
    sessions: sessionmaker[Session],
    settings: Settings,
    login: Login,
    request: Request,
    calls: Sequence[Call],
    place: str,
) -> transcript_reads.Summaries:
    """A list page's transcript column (each text shown logged at ``place``)."""
    return transcript_reads.summaries(
        session, sessions, settings, requester(login, request), calls, place, now()
    )
