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
    # The operator's own leg (AgentConnect's DestChannel/DestUniqueid): what live audio spies.
    operator_channel: str = ""
    operator_uniqueid: str = ""


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


@dataclass(frozen=True)
class BridgeEntered(CallEvent):
    """A channel (any: ``uniqueid`` is its own, not necessarily a call's) joined a bridge."""

    channel: str
    bridge: str


@dataclass(frozen=True)
class BridgeLeft(CallEvent):
    channel: str
    bridge: str


@dataclass(frozen=True)
class CallTransferred(CallEvent):
    """An operator transferred a call (blind or attended). ``uniqueid`` is the transferer's
    leg; ``transferee`` the party transferred (the caller) when Asterisk names it; ``target``
    the new party when Asterisk already knows it (attended transfers), and ``second_leg`` the
    transferer's leg to the target (attended: never the new party); ``extension`` the
    extension a blind transfer sends the transferee to (Asterisk's BlindTransfer names it, and
    the transfer context's dialplan rings it: the new party joins later)."""

    kind: str  # "blind" or "attended"
    transferee: str = ""
    target_uniqueid: str = ""
    target_channel: str = ""
    second_leg: str = ""
    extension: str = ""


@dataclass(frozen=True)
class OverflowLeg(CallEvent):
    """Issue 18, H7: this node's call is another node's waiting caller passed on to this
    node's queue (overflow): ``of_call`` is the first node's call (its Asterisk uniqueid),
    ``from_node`` that node's name."""

    of_call: str
    from_node: str = ""
