"""The ``hotline`` command: set-up, process control, calls and test phones."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import random
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click
from pydantic import ValidationError

from accounts.models import Role
from core.settings import Settings, load_settings

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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


@contextmanager
def _database(settings: Settings, write: bool = False) -> Iterator[Session]:
    """A session (a write transaction with ``write``); database trouble becomes a clear error."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    from core.db import make_engine, make_session_factory, transaction

    engine = make_engine(settings.effective_database_url)
    factory = make_session_factory(engine)
    try:
        with transaction(factory) if write else factory() as session:
            yield session
    except (OperationalError, ProgrammingError) as exc:
        raise click.ClickException(
            f"the database is unreachable or not set up (run 'hotline setup'): {exc.orig}"
        ) from exc
    finally:
        engine.dispose()


@click.group()
def main() -> None:
    """Telephony hotline and call-recording intake."""
    from core import privacy

    os.umask(privacy.UMASK)  # every service and command keeps what it writes to itself


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
@click.argument("start", metavar="DATE", type=click.DateTime(formats=["%Y-%m-%d"]))
@click.option("--working-days", type=click.IntRange(min=0), default=None,
              help="Working days to add (official calendar, 调休 included)")
@click.option("--calendar-days", type=click.IntRange(min=0), default=None,
              help="Calendar days to add instead")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
def deadline(start: dt.datetime, working_days: int | None, calendar_days: int | None,
             as_json: bool) -> None:
    """Print the date N working days after DATE (YYYY-MM-DD); the first counted day is the first
    working day after DATE. Years the package lacks come from <data_dir>/calendar/holidays.toml."""
    from dispatch.deadlines.working_calendar import (
        CalendarFileError,
        WorkingCalendar,
        load_calendar,
    )

    if (working_days is None) == (calendar_days is None):
        raise click.UsageError("give exactly one of --working-days and --calendar-days")
    path = _settings().calendar_file
    if working_days is None:
        result = WorkingCalendar.add_calendar_days(start.date(), calendar_days or 0)
    else:
        try:
            calendar = load_calendar(path, warn_unknown_years=False)
        except CalendarFileError as exc:
            raise click.ClickException(str(exc)) from exc
        result = calendar.add_working_days(start.date(), working_days)
    for year in result.unknown_years:
        click.echo(f"WARNING: provisional: no official holiday schedule for {year} (counted "
                   f"weekends only); add it to {path}", err=True)
    click.echo(json.dumps(result.as_dict()) if as_json else result.date.isoformat())


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
@click.argument("name", type=click.Choice(["ivr", "asr", "asr-worker", "api"]))
@click.argument("worker", default="asr-1")
@click.option("--pool", "pool_pid", type=int, default=None,
              help="The pid of the pool an asr-worker belongs to: it stops when that is gone")
def serve(name: str, worker: str, pool_pid: int | None) -> None:
    """Run one service in the foreground (used by 'hotline up'). WORKER names an asr-worker."""
    _logging()
    settings = _settings()
    if name in ("asr", "asr-worker"):
        from asr import service as asr_service

        if name == "asr":
            asr_service.run_pool(settings)
        else:
            asr_service.run_worker(settings, worker, parent=pool_pid)
    elif name == "ivr":
        from hotline import ivr_service as service
        from ivr import asterisk_install

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
    from core.db import make_engine, make_session_factory
    from core.waiting import wait_for
    from ivr import call_store, prompts
    from phones.sipp import DialError, place_call, wav_duration

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
    from ivr import call_store

    with _database(_settings()) as session:
        records = [CallPublic.model_validate(c) for c in call_store.list_calls(session, limit)]
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
    from asr.model_install import active_model
    from asr.normalize import clean

    settings = _settings()
    model = active_model(settings)
    if model is None:
        raise click.ClickException("no speech model: install one with 'hotline asr "
                                   "install-model' or set HOTLINE_VOSK_MODEL to a model folder")
    if not audio.is_file():
        raise click.ClickException(f"{audio}: no such file")
    try:
        engine = VoskEngine(model, settings.asr_resampling, settings.asr_max_audio_seconds)
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


