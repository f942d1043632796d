"""The satisfaction call-back dialer, inside the ivr service.

Every few seconds it claims the call-backs that are due (``dispatch.feedback.callbacks``),
makes sure the question naming the case is synthesised (off the event loop), and asks
Asterisk over AMI to call the citizen::

    Action: Originate
    Channel: PJSIP/<citizen's number>@citizens-out     (the outbound trunk's endpoint)
    Context: hotline-satisfaction / Exten: s / Priority: 1
    Timeout: <ring seconds × 1000>
    CallerID: "<hotline number>" <hotline number>
    Variable: SATISFACTION_CALL_ID=<call id>
    ChannelId: <call id>
    Async: true

Once the citizen answers, the dialplan runs the FastAGI route ``satisfaction``
(``dispatch.feedback.callback_survey``) with the call id. The ``OriginateResponse`` event
says whether the phone was answered; when it was not, the outgoing channel's hang-up cause
says why (no answer, busy, rejected, unreachable…), and the attempt is recorded as failed
and retried later or given up.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.settings import Settings
from dispatch.cases.survey_models import SatisfactionCall
from dispatch.feedback import callback_prompts as sp
from dispatch.feedback import callbacks
from dispatch.feedback.callbacks import DueCall, NotDialling
from dispatch.feedback.dial_loop import DialLoop
from ivr import dialplan_variables as dv
from ivr.ami_listener import AmiListener

log = logging.getLogger(__name__)

# OriginateResponse "Reason": the last control frame Asterisk saw on the outgoing channel.
ORIGINATE_REASONS = {
    "0": "could not be dialled",
    "1": "rejected or hung up before answering",
    "3": "no answer",
    "5": "busy",
    "8": "congestion or unreachable",
}
# The Q.850 cause of the outgoing channel's Hangup event says more (a SIP 486 gives
# Reason 0 but cause 17).
HANGUP_CAUSES = {
    1: "unallocated number",
    3: "no route to the number",
    17: "busy",
    18: "no answer",
    19: "no answer",
    20: "phone switched off or out of reach",
    21: "rejected",
    22: "number changed",
    27: "unreachable",
    28: "invalid number",
    34: "congestion or unreachable",
    38: "congestion or unreachable",
    41: "congestion or unreachable",
    42: "congestion or unreachable",
}
# A call left "dialling" this long after its ring time has no known outcome.
STALE_MARGIN = dt.timedelta(minutes=10)
# How long after the ring time an OriginateResponse may still come.
RESPONSE_MARGIN_SECONDS = 30.0


class Ami(Protocol):
    @property
    def connected(self) -> bool: ...

    def send_action(self, action: dict[str, str]) -> Awaitable[Any]: ...

    def watch(self, uniqueid: str) -> None:
        """Keep the hang-up cause of the channel with this uniqueid when it ends."""

    def hangup_cause(self, uniqueid: str) -> int | None: ...

    def forget(self, uniqueid: str) -> None: ...


@dataclass(frozen=True)
class DialerConfig:
    sounds_dir: Path
    caller_id: str
    ring_seconds: int
    poll_seconds: float
    retry_minutes: float
    max_attempts: int
    endpoint: str = dv.ENDPOINT_OUTBOUND
    context: str = dv.CONTEXT_SATISFACTION

    @property
    def stale_after(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.ring_seconds) + STALE_MARGIN


@dataclass(frozen=True)
class OriginateOutcome:
    answered: bool
    reason: str


def originate_action(call: DueCall, config: DialerConfig) -> dict[str, str]:
    """The AMI action that calls the citizen. The number is checked again here: it becomes
    part of a dial string."""
    number = callbacks.dial_number(call.phone)
    caller = config.caller_id
    return {
        "Action": "Originate",
        "Channel": f"PJSIP/{number}@{config.endpoint}",
        "Context": config.context,
        "Exten": "s",
        "Priority": "1",
        "Timeout": str(config.ring_seconds * 1000),
        "CallerID": f'"{caller}" <{caller}>',
        "Variable": f"{dv.SATISFACTION_CALL_ID}={call.id}",
        "ChannelId": call.id,
        "Async": "true",
    }


def originate_outcome(
    reply: Mapping[str, Any] | Sequence[Mapping[str, Any]], hangup_cause: int | None = None
) -> OriginateOutcome:
    """Read panoramisk's reply to an async Originate (the "queued" response then the
    ``OriginateResponse`` event, or a lone error response) and, when it failed, the
    outgoing channel's hang-up cause if known."""
    messages = [reply] if isinstance(reply, Mapping) else list(reply)
    final = next((m for m in reversed(messages) if m.get("Event") == "OriginateResponse"), None)
    if final is None:
        first = messages[0] if messages else {}
        return OriginateOutcome(False, f"originate refused: {first.get('Message') or first}")
    if final.get("Response") == "Success":
        return OriginateOutcome(True, "answered")
    code = str(final.get("Reason", "")).strip()
    if code == "3":  # it rang until the ring time was up
        return OriginateOutcome(False, ORIGINATE_REASONS[code])
    if hangup_cause in HANGUP_CAUSES:
        return OriginateOutcome(False, HANGUP_CAUSES[hangup_cause])
    reason = ORIGINATE_REASONS.get(code, f"failed (reason {code})")
    if hangup_cause:
        reason = f"{reason} (cause {hangup_cause})"
    return OriginateOutcome(False, reason)


