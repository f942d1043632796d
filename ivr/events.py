"""Typed domain events for calls. The AMI adapter produces them; nothing else sees AMI dicts."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class CallEvent:
    uniqueid: str
    at: dt.datetime


@dataclass(frozen=True)
class CallStarted(CallEvent):
    linkedid: str
    channel: str
    caller_number: str
    caller_name: str
    dialled_number: str


@dataclass(frozen=True)
class NoticeFinished(CallEvent):
    pass


@dataclass(frozen=True)
class RecordingStarted(CallEvent):
    path: str


@dataclass(frozen=True)
class CallQueued(CallEvent):
    queue: str


@dataclass(frozen=True)
class OperatorRinging(CallEvent):
    operator: str


@dataclass(frozen=True)
class OperatorAnswered(CallEvent):
    operator: str


@dataclass(frozen=True)
class MessageStarted(CallEvent):
    reason: str


@dataclass(frozen=True)
class CallerAbandoned(CallEvent):
    pass


@dataclass(frozen=True)
class CallFailed(CallEvent):
    """The call is lost and over at ``at``: no hang-up will come (reconciliation)."""

    reason: str


@dataclass(frozen=True)
class FailureFound(CallEvent):
    """A failure learnt of while the call is still up (the dialplan apologises; its hang-up
    follows): the call will end as failed, at its hang-up."""

    reason: str


@dataclass(frozen=True)
class CallHungUp(CallEvent):
    cause: int
    cause_text: str
