"""Turn AMI messages into typed call events. Thin on purpose: no state, no I/O."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from ivr import dialplan_variables as dv
from ivr import events as ev


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


def _caller_field(value: str | None) -> str:
    text = (value or "").strip()
    return "" if text in {"<unknown>", "unknown"} else text


def to_domain_event(message: Mapping[str, str], config: AdapterConfig) -> ev.CallEvent | None:
    """Return the domain event an AMI message stands for, or ``None`` when it is not one."""
    name = message.get("Event", "")
    uniqueid = message.get("Uniqueid", "")
    if not name or not uniqueid:
        return None
    match name:
        case "Newchannel":
            if message.get("Context") != config.caller_context:
                return None
            if message.get("Exten") != config.hotline_number:
                return None
            return ev.CallStarted(
                uniqueid=uniqueid,
                at=event_time(message),
                linkedid=message.get("Linkedid", uniqueid),
                channel=message.get("Channel", ""),
                caller_number=_caller_field(message.get("CallerIDNum")),
                caller_name=_caller_field(message.get("CallerIDName")),
                dialled_number=message.get("Exten", ""),
            )
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
                operator=message.get("MemberName") or message.get("Interface", ""),
            )
        case "AgentConnect":
            return ev.OperatorAnswered(
                uniqueid=uniqueid,
                at=event_time(message),
                operator=message.get("MemberName") or message.get("Interface", ""),
            )
        case "QueueCallerAbandon":
            return ev.CallerAbandoned(uniqueid=uniqueid, at=event_time(message))
        case "UserEvent":
            return _user_event(message, uniqueid)
        case _:
            return None


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
            return ev.CallFailed(uniqueid=uniqueid, at=at, reason=message.get("Reason", "error"))
        case _:
            return None
