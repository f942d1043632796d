"""Jobs the API process runs on a schedule: supervision (催办, yellow and red cards)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy.orm import Session, sessionmaker

from dispatch import supervision
from dispatch.rules_source import RulesSource
from hotline.db import transaction

log = logging.getLogger(__name__)


def supervise_once(sessions: sessionmaker[Session], rules: RulesSource,
                   clock: Callable[[], dt.datetime]) -> list[supervision.Issued]:
    with transaction(sessions) as session:
        issued = supervision.run(session, rules.rules(), clock())
    for item in issued:
        log.info("supervision: %s for case %s (%s, %s)", item.kind, item.case_number,
                 item.stage, item.unit or "centre")
    return issued


async def supervise_forever(sessions: sessionmaker[Session], rules: RulesSource,
                            clock: Callable[[], dt.datetime], interval: float) -> None:
    """Run the job now and every ``interval`` seconds; a failed run is logged and retried
    at the next tick (the job is driven by dates, so nothing is lost)."""
    while True:
        try:
            await asyncio.to_thread(supervise_once, sessions, rules, clock)
        except Exception:
            log.exception("supervision run failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)
