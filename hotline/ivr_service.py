"""Wiring of the telephony process: FastAGI call flow, AMI listener, call tracker, and the
requests for each speaker's live audio (``asr.live_requests``, sent over the AMI connection)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import signal
from collections.abc import Callable
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from asr import live_finish
from asr.live_requests import LiveRequests, SendAction
from core import secrets as secrets_mod
from core.clock import utc_now
from core.db import make_engine, make_session_factory
from core.settings import Settings
from dispatch.cases.recording_links import link_recording
from dispatch.feedback.callback_dialer import dialer_for
from dispatch.feedback.callback_survey import survey_for
from dispatch.feedback.operator_dialer import operator_dialer_for
from hotline.ivr_status import NodeHeartbeat, status_file, write_status
from ivr import dialplan_variables as dv
from ivr import phones
from ivr.ami_adapter import AdapterConfig
from ivr.ami_listener import AmiListener
from ivr.asterisk_config import AsteriskDirs
from ivr.call_flow import CallFlow, CallFlowConfig
from ivr.call_tracker import CallTracker, LiveAudio, TrackerPaths
from ivr.fastagi import FastAgiApplication
from ivr.node_models import NodeBeat
from ivr.sip_router_config import ROUTER_USER
from recordings import offload
from recordings.ingest import RecordingIngest

log = logging.getLogger(__name__)

DEFAULT_GRACE_SECONDS: float = Settings.model_fields["asr_live_grace_seconds"].default


def call_flow_config(settings: Settings) -> CallFlowConfig:
    start, end = settings.service_hours_window()
    return CallFlowConfig(
        sounds_dir=settings.sounds_dir,
        spool_dir=settings.spool_dir,
        queue_name=settings.queue_name,
        queue_wait_seconds=settings.queue_wait_seconds,
        message_max_seconds=settings.message_max_seconds,
        message_silence_seconds=settings.message_silence_seconds,
        service_start=start,
        service_end=end,
        timezone=ZoneInfo(settings.timezone),
        # Issue 18, H4: overflow between nodes behind the SIP router.
        overflow_in=bool(settings.sip_router),
        overflow_dial=(
            f"PJSIP/{settings.hotline_number}@{ROUTER_USER}"
            if settings.sip_router and settings.overflow_seconds
            else ""
        ),
        overflow_seconds=settings.overflow_seconds,
        node_name=settings.node_name,
    )


def recording_ingest(
    sessions: sessionmaker[Session],
    recordings_dir: Path,
    clock: Callable[[], dt.datetime],
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
) -> RecordingIngest:
    """The store's ingest as this process runs it: the case registered from the call is
    linked to its recording (dispatch), and a stored recording is queued for transcription
    (asr) — held ``grace_seconds`` from the batch workers while the call's live streams
    finish its transcript, if it had streams that did not break."""
    return RecordingIngest(
        sessions,
        recordings_dir,
        clock,
        link_case=link_recording,
        on_stored=partial(live_finish.enqueue_live_aware, grace_seconds=grace_seconds),
    )


def build_tracker(
    sessions: sessionmaker[Session],
    paths: TrackerPaths,
    recordings_dir: Path,
    clock: Callable[[], dt.datetime],
    ingest_timeout: float,
    grace_seconds: float = DEFAULT_GRACE_SECONDS,
    live: LiveAudio | None = None,
) -> CallTracker:
    """The call tracker, handing finished calls' recordings to :func:`recording_ingest`
    and, if given, telling ``live`` whose voice to stream."""
    return CallTracker(
        sessions,
        paths,
        clock=clock,
        ingest_timeout=ingest_timeout,
        recordings=recording_ingest(sessions, recordings_dir, clock, grace_seconds),
        live=live,
    )


def tracker_for(
    settings: Settings,
    sessions: sessionmaker[Session],
    cdr_csv: Path,
    clock: Callable[[], dt.datetime] = utc_now,
) -> CallTracker:
    """The tracker of this process, from its settings (``cdr_csv``: Asterisk's CDR file).
    Its live audio is attached once the AMI connection exists (:func:`live_audio`)."""
    return build_tracker(
        sessions,
        TrackerPaths(
            settings.spool_dir,
            cdr_csv,
            dv.CONTEXT_CALLERS,
            settings.hotline_number,
            settings.node_name,
        ),
        settings.recordings_dir,
        clock,
        settings.recording_ingest_timeout_seconds,
        settings.asr_live_grace_seconds,
    )


def live_audio(
    settings: Settings,
    sessions: sessionmaker[Session],
    send_action: SendAction,
    clock: Callable[[], dt.datetime] = utc_now,
) -> LiveRequests | None:
    """Live transcription's requests to Asterisk, or ``None`` when it is off (capacity 0).
    The listener has ``asr_live_stall_seconds`` to take a stream once asked."""
    if settings.asr_live_capacity <= 0:
        return None
    return LiveRequests(
        sessions,
        settings.live_recognisers,
        settings.asr_live_capacity,
        send_action,
        clock,
        connect_seconds=settings.asr_live_stall_seconds,
        # An explicit asr_live_recognisers list pins the recognisers; by default the live ones
        # registered in the database come first, this host's listener when none is.
        registered_max_age=None
        if settings.asr_live_recognisers.strip()
        else dt.timedelta(seconds=settings.node_down_seconds),
    )


async def run(settings: Settings, modules_dir: str) -> None:
    loop = asyncio.get_running_loop()
    secrets = secrets_mod.load(settings.data_dir)
    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)
    offload.enable(sessions, settings)  # Issue 18: recordings stored get their upload row
    dirs = AsteriskDirs.for_settings(settings, modules_dir)
    tracker = tracker_for(settings, sessions, dirs.cdr_csv)
    state = {"ami": False, "agi": False}
    board: list[phones.PhoneBoard | None] = [None]  # the operators' phones, once AMI says
    status_path = status_file(settings)
    phones_path = phones.phones_file(settings.run_dir)
    settings.run_dir.mkdir(parents=True, exist_ok=True)

    def report(ami: bool | None = None) -> None:
        if ami is not None:
            state["ami"] = ami
        write_status(status_path, **state)

    app = FastAgiApplication(loop)
    app.add_route(dv.AGI_ROUTE, CallFlow(call_flow_config(settings), clock=utc_now))
    app.add_route(dv.AGI_ROUTE_SATISFACTION, survey_for(settings, sessions, utc_now))
    server = await asyncio.start_server(app.handler, settings.agi_host, settings.agi_port)
    state["agi"] = True
    report()

    listener = AmiListener(
        loop,
        host="127.0.0.1",
        port=settings.ami_port,
        username=secrets.ami_username,
        secret=secrets.ami_secret,
        adapter=AdapterConfig(dv.CONTEXT_CALLERS, settings.hotline_number),
        tracker=tracker,
        on_status=lambda connected: report(ami=connected),
        trace_file=settings.ami_trace_file,
        on_phones=partial(_keep_phones, phones_path, board),
    )
    tracker.live = live_audio(settings, sessions, listener.manager.send_action)
    listener.start()
    consumer = asyncio.create_task(listener.run())
    dialer = dialer_for(settings, sessions, listener, utc_now)
    if dialer is not None:
        dialer.start()
    operator_dialer = operator_dialer_for(settings, sessions, listener, utc_now)
    if operator_dialer is not None:
        operator_dialer.start()

    node_beat = asyncio.create_task(
        NodeHeartbeat(
            sessions,
            partial(_node_beat, settings, utc_now(), state, board, tracker),
            settings.node_heartbeat_seconds,
        ).run()
    )

    # Issue 18: this node's recordings go up to the object store, if one is set.
    offloader = offload.offloader_for(settings, sessions, utc_now)
    uploads = asyncio.create_task(offloader.run()) if offloader is not None else None

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("ivr service up: FastAGI on %s:%d", settings.agi_host, settings.agi_port)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({waiter, consumer}, return_when=asyncio.FIRST_COMPLETED)
    if consumer in done and consumer.exception() is not None:
        log.error("AMI consumer died", exc_info=consumer.exception())
    log.info("ivr service stopping")
    node_beat.cancel()
    if uploads is not None:
        uploads.cancel()
        await asyncio.gather(uploads, return_exceptions=True)
    if dialer is not None:
        await dialer.close()
    if operator_dialer is not None:
        await operator_dialer.close()
    server.close()
    await server.wait_closed()
    listener.close()
    if not consumer.done():
        try:
            await asyncio.wait_for(listener.queue.join(), timeout=10)
        except TimeoutError:
            log.warning("stopping with %d AMI events unapplied", listener.queue.qsize())
    consumer.cancel()
    waiter.cancel()
    await tracker.drain()
    status_path.unlink(missing_ok=True)
    phones_path.unlink(missing_ok=True)
    engine.dispose()


# -- the node's heartbeat (issue 18) ----------------------------------------------------------


def _keep_phones(
    path: Path, board: list[phones.PhoneBoard | None], now: phones.PhoneBoard | None
) -> None:
    """The phones' board to its file (``hotline status``, the console) and for the heartbeat."""
    board[0] = now
    phones.write(path, now)


def _node_beat(
    settings: Settings,
    started_at: dt.datetime,
    state: dict[str, bool],
    board: list[phones.PhoneBoard | None],
    tracker: CallTracker,
) -> NodeBeat:
    """The node's row as this service knows it now."""
    phones_now = board[0] if state["ami"] else None
    return NodeBeat(
        name=settings.node_name,
        sip_address=f"{settings.sip_host}:{settings.sip_port}",
        ami_connected=state["ami"],
        operators_registered=phones_now.registered if phones_now is not None else 0,
        operators_free=phones_now.free if phones_now is not None else 0,
        calls_active=len(tracker.active),
        started_at=started_at,
        at=utc_now(),
        operators_ringing=phones_now.ringing if phones_now is not None else 0,
        operators_busy=phones_now.busy if phones_now is not None else 0,
    )
