"""Pure parts of transcription: retry policy, channel plan, error rate."""

from __future__ import annotations

import datetime as dt

from asr.channels import channels_for
from asr.engine import Channel
from asr.job_policy import RetryPolicy
from asr.metrics import character_errors, comparable
from asr.models import JobStatus

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


def test_retry_delay_doubles_and_is_capped_then_the_job_is_parked() -> None:
    policy = RetryPolicy(4, dt.timedelta(seconds=30), dt.timedelta(seconds=100))
    assert [policy.delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    assert policy.after_failure(1, T0) == (JobStatus.QUEUED, T0 + dt.timedelta(seconds=30))
    assert policy.after_failure(3, T0) == (JobStatus.QUEUED, T0 + dt.timedelta(seconds=100))
    assert policy.after_failure(4, T0) == (JobStatus.PARKED, T0)


def test_operator_channel_starts_at_the_answer() -> None:
    answered = T0 + dt.timedelta(seconds=12.5)
    assert channels_for(2, T0, answered) == (Channel("caller", 0), Channel("operator", 1, 12.5))
    assert channels_for(2, T0, None) == (Channel("caller", 0),), "a message: caller only"
    assert channels_for(1, T0, answered) == (Channel("caller", 0),)
    early = T0 - dt.timedelta(seconds=1)
    assert channels_for(2, T0, early)[1].from_seconds == 0.0


def test_character_error_rate_ignores_spaces_and_punctuation() -> None:
    assert comparable("您好， 我 要投诉！") == "您好我要投诉"
    assert character_errors("相比于其他一线城市", "相比 于 其它一线城市") == (1, 9)
    assert character_errors("换一首歌", "") == (4, 4)
    assert character_errors("", "多余") == (2, 0)
