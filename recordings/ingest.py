"""Recording ingest: a finished call's spool file enters the store (moved, hashed, fsynced),
its row is linked to its call and to the case registered from it, and it is entered in the
manifest, all or nothing. What follows a stored recording (its transcription) and the case
side of the links belong to later stages: they are handed in (``on_stored``,
``link_case``) by the composition root."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core import wav
from core.db import transaction
from ivr.models import Call
from recordings import links, lookup, manifest, store
from recordings.models import Recording

log = logging.getLogger(__name__)

# What a later stage does with a recording just stored, inside the same transaction.
OnStored = Callable[[Session, Recording, dt.datetime], object]


def attach(
    session: Session,
    call: Call,
    stored: store.StoredFile,
    now: dt.datetime,
    *,
    link_case: links.CaseLinker,
    on_stored: OnStored,
) -> Recording:
    """Link a stored file to its call (and to the case registered from it, if any), add it
    to the manifest and hand it to ``on_stored``, in the caller's transaction."""
    links.check(session, call, stored.id, stored.relative_path)
    recording = Recording(
        id=stored.id,
        call_id=call.id,
        path=stored.relative_path,
        sha256=stored.sha256,
        size_bytes=stored.size_bytes,
        duration_seconds=stored.info.duration_seconds,
        sample_rate=stored.info.sample_rate,
        channels=stored.info.channels,
        status="partial" if stored.repaired else "complete",
        created_at=now,
    )
    session.add(recording)
    call.spool_path = None
    session.flush()
    case_id = link_case(session, call.id, recording.id)
    manifest.append(
        session,
        manifest.STORED,
        manifest.Item(
            manifest.RECORDING,
            stored.id,
            stored.relative_path,
            stored.sha256,
            stored.size_bytes,
            call_id=call.id,
            case_id=case_id or "",
        ),
        now,
        "ivr",
    )
    on_stored(session, recording, now)
    return recording


@dataclass(frozen=True)
class RecordingIngest:
    """Takes finished calls' spool files into the store, by the call's Asterisk uniqueid."""

    sessions: sessionmaker[Session]
    recordings_dir: Path
    clock: Callable[[], dt.datetime]
    link_case: links.CaseLinker
    on_stored: OnStored

    def store(self, uniqueid: str) -> Path | None:
        """Move the call's spool file into the store and link it, all or nothing: if the
        database write fails, the file goes back to the spool and stays known by its path.
        Returns the spool file it took (None: nothing was stored)."""
        stored: store.StoredFile | None = None
        spool: Path | None = None
        try:
            with transaction(self.sessions) as session:
                call = _call(session, uniqueid)
                if call is None or call.spool_path is None or call.recording_problem:
                    return None
                spool = Path(call.spool_path)
                if not spool.exists():
                    log.error("call %s: recording %s is missing", uniqueid, spool)
                    call.recording_problem = f"recording file missing: {spool}"
                    return None
                try:
                    stored = store.ingest(spool, self.recordings_dir, call.started_at)
                except wav.WavError as exc:
                    log.error("call %s: unusable recording %s: %s", uniqueid, spool, exc)
                    call.recording_problem = f"unusable recording: {exc}"
                    return None
                attach(
                    session,
                    call,
                    stored,
                    self.clock(),
                    link_case=self.link_case,
                    on_stored=self.on_stored,
                )
        except Exception as exc:
            if stored is not None and spool is not None:
                shutil.move(str(self.recordings_dir / stored.relative_path), spool)
            if not isinstance(exc, links.LinkError):
                raise
            log.error("call %s: recording not stored, its links disagree: %s", uniqueid, exc)
            with transaction(self.sessions) as session:
                call = _call(session, uniqueid)
                if call is not None:
                    call.recording_problem = f"links disagree: {exc}"
            return None
        assert stored is not None and spool is not None
        log.info("call %s: recording stored (%s)", uniqueid, stored.sha256[:12])
        return spool

    def claim(self, uniqueid: str, spool_file: Path) -> bool:
        """Give a spool file to its call when the call holds neither a recording nor a spool
        file of its own (the ivr died after the recording began, before it noted the file).
        False when the call is unknown or already has its recording."""
        with transaction(self.sessions) as session:
            call = _call(session, uniqueid)
            if (
                call is None
                or call.spool_path is not None
                or lookup.of_call(session, call.id) is not None
            ):
                return False
            call.spool_path = str(spool_file)
            return True


def _call(session: Session, uniqueid: str) -> Call | None:
    return session.scalar(select(Call).where(Call.asterisk_uniqueid == uniqueid))
