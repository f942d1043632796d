"""The ``hotline`` command: set-up, process control, calls and test phones.

Each command group lives in its own module beside this one and imports what it needs at the
top; the shared pieces (settings, logging, the database) are in ``hotline.cli.context``.

Lazy loading, on purpose: the top-level group imports a command's module by name only when
that command runs (``importlib.import_module``, see ``LazyGroup``), so ``hotline --help`` and
``hotline status`` do not pay for the web app, the ORM of every stage and the speech engine.
The list in ``hotline --help`` comes from ``COMMANDS``, whose one-line summaries a test keeps
equal to the commands' own.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass

import click

from core import privacy

__all__ = ["COMMANDS", "LazyGroup", "main"]


@dataclass(frozen=True)
class CommandEntry:
    """Where a top-level command is defined, and its one-line summary for ``--help``."""

    module: str
    summary: str

    def load(self, name: str) -> click.Command:
        command = getattr(importlib.import_module(f"hotline.cli.{self.module}"), name)
        assert isinstance(command, click.Command), f"hotline.cli.{self.module}.{name}"
        return command


COMMANDS: dict[str, CommandEntry] = {
    "asr": CommandEntry("transcription", "Speech models and the transcription queue."),
    "calls": CommandEntry("calls", "List calls, newest first."),
    "cluster": CommandEntry("cluster", "Several nodes behind Kamailio on this machine: up, down."),
    "db": CommandEntry("setup", "Database maintenance."),
    "deadline": CommandEntry(
        "deadlines",
        "Print the date N working days after DATE "
        "(YYYY-MM-DD); the first counted day is the first working day "
        "after DATE.",
    ),
    "dial": CommandEntry(
        "calls",
        "Call the running hotline with SIPp, speak AUDIO (a WAV file), hang up, print the call.",
    ),
    "down": CommandEntry("control", "Stop every part of the hotline."),
    "metrics": CommandEntry(
        "metrics", "Operations metrics (/metrics): the token for scraping from another host."
    ),
    "recordings": CommandEntry("recordings", "The recording store: integrity and retention."),
    "route": CommandEntry(
        "routing", "Routing-category suggestions: train the text classifier, classify cases."
    ),
    "serve": CommandEntry("serve", "Run one service in the foreground (used by 'hotline up')."),
    "setup": CommandEntry(
        "setup",
        "Install Asterisk if needed, render its configuration, make prompts, migrate the DB.",
    ),
    "status": CommandEntry(
        "control", "Report each part and node; exit 1 when a part here is not running."
    ),
    "transcribe": CommandEntry(
        "transcription",
        "Transcribe any audio file with the speech model in use (Vosk or Whisper).",
    ),
    "transcript": CommandEntry(
        "transcription", "Print a call's transcript (segments by speaker, with times)."
    ),
    "up": CommandEntry(
        "start", "Start Asterisk, the telephony service and the API; return once each answers."
    ),
    "user": CommandEntry("users", "Console accounts."),
}


class LazyGroup(click.Group):
    """A group whose commands are imported from ``COMMANDS`` when one is run."""

    def list_commands(self, ctx: click.Context) -> list[str]:  # noqa: ARG002
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:  # noqa: ARG002
        entry = COMMANDS.get(cmd_name)
        return None if entry is None else entry.load(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from the summaries in ``COMMANDS``, imported from nowhere."""
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = [
            (name, click.Command(name, help=COMMANDS[name].summary).get_short_help_str(limit))
            for name in names
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
def main() -> None:
    """Telephony hotline and call-recording intake."""
    os.umask(privacy.UMASK)  # every service and command keeps what it writes to itself
