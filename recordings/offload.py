"""Offload: stored files go up to the object store, and only then leave the local disk.

When an object store is set, every file the manifest records as stored gets an
``object_uploads`` row (``pending``) in the same transaction as its manifest entry
(``manifest.append`` calls :func:`on_manifest`; a process turns this on for its sessions with
:func:`enable`). An :class:`Offloader` running beside the writer (the ivr service for a
node's recordings, the API for attachments and archives) then, for the rows of its own data
folder (``origin``):

1. uploads each pending file and waits for the store's confirmation (size, SHA-256, ETag:
   ``ObjectStore.put_file``), marks the row ``stored``, and only after that commit removes the
   local copy (unless ``object_store_keep_local``);
2. leaves rows ``pending`` while the store is unreachable, trying again every
   ``object_store_retry_seconds``: nothing is lost, nothing is removed;
3. finishes what a crash interrupted: a row ``stored`` whose local copy is still there has it
   removed on the next pass; a claimed row whose uploader died comes due again when its
   claim (``next_try_at``) runs out; an upload done twice writes the same bytes again;
4. deletes the object and any local copy of a purged file (``purging`` rows: the purge that
   could not reach the store is finished here).

A file whose bytes no longer hash to the manifest's value is never uploaded: its row goes
``failed`` with the reason, the local file is kept, and ``verify`` names it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from recordings import objects
from recordings.models import ManifestEntry
from recordings.offload_models import FAILED, PENDING, PURGED, PURGING, STORED, ObjectUpload
from recordings.storage import Storage

if TYPE_CHECKING:
    from core.settings import Settings

log = logging.getLogger(__name__)

# The key under which a session's ``info`` holds the origin of the files it enters.
ORIGIN = "hotline.offload.origin"


def origin_of(data_dir: Path) -> str:
    """Names the data folder that holds local copies: this host and the folder's path."""
    return f"{socket.gethostname()}:{data_dir.resolve()}"[:255]


def enable(sessions: sessionmaker[Session], settings: Settings) -> None:
    """Sessions of this factory give every file they enter in the manifest an upload row,
    when an object store is set (without one, nothing changes)."""
    if not settings.object_store_url:
        return
    info = dict(sessions.kw.get("info") or {})
    info[ORIGIN] = origin_of(settings.data_dir)
    sessions.configure(info=info)


def on_manifest(session: Session, entry: ManifestEntry) -> None:
    """Called by ``manifest.append`` in its transaction: a stored file gets its pending row
    (if this session offloads), a purged one has its row (if any) set to ``purging``."""
    if entry.action == "stored":
        origin = session.info.get(ORIGIN)
        if not origin:
            return
        session.add(_pending(entry, origin, entry.at))
    else:
        row = session.scalar(select(ObjectUpload).where(ObjectUpload.key == entry.path))
        if row is not None and row.state != PURGED:
            row.state, row.next_try_at = PURGING, entry.at


def _pending(entry: ManifestEntry, origin: str, at: dt.datetime) -> ObjectUpload:
    return ObjectUpload(
        key=entry.path,
        kind=entry.kind,
        object_id=entry.object_id,
        sha256=entry.sha256,
        size_bytes=entry.size_bytes,
        origin=origin,
        state=PENDING,
        created_at=at,
        next_try_at=at,
        attempts=0,
        last_error="",
    )


@dataclass
class Pass:
    """What one pass did."""

    uploaded: int = 0
    removed: int = 0
    purged: int = 0
    failed: int = 0
    waiting: int = 0  # rows left pending because the store could not be reached
    errors: list[str] = field(default_factory=list)

    @property
    def busy(self) -> bool:
        return bool(self.uploaded or self.removed or self.purged or self.failed)


