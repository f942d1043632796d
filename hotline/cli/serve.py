"""``hotline serve NAME``: one service in the foreground; this module wires each process."""

from __future__ import annotations

import asyncio
import sys

import click
import uvicorn

from api.app import create_app
from asr import service as asr_service
from hotline import ivr_service
from hotline.cli import context
from ivr import asterisk_install

# How the pool starts each of its workers: this command again, as another process.
ASR_WORKER_COMMAND = (sys.executable, "-m", "hotline.cli", "serve", "asr-worker")


@click.command()
@click.argument("name", type=click.Choice(["ivr", "asr", "asr-worker", "api"]))
@click.argument("worker", default="asr-1")
@click.option(
    "--pool",
    "pool_pid",
    type=int,
    default=None,
    help="The pid of the pool an asr-worker belongs to: it stops when that is gone",
)
def serve(name: str, worker: str, pool_pid: int | None) -> None:
    """Run one service in the foreground (used by 'hotline up'). WORKER names an asr-worker."""
    context.setup_logging()
    settings = context.settings()
    if name == "asr":
        asr_service.run_pool(settings, ASR_WORKER_COMMAND)
    elif name == "asr-worker":
        asr_service.run_worker(settings, worker, parent=pool_pid)
    elif name == "ivr":
        install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
        if install is None:
            raise click.ClickException("Asterisk is not installed: run 'hotline setup'")
        asyncio.run(ivr_service.run(settings, install.modules_dir))
    else:
        uvicorn.run(
            create_app(settings), host=settings.api_host, port=settings.api_port, log_level="info"
        )
