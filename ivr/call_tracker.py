"""Apply call events to call state, keep the database current, and hand each finished call's
recording to the store (a :class:`RecordingHandoff`, wired by the composition root). Tells
live transcription (a :class:`LiveAudio`, also wired there) whose voice to stream when. Also
reconciles after the AMI connection or either side restarted."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Collection, Coroutine, Sequence
from functools import reduce
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from core.waiting import async_wait_for
from ivr import call_store, cdr
from ivr import events as ev
from ivr.call_state import CallState, TransferWatch, apply
from ivr.models import Call

log = logging.getLogger(__name__)

LOST_REASON = "call lost: Asterisk restarted or the call ended while the listener was away"
ORPHAN_REASON = "recording found in the spool with no call record; rebuilt from it"
UNSEEN_REASON = "call seen only in Asterisk's CDR (listener was away); last application: {app}"
CDR_FAILURE_REASON = "{reason} (seen only in Asterisk's CDR: the listener was away)"


@dataclasses.dataclass(frozen=True)
class LiveCall:
    """A hotline call Asterisk still has, as it describes it on a reconnect: the call's start
    (who called, and since when), and the dialplan's failure reason if it failed the call."""

    started: ev.CallStarted
    failure: str | None = None


@dataclasses.dataclass(frozen=True)
class TrackerPaths:
    """This node's Asterisk: its spool and CDR, the callers' context and number, and the node's
    name (``Settings.node_name``): the tracker writes and reconciles that node's calls only."""

    spool_dir: Path
    cdr_csv: Path
    caller_context: str
    hotline_number: str
    node: str = ""


class RecordingHandoff(Protocol):
    """Where a finished call's spool file goes: the recording store's ingest."""

    def store(self, uniqueid: str) -> Path | None:
        """Take the call's spool file into the store, all or nothing (on failure the file is
        back in the spool). The spool file it took; None when nothing was stored."""

    def claim(self, uniqueid: str, spool_file: Path) -> bool:
        """Give a spool file to its known call if that call has neither a recording nor a
        spool file; False when it is unknown or already has its recording."""


class LiveAudio(Protocol):
    """Live transcription's side of a call: ask Asterisk for a speaker's audio. Each method
    runs as its own task, so a slow request never holds up the events; the methods for one
    call are called in the order the events came."""

    async def recording_started(self, uniqueid: str, channel: str, at: dt.datetime) -> None:
        """The call's recording began at ``at``: stream the caller (``channel``)."""

    async def operator_answered(self, uniqueid: str, channel: str, at: dt.datetime) -> None:
        """An operator's leg (``channel``) was connected to the caller at ``at``."""

    async def transferred(self, uniqueid: str, channel: str, at: dt.datetime) -> None:
        """After a transfer, the new party (``channel``) joined the caller at ``at``."""

    async def call_over(self, uniqueid: str) -> None:
        """The call ended: nothing more will be asked for it."""


def done_marker(spool_file: Path) -> Path:
    """MixMonitor's post-recording command touches this once the file is closed."""
    return spool_file.with_suffix(".done")


