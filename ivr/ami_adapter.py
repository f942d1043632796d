"""Turn AMI messages into typed call events. Thin on purpose: no state, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ivr import dialplan_variables as dv
from ivr import events as ev
from ivr import fields
from ivr.phones import PhoneChanged, device_state


@dataclass(frozen=True)
class AdapterConfig:
    caller_context: str
    hotline_number: str


def event_time(message: Mapping[str, str]) -> dt.datetime:
    """The event's own timestamp (``timestampevents = yes``); never the listener's clock."""
    raw = message.get("Timestamp")
    if not raw:
        raise ValueError("AMI event without Timestamp: enable timestampevents in manager.conf")
    return dt.datetime.fromtimestamp(float(raw), tz=dt.UTC)


def _int(value: str | None, default: int = 0) -> int:
    try:
        return int(value or default)
    except ValueError:
        return default


def _caller_field(value: str | None, limit: int) -> str:
    """The caller's number or name as the caller's phone sent it: cleaned and bounded."""
    text = fields.clean(value, limit)
    return "" if text in {"<unknown>", "unknown"} else text


def _call_started(message: Mapping[str, str], uniqueid: str, at: dt.datetime) -> ev.CallStarted:
    return ev.CallStarted(
        uniqueid=uniqueid,
        at=at,
        linkedid=fields.clean(message.get("Linkedid") or uniqueid, fields.UNIQUEID),
        channel=fields.clean(message.get("Channel"), fields.CHANNEL),
        caller_number=_caller_field(message.get("CallerIDNum"), fields.NUMBER),
        caller_name=_caller_field(message.get("CallerIDName"), fields.NAME),
        dialled_number=fields.clean(message.get("Exten"), fields.NUMBER),
    )


def _is_hotline_call(message: Mapping[str, str], config: AdapterConfig) -> bool:
    return (
        message.get("Context") == config.caller_context
        and message.get("Exten") == config.hotline_number
    )


def _duration(text: str | None) -> dt.timedelta:
    """CoreShowChannel's ``Duration`` (``HH:MM:SS``); zero when unreadable."""
    try:
        hours, minutes, seconds = (int(part) for part in (text or "").split(":"))
    except ValueError:
        return dt.timedelta(0)
    return dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)


def live_call(
    message: Mapping[str, str], config: AdapterConfig, now: dt.datetime
) -> ev.CallStarted | None:
    """A hotline call still up, from its ``CoreShowChannel`` entry (the reply to
    CoreShowChannels at ``now``): it started ``Duration`` before. ``None`` for other
    channels (operators' legs, call-backs)."""
    uniqueid = message.get("Uniqueid", "")
    if message.get("Event") != "CoreShowChannel" or not uniqueid:
        return None
    if not _is_hotline_call(message, config):
        return None
    return _call_started(message, uniqueid, now - _duration(message.get("Duration")))


def to_domain_event(message: Mapping[str, str], config: AdapterConfig) -> ev.CallEvent | None:
    """Return the domain event an AMI message stands for, or ``None`` when it is not one."""
    name = message.get("Event", "")
    if name in {"BlindTransfer", "AttendedTransfer"}:
        return _transfer(message, name)
    uniqueid = message.get("Uniqueid", "")
    if not name or not uniqueid:
        return None
    match name:
        case "Newchannel":
            if not _is_hotline_call(message, config):
                return None
            return _call_started(message, uniqueid, event_time(message))
        case "Hangup":
            return ev.CallHungUp(
                uniqueid=uniqueid,
                at=event_time(message),
                cause=_int(message.get("Cause")),
                cause_text=message.get("Cause-txt", ""),
            )
        case "QueueCallerJoin":
            return ev.CallQueued(
                uniqueid=uniqueid, at=event_time(message), queue=message.get("Queue", "")
            )
        case "AgentCalled":
            return ev.OperatorRinging(
                uniqueid=uniqueid,
                at=event_time(message),
                operator=_operator(message),
            )
        case "AgentConnect":
            return ev.OperatorAnswered(
                uniqueid=uniqueid,
                at=event_time(message),
                operator=_operator(message),
                operator_channel=fields.clean(message.get("DestChannel"), fields.CHANNEL),
                operator_uniqueid=fields.clean(message.get("DestUniqueid"), fields.UNIQUEID),
            )
        case "BridgeEnter" | "BridgeLeave":
            kind = ev.BridgeEntered if name == "BridgeEnter" else ev.BridgeLeft
            bridge = message.get("BridgeUniqueid", "")
            if not bridge:
                return None
            return kind(
                uniqueid=uniqueid,
                at=event_time(message),
                channel=fields.clean(message.get("Channel"), fields.CHANNEL),
                bridge=fields.clean(bridge, fields.UNIQUEID),
            )
        case "QueueCallerAbandon":
            return ev.CallerAbandoned(uniqueid=uniqueid, at=event_time(message))
        case "UserEvent":
            return _user_event(message, uniqueid)
        case _:
            return None


