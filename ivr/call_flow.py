"""The hotline call flow, run by FastAGI for every incoming call.

answer → mandatory notice → (notice finished) → MixMonitor, caller left / far side right →
operator queue with hold prompts → no operator in time, or outside service hours: invite a
message, record it until silence or the length limit → thank → hang up.
No IVR menu (GB/T 33358). Any failure ends with a spoken apology and a hang-up.

Behind the SIP router with overflow on (Issue 18): after ``overflow_seconds`` in this node's
queue the caller is passed on (Dial through the router, marked by the overflow header) to
another node's queue for the rest of the wait, this node still recording and taking the
message if nobody answers there either. A caller passed on from another node only waits in
this node's queue, unanswered until an operator answers (no second notice, no recording).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from panoramisk.fast_agi import Request

from ivr import dialplan_variables as dv
from ivr.agi_channel import AgiChannel, CallerHungUp
from ivr.sip_router_config import OVERFLOW_HEADER

log = logging.getLogger(__name__)

# What the overflow header of a call from the SIP router reads (empty: not an overflow).
OVERFLOW_HEADER_READ = f"PJSIP_HEADER(read,{OVERFLOW_HEADER})"
# The queue status of a call passed on to another node and answered there.
OVERFLOW_ANSWERED = "OVERFLOW_ANSWERED"
# Q.850 cause 34, sent as SIP 503.
CAUSE_CONGESTION = 34
# QUEUESTATUS values after which nobody answered and a message is taken.
NO_OPERATOR_STATUSES = frozenset(
    {"TIMEOUT", "JOINEMPTY", "LEAVEEMPTY", "JOINUNAVAIL", "LEAVEUNAVAIL", "FULL"}
)


@dataclass(frozen=True)
class CallFlowConfig:
    sounds_dir: Path
    spool_dir: Path
    queue_name: str
    queue_wait_seconds: int
    message_max_seconds: int
    message_silence_seconds: int
    service_start: dt.time
    service_end: dt.time | None
    timezone: ZoneInfo
    # Issue 18, H4: overflow between nodes behind the SIP router. ``overflow_in``: a call
    # carrying the overflow header is another node's waiting caller. ``overflow_dial`` (empty:
    # no overflow out): where a caller goes after ``overflow_seconds`` in this node's queue.
    overflow_in: bool = False
    overflow_dial: str = ""
    overflow_seconds: int = 0
    node_name: str = ""

    def prompt(self, name: str) -> str:
        return str(self.sounds_dir / dv.PROMPT_DIR / name)


def in_service_hours(
    now: dt.datetime, start: dt.time, end: dt.time | None, timezone: ZoneInfo
) -> bool:
    local = now.astimezone(timezone).time()
    return start <= local and (end is None or local < end)


def recording_file(spool_dir: Path, uniqueid: str, now: dt.datetime) -> Path:
    safe = "".join(ch for ch in uniqueid if ch.isalnum() or ch in ".-")
    if not safe:
        raise ValueError(f"unusable channel uniqueid {uniqueid!r}")
    return spool_dir / f"{now.astimezone(dt.UTC):%Y%m%d}" / f"{safe}.wav"


def overflow_marker(node: str, uniqueid: str) -> str:
    """The overflow header's value: the first node and its call (Issue 18, H7)."""
    return f"{node}/{uniqueid}"


def parse_overflow_marker(header: str) -> tuple[str, str]:
    """(node, call uniqueid) from the overflow header; no call named: (header, "")."""
    node, _, call = header.strip().partition("/")
    return node, call


