"""``hotline up``: prepare what is on disk, start every part, wait until each answers.

Apart from ``status`` and ``down`` because preparing loads the migrations (alembic)."""

from __future__ import annotations

import click

from hotline import processes, provision
from hotline.cli import context


@click.command()
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for all parts")
def up(timeout: float) -> None:
    """Start Asterisk, the telephony service and the API; return once each answers.

    Also the live stream listener (before the telephony service) and the transcription pool."""
    context.setup_logging()
    settings = context.settings()
    install = provision.prepare(settings)
    try:
        parts = processes.up(settings, install, timeout=timeout)
    except (RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    for part in parts:
        click.echo(part.line())
