"""AMI listener: panoramisk in, typed events out, applied one at a time by the tracker."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from panoramisk import Manager

from core.clock import utc_now
from ivr import dialplan_variables as dv
from ivr import fields, phones
from ivr.ami_adapter import AdapterConfig, live_call, phone_change, to_domain_event
from ivr.ami_protocol import Utf8AMIProtocol
from ivr.call_tracker import CallTracker, LiveCall
from ivr.events import CallEvent

log = logging.getLogger(__name__)


class _Reconcile:
    """Queue marker: the connection was (re)established; reconcile before the next event."""


RECONCILE = _Reconcile()


class AmiListener:
    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        *,
        host: str,
        port: int,
        username: str,
        secret: str,
        adapter: AdapterConfig,
        tracker: CallTracker,
        on_status: Callable[[bool], None] = lambda _connected: None,
        trace_file: Path | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        on_phones: Callable[[phones.PhoneBoard | None], None] = lambda _board: None,
    ) -> None:
        self.clock = clock
        self.trace_file = trace_file
        self.adapter = adapter
        self.tracker = tracker
        self.on_status = on_status
        self.connected = False
        # The operators' phones (None while not connected), told to ``on_phones`` at each change.
        self.phones: phones.PhoneBoard | None = None
        self.on_phones = on_phones
        self.queue: asyncio.Queue[CallEvent | phones.PhoneChanged | _Reconcile] = asyncio.Queue()
        self.manager = Manager(
            loop=loop,
            host=host,
            port=port,
            username=username,
            secret=secret,
            protocol_factory=Utf8AMIProtocol,
            ping_delay=5,
            ping_interval=5,
            reconnect_timeout=1,
            on_login=self._on_login,
            on_disconnect=self._on_disconnect,
        )
        self.manager.register_event("*", self._on_event)

    def _on_event(self, _manager: Manager, message: Mapping[str, str]) -> None:
        if self.trace_file is not None:
            with open(self.trace_file, "a", encoding="utf-8") as trace:
                trace.write(json.dumps(dict(message), ensure_ascii=False) + "\n")
        try:
            event = phone_change(message) or to_domain_event(message, self.adapter)
        except ValueError:
            log.exception("unusable AMI event %r", dict(message))
            return
        if event is not None:
            self.queue.put_nowait(event)

    def _on_login(self, _manager: Manager) -> None:
        log.info("AMI logged in")
        self.connected = True
        self.on_status(True)
        self.queue.put_nowait(RECONCILE)

    def _on_disconnect(self, _manager: Manager, exc: Any) -> None:
        log.warning("AMI connection lost: %s", exc)
        self.connected = False
        self.on_status(False)
        self._tell_phones(None)

    def start(self) -> None:
        self.manager.connect()

    def close(self) -> None:
        self.manager.close()

    async def _channels(self) -> tuple[list[Mapping[str, str]], dt.datetime]:
        replies = await self.manager.send_action({"Action": "CoreShowChannels"}, as_list=True)
        now = self.clock()
        if not isinstance(replies, list):
            replies = [replies]
        channels = [
            reply
            for reply in replies
            if reply.get("Event") == "CoreShowChannel" and reply.get("Uniqueid")
        ]
        return channels, now

    async def live_uniqueids(self) -> set[str]:
        channels, _ = await self._channels()
        return {str(channel["Uniqueid"]) for channel in channels}

    async def live_calls(self) -> tuple[set[str], list[LiveCall]]:
        """Every channel Asterisk has now, and the hotline calls among them as Asterisk
        describes them: who called, since when, and the dialplan's failure reason if the
        call flow failed them (it apologises; the hang-up follows)."""
        channels, now = await self._channels()
        calls = []
        for channel in channels:
            started = live_call(channel, self.adapter, now)
            if started is not None:
                failure = await self._variable(started.channel, dv.FAILURE)
                calls.append(LiveCall(started, fields.clean(failure, fields.REASON) or None))
        return {str(channel["Uniqueid"]) for channel in channels}, calls

    async def _variable(self, channel: str, name: str) -> str:
        reply = await self.manager.send_action(
            {"Action": "Getvar", "Channel": channel, "Variable": name}
        )
        if isinstance(reply, list):
            reply = reply[0] if reply else {}
        if reply.get("Response") != "Success":
            return ""  # the channel is gone: its hang-up is on its way
        return str(reply.get("Value") or "")

    def _tell_phones(self, board: phones.PhoneBoard | None) -> None:
        self.phones = board
        try:
            self.on_phones(board)
        except OSError:
            log.exception("could not keep the operators' phones")

    async def refresh_phones(self) -> None:
        """Take every operator phone's state from Asterisk's queue (``QueueStatus``)."""
        replies = await self.manager.send_action({"Action": "QueueStatus"}, as_list=True)
        now = self.clock()
        if not isinstance(replies, list):
            replies = [replies]
        changes = [phone_change(reply, at=now) for reply in replies]
        self._tell_phones(phones.snapshot(change for change in changes if change is not None))

    async def run(self) -> None:
        """Apply queued items forever; one bad item never stops the listener."""
        while True:
            item = await self.queue.get()
            try:
                if isinstance(item, _Reconcile):
                    try:
                        await asyncio.wait_for(self.refresh_phones(), timeout=30)
                    except (TimeoutError, ValueError, KeyError):
                        log.exception("could not read the operators' phones from the queue")
                    live, calls = await asyncio.wait_for(self.live_calls(), timeout=30)
                    await self.tracker.reconcile(live, calls)
                elif isinstance(item, phones.PhoneChanged):
                    if self.phones is not None:
                        self._tell_phones(phones.apply(self.phones, item))
                else:
                    await self.tracker.handle(item)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("failed to apply %r", item)
            finally:
                self.queue.task_done()