@dataclass
class Offloader:
    sessions: sessionmaker[Session]
    storage: Storage  # its ``remote`` is the store uploaded to
    origin: str
    clock: Callable[[], dt.datetime]
    retry_seconds: float = 5.0
    keep_local: bool = False
    batch: int = 20
    claim_seconds: float = 600.0  # an uploader silent this long is taken for dead

    @property
    def remote(self) -> objects.ObjectStore:
        if self.storage.remote is None:
            raise ValueError("the offloader needs an object store")
        return self.storage.remote

    def run_once(self) -> Pass:
        """Finish removals, purges, then upload the pending files due now (a batch)."""
        done = Pass()
        self._remove_uploaded(done)
        if self._purge(done):
            self._upload(done)
        return done

    # -- local copies of confirmed uploads ------------------------------------------------

    def _remove_uploaded(self, done: Pass) -> None:
        if self.keep_local:
            return
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(ObjectUpload)
                    .where(
                        ObjectUpload.origin == self.origin,
                        ObjectUpload.state == STORED,
                        ObjectUpload.local_removed_at.is_(None),
                    )
                    .limit(self.batch)
                )
            )
        for row in rows:
            # Left by a pass that stopped after noting the upload: the object is looked at
            # again before the only other copy goes.
            try:
                info = self.remote.stat(row.key)
            except objects.StoreUnavailable as exc:
                done.errors.append(str(exc))
                return
            if info is not None and (info.size, info.sha256) == (row.size_bytes, row.sha256):
                self._remove_local(row.id, row.key)
                done.removed += 1
            else:
                self._upload_again(row.id, f"the object in {self.remote.name} is gone or other")

    def _upload_again(self, row_id: int, reason: str) -> None:
        log.error("object store: %s; uploading it again", reason)
        with transaction(self.sessions) as session:
            row = session.get(ObjectUpload, row_id)
            if row is not None and row.state == STORED and row.local_removed_at is None:
                row.state, row.stored_at, row.last_error = PENDING, None, reason
                row.next_try_at = self.clock()

    def _remove_local(self, row_id: int, key: str) -> None:
        """Remove the local copy of a confirmed upload, then note it."""
        self.storage.local_path(key).unlink(missing_ok=True)
        with transaction(self.sessions) as session:
            row = session.get(ObjectUpload, row_id)
            if row is not None and row.state == STORED:
                row.local_removed_at = self.clock()

    # -- purged files ---------------------------------------------------------------------

    def _purge(self, done: Pass) -> bool:
        """Delete the objects and local copies of purged files. False: the store is down."""
        with self.sessions() as session:
            rows = list(
                session.scalars(
                    select(ObjectUpload)
                    .where(ObjectUpload.origin == self.origin, ObjectUpload.state == PURGING)
                    .limit(self.batch)
                )
            )
        for row in rows:
            try:
                self.remote.delete(row.key)
            except objects.StoreUnavailable as exc:
                done.errors.append(str(exc))
                return False
            self.storage.local_path(row.key).unlink(missing_ok=True)
            with transaction(self.sessions) as session:
                found = session.get(ObjectUpload, row.id)
                if found is not None and found.state == PURGING:
                    found.state, found.last_error = PURGED, ""
            done.purged += 1
        return True

    # -- uploads --------------------------------------------------------------------------

    def _claim(self) -> list[tuple[int, str, str, int]]:
        """Take the due pending rows of this origin: their retry time moves past the claim,
        so no other uploader takes them meanwhile."""
        now = self.clock()
        with transaction(self.sessions) as session:
            rows = list(
                session.scalars(
                    select(ObjectUpload)
                    .where(
                        ObjectUpload.origin == self.origin,
                        ObjectUpload.state == PENDING,
                        ObjectUpload.next_try_at <= now,
                    )
                    .order_by(ObjectUpload.id)
                    .limit(self.batch)
                    .with_for_update(skip_locked=True)
                )
            )
            for row in rows:
                row.next_try_at = now + dt.timedelta(seconds=self.claim_seconds)
            return [(row.id, row.key, row.sha256, row.size_bytes) for row in rows]

    def _upload(self, done: Pass) -> None:
        claimed = self._claim()
        for position, (row_id, key, sha256, size) in enumerate(claimed):
            try:
                self._upload_one(row_id, key, sha256, size, done)
            except objects.StoreUnavailable as exc:
                # The store is down (or refuses us): this row and the rest wait.
                log.warning("object store: %s; %d file(s) wait", exc, len(claimed) - position)
                done.errors.append(str(exc))
                done.waiting += len(claimed) - position
                self._retry_later([item[0] for item in claimed[position:]], str(exc))
                return

    def _upload_one(self, row_id: int, key: str, sha256: str, size: int, done: Pass) -> None:
        local = self.storage.local_path(key)
        try:
            if local.is_file():
                self.remote.put_file(key, local, sha256)
            else:
                # Uploaded before, by a run that died before noting it? Only the very bytes do.
                info = self.remote.stat(key)
                if info is None or (info.size, info.sha256) != (size, sha256):
                    raise FileNotFoundError(f"{local} is missing and the bucket lacks it")
        except (objects.FileChanged, FileNotFoundError) as exc:
            log.error("object store: %s not uploaded: %s", key, exc)
            self._fail(row_id, str(exc))
            done.failed += 1
            return
        keep = self._mark_stored(row_id)
        done.uploaded += 1
        if keep is None:
            # Purged while it went up: the object must not stay.
            with contextlib.suppress(objects.StoreUnavailable):
                self.remote.delete(key)
            return
        if not keep:
            self._remove_local(row_id, key)
            done.removed += 1

    def _mark_stored(self, row_id: int) -> bool | None:
        """The row stored; returns whether to keep the local copy (None: the file was
        purged meanwhile)."""
        with transaction(self.sessions) as session:
            row = session.get(ObjectUpload, row_id, with_for_update=True)
            if row is None or row.state != PENDING:
                return None
            row.state, row.stored_at, row.last_error = STORED, self.clock(), ""
            row.attempts += 1
        return self.keep_local

    def _fail(self, row_id: int, reason: str) -> None:
        with transaction(self.sessions) as session:
            row = session.get(ObjectUpload, row_id)
            if row is not None and row.state == PENDING:
                row.state, row.last_error = FAILED, reason[:2000]
                row.attempts += 1

    def _retry_later(self, row_ids: list[int], reason: str) -> None:
        at = self.clock() + dt.timedelta(seconds=self.retry_seconds)
        with transaction(self.sessions) as session:
            for row_id in row_ids:
                row = session.get(ObjectUpload, row_id)
                if row is not None and row.state == PENDING:
                    row.next_try_at, row.last_error = at, reason[:2000]
                    row.attempts += 1

    # -- the loop -------------------------------------------------------------------------

    async def run(self, interval: float = 1.0) -> None:
        """Passes every ``interval`` seconds (at once again while there is work); a failed
        pass is logged and the next one tries again."""
        while True:
            try:
                done = await _finish_in_thread(self.run_once)
            except Exception:
                log.exception("offload pass failed; trying again in %.0f s", interval)
                done = Pass()
            if done.uploaded or done.purged:
                log.info(
                    "object store: %d uploaded, %d local copies removed, %d purged",
                    done.uploaded,
                    done.removed,
                    done.purged,
                )
            if not (done.busy and not done.waiting):
                await asyncio.sleep(interval)


