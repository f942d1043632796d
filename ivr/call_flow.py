"""The hotline call flow, run by FastAGI for every incoming call.

answer → mandatory notice → (notice finished) → MixMonitor, caller left / far side right →
operator queue with hold prompts → no operator in time, or outside service hours: invite a
message, record it until silence or the length limit → thank → hang up.
No IVR menu (GB/T 33358). Any failure ends with a spoken apology and a hang-up.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from panoramisk.fast_agi import Request

from ivr import dialplan_variables as dv
from ivr.agi_channel import AgiChannel, CallerHungUp

log = logging.getLogger(__name__)

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
            await channel.execute("Queue", f"{cfg.queue_name},,,,{cfg.queue_wait_seconds}")
            status = await channel.get_variable(dv.QUEUE_STATUS)
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