@main.command()
@click.argument("call_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole transcript as JSON")
def transcript(call_id: str, as_json: bool) -> None:
    """Print a call's transcript (segments by speaker, with times)."""
    from api.schemas import CallTranscript
    from asr import call_transcript as transcripts

    with _database(_settings()) as session:
        found = transcripts.for_call(session, call_id)
        if found is None:
            raise click.ClickException(f"no call {call_id!r}")
        view = CallTranscript.of(found)
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    if view.transcript is None:
        job = view.job
        state = "no recording" if job is None else (
            f"job {job.status}" + (f": {job.last_error}" if job.last_error else ""))
        click.echo(f"call {call_id}: no transcript yet ({state})")
        sys.exit(3)
    text = view.transcript
    click.echo(f"call {call_id}: {text.status}{' - ' + text.reason if text.reason else ''}; "
               f"model {text.model}; {text.audio_seconds:.1f}s of audio in "
               f"{text.decode_seconds:.1f}s")
    for segment in text.segments:
        click.echo(f"[{segment.start:7.2f}-{segment.end:7.2f}] {segment.channel:<8} "
                   f"{segment.clean_text}")


@main.group()
def asr() -> None:
    """Speech models and the transcription queue."""


@asr.command("install-model")
@click.argument("source")
def asr_install_model(source: str) -> None:
    """Install a Vosk model from SOURCE (zip file, unpacked folder or http(s) URL), check it,
    and make it the one in use."""
    from asr.model_install import ModelInstallError, install

    settings = _settings()
    try:
        installed = install(source, settings)
    except ModelInstallError as exc:
        raise click.ClickException(f"model not installed: {exc}") from exc
    click.echo(f"installed {installed.name} in {installed.path} "
               f"({installed.size_bytes / 1e6:.1f} MB)")
    if installed.verified_files:
        click.echo("weights match the published model: " + ", ".join(installed.verified_files))
    if settings.vosk_model is not None:
        click.echo(f"note: HOTLINE_VOSK_MODEL={settings.vosk_model} overrides it")
    else:
        click.echo("now in use; waiting calls are transcribed by the running workers")


@asr.command("status")
@click.option("--json", "as_json", is_flag=True, help="Print JSON")
def asr_status(as_json: bool) -> None:
    """Show the model in use, the workers and the queue."""
    from asr import jobs
    from asr.engine import check_model_folder, model_name
    from asr.model_install import active_model
    from hotline import processes

    settings = _settings()
    model = active_model(settings)
    with _database(settings) as session:
        queue = jobs.summary(session)
    workers = processes.asr_workers(settings)
    problems = check_model_folder(model) if model is not None else []
    parked = [{"job": j.id, "recording": j.recording_id, "attempts": j.attempts,
               "reason": j.last_error} for j in queue.parked]
    report = {
        "model": {"name": model_name(model) if model else None,
                  "path": str(model) if model else None,
                  "complete": model is not None and not problems, "missing": problems},
        "workers": workers,
        "queue": queue.counts,
        "oldest_waiting": queue.oldest_waiting.isoformat() if queue.oldest_waiting else None,
        "parked": parked,
    }
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    if model is None:
        click.echo("model    none installed: calls are recorded and their jobs wait")
    else:
        state = "complete" if not problems else "INCOMPLETE: missing " + ", ".join(problems)
        click.echo(f"model    {model_name(model)} ({model}) {state}")
    click.echo(f"workers  {len(workers)} running"
               + "".join(f"\n  {w['name']} pid {w['pid']} {w['state']}"
                         + (f" job {w['job']}" if w.get("job") else "") for w in workers))
    click.echo("queue    " + ", ".join(f"{k} {v}" for k, v in queue.counts.items())
               + (f"; oldest waiting since {queue.oldest_waiting:%Y-%m-%d %H:%M:%S}Z"
                  if queue.oldest_waiting else ""))
    for job in parked:
        click.echo(f"parked   job {job['job']} (recording {job['recording']}): {job['reason']}")


@asr.command("retry")
@click.argument("job_id", type=int, required=False)
def asr_retry(job_id: int | None) -> None:
    """Put a parked job (or, without JOB_ID, every parked job) back in the queue."""
    from asr import jobs

    with _database(_settings(), write=True) as session:
        count = jobs.retry_parked(session, dt.datetime.now(dt.UTC), job_id)
    if job_id is not None and count == 0:
        raise click.ClickException(f"no parked job {job_id}")
    click.echo(f"{count} job(s) back in the queue")