async def _finish_in_thread(function: Callable[[], Pass]) -> Pass:
    """Run a pass in a thread; if the loop is cancelled meanwhile (the service stops), wait
    for the pass to end first, so it never outlives the database engine."""
    running = asyncio.ensure_future(asyncio.to_thread(function))
    try:
        return await asyncio.shield(running)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await running
        raise


def offloader_for(
    settings: Settings, sessions: sessionmaker[Session], clock: Callable[[], dt.datetime]
) -> Offloader | None:
    """This process's uploader for its data folder; None without an object store."""
    remote = objects.s3_store(settings)
    if remote is None:
        return None
    return Offloader(
        sessions,
        Storage(settings.data_dir, remote),
        origin_of(settings.data_dir),
        clock,
        retry_seconds=settings.object_store_retry_seconds,
        keep_local=settings.object_store_keep_local,
    )


def backfill(sessions: sessionmaker[Session], data_dir: Path, now: dt.datetime) -> int:
    """Queue the files of this data folder that the manifest holds as stored and that have
    no upload row (stored before the object store was set). Returns how many."""
    origin = origin_of(data_dir)
    with transaction(sessions) as session:
        current: dict[str, ManifestEntry] = {}
        query = select(ManifestEntry).order_by(ManifestEntry.seq).execution_options(yield_per=2000)
        for entry in session.scalars(query):
            if entry.action == "stored":
                current[entry.path] = entry
            else:
                current.pop(entry.path, None)
        known = set(session.scalars(select(ObjectUpload.key)))
        added = 0
        for path, entry in current.items():
            if path in known or not (data_dir / path).is_file():
                continue
            session.add(_pending(entry, origin, now))
            added += 1
    return added


def placed(session: Session) -> dict[str, tuple[str, str, str]]:
    """key -> (state, origin, last_error) of every upload row not purged."""
    return {
        row.key: (row.state, row.origin, row.last_error)
        for row in session.scalars(select(ObjectUpload).where(ObjectUpload.state != PURGED))
    }


def counts(session: Session) -> dict[tuple[str, str], int]:
    """(origin, state) -> rows: what ``hotline recordings offload`` shows."""
    found: dict[tuple[str, str], int] = {}
    for origin, state in session.execute(select(ObjectUpload.origin, ObjectUpload.state)):
        found[(origin, state)] = found.get((origin, state), 0) + 1
    return found
