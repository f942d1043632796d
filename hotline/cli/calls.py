"""``hotline dial`` and ``hotline calls``: call the hotline with a SIPp phone, list its calls."""

from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import click

from api.schemas import CallPublic
from core.waiting import wait_for
from hotline.cli import context
from ivr import call_store, prompts
from phones.sipp import DialError, place_call, wav_duration
from recordings import lookup


@click.command()
@click.argument("audio", type=click.Path(path_type=Path))
@click.option("--caller", default=None, help="Caller number (default: a random mobile number)")
@click.option("--caller-name", default="", help="Caller display name")
@click.option("--number", default=None, help="Number to dial (default: the hotline number)")
@click.option(
    "--wait",
    "wait_seconds",
    type=float,
    default=None,
    help="Seconds of silence before speaking (default: until the notice has played)",
)
@click.option(
    "--timeout",
    default=120.0,
    show_default=True,
    help="Seconds to wait for the hotline to log the call",
)
@click.option("--json", "as_json", is_flag=True, help="Print the call record as JSON")
def dial(
    audio: Path,
    caller: str | None,
    caller_name: str,
    number: str | None,
    wait_seconds: float | None,
    timeout: float,
    as_json: bool,
) -> None:
    """Call the running hotline with SIPp, speak AUDIO (a WAV file), hang up, print the call."""
    settings = context.settings()
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
            audio=audio,
            number=number or settings.hotline_number,
            sip_host=settings.sip_host,
            sip_port=settings.sip_port,
            caller=caller,
            caller_name=caller_name,
            wait_seconds=wait_seconds,
        )
    except DialError as exc:
        raise click.ClickException(str(exc)) from exc
    if result.sipp_exit != 0 and "404" in result.output:
        raise click.ClickException(f"the hotline rejected the call to {number}: not found")

    with context.session_factory(settings) as sessions:

        def logged() -> CallPublic | None:
            with sessions() as session:
                call = call_store.latest_call_from(session, caller, started)
                if call is None or not call_store.is_settled(call):
                    return None
                return CallPublic.of(call, lookup.of_call(session, call.id))

        try:
            record = wait_for(logged, timeout, f"the hotline to log the call from {caller}", 0.1)
        except TimeoutError as exc:
            raise click.ClickException(
                f"{exc} (SIPp exit {result.sipp_exit}: {result.output[-300:]})"
            ) from exc
    if as_json:
        click.echo(record.model_dump_json(indent=2))
    else:
        _print_call(record)


@click.command()
@click.option("--limit", default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
def calls(limit: int, as_json: bool) -> None:
    """List calls, newest first."""
    with context.database(context.settings()) as session:
        rows = call_store.list_calls(session, limit)
        found = lookup.of_calls(session, [c.id for c in rows])
        records = [CallPublic.of(c, found.get(c.id)) for c in rows]
    if as_json:
        click.echo(
            json.dumps([r.model_dump(mode="json") for r in records], indent=2, ensure_ascii=False)
        )
        return
    for record in records:
        _print_call(record)


def _print_call(call: CallPublic) -> None:
    rec = call.recording
    click.echo(
        f"call {call.id}  {call.started_at:%Y-%m-%d %H:%M:%S}Z  from {call.caller_number}"
        f"  outcome {call.outcome}"
    )
    if rec is not None:
        click.echo(
            f"  recording {rec.id}  {rec.duration_seconds:.2f}s  {rec.sample_rate} Hz "
            f"x{rec.channels}  sha256 {rec.sha256}  ({rec.status})"
        )
    else:
        click.echo("  no recording")
