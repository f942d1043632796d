"""A transcription worker: claims jobs, transcribes with the model it loaded once, stores the
transcript, renews its lease while it works. Survives bad audio and failed jobs."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from asr.channels import channels_for
from asr.engine import Channel, ModelError, model_name
from asr.engines import BatchEngine, batch_engine, engine_name
from asr.job_policy import RetryPolicy
from asr.model_install import active_model
from asr.records import to_record
from core import pids
from core.clock import utc_now
from core.db import transaction
from core.settings import Settings
from recordings import lookup
from recordings.models import Recording
from recordings.objects import ObjectMissing, StoreUnavailable
from recordings.storage import Storage, storage_for
from recordings.store import sha256_file

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]


class Interrupted(BaseException):
    """Raised in the middle of a job when the worker is told to stop."""


class JobError(RuntimeError):
    """A job cannot be done now (the recording is missing, the model failed…)."""


@dataclass(frozen=True)
class _Work:
    recording_id: str
    key: str  # where its bytes are kept: the data folder, else the object store
    sha256: str
    channels: tuple[Channel, ...]


class Worker:
    def __init__(
        self, settings: Settings, factory: sessionmaker[Session], name: str, clock: Clock = utc_now
    ) -> None:
        self.settings = settings
        self.factory = factory
        self.name = name
        self.clock = clock
        self.policy = RetryPolicy(
            settings.asr_max_attempts, dt.timedelta(seconds=settings.asr_retry_seconds)
        )
        self.lease = dt.timedelta(seconds=settings.asr_lease_seconds)
        self.engine: BatchEngine | None = None
        # The recordings: this host's data folder, else the object store (a worker on
        # another host has only the store and the database).
        self.storage: Storage = storage_for(settings)
        self.busy = False
        self._model_problem = ""
        self._stop: threading.Event | None = None

    def run(self, stop: threading.Event) -> None:
        self._stop = stop
        log.info("worker %s (pid %d) started", self.name, os.getpid())
        self._write_state("idle")
        while not stop.is_set():
            try:
                busy = self.run_once()
            except Interrupted:
                break
            except Exception:  # the database went away, …: log, wait, carry on
                log.exception("worker %s: unexpected error", self.name)
                busy = False
            if not busy:
                stop.wait(self.settings.asr_poll_seconds)
        log.info("worker %s stopped", self.name)

    def run_once(self) -> bool:
        """Take and do one job; False when there was nothing to do (or no model)."""
        engine = self._current_engine()
        if engine is None:
            return False
        claimed = jobs.claim(
            self.factory, self.name, engine.model_name, self.clock(), self.lease, self.policy
        )
        if claimed is None:
            return False
        renewing = _LeaseRenewal(self, claimed.id)
        self.busy = True  # from here on a stop interrupts the job and gives it back
        try:
            if self._stop is not None and self._stop.is_set():
                raise Interrupted  # told to stop while claiming: not a job to start now
            log.info(
                "worker %s: job %d (recording %s, attempt %d)",
                self.name,
                claimed.id,
                claimed.recording_id,
                claimed.attempts,
            )
            self._write_state("busy", claimed.id)
            renewing.start()
            work = self._work_for(claimed)
            with tempfile.TemporaryDirectory(prefix=f"hotline-asr-{self.name}-") as scratch:
                audio = self._audio(work, Path(scratch))
                transcript = engine.transcribe(audio, work.channels)
            record = to_record(transcript, work.sha256, engine.resampling, self.clock())
            with transaction(self.factory) as session:
                stored = jobs.complete(session, claimed.id, record, self.clock())
            log.info(
                "worker %s: job %d done: %s, %.1fs of audio in %.1fs",
                self.name,
                claimed.id,
                stored.status,
                transcript.audio_seconds,
                transcript.decode_seconds,
            )
        except Interrupted:
            self.busy = False
            with transaction(self.factory) as session:
                jobs.release(session, claimed.id, self.name, self.clock())
            log.info("worker %s: stopping; job %d goes back to the queue", self.name, claimed.id)
            raise
        except StoreUnavailable as exc:  # nothing wrong with the job: not an attempt
            now = self.clock()
            later = now + dt.timedelta(seconds=self.settings.object_store_retry_seconds)
            with transaction(self.factory) as session:
                jobs.defer(
                    session, claimed.id, self.name, f"object store unavailable: {exc}", now, later
                )
            log.warning(
                "worker %s: job %d waits for the object store (%s)", self.name, claimed.id, exc
            )
        except Exception as exc:
            reason = str(exc) if isinstance(exc, JobError) else f"{type(exc).__name__}: {exc}"
            with transaction(self.factory) as session:
                status = jobs.fail(
                    session, claimed.id, self.name, reason, self.clock(), self.policy
                )
            log.warning(
                "worker %s: job %d failed (%s), now %s", self.name, claimed.id, reason, status
            )
        finally:
            self.busy = False
            renewing.stop()
            self._write_state("idle")
        return True

    def _work_for(self, claimed: jobs.ClaimedJob) -> _Work:
        with self.factory() as session:
            recording = session.get(Recording, claimed.recording_id)
            if recording is None:
                raise JobError(f"recording {claimed.recording_id} no longer exists")
            call = recording.call
            channels = channels_for(recording.channels, call.recording_started_at, call.answered_at)
            return _Work(recording.id, lookup.key_of(recording), recording.sha256, channels)

    def _audio(self, work: _Work, scratch: Path) -> Path:
        """The recording's bytes in a local file: this host's copy in the data folder if it
        has one, else downloaded from the object store into ``scratch`` and checked against
        the recording's SHA-256 (other bytes are never transcribed under its hash). The
        store unreachable raises StoreUnavailable: the job waits, it has not failed."""
        try:
            path = self.storage.fetch(work.key, scratch)
        except ObjectMissing:
            raise JobError(
                f"the file of recording {work.recording_id} is missing from the store"
            ) from None
        if path.is_relative_to(scratch):
            found = sha256_file(path)
            if found != work.sha256:
                where = self.storage.remote.name if self.storage.remote else "the store"
                raise JobError(
                    f"recording {work.recording_id}: the bytes from {where} do not match its "
                    f"SHA-256 (got {found[:12]}, expected {work.sha256[:12]}); not transcribed"
                )
        return path

    def _current_engine(self) -> BatchEngine | None:
        """The loaded engine, (re)loading only when the model in use changes."""
        path = active_model(self.settings)
        if path is None:
            self._note_model_problem(
                "no speech model installed: jobs wait (install one with "
                "'hotline asr install-model')"
            )
            return None
        if self.engine is None or self.engine.model_path != path:
            try:
                self.engine = batch_engine(path, self.settings)
            except ModelError as exc:
                self._note_model_problem(f"cannot use the speech model: {exc}")
                return None
            self._model_problem = ""
            log.info(
                "worker %s loaded model %s (%s) from %s",
                self.name,
                model_name(path),
                engine_name(path),
                path,
            )
        return self.engine

    def _note_model_problem(self, problem: str) -> None:
        if problem != self._model_problem:
            log.warning("worker %s: %s", self.name, problem)
            self._model_problem = problem
            self.engine = None
            self._write_state("waiting for a model")

    def _write_state(self, state: str, job: int | None = None) -> None:
        """A small status file for 'hotline asr status'."""
        path = state_file(self.settings, self.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "pid": os.getpid(),
            "started": pids.start_time(os.getpid()),
            "state": state,
            "job": job,
            "model": self.engine.model_name if self.engine else None,
            "since": self.clock().isoformat(),
        }
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload))
        temporary.replace(path)


def state_file(settings: Settings, name: str) -> Path:
    return settings.run_dir / "asr" / f"{name}.json"


class _LeaseRenewal:
    """Renews the job's lease every third of its length while the job runs."""

    def __init__(self, worker: Worker, job_id: int) -> None:
        self._worker = worker
        self._job_id = job_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"lease-{job_id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join()

    def _run(self) -> None:
        worker = self._worker
        while not self._stop.wait(worker.lease.total_seconds() / 3):
            try:
                with transaction(worker.factory) as session:
                    kept = jobs.renew(
                        session, self._job_id, worker.name, worker.clock(), worker.lease
                    )
            except Exception:
                log.exception(
                    "worker %s: could not renew the lease of job %d", worker.name, self._job_id
                )
                continue
            if not kept:
                log.warning("worker %s lost job %d to another worker", worker.name, self._job_id)
                return