@main.group()
def user() -> None:
    """Console accounts."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice([role.value for role in Role]))
@click.option("--name", "display_name", default="", help="Name shown in the console")
@click.option("--phone", default="",
              help="The operator's phone (SIP endpoint, e.g. 8001): its calls appear in the "
              "console as they ring")
@click.option("--password-stdin", is_flag=True,
              help="Read the password from standard input (else one is generated and printed)")
def user_add(username: str, role: str, display_name: str, phone: str,
             password_stdin: bool) -> None:
    """Create a console user."""
    import secrets as token_source

    from accounts import service

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = token_source.token_urlsafe(12)
    with _database(_settings(), write=True) as session:
        try:
            service.create_user(session, username, password, Role(role), display_name,
                                dt.datetime.now(dt.UTC), phone=phone)
        except service.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"user {username} ({role}) created")
    if not password_stdin:
        click.echo(f"password: {password}")


@user.command("unlock")
@click.argument("username")
def user_unlock(username: str) -> None:
    """Lift the lock repeated failed log-ins put on an account, at once."""
    from accounts import service

    with _database(_settings(), write=True) as session:
        if not service.unlock(session, username):
            raise click.ClickException(f"no user {username!r}")
    click.echo(f"user {username} unlocked")


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


ROUTING_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "complaints" / "train.csv"


@main.group()
def route() -> None:
    """Routing-category suggestions: train the text classifier, classify cases."""


def _confirmed_routing_examples(settings: Settings) -> list[tuple[str, str]]:
    """(text, category) of the cases operators confirmed at dispatch."""
    from dispatch.routing.suggestions import confirmed_examples

    with _database(settings) as session:
        return confirmed_examples(session)


@route.command("train")
@click.option("--data", "data_files", type=click.Path(path_type=Path), multiple=True,
              help="CSV with text,label columns; repeat for several (default: "
              "../shared/data/complaints/train.csv beside the project)")
@click.option("--output", type=click.Path(path_type=Path), default=None,
              help="Model file (default: <data_dir>/routing/model.npz)")
@click.option("--no-db", is_flag=True,
              help="Leave out the categories operators confirmed in the database")
@click.option("--if-missing", is_flag=True, help="Do nothing when the model file exists")
def route_train(data_files: tuple[Path, ...], output: Path | None, no_db: bool,
                if_missing: bool) -> None:
    """Train the routing classifier on labelled CSVs plus the confirmed cases."""
    import time

    from dispatch.routing.classifier import RoutingModelError, read_labelled_csv, train

    settings = _settings()
    target = output or settings.routing_model_file
    if if_missing and target.exists():
        click.echo(f"model: {target} (exists, kept)")
        return
    examples: list[tuple[str, str]] = []
    try:
        for path in data_files or (ROUTING_DATA,):
            examples += read_labelled_csv(path)
        confirmed = [] if no_db else _confirmed_routing_examples(settings)
        started = time.perf_counter()
        model = train(examples + confirmed)
        model.save(target)
    except RoutingModelError as exc:
        raise click.ClickException(str(exc)) from exc
    source = "not read (--no-db)" if no_db else str(len(confirmed))
    click.echo(f"examples: {model.info['examples']} (CSV {len(examples)}, confirmed cases "
               f"{source})")
    click.echo(f"labels: {', '.join(model.labels)}")
    click.echo(f"time: {time.perf_counter() - started:.1f} s")
    click.echo(f"model: {target}")


@route.command("classify")
@click.option("--input", "input_file", type=click.Path(path_type=Path), required=True,
              help="CSV with id,text columns")
@click.option("--output", "output_file", type=click.Path(path_type=Path), required=True,
              help="Where to write id,label,confidence")
@click.option("--model", "model_file", type=click.Path(path_type=Path), default=None,
              help="Model file (default: <data_dir>/routing/model.npz)")
def route_classify(input_file: Path, output_file: Path, model_file: Path | None) -> None:
    """Suggest the category of every case in a CSV."""
    from dispatch.routing import classifier as routing_model

    path = model_file or _settings().routing_model_file
    if not path.exists():
        raise click.ClickException(f"no routing model: run 'hotline route train' ({path} "
                                   "does not exist)")
    try:
        model = routing_model.RoutingModel.load(path)
        cases = routing_model.read_cases_csv(input_file)
        suggestions = model.classify_many([text for _, text in cases])
        routing_model.write_suggestions_csv(output_file, [case_id for case_id, _ in cases],
                                            suggestions)
    except routing_model.RoutingModelError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{len(cases)} cases classified: {output_file}")


def _register_groups() -> None:
    from hotline.recordings_cli import recordings

    main.add_command(recordings)


_register_groups()

if __name__ == "__main__":
    main()