class SatisfactionDialer(DialLoop[DueCall]):
    what = "satisfaction call"

    def __init__(
        self,
        config: DialerConfig,
        sessions: sessionmaker[Session],
        ami: Ami,
        clock: Callable[[], dt.datetime],
    ) -> None:
        super().__init__(ami, clock, config.poll_seconds)
        self.config = config
        self.sessions = sessions
        self.ami = ami
        self.runner: asyncio.Task[None] | None = None

    def start(self) -> None:
        self.runner = asyncio.create_task(self.run())

    async def run(self) -> None:
        """Poll for due call-backs until cancelled; one bad poll never stops the dialer."""
        try:
            await asyncio.to_thread(sp.ensure_fixed, self.config.sounds_dir)
        except Exception:
            log.exception("could not synthesise the call-back prompts; trying per call")
        await self.run_polls()

    async def dial(self, call: DueCall) -> None:
        cfg = self.config
        try:
            await asyncio.to_thread(sp.ensure_question, cfg.sounds_dir, call.case_number)
            action = originate_action(call, cfg)
        except Exception as exc:
            log.exception("satisfaction call %s: cannot dial", call.id)
            await self.failed(call, f"cannot dial: {type(exc).__name__}: {exc}")
            return
        log.info(
            "satisfaction call %s (case %s, attempt %d): dialling %s",
            call.id,
            call.case_number,
            call.attempt,
            action["Channel"],
        )
        self.ami.watch(call.id)  # the channel's uniqueid is the call's id (ChannelId)
        try:
            try:
                reply = await asyncio.wait_for(
                    self.ami.send_action(action), cfg.ring_seconds + RESPONSE_MARGIN_SECONDS
                )
            except TimeoutError:
                # The call may be under way (its call flow settles it) or lost (AMI went
                # down): left "dialling" until it is settled or found stale.
                log.warning("satisfaction call %s: no OriginateResponse", call.id)
                return
            outcome = originate_outcome(reply)
            if outcome.answered:
                log.info("satisfaction call %s: answered", call.id)
                return
            outcome = originate_outcome(reply, await self.hangup_cause(call.id))
        finally:
            self.ami.forget(call.id)
        await self.failed(call, outcome.reason)

    async def failed(self, call: DueCall, reason: str) -> None:
        try:
            retry = await asyncio.to_thread(self._record_failure, call.id, reason)
        except NotDialling:
            log.warning("satisfaction call %s was settled already (%s)", call.id, reason)
            return
        if retry is None:
            log.warning(
                "satisfaction call %s: %s; gave up after %d attempts", call.id, reason, call.attempt
            )
            await asyncio.to_thread(sp.discard_question, self.config.sounds_dir, call.case_number)
        else:
            log.info(
                "satisfaction call %s: %s; next attempt at %s",
                call.id,
                reason,
                retry.due_at.isoformat(),
            )

    async def close(self) -> None:
        """Stop polling and stop waiting for calls being placed; those stay "dialling" until
        their call flow settles them or they are found stale."""
        await self.cancel_with(self.runner)

    # -- database, in worker threads ------------------------------------------------------

    def claim(self, now: dt.datetime) -> list[DueCall]:
        cfg = self.config
        with transaction(self.sessions) as session:
            for call_id in callbacks.recover_stale(
                session, now, cfg.stale_after, cfg.retry_minutes, cfg.max_attempts
            ):
                log.warning("satisfaction call %s had no outcome; counted as failed", call_id)
            return callbacks.claim_due(session, now)

    def _record_failure(self, call_id: str, reason: str) -> SatisfactionCall | None:
        cfg = self.config
        with transaction(self.sessions) as session:
            return callbacks.record_failure(
                session, call_id, reason, self.clock(), cfg.retry_minutes, cfg.max_attempts
            )


class ListenerAmi:
    """The AMI listener's connection, as the dialer sees it."""

    def __init__(self, listener: AmiListener) -> None:
        self.listener = listener
        self.causes: dict[str, int | None] = {}
        listener.manager.register_event("Hangup", self._on_hangup)

    def _on_hangup(self, _manager: Any, message: Mapping[str, str]) -> None:
        uniqueid = message.get("Uniqueid", "")
        if uniqueid in self.causes:
            try:
                self.causes[uniqueid] = int(message.get("Cause") or 0)
            except ValueError:
                self.causes[uniqueid] = 0

    @property
    def connected(self) -> bool:
        return bool(self.listener.connected)

    def send_action(self, action: dict[str, str]) -> Awaitable[Any]:
        future: Awaitable[Any] = self.listener.manager.send_action(action)
        return future

    def watch(self, uniqueid: str) -> None:
        self.causes[uniqueid] = None

    def hangup_cause(self, uniqueid: str) -> int | None:
        return self.causes.get(uniqueid)

    def forget(self, uniqueid: str) -> None:
        self.causes.pop(uniqueid, None)


def dialer_for(
    settings: Settings,
    sessions: sessionmaker[Session],
    listener: AmiListener,
    clock: Callable[[], dt.datetime],
) -> SatisfactionDialer | None:
    """The ivr service's dialer; none when no outbound trunk is configured."""
    if not settings.outbound_sip_target:
        log.warning("HOTLINE_OUTBOUND_SIP_TARGET is not set: satisfaction call-backs wait")
        return None
    config = DialerConfig(
        sounds_dir=settings.sounds_dir,
        caller_id=settings.hotline_number,
        ring_seconds=settings.satisfaction_ring_seconds,
        poll_seconds=settings.satisfaction_poll_seconds,
        retry_minutes=settings.satisfaction_retry_minutes,
        max_attempts=settings.satisfaction_max_attempts,
    )
    return SatisfactionDialer(config, sessions, ListenerAmi(listener), clock)
