"""Which recogniser takes a call, and the AMI actions that ask Asterisk for a speaker's voice."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import pytest

from asr.channels import CALLER, OPERATOR
from asr.live_models import LiveStream, StreamStatus
from asr.live_requests import (
    NEVER_CONNECTED,
    admit,
    may_stream_operator,
    new_stream,
    originate_action,
    originate_failure,
    parse_recogniser,
    recogniser_name,
)

NOW = dt.datetime(2026, 5, 4, 9, 30, tzinfo=dt.UTC)
A = ("127.0.0.1", 9092)
B = ("10.0.0.7", 9100)


@pytest.mark.parametrize(
    ("recognisers", "load", "capacity", "chosen"),
    [
        ([A], {}, 2, A),  # nobody streaming
        ([A], {"127.0.0.1:9092": 1}, 2, A),
        ([A], {"127.0.0.1:9092": 2}, 2, None),  # full: the call is transcribed afterwards
        ([A, B], {"127.0.0.1:9092": 2}, 2, B),  # the next one listed takes it
        ([A, B], {"127.0.0.1:9092": 1, "10.0.0.7:9100": 0}, 2, A),  # in the order listed
        ([A, B], {"127.0.0.1:9092": 2, "10.0.0.7:9100": 2}, 2, None),
        ([A], {"10.0.0.7:9100": 5}, 1, A),  # another recogniser's load does not count here
        ([A, B], {}, 0, None),  # capacity 0: live transcription is off
        ([], {}, 2, None),
    ],
)
def test_admission(
    recognisers: list[tuple[str, int]],
    load: dict[str, int],
    capacity: int,
    chosen: tuple[str, int] | None,
) -> None:
    assert admit(recognisers, load, capacity) == chosen


@pytest.mark.parametrize("recogniser", [A, B, ("::1", 9092), ("asr-2.internal", 9092)])
def test_a_recogniser_name_reads_back(recogniser: tuple[str, int]) -> None:
    assert parse_recogniser(recogniser_name(recogniser)) == recogniser


def _stream(
    speaker: str = CALLER, channel: str = "PJSIP/callers-0000002a", **values: Any
) -> LiveStream:
    stream = new_stream("1796242728.0", speaker, channel, "127.0.0.1:9092", 0.0, NOW)
    for name, value in values.items():
        setattr(stream, name, value)
    return stream


def test_a_new_stream_is_requested_under_a_fresh_uuid() -> None:
    first, second = _stream(), _stream()
    assert first.status == StreamStatus.REQUESTED and first.reason == ""
    assert str(uuid.UUID(first.id)) == first.id and first.id != second.id
    assert new_stream("1.1", OPERATOR, "PJSIP/8001-1", "h:1", 2.34567, NOW).offset_seconds == 2.346
    assert new_stream("1.1", OPERATOR, "PJSIP/8001-1", "h:1", -0.2, NOW).offset_seconds == 0.0


@pytest.mark.parametrize(
    ("host", "port", "channel"),
    [
        ("127.0.0.1", 9092, "AudioSocket/127.0.0.1:9092/{id}/c(slin16)"),
        ("asr-2.internal", 9100, "AudioSocket/asr-2.internal:9100/{id}/c(slin16)"),
        ("::1", 9092, "AudioSocket/[::1]:9092/{id}/c(slin16)"),
    ],
)
def test_the_originate_sends_the_spied_channels_own_voice(
    host: str, port: int, channel: str
) -> None:
    stream = _stream()
    action = originate_action(stream, host, port)
    assert action == {
        "Action": "Originate",
        "Channel": channel.format(id=stream.id),
        "Application": "ChanSpy",
        # quiet, end with the spied channel, only its own voice, this exact channel
        "Data": "PJSIP/callers-0000002a,qEou",
        "Timeout": "5000",
        "Async": "true",
    }


def test_an_id_that_is_not_a_uuid_never_reaches_a_dial_string() -> None:
    with pytest.raises(ValueError):
        originate_action(_stream(id="x/AudioSocket/evil"), "127.0.0.1", 9092)


QUEUED = {"Response": "Success", "Message": "Originate successfully queued"}


def _response(response: str, reason: str) -> dict[str, str]:
    return {"Event": "OriginateResponse", "Response": response, "Reason": reason}


@pytest.mark.parametrize(
    ("reply", "failure"),
    [
        ([QUEUED, _response("Success", "4")], None),
        ([QUEUED, _response("Failure", "0")], "could not create the AudioSocket channel"),
        ([QUEUED, _response("Failure", "8")], "could not connect to the recogniser"),
        ([QUEUED, _response("Failure", "1")], "hung up at once"),
        ([QUEUED, _response("Failure", "42")], "reason 42"),
        (
            {"Response": "Error", "Message": "Originate Access Forbidden: app or data blacklisted"},
            "Originate refused: Originate Access Forbidden",
        ),
        ([QUEUED], "Originate refused"),  # no OriginateResponse in the reply
        ([], "unreadable reply"),
        (None, "unreadable reply"),
    ],
)
def test_how_an_originate_ended(reply: object, failure: str | None) -> None:
    found = originate_failure(reply)
    if failure is None:
        assert found is None
    else:
        assert found is not None and failure in found


@pytest.mark.parametrize(
    ("streams", "channel", "allowed"),
    [
        ([], "PJSIP/8001-1", False),  # the caller was not admitted
        ([_stream(status=StreamStatus.REQUESTED)], "PJSIP/8001-1", True),
        ([_stream(status=StreamStatus.LIVE)], "PJSIP/8001-1", True),
        ([_stream(status=StreamStatus.BROKEN, reason=NEVER_CONNECTED)], "PJSIP/8001-1", False),
        (
            [_stream(status=StreamStatus.LIVE), _stream(OPERATOR, "PJSIP/8001-1")],
            "PJSIP/8001-1",
            False,  # streamed already (Asterisk connected the same leg again)
        ),
        (
            [_stream(status=StreamStatus.LIVE), _stream(OPERATOR, "PJSIP/8001-1")],
            "PJSIP/8002-2",
            True,  # the party the call was transferred to
        ),
    ],
)
def test_the_operator_is_streamed_only_with_an_admitted_unbroken_caller(
    streams: list[LiveStream], channel: str, allowed: bool
) -> None:
    caller = may_stream_operator(streams, channel)
    assert (caller is not None) == allowed
    if caller is not None:
        assert caller.speaker == CALLER