class CallFlow:
    def __init__(self, config: CallFlowConfig, clock: Callable[[], dt.datetime]) -> None:
        self.config = config
        self.clock = clock

    async def __call__(self, request: Request) -> None:
        channel = AgiChannel(request)
        try:
            await self.run(channel)
        except CallerHungUp:
            # The AGI session ends the same way when the caller hangs up and when an operator
            # blind-transfers the call (the channel leaves for the transfer context).
            log.info("call %s: left the call flow (hung up or transferred)", channel.uniqueid)
        except Exception as exc:
            log.exception("call %s: call flow failed", channel.uniqueid)
            await self.apologise(channel, f"{type(exc).__name__}: {exc}")

    async def run(self, channel: AgiChannel) -> None:
        cfg = self.config
        if cfg.overflow_in and (header := await channel.get_variable(OVERFLOW_HEADER_READ)):
            await self.take_overflow(channel, header)
            return
        await channel.answer()
        await channel.play(cfg.prompt("notice"))
        await channel.user_event(dv.EVENT_NOTICE_FINISHED)

        path = recording_file(cfg.spool_dir, channel.uniqueid, self.clock())
        path.parent.mkdir(parents=True, exist_ok=True)
        done = path.with_suffix(".done")
        # D: caller (read) left, what the caller hears (write) right, sample-interleaved.
        await channel.execute("MixMonitor", f"{path},D,/bin/touch {done}")
        await channel.user_event(dv.EVENT_RECORDING_STARTED, Path=str(path))

        if in_service_hours(self.clock(), cfg.service_start, cfg.service_end, cfg.timezone):
            status = await self.queue(channel)
            if status not in NO_OPERATOR_STATUSES:
                # Answered and the operator hung up, or an unexpected status: nothing more.
                log.info("call %s: queue ended with %r", channel.uniqueid, status)
                await channel.hangup()
                return
            reason = status.lower()
        else:
            reason = "out_of_hours"

        await channel.user_event(dv.EVENT_MESSAGE_STARTED, Reason=reason)
        await channel.play(cfg.prompt("leave_message"))
        await channel.play(cfg.prompt(dv.BEEP))
        await channel.execute(
            "WaitForSilence",
            f"{cfg.message_silence_seconds * 1000},1,{cfg.message_max_seconds}",
        )
        await channel.play(cfg.prompt("thanks"))
        await channel.hangup()

    async def queue(self, channel: AgiChannel) -> str:
        """Wait for an operator; with overflow, after ``overflow_seconds`` here the rest of the
        wait is at another node's queue (through the router, this node still recording).
        Returns the queue's status, ``OVERFLOW_ANSWERED`` when the other node answered."""
        cfg = self.config
        wait = cfg.queue_wait_seconds
        first = cfg.overflow_seconds if cfg.overflow_dial and cfg.overflow_seconds else wait
        first = min(first, wait)
        await channel.execute("Queue", f"{cfg.queue_name},,,,{first}")
        status = await channel.get_variable(dv.QUEUE_STATUS)
        rest = wait - first
        if rest <= 0 or status not in NO_OPERATOR_STATUSES:
            return status
        log.info(
            "call %s: no operator here in %d s, passed on to another node", channel.uniqueid, first
        )
        # The header names this node and this call (Issue 18, H7: the other node's row for
        # the caller is marked a leg of this call).
        marker = overflow_marker(cfg.node_name or "node", channel.uniqueid)
        header = f"{dv.CONTEXT_OVERFLOW_HEADER}^s^1({marker})"
        answered = f"{dv.CONTEXT_OVERFLOW_ANSWERED}^{channel.uniqueid}"
        await channel.execute("Dial", f"{cfg.overflow_dial},{rest},mb({header})U({answered})")
        dial_status = await channel.get_variable(dv.DIAL_STATUS)
        if dial_status == "ANSWER":
            return OVERFLOW_ANSWERED
        if dial_status in {"CHANUNAVAIL", "CONGESTION"}:
            # No other node could take the caller: the rest of the wait is here.
            await channel.execute("Queue", f"{cfg.queue_name},,,,{rest}")
            return await channel.get_variable(dv.QUEUE_STATUS)
        return "TIMEOUT"

    async def take_overflow(self, channel: AgiChannel, header: str = "") -> None:
        """Another node's waiting caller: it heard the notice there and is recorded there.
        It only waits in this node's queue, ringing (the channel is answered when an operator
        answers, so the first node learns of it); nobody in time: the first node takes the
        message. This node's row for it is answered when its operator answers; otherwise it
        stays a call that never got past the notice here (not an abandoned one: the first node
        owns the caller, its message or its call-back)."""
        cfg = self.config
        node, call = parse_overflow_marker(header)
        if call:
            await channel.user_event(dv.EVENT_OVERFLOW_LEG, Call=call, Node=node)
        await channel.execute("Queue", f"{cfg.queue_name},r,,,{cfg.queue_wait_seconds}")
        status = await channel.get_variable(dv.QUEUE_STATUS)
        log.info(
            "call %s: passed on from another node, queue ended with %r", channel.uniqueid, status
        )
        if status in NO_OPERATOR_STATUSES:
            # Nobody here (503): the router tries another node, or the first node keeps the
            # caller in its own queue for the rest of the wait.
            with contextlib.suppress(CallerHungUp):
                await channel.execute("Hangup", str(CAUSE_CONGESTION))
            return
        await channel.hangup()

    async def apologise(self, channel: AgiChannel, reason: str) -> None:
        try:
            await channel.user_event(dv.EVENT_CALL_FAILED, Reason=reason[:200])
            await channel.play(self.config.prompt("sorry"))
        except Exception:
            log.warning("call %s: could not play the apology", channel.uniqueid)
        finally:
            try:
                await channel.hangup()
            except Exception:
                log.warning("call %s: could not hang up", channel.uniqueid)