class CallTracker:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        paths: TrackerPaths,
        clock: Callable[[], dt.datetime],
        ingest_timeout: float,
        recordings: RecordingHandoff,
        live: LiveAudio | None = None,
    ) -> None:
        self.sessions = sessions
        self.paths = paths
        self.clock = clock
        self.ingest_timeout = ingest_timeout
        self.recordings = recordings
        self.live = live
        self.active: dict[str, CallState] = {}
        self.finishing: set[asyncio.Task[None]] = set()
        self.transfers = TransferWatch()
        self.live_tasks: set[asyncio.Task[None]] = set()

    # -- live events -----------------------------------------------------------------------

    async def handle(self, event: ev.CallEvent) -> None:
        if isinstance(event, ev.CallTransferred):
            log.info(
                "%s transfer by channel %s (transferee %s, to %s)",
                event.kind,
                event.uniqueid,
                event.transferee or "unnamed",
                event.target_channel or event.extension or "unnamed",
            )
        for joined in self.transfers.see(event, self.active.keys()):
            log.info("call %s: %s took it over after a transfer", joined.call, joined.channel)
            if self.live is not None:
                self._live(self.live.transferred(joined.call, joined.channel, joined.at))
        state = self.active.get(event.uniqueid)
        if state is None:
            if not isinstance(event, ev.CallStarted):
                return  # not a hotline call (operator legs, unknown numbers)
            state = CallState(uniqueid=event.uniqueid)
        if isinstance(event, ev.OperatorRinging | ev.OperatorAnswered):
            await asyncio.to_thread(self._announce, event)
        new_state = apply(state, event)
        self._tell_live(state, new_state, event)
        if new_state == state:
            return
        await asyncio.to_thread(self._save, new_state)
        if new_state.is_over:
            self.active.pop(event.uniqueid, None)
            self._finish_later(new_state, wait_for_writer=True)
        else:
            self.active[event.uniqueid] = new_state

    def _tell_live(self, state: CallState, new_state: CallState, event: ev.CallEvent) -> None:
        """The caller's voice from the recording's start (messages too), each operator's
        from the moment they are connected; and the end of the call."""
        live = self.live
        if live is None or state.is_over:
            return
        uniqueid = new_state.uniqueid
        if new_state.is_over:
            self._live(live.call_over(uniqueid))
            return
        started = new_state.recording_started_at
        if state.recording_started_at is None and started is not None and new_state.channel:
            self._live(live.recording_started(uniqueid, new_state.channel, started))
        if isinstance(event, ev.OperatorAnswered) and event.operator_channel:
            self._live(live.operator_answered(uniqueid, event.operator_channel, event.at))

    def _live(self, request: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(request)
        self.live_tasks.add(task)
        task.add_done_callback(self._live_done)

    def _live_done(self, task: asyncio.Task[None]) -> None:
        self.live_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("live audio request failed", exc_info=task.exception())

    def _save(self, state: CallState) -> None:
        with transaction(self.sessions) as session:
            call_store.save_state(session, state, self.paths.node)

    def _announce(self, event: ev.OperatorRinging | ev.OperatorAnswered) -> None:
        """Tell the operator's console that this call rings at, or was answered by, their
        phone. Asterisk rings a phone again after a retry; one event per kind is enough."""
        kind = "ringing" if isinstance(event, ev.OperatorRinging) else "answered"
        with transaction(self.sessions) as session:
            call_store.announce(session, event.uniqueid, event.operator, kind, event.at)

    def _finish_later(self, state: CallState, wait_for_writer: bool) -> None:
        task = asyncio.create_task(self.finish(state, wait_for_writer))
        self.finishing.add(task)
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.finishing.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("storing a recording failed", exc_info=task.exception())

    async def finish(self, state: CallState, wait_for_writer: bool) -> None:
        """Hand the call's recording to the store once Asterisk closed it."""
        if state.recording_path:
            spool = Path(state.recording_path)
        else:
            found = await asyncio.to_thread(self._unnoted_spool_file, state.uniqueid)
            if found is None:
                return
            spool = found
        if wait_for_writer:
            marker = done_marker(spool)

            async def closed() -> bool:
                return marker.exists()

            try:
                await async_wait_for(closed, self.ingest_timeout, f"{marker.name}", 0.05)
            except TimeoutError:
                log.warning(
                    "call %s: recording not closed in time; storing it as it is", state.uniqueid
                )
        await asyncio.to_thread(self.store_recording, state.uniqueid)

    def _unnoted_spool_file(self, uniqueid: str) -> Path | None:
        """The call's own spool file when MixMonitor began it before this ivr noted it (the
        ivr was restarted while the call was live): the call claims it at hang-up, so it is
        stored then rather than left for the next reconciliation."""
        for path in sorted(self.paths.spool_dir.glob(f"*/{uniqueid}.wav")):
            if self.recordings.claim(uniqueid, path):
                log.warning("call %s: recording %s begun before the ivr noted it", uniqueid, path)
                return path
        return None

    def store_recording(self, uniqueid: str) -> None:
        """Hand the call's spool file to the store; once it is in, its done marker goes."""
        spool = self.recordings.store(uniqueid)
        if spool is not None:
            done_marker(spool).unlink(missing_ok=True)

    async def drain(self, timeout: float = 30) -> None:
        pending = self.finishing | self.live_tasks
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    # -- reconciliation -------------------------------------------------------------------

    async def reconcile(
        self, live_uniqueids: Collection[str], live_calls: Sequence[LiveCall] = ()
    ) -> None:
        """Close calls that ended while nobody listened, take up the hotline calls still up
        (``live_calls``: also those that began while nobody listened), store recordings, and
        adopt recordings and CDR rows the database does not know. Safe to run any number of
        times."""
        live = set(live_uniqueids) | {call.started.uniqueid for call in live_calls}
        records = await asyncio.to_thread(cdr.read, self.paths.cdr_csv)
        closed = await asyncio.to_thread(self._close_lost_calls, live, records)
        for state in closed:
            self.active.pop(state.uniqueid, None)
            if self.live is not None:
                self._live(self.live.call_over(state.uniqueid))
        for call in live_calls:
            await self._take_up(call)
        pending = await asyncio.to_thread(self._ended_with_spool)
        for uniqueid in pending:
            await asyncio.to_thread(self.store_recording, uniqueid)
        await asyncio.to_thread(self._adopt_orphans, live, records)
        await asyncio.to_thread(self._adopt_unseen_cdr, live, records)

    async def _take_up(self, call: LiveCall) -> None:
        """Track a live hotline call from here: from its stored state if the database knows
        it, else from Asterisk's description (its true start). A failure the dialplan found
        while nobody listened is noted; the call ends as failed at its hang-up."""
        uniqueid = call.started.uniqueid
        known = self.active.get(uniqueid)
        if known is None:
            known = await asyncio.to_thread(self._stored_state, uniqueid)
        if known is not None and known.is_over:
            return
        state = known if known is not None else CallState(uniqueid=uniqueid)
        events: list[ev.CallEvent] = [] if known is not None else [call.started]
        if call.failure:
            events.append(ev.FailureFound(uniqueid, call.started.at, call.failure))
        new_state = reduce(apply, events, state)
        if new_state != state:
            await asyncio.to_thread(self._save, new_state)
            if known is None:
                log.warning("call %s began while nobody listened: tracked from here", uniqueid)
            if call.failure:
                log.warning("call %s failed while nobody listened: %s", uniqueid, call.failure)
        self.active[uniqueid] = new_state

    def _stored_state(self, uniqueid: str) -> CallState | None:
        with self.sessions() as session:
            call = session.scalar(select(Call).where(Call.asterisk_uniqueid == uniqueid))
            return call_store.state_of(call) if call is not None else None

    def _close_lost_calls(
        self, live: set[str], records: dict[str, cdr.CdrRecord]
    ) -> list[CallState]:
        closed = []
        with transaction(self.sessions) as session:
            for call in call_store.open_calls(session, self.paths.node):
                if call.asterisk_uniqueid in live:
                    self.active.setdefault(call.asterisk_uniqueid, call_store.state_of(call))
                    continue
                state = call_store.state_of(call)
                record = records.get(call.asterisk_uniqueid)
                if record is not None:
                    # Its true end; and if the dialplan failed it, why (the CDR userfield).
                    events: list[ev.CallEvent] = [
                        ev.CallHungUp(call.asterisk_uniqueid, record.end, 16, "reconciled from CDR")
                    ]
                    if record.failure:
                        events.insert(
                            0, ev.FailureFound(call.asterisk_uniqueid, record.end, record.failure)
                        )
                    final = reduce(apply, events, state)
                else:
                    final = apply(
                        state,
                        ev.CallFailed(call.asterisk_uniqueid, self._lost_time(state), LOST_REASON),
                    )
                call_store.save_state(session, final, self.paths.node)
                closed.append(final)
                log.warning(
                    "call %s closed by reconciliation as %s", call.asterisk_uniqueid, final.outcome
                )
        return closed

    def _lost_time(self, state: CallState) -> dt.datetime:
        """The last sign of life: the partial recording's last write, else now."""
        if state.recording_path:
            path = Path(state.recording_path)
            if path.exists():
                return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
        return self.clock()

    def _ended_with_spool(self) -> list[str]:
        with self.sessions() as session:
            return [
                c.asterisk_uniqueid
                for c in call_store.calls_awaiting_recording(session, self.paths.node)
            ]

    def _adopt_orphans(self, live: set[str], records: dict[str, cdr.CdrRecord]) -> None:
        if not self.paths.spool_dir.exists():
            return
        files = [p for p in sorted(self.paths.spool_dir.glob("*/*.wav")) if p.stem not in live]
        if not files:
            return
        with self.sessions() as session:
            known_paths = call_store.known_spool_paths(session, self.paths.node)
            known_ids = call_store.known_uniqueids(session, [p.stem for p in files])
            own_ids = call_store.known_uniqueids(session, [p.stem for p in files], self.paths.node)
        for path in files:
            uniqueid = path.stem
            if str(path) in known_paths:
                continue
            if uniqueid in known_ids and uniqueid not in own_ids:
                log.error("spool file %s is named after another node's call: left alone", path)
                continue
            if uniqueid in known_ids:
                if self.recordings.claim(uniqueid, path):
                    self.store_recording(uniqueid)
                    log.warning(
                        "call %s: recording %s begun before the ivr noted it, stored",
                        uniqueid,
                        path,
                    )
                else:
                    log.error("spool file %s belongs to a call that already has a recording", path)
                continue
            mtime = dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.UTC)
            state = _rebuilt(uniqueid, records.get(uniqueid), ORPHAN_REASON, mtime, str(path))
            with transaction(self.sessions) as session:
                call_store.save_state(session, state, self.paths.node)
            self.store_recording(uniqueid)
            log.warning("adopted orphan recording %s", path)

    def _adopt_unseen_cdr(self, live: set[str], records: dict[str, cdr.CdrRecord]) -> None:
        """Hotline calls that began and ended while the listener was away: CDR only."""
        candidates = [
            r
            for r in records.values()
            if r.dcontext == self.paths.caller_context
            and r.dst == self.paths.hotline_number
            and r.uniqueid not in live
        ]
        if not candidates:
            return
        with transaction(self.sessions) as session:
            known = call_store.known_uniqueids(session, [r.uniqueid for r in candidates])
            for record in candidates:
                if record.uniqueid in known:
                    continue
                reason = (
                    CDR_FAILURE_REASON.format(reason=record.failure)
                    if record.failure
                    else UNSEEN_REASON.format(app=record.lastapp or "none")
                )
                call_store.save_state(
                    session,
                    _rebuilt(record.uniqueid, record, reason, record.end, None),
                    self.paths.node,
                )
                log.warning("call %s known only from the CDR: recorded as failed", record.uniqueid)


def _rebuilt(
    uniqueid: str,
    record: cdr.CdrRecord | None,
    reason: str,
    fallback_time: dt.datetime,
    recording_path: str | None,
) -> CallState:
    """A finished, failed call rebuilt from what is left of it: its CDR row, if any."""
    return CallState(
        uniqueid=uniqueid,
        caller_number=record.src if record else "",
        caller_name=record.caller_name if record else "",
        dialled_number=record.dst if record else "",
        channel=record.channel if record else "",
        started_at=record.start if record else fallback_time,
        recording_path=recording_path,
        failure_reason=reason,
        ended_at=record.end if record else fallback_time,
    )
