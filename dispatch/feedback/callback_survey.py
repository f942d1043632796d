"""The satisfaction call-back once the citizen answered, run by FastAGI.

question (names the case, keys 1–5) → one key → stored → thanks → hang up. No key, or a key
that is not 1–5: "sorry, once more" and the question again, once; still nothing: goodbye,
hang up, and the attempt counts as failed (retried later, or given up).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from panoramisk.fast_agi import Request
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.settings import Settings
from dispatch.cases.survey_models import SatisfactionCall
from dispatch.feedback import callback_answers, callbacks
from dispatch.feedback import callback_prompts as sp
from dispatch.feedback.scale import DIGIT_TO_LEVEL
from ivr.agi_channel import AgiChannel, CallerHungUp

log = logging.getLogger(__name__)

ALL_KEYS = "0123456789*#"


@dataclass(frozen=True)
class SurveyConfig:
    sounds_dir: Path
    retry_minutes: float
    max_attempts: int
    key_wait_seconds: float = 6.0


async def get_key(channel: AgiChannel, prompt: str, wait_seconds: float) -> str:
    """Play ``prompt`` (a key interrupts it) and wait for one key after it; "" if none."""
    result = await channel.command(f"GET DATA {prompt} {int(wait_seconds * 1000)} 1")
    value, _ = result.get("result", ("", ""))
    return str(value or "")


async def play_interruptible(channel: AgiChannel, prompt: str) -> str:
    """Play ``prompt``; a key pressed meanwhile stops it and is returned ("" if none)."""
    result = await channel.command(f'STREAM FILE {prompt} "{ALL_KEYS}"')
    value, _ = result.get("result", ("0", ""))
    code = int(value or 0)
    return chr(code) if code > 0 else ""


class SatisfactionSurvey:
    def __init__(
        self,
        config: SurveyConfig,
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.config = config
        self.sessions = sessions
        self.clock = clock

    async def __call__(self, request: Request) -> None:
        channel = AgiChannel(request)
        call_id = channel.headers.get("agi_arg_1", "").strip()
        case_number = await asyncio.to_thread(self._dialling_case_number, call_id)
        if case_number is None:
            log.warning("satisfaction call %r: unknown or not being dialled; hanging up", call_id)
            await channel.hangup()
            return
        try:
            digit = await self.ask(channel, case_number)
        except CallerHungUp:
            await self.failed(call_id, case_number, "hung up before pressing a key")
            return
        except Exception as exc:
            log.exception("satisfaction call %s failed", call_id)
            await self.failed(call_id, case_number, f"error: {type(exc).__name__}: {exc}")
            await channel.hangup()
            return
        if digit is None:
            await self.failed(call_id, case_number, "no valid key pressed")
            await self.say_and_hang_up(channel, sp.GOODBYE, "goodbye")
            return
        try:
            await asyncio.to_thread(self._record_answer, call_id, digit)
        except callbacks.NotDialling:
            log.warning(
                "satisfaction call %s was settled already; key %s not stored", call_id, digit
            )
        await asyncio.to_thread(sp.discard_question, self.config.sounds_dir, case_number)
        log.info("satisfaction call %s: key %s", call_id, digit)
        await self.say_and_hang_up(channel, sp.THANKS, "thanks")

    async def ask(self, channel: AgiChannel, case_number: str) -> str | None:
        """The key pressed (1–5), or ``None`` after the question was asked twice."""
        sounds = self.config.sounds_dir
        question = await asyncio.to_thread(sp.ensure_question, sounds, case_number)
        retry = await asyncio.to_thread(sp.ensure, sounds, "retry", sp.RETRY)
        for round_ in range(2):
            if round_:
                key = await play_interruptible(channel, retry)
                if key in DIGIT_TO_LEVEL:
                    return key
            key = await get_key(channel, question, self.config.key_wait_seconds)
            if key in DIGIT_TO_LEVEL:
                return key
            log.info(
                "satisfaction call on %s: %s",
                channel.uniqueid,
                f"wrong key {key!r}" if key else "no key",
            )
        return None

    async def say_and_hang_up(self, channel: AgiChannel, text: str, stem: str) -> None:
        with contextlib.suppress(CallerHungUp):
            prompt = await asyncio.to_thread(sp.ensure, self.config.sounds_dir, stem, text)
            await channel.play(prompt)
        await channel.hangup()

    async def failed(self, call_id: str, case_number: str, reason: str) -> None:
        try:
            retry = await asyncio.to_thread(self._record_failure, call_id, reason)
        except callbacks.NotDialling:
            log.warning("satisfaction call %s was settled already (%s)", call_id, reason)
            return
        log.info(
            "satisfaction call %s: %s; %s",
            call_id,
            reason,
            f"retry at {retry.due_at:%Y-%m-%d %H:%M}Z" if retry else "gave up",
        )
        if retry is None:
            await asyncio.to_thread(sp.discard_question, self.config.sounds_dir, case_number)

    # -- database, in worker threads ------------------------------------------------------

    def _dialling_case_number(self, call_id: str) -> str | None:
        if not call_id:
            return None
        with self.sessions() as session:
            row = callbacks.get(session, call_id)
            if row is None or row.status != callbacks.CallStatus.DIALLING:
                return None
            return row.case_number

    def _record_answer(self, call_id: str, digit: str) -> None:
        with transaction(self.sessions) as session:
            callback_answers.record_answer(session, call_id, digit, self.clock())

    def _record_failure(self, call_id: str, reason: str) -> SatisfactionCall | None:
        cfg = self.config
        with transaction(self.sessions) as session:
            return callbacks.record_failure(
                session, call_id, reason, self.clock(), cfg.retry_minutes, cfg.max_attempts
            )


def survey_for(
    settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], dt.datetime]
) -> SatisfactionSurvey:
    config = SurveyConfig(
        sounds_dir=settings.sounds_dir,
        retry_minutes=settings.satisfaction_retry_minutes,
        max_attempts=settings.satisfaction_max_attempts,
    )
    return SatisfactionSurvey(config, sessions, clock)
