"""``hotline up``, ``down`` and ``status``: the hotline's processes as a whole."""

from __future__ import annotations

import sys

import click

from hotline import processes, provision
from hotline.cli import context
from hotline.processes import PartStatus
from ivr import asterisk_install


@click.command()
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for all parts")
def up(timeout: float) -> None:
    """Start Asterisk, the telephony service and the API; return once each answers."""
    context.setup_logging()
    settings = context.settings()
    install = provision.prepare(settings)
    try:
        parts = processes.up(settings, install, timeout=timeout)
    except (RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_parts(parts)


@click.command()
def down() -> None:
    """Stop every part of the hotline."""
    settings = context.settings()
    install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
    processes.down(settings, install)
    click.echo("stopped")


@click.command()
def status() -> None:
    """Report each part; exit 1 when any is not running."""
    settings = context.settings()
    install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
    parts = processes.status(settings, install)
    _print_parts(parts)
    if not all(p.running for p in parts):
        sys.exit(1)


def _print_parts(parts: list[PartStatus]) -> None:
    for part in parts:
        click.echo(f"{part.name:<9} {'up' if part.running else 'DOWN':<5} {part.detail}")
