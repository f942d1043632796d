"""Jobs the API process runs on a schedule: supervision (催办, yellow and red cards), the
store's integrity check and the bulletins (通报)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from custody import integrity
from dispatch.deadlines.rules_source import RulesSource
from dispatch.handling import job_runs, supervision
from dispatch.reports import bulletins
from recordings.objects import ObjectStore

log = logging.getLogger(__name__)
T = TypeVar("T")


async def finish_in_thread(function: Callable[..., T], *args: object) -> T:
    """Run ``function`` in a worker thread; if the job is cancelled meanwhile (the service
    stops), wait for the thread to finish first, so it never outlives the database engine."""
    running = asyncio.ensure_future(asyncio.to_thread(function, *args))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await running
        raise


def supervise_once(
    sessions: sessionmaker[Session], rules: RulesSource, clock: Callable[[], dt.datetime]
) -> list[supervision.Issued]:
    at = clock()
    with transaction(sessions) as session:
        issued = supervision.run(session, rules.rules(), at)
        job_runs.record(session, job_runs.SUPERVISION, at, f"{len(issued)} notices")
    for item in issued:
        log.info(
            "supervision: %s for case %s (%s, %s)",
            item.kind,
            item.case_number,
            item.stage,
            item.unit or "centre",
        )
    return issued


async def supervise_forever(
    sessions: sessionmaker[Session],
    rules: RulesSource,
    clock: Callable[[], dt.datetime],
    interval: float,
) -> None:
    """Run the job now and every ``interval`` seconds; a failed run is logged and retried
    at the next tick (the job is driven by dates, so nothing is lost)."""
    while True:
        try:
            await finish_in_thread(supervise_once, sessions, rules, clock)
        except Exception:
            log.exception("supervision run failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


async def verify_forever(
    sessions: sessionmaker[Session],
    data_dir: Path,
    clock: Callable[[], dt.datetime],
    interval: float,
    remote: ObjectStore | None = None,
) -> None:
    """Verify the store now and every ``interval`` seconds; problems are logged as errors
    and shown to supervisors (the latest check is on their pages). ``remote``: the object
    store holding files uploaded from the data folders (issue 18)."""
    while True:
        try:
            report = await finish_in_thread(
                integrity.check_and_record, sessions, data_dir, clock(), remote
            )
            for problem in report.problems:
                log.error("store integrity: %s", problem.line())
            if report.ok:
                log.info("store integrity: %d files ok", report.files_checked)
            if report.store_error:
                log.warning(
                    "store integrity: %d uploaded files not re-hashed, the object store is "
                    "out of reach: %s",
                    report.objects_unchecked,
                    report.store_error,
                )
        except Exception:
            log.exception("store verification failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)


def bulletins_once(
    sessions: sessionmaker[Session], maker: bulletins.Maker, clock: Callable[[], dt.datetime]
) -> list[bulletins.Made]:
    """Make the daily, weekly and monthly bulletins due now that are missing."""
    made = bulletins.make_due(sessions, maker, clock())
    for item in made:
        if item.new:
            log.info("bulletins: made %s", item.title)
    return made


async def bulletins_forever(
    sessions: sessionmaker[Session],
    maker: bulletins.Maker,
    clock: Callable[[], dt.datetime],
    interval: float,
) -> None:
    """Check now and every ``interval`` seconds whether the last closed day, week and month
    have their bulletin (通报), and make the missing ones; a failed run is logged and tried
    again at the next tick (what is due follows from the date, so nothing is lost; the
    unique key keeps two processes from making one twice)."""
    while True:
        try:
            await finish_in_thread(bulletins_once, sessions, maker, clock)
        except Exception:
            log.exception("bulletins run failed; retrying in %.0f s", interval)
        await asyncio.sleep(interval)
