"""Which channels of a call's recording hold whose speech. Pure.

MixMonitor's ``D`` option records the caller on the left channel and what the caller hears on
the right. Before an operator answers, the right channel holds only prompts and hold music; a
message, an abandoned call or a call hung up during the notice has only the caller to hear.
"""

from __future__ import annotations

import datetime as dt

from asr.engine import Channel

CALLER, OPERATOR = "caller", "operator"


def channels_for(
    recording_channels: int,
    recording_started_at: dt.datetime | None,
    answered_at: dt.datetime | None,
) -> tuple[Channel, ...]:
    caller = Channel(CALLER, 0)
    if recording_channels < 2 or answered_at is None:
        return (caller,)
    offset = 0.0
    if recording_started_at is not None:
        offset = max(0.0, (answered_at - recording_started_at).total_seconds())
    return caller, Channel(OPERATOR, 1, offset)