def _transfer(message: Mapping[str, str], name: str) -> ev.CallTransferred | None:
    """A transfer that succeeded; the transferer is the operator's leg (for an attended
    transfer, the leg that talked to the caller)."""
    if message.get("Result") != "Success":
        return None
    prefix = "Transferer" if name == "BlindTransfer" else "OrigTransferer"
    transferer = message.get(f"{prefix}Uniqueid", "")
    if not transferer:
        return None
    return ev.CallTransferred(
        uniqueid=fields.clean(transferer, fields.UNIQUEID),
        at=event_time(message),
        kind="blind" if name == "BlindTransfer" else "attended",
        transferee=fields.clean(message.get("TransfereeUniqueid"), fields.UNIQUEID),
        target_uniqueid=fields.clean(message.get("TransferTargetUniqueid"), fields.UNIQUEID),
        target_channel=fields.clean(message.get("TransferTargetChannel"), fields.CHANNEL),
        second_leg=fields.clean(message.get("SecondTransfererUniqueid"), fields.UNIQUEID),
        extension=fields.clean(message.get("Extension"), fields.NUMBER),
    )


def _operator(message: Mapping[str, str]) -> str:
    return fields.clean(message.get("MemberName") or message.get("Interface"), fields.OPERATOR)


def _user_event(message: Mapping[str, str], uniqueid: str) -> ev.CallEvent | None:
    at = event_time(message)
    match message.get("UserEvent"):
        case dv.EVENT_NOTICE_FINISHED:
            return ev.NoticeFinished(uniqueid=uniqueid, at=at)
        case dv.EVENT_RECORDING_STARTED:
            return ev.RecordingStarted(uniqueid=uniqueid, at=at, path=message.get("Path", ""))
        case dv.EVENT_MESSAGE_STARTED:
            return ev.MessageStarted(uniqueid=uniqueid, at=at, reason=message.get("Reason", ""))
        case dv.EVENT_CALL_FAILED:
            reason = fields.clean(message.get("Reason"), fields.REASON) or "error"
            # Raised just before the apology: the call ends (as failed) at its hang-up.
            return ev.FailureFound(uniqueid=uniqueid, at=at, reason=reason)
        case dv.EVENT_OVERFLOW_ANSWERED:
            # Issue 18, H4: raised on the leg to the SIP router (this event's channel) once
            # another node's operator answered the caller of the call named in Call.
            call = fields.clean(message.get("Call"), fields.UNIQUEID)
            if not call:
                return None
            return ev.OperatorAnswered(
                uniqueid=call,
                at=at,
                operator=dv.OVERFLOW_OPERATOR,
                operator_channel=fields.clean(message.get("Channel"), fields.CHANNEL),
                operator_uniqueid=fields.clean(uniqueid, fields.UNIQUEID),
            )
        case dv.EVENT_OVERFLOW_LEG:
            # Issue 18, H7: this node's call is the first node's call (Call) passed on here.
            of_call = fields.clean(message.get("Call"), fields.UNIQUEID)
            if not of_call:
                return None
            return ev.OverflowLeg(
                uniqueid=uniqueid,
                at=at,
                of_call=of_call,
                from_node=fields.clean(message.get("Node"), 16),
            )
        case _:
            return None


def phone_change(message: Mapping[str, str], at: dt.datetime | None = None) -> PhoneChanged | None:
    """An operator phone's state: from ``QueueMemberStatus`` (at the event's own time), or
    from a ``QueueMember`` entry of the ``QueueStatus`` listing (which has no timestamp: at
    ``at``, when the listing was asked for). ``None`` for any other message."""
    match message.get("Event"):
        case "QueueMemberStatus":
            when = event_time(message)
            name = message.get("MemberName") or message.get("Interface")
        case "QueueMember" if at is not None:
            when = at
            name = message.get("Name") or message.get("Location")
        case _:
            return None
    operator = fields.clean(name, fields.OPERATOR)
    if not operator:
        return None
    return PhoneChanged(operator, device_state(message.get("Status")), when)
