"""The ``hotline`` command: set-up, process control, calls and test phones."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import random
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from hotline.settings import Settings, load_settings

if TYPE_CHECKING:
    from hotline.processes import PartStatus


def _settings() -> Settings:
    try:
        return load_settings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from exc


def _logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


@click.group()
def main() -> None:
    """Telephony hotline and call-recording intake."""


@main.command()
def setup() -> None:
    """Install Asterisk if needed, render its configuration, make prompts, migrate the DB."""
    from hotline import provision
    from ivr.asterisk_install import AsteriskInstallError
    from ivr.prompts import PromptError

    _logging()
    settings = _settings()
    try:
        install = provision.prepare(settings)
    except (AsteriskInstallError, PromptError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"ready: {install.version} (root {install.root}); data in {settings.data_dir}")


@main.command()
@click.option("--timeout", default=90.0, show_default=True, help="Seconds to wait for all parts")
def up(timeout: float) -> None:
    """Start Asterisk, the telephony service and the API; return once each answers."""
    from hotline import processes, provision

    _logging()
    settings = _settings()
    install = provision.prepare(settings)
    try:
        parts = processes.up(settings, install, timeout=timeout)
    except (RuntimeError, TimeoutError) as exc:
        raise click.ClickException(str(exc)) from exc
    _print_parts(parts)


@main.command()
def down() -> None:
    """Stop every part of the hotline."""
    from hotline import processes
    from ivr import asterisk_install

    settings = _settings()
    install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
    processes.down(settings, install)
    click.echo("stopped")


@main.command()
def status() -> None:
    """Report each part; exit 1 when any is not running."""
    from hotline import processes
    from ivr import asterisk_install

    settings = _settings()
    install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
    parts = processes.status(settings, install)
    _print_parts(parts)
    if not all(p.running for p in parts):
        sys.exit(1)


def _print_parts(parts: list[PartStatus]) -> None:
    for part in parts:
        click.echo(f"{part.name:<9} {'up' if part.running else 'DOWN':<5} {part.detail}")


@main.command()
@click.argument("name", type=click.Choice(["ivr", "api"]))
def serve(name: str) -> None:
    """Run one service in the foreground (used by 'hotline up')."""
    _logging()
    settings = _settings()
    if name == "ivr":
        from ivr import asterisk_install, service

        install = asterisk_install.find(settings.asterisk_root, settings.cache_dir)
        if install is None:
            raise click.ClickException("Asterisk is not installed: run 'hotline setup'")
        asyncio.run(service.run(settings, install.modules_dir))
    else:
        import uvicorn

        from api.app import create_app

        uvicorn.run(create_app(settings), host=settings.api_host, port=settings.api_port,
                    log_level="info")


@main.command()
@click.argument("audio", type=click.Path(path_type=Path))
@click.option("--caller", default=None, help="Caller number (default: a random mobile number)")
@click.option("--caller-name", default="", help="Caller display name")
@click.option("--number", default=None, help="Number to dial (default: the hotline number)")
@click.option("--wait", "wait_seconds", type=float, default=None,
              help="Seconds of silence before speaking (default: until the notice has played)")
@click.option("--timeout", default=120.0, show_default=True,
              help="Seconds to wait for the hotline to log the call")
@click.option("--json", "as_json", is_flag=True, help="Print the call record as JSON")
def dial(audio: Path, caller: str | None, caller_name: str, number: str | None,
         wait_seconds: float | None, timeout: float, as_json: bool) -> None:
    """Call the running hotline with SIPp, speak AUDIO (a WAV file), hang up, print the call."""
    from hotline.db import make_engine, make_session_factory
    from hotline.waiting import wait_for
    from ivr import call_store, prompts
    from ivr.sip_phones import DialError, place_call, wav_duration

    settings = _settings()
    try:
        wav_duration(audio)
    except DialError as exc:
        raise click.ClickException(str(exc)) from exc
    caller = caller or f"13{random.randint(0, 999_999_999):09d}"
    if wait_seconds is None:
        notice = prompts.prompt_path(settings.sounds_dir, "notice")
        wait_seconds = prompts.duration_seconds(notice) + 0.3 if notice.exists() else 0.0
    started = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=2)
    try:
        result = place_call(
            audio=audio, number=number or settings.hotline_number, sip_host=settings.sip_host,
            sip_port=settings.sip_port, caller=caller, caller_name=caller_name,
            wait_seconds=wait_seconds,
        )
    except DialError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.sipp_exit != 0 and "404" in result.output:
        raise click.ClickException(f"the hotline rejected the call to {number}: not found")

    from api.schemas import CallPublic

    engine = make_engine(settings.effective_database_url)
    sessions = make_session_factory(engine)

    def logged() -> CallPublic | None:
        with sessions() as session:
            call = call_store.latest_call_from(session, caller, started)
            if call is None or not call_store.is_settled(call):
                return None
            return CallPublic.model_validate(call)

    try:
        record = wait_for(logged, timeout, f"the hotline to log the call from {caller}", 0.1)
    except TimeoutError as exc:
        raise click.ClickException(
            f"{exc} (SIPp exit {result.sipp_exit}: {result.output[-300:]})"
        ) from exc
    finally:
        engine.dispose()
    if as_json:
        click.echo(record.model_dump_json(indent=2))
    else:
        _print_call(record)


def _print_call(call: object) -> None:
    from api.schemas import CallPublic

    assert isinstance(call, CallPublic)
    rec = call.recording
    click.echo(f"call {call.id}  {call.started_at:%Y-%m-%d %H:%M:%S}Z  from {call.caller_number}"
               f"  outcome {call.outcome}")
    if rec is not None:
        click.echo(f"  recording {rec.id}  {rec.duration_seconds:.2f}s  {rec.sample_rate} Hz "
                   f"x{rec.channels}  sha256 {rec.sha256}  ({rec.status})")
    else:
        click.echo("  no recording")


@main.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
def calls(limit: int, as_json: bool) -> None:
    """List calls, newest first."""
    from api.schemas import CallPublic
    from hotline.db import make_engine, make_session_factory
    from ivr import call_store

    settings = _settings()
    engine = make_engine(settings.effective_database_url)
    with make_session_factory(engine)() as session:
        records = [CallPublic.model_validate(c) for c in call_store.list_calls(session, limit)]
    engine.dispose()
    if as_json:
        click.echo(json.dumps([r.model_dump(mode="json") for r in records], indent=2,
                              ensure_ascii=False))
        return
    for record in records:
        _print_call(record)


@main.command()
@click.argument("audio", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole transcript as JSON")
def transcribe(audio: Path, as_json: bool) -> None:
    """Transcribe any audio file with the installed Vosk model (HOTLINE_VOSK_MODEL)."""
    import dataclasses
    import subprocess
    import tempfile

    from asr.engine import ModelError, VoskEngine
    from asr.normalize import clean

    settings = _settings()
    if settings.vosk_model is None:
        raise click.ClickException("no speech model: set HOTLINE_VOSK_MODEL to a Vosk model folder")
    if not audio.is_file():
        raise click.ClickException(f"{audio}: no such file")
    try:
        engine = VoskEngine(settings.vosk_model)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    with tempfile.TemporaryDirectory(prefix="hotline-transcribe-") as tmp:
        pcm = Path(tmp) / "audio.wav"
        converted = subprocess.run(["sox", str(audio), "-b", "16", "-e", "signed-integer",
                                    str(pcm)], capture_output=True, text=True, check=False)
        if converted.returncode != 0:
            raise click.ClickException(f"{audio}: not an audio file sox can read "
                                       f"({converted.stderr.strip()})")
        channels = ("caller", "operator")
        result = engine.transcribe(pcm, channels)
    if as_json:
        payload = dataclasses.asdict(result)
        payload["text"] = result.text
        payload["clean_text"] = clean(result.text)
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        click.echo(f"status {result.status}{': ' + result.reason if result.reason else ''}; "
                   f"{result.audio_seconds:.2f}s of audio, model {result.model}")
        for segment in result.segments:
            click.echo(f"[{segment.start:7.2f}-{segment.end:7.2f}] {segment.channel:<8} "
                       f"{clean(segment.text)}")
    if result.status in ("corrupt", "empty"):
        sys.exit(2)


@main.group()
def db() -> None:
    """Database maintenance."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply the migrations."""
    from hotline import migrate

    settings = _settings()
    migrate.upgrade(settings.effective_database_url)
    click.echo("database is current")


if __name__ == "__main__":
    main()
