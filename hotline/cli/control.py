"""``hotline down`` and ``hotline status``: the running hotline's processes as a whole."""

from __future__ import annotations

import sys

import click

from hotline import processes
from hotline.cli import context
from ivr import asterisk_install


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
    for part in parts:
        click.echo(part.line())
    if not all(p.running for p in parts):
        sys.exit(1)
