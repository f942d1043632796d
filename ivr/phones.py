"""The operators' phones as Asterisk's queue sees them: registered (reachable), ringing, on a
call. The ivr service learns them from AMI (``QueueStatus`` when it logs in, then every
``QueueMemberStatus`` event: the ``agent`` class it already reads) and keeps the board in
``<run>/phones.json``; the console and ``/metrics`` read that file (``read``) and never talk to
Asterisk. When the service is not connected to Asterisk, or not running, the board is unknown
(``read`` returns ``None``), never a stale count.

``apply`` is pure: each change carries Asterisk's own timestamp, and a change older than what
the board already knows of that phone (an event queued before the snapshot taken at log-in)
is ignored."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path

from core import pids

FILE_NAME = "phones.json"


class DeviceState(IntEnum):
    """Asterisk's device states (``enum ast_device_state``), as ``Status`` in
    ``QueueMemberStatus`` and ``QueueMember``."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5  # a PJSIP endpoint with no registered contact
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8


# A phone Asterisk can reach: it is registered.
REACHABLE = frozenset(
    {
        DeviceState.NOT_INUSE,
        DeviceState.INUSE,
        DeviceState.BUSY,
        DeviceState.RINGING,
        DeviceState.RINGINUSE,
        DeviceState.ONHOLD,
    }
)
# On a call (ringing again while on one included): the operator is busy.
ON_A_CALL = frozenset(
    {DeviceState.INUSE, DeviceState.BUSY, DeviceState.RINGINUSE, DeviceState.ONHOLD}
)


def device_state(text: str | None) -> DeviceState:
    try:
        return DeviceState(int(text or ""))
    except ValueError:
        return DeviceState.UNKNOWN


@dataclass(frozen=True)
class PhoneChanged:
    """A phone's state as Asterisk reported it at ``at``."""

    operator: str
    state: DeviceState
    at: dt.datetime


@dataclass(frozen=True)
class Phone:
    state: DeviceState
    since: dt.datetime  # when Asterisk reported this state


@dataclass(frozen=True)
class PhoneBoard:
    """Every operator phone Asterisk's queue knows, by operator name."""

    phones: Mapping[str, Phone] = field(default_factory=dict)

    @property
    def registered(self) -> int:
        return sum(1 for phone in self.phones.values() if phone.state in REACHABLE)

    @property
    def busy(self) -> int:
        return sum(1 for phone in self.phones.values() if phone.state in ON_A_CALL)

    @property
    def ringing(self) -> int:
        return sum(1 for phone in self.phones.values() if phone.state is DeviceState.RINGING)

    @property
    def free(self) -> int:
        """Registered, not ringing and not on a call: an operator a new call can reach now."""
        return sum(1 for phone in self.phones.values() if phone.state is DeviceState.NOT_INUSE)


def apply(board: PhoneBoard, change: PhoneChanged) -> PhoneBoard:
    """The board after ``change``; unchanged if the board knows a later state of that phone."""
    known = board.phones.get(change.operator)
    if known is not None and known.since > change.at:
        return board
    return PhoneBoard({**board.phones, change.operator: Phone(change.state, change.at)})


def snapshot(changes: Iterable[PhoneChanged]) -> PhoneBoard:
    """The board from a full listing (``QueueStatus``), replacing whatever was known."""
    board = PhoneBoard()
    for change in changes:
        board = apply(board, change)
    return board


def phones_file(run_dir: Path) -> Path:
    return run_dir / FILE_NAME


def write(path: Path, board: PhoneBoard | None) -> None:
    """Keep ``board`` (``None``: not connected to Asterisk, the phones are unknown) with this
    process's identity, so a reader can tell a board left behind by a dead service."""
    pid = os.getpid()
    data = {
        "pid": pid,
        "started": pids.start_time(pid),
        "connected": board is not None,
        "phones": {
            name: {"state": phone.state.name, "since": phone.since.isoformat()}
            for name, phone in (board.phones.items() if board is not None else ())
        },
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, path)


def read(path: Path) -> PhoneBoard | None:
    """The board the running ivr service keeps; ``None`` when unknown (no service, a board
    left by a service that died, or the service is not connected to Asterisk)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or not data.get("connected"):
        return None
    pid, started = data.get("pid"), data.get("started")
    if not isinstance(pid, int) or not pids.same_process(
        pid, started if isinstance(started, int) else None
    ):
        return None
    phones = {}
    for name, item in dict(data.get("phones") or {}).items():
        try:
            phones[str(name)] = Phone(
                DeviceState[item["state"]], dt.datetime.fromisoformat(item["since"])
            )
        except (KeyError, TypeError, ValueError):
            continue
    return PhoneBoard(phones)
