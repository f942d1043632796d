"""``hotline serve NAME``: one service in the foreground; this module wires each process."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path

import click
import uvicorn

from api.app import create_app
from asr import live_listener
from asr import service as asr_service
from asr.model_install import active_model
from asr.stream_engines import recogniser_factory
from core.db import make_engine, make_session_factory
from core.settings import Settings
from hotline import ivr_service, sip_router
from hotline.cli import context
from ivr import asterisk_install

log = logging.getLogger(__name__)

# How the pool starts each of its workers: this command again, as another process.
ASR_WORKER_COMMAND = (sys.executable, "-m", "hotline.cli", "serve", "asr-worker")


@click.command()
@click.argument(
    "name", type=click.Choice(["ivr", "asr", "asr-worker", "asr-live", "api", "sip-router"])
)
@click.argument("worker", default="asr-1")
@click.option(
    "--pool",
    "pool_pid",
    type=int,
    default=None,
    help="The pid of the pool an asr-worker belongs to: it stops when that is gone",
)
@click.option(
    "--folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The sip-router's folder (configuration, run files); default <data_dir>/sip-router",
)
def serve(name: str, worker: str, pool_pid: int | None, folder: Path | None) -> None:
    """Run one service in the foreground (used by 'hotline up'). WORKER names an asr-worker."""
    context.setup_logging()
    settings = context.settings()
    if name == "asr":
        asr_service.run_pool(settings, ASR_WORKER_COMMAND)
    elif name == "asr-worker":
        asr_service.run_worker(settings, worker, parent=pool_pid)
    elif name == "asr-live":
        serve_live(settings)
    elif name == "sip-router":
        sys.exit(serve_sip_router(settings, folder or sip_router.default_folder(settings)))
    elif name == "ivr":
        install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
        if install is None:
            raise click.ClickException("Asterisk is not installed: run 'hotline setup'")
        asyncio.run(ivr_service.run(settings, install.modules_dir))
    else:
        uvicorn.run(
            create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info"
        )


def serve_live(settings: Settings) -> None:
    """The live stream listener with the active model, loaded once. With no model, or live
    transcription off, it does not listen (calls go to the batch workers) and says why."""
    state = live_listener.state_file(settings.run_dir)
    model = active_model(settings)
    if settings.asr_live_capacity == 0:
        why = "live transcription is off (asr_live_capacity is 0)"
    elif model is None:
        why = "no model installed ('hotline asr install-model')"
    else:
        why = ""
        try:
            recognisers = recogniser_factory(model, settings)
        except Exception as exc:  # a broken model folder: say so, calls go batch
            log.exception("the live recogniser cannot load %s", model)
            why = f"the model in {model} cannot be loaded: {exc}"
    if why:
        log.warning(
            "not listening for live streams: %s; calls are transcribed from their recordings", why
        )
        live_listener.write_idle_state(state, why)
        asyncio.run(live_listener.idle_until_stopped())
        return
    host, port = settings.asr_live_host, settings.asr_live_port
    engine = make_engine(settings.effective_database_url)
    listener = live_listener.LiveListener(
        make_session_factory(engine),
        recognisers,
        address=settings.asr_live_name or f"{host}:{port}",
        also_known_as=tuple(f"{h}:{p}" for h, p in settings.live_recognisers if p == port),
        capacity=settings.asr_live_capacity,
        stall_seconds=settings.asr_live_stall_seconds,
        grace_seconds=settings.asr_live_grace_seconds,
        state_path=state,
        heartbeat_seconds=settings.node_heartbeat_seconds,  # registered for the nodes
    )
    try:
        asyncio.run(live_listener.run_until_stopped(listener, host, port))
    finally:
        engine.dispose()


def serve_sip_router(settings: Settings, folder: Path) -> int:
    """Kamailio in front of the nodes, its weights kept current (Issue 18, H4)."""
    return sip_router.serve(settings, folder)
