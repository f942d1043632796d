"""Offload to a real SeaweedFS: recordings enter the manifest with their upload row, go up,
are confirmed, and only then leave the local disk; with the store stopped nothing is lost and
verify stays clean; an object altered in the bucket is named; purge deletes the object.
SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import io
import os
import signal
import subprocess
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.app import create_app
from core.db import make_engine, make_session_factory, transaction
from core.settings import PROJECT_ROOT, Settings
from core.waiting import async_wait_for, wait_for
from custody import integrity, purge
from custody.models import IntegrityCheck
from hotline import migrate, object_store_process
from recordings import manifest, objects, offload
from recordings.models import ManifestEntry, Recording
from recordings.offload_models import FAILED, PENDING, PURGED, PURGING, STORED, ObjectUpload
from recordings.storage import storage_for
from tests.builders import T0, add_recorded_call, flip_byte
from tests.object_store_server import ObjectStoreServer, running_object_store


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


def _setup(
    sessions: sessionmaker[Session],
    server: ObjectStoreServer,
    data_dir: Path,
    clock: Clock,
    keep_local: bool = False,
    prefix: str | None = None,
) -> offload.Offloader:
    settings = server.settings(
        data_dir=data_dir,
        object_store_retry_seconds=5,
        object_store_keep_local=keep_local,
        object_store_prefix=server.new_prefix() if prefix is None else prefix,
    )
    offload.enable(sessions, settings)
    uploader = offload.offloader_for(settings, sessions, clock)
    assert uploader is not None
    return uploader


def _rows(sessions: sessionmaker[Session]) -> dict[str, ObjectUpload]:
    with sessions() as session:
        return {row.object_id: row for row in session.scalars(select(ObjectUpload))}


def _key(sessions: sessionmaker[Session], recording_id: str) -> str:
    with sessions() as session:
        row = session.get(Recording, recording_id)
        assert row is not None
        return manifest.data_path(manifest.RECORDING, row.path)


def _s3(uploader: offload.Offloader) -> objects.S3Store:
    assert isinstance(uploader.remote, objects.S3Store)
    return uploader.remote


def _verify(
    sessions: sessionmaker[Session], data_dir: Path, uploader: offload.Offloader
) -> integrity.Report:
    with sessions() as session:
        return integrity.verify(session, data_dir, uploader.storage.remote)


def test_a_recording_goes_up_confirmed_then_leaves_the_disk(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    clock = Clock(T0)
    uploader = _setup(sessions, object_store, tmp_path, clock)
    _, recording_id = add_recorded_call(sessions, tmp_path, "u-1.1")
    key = _key(sessions, recording_id)
    local = tmp_path / key
    data = local.read_bytes()

    # Written with its manifest entry: pending, the local copy in place.
    row = _rows(sessions)[recording_id]
    assert (row.state, row.key, row.origin) == (PENDING, key, offload.origin_of(tmp_path))
    assert _verify(sessions, tmp_path, uploader).ok

    done = uploader.run_once()
    assert (done.uploaded, done.removed, done.failed, done.waiting) == (1, 1, 0, 0)
    row = _rows(sessions)[recording_id]
    assert row.state == STORED and row.stored_at == T0 and row.local_removed_at == T0
    assert not local.exists()
    info = uploader.remote.stat(key)
    assert info is not None and (info.size, info.sha256) == (len(data), row.sha256)

    # Readers find the bytes in the bucket; verify re-hashes the object.
    storage = storage_for(
        object_store.settings(data_dir=tmp_path, object_store_prefix=_s3(uploader).prefix)
    )
    assert b"".join(storage.read(key, 44, 100)) == data[44:144]
    report = _verify(sessions, tmp_path, uploader)
    assert report.ok, report.problems
    assert report.files_checked == 1 and report.objects_checked == 1

    # Nothing left to do.
    assert not uploader.run_once().busy


def test_without_an_object_store_nothing_changes(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path)
    offload.enable(sessions, settings)
    assert offload.offloader_for(settings, sessions, Clock(T0)) is None
    add_recorded_call(sessions, tmp_path, "u-2.1")
    assert _rows(sessions) == {}
    assert "info" not in sessions.kw


def test_keep_local_keeps_both_copies_and_verify_checks_both(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    uploader = _setup(sessions, object_store, tmp_path, Clock(T0), keep_local=True)
    _, recording_id = add_recorded_call(sessions, tmp_path, "u-3.1")
    key = _key(sessions, recording_id)
    assert uploader.run_once().uploaded == 1
    assert (tmp_path / key).exists() and _rows(sessions)[recording_id].local_removed_at is None
    report = _verify(sessions, tmp_path, uploader)
    assert report.ok and report.objects_checked == 1

    # An object altered in the bucket (other bytes written under its key) is named by verify,
    # though the local copy is intact.
    data = bytearray((tmp_path / key).read_bytes())
    data[100] ^= 1
    store = _s3(uploader)
    store.client.put_object(
        store.bucket, store.object_name(key), io.BytesIO(bytes(data)), len(data)
    )
    report = _verify(sessions, tmp_path, uploader)
    assert [(p.kind, p.name) for p in report.problems] == [(integrity.ALTERED, key)]
    assert "the object in s3 " in report.problems[0].detail


def test_an_object_altered_in_the_bucket_is_named_by_verify(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    uploader = _setup(sessions, object_store, tmp_path, Clock(T0))
    ids = [add_recorded_call(sessions, tmp_path, f"u-4.{n}")[1] for n in range(3)]
    assert uploader.run_once().uploaded == 3
    altered, lost, kept = (_key(sessions, i) for i in ids)
    store = _s3(uploader)
    store.client.put_object(
        store.bucket, store.object_name(altered), io.BytesIO(b"other bytes"), 11
    )
    store.delete(lost)
    unknown = "recordings/2026/11/20/not-in-the-manifest.wav"
    store.client.put_object(store.bucket, store.object_name(unknown), io.BytesIO(b"x"), 1)
    try:
        report = _verify(sessions, tmp_path, uploader)
        found = {(p.kind, p.name) for p in report.problems}
        assert found == {
            (integrity.ALTERED, altered),
            (integrity.MISSING, lost),
            (integrity.UNKNOWN, unknown),
        }
        assert kept not in {p.name for p in report.problems}
    finally:
        store.delete(unknown)


def test_a_file_changed_on_disk_is_not_uploaded(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    uploader = _setup(sessions, object_store, tmp_path, Clock(T0))
    _, recording_id = add_recorded_call(sessions, tmp_path, "u-5.1")
    key = _key(sessions, recording_id)
    flip_byte(tmp_path / key, 200)
    done = uploader.run_once()
    assert (done.uploaded, done.failed) == (0, 1)
    row = _rows(sessions)[recording_id]
    assert row.state == FAILED and "recorded as" in row.last_error
    assert (tmp_path / key).exists() and uploader.remote.stat(key) is None
    report = _verify(sessions, tmp_path, uploader)
    assert [(p.kind, p.name) for p in report.problems] == [(integrity.ALTERED, key)]


def test_interrupted_work_is_finished_by_the_next_pass(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    clock = Clock(T0)
    uploader = _setup(sessions, object_store, tmp_path, clock)
    ids = [add_recorded_call(sessions, tmp_path, f"u-6.{n}")[1] for n in range(3)]
    claimed_by_a_dead_uploader, uploaded_not_noted, stored_not_removed = ids
    keys = {i: _key(sessions, i) for i in ids}

    # One uploader claimed a row and died; another uploaded a file and died before its
    # commit; a third noted the upload and died before removing the local copy.
    assert len(uploader._claim()) == 3
    remote = uploader.remote
    rows = _rows(sessions)
    for recording_id in (uploaded_not_noted, stored_not_removed):
        row = rows[recording_id]
        remote.put_file(row.key, tmp_path / row.key, row.sha256)
    assert uploader._mark_stored(rows[stored_not_removed].id) is False
    assert uploader.run_once().uploaded == 0

    # The stored row's local copy goes at once (its object checked first); the claims run
    # out after claim_seconds.
    assert not (tmp_path / keys[stored_not_removed]).exists()
    clock.advance(uploader.claim_seconds + 1)
    done = uploader.run_once()
    assert done.uploaded == 2
    assert {row.state for row in _rows(sessions).values()} == {STORED}
    assert not any((tmp_path / key).exists() for key in keys.values())
    assert _verify(sessions, tmp_path, uploader).ok
    assert claimed_by_a_dead_uploader in _rows(sessions)


def test_purge_deletes_the_object_and_a_pending_upload(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    clock = Clock(T0)
    uploader = _setup(sessions, object_store, tmp_path, clock)
    _, uploaded = add_recorded_call(sessions, tmp_path, "u-7.1")
    assert uploader.run_once().uploaded == 1
    _, pending = add_recorded_call(sessions, tmp_path, "u-7.2")  # still pending at the purge
    pending_key, uploaded_key = _key(sessions, pending), _key(sessions, uploaded)
    remote = uploader.remote
    assert remote.stat(uploaded_key) is not None and (tmp_path / pending_key).exists()

    later = T0 + dt.timedelta(days=6 * 366)
    gone = purge.purge(sessions, tmp_path / "recordings", 5, later, "test", remote)
    assert {item.recording_id for item in gone} == {uploaded, pending}
    assert remote.stat(uploaded_key) is None
    rows = _rows(sessions)
    assert rows[uploaded].state == rows[pending].state == PURGING

    # The uploader never uploads a purged file; it closes the rows.
    done = uploader.run_once()
    assert (done.uploaded, done.purged) == (0, 2)
    assert {row.state for row in _rows(sessions).values()} == {PURGED}
    assert remote.stat(pending_key) is None and not (tmp_path / pending_key).exists()
    assert _verify(sessions, tmp_path, uploader).ok


@pytest.fixture(scope="module")
def own_store() -> Iterator[ObjectStoreServer]:
    """A store of this module's own, which its tests stop and start."""
    with running_object_store(host="127.0.1.7") as server:
        yield server


def test_store_stopped_files_wait_verify_clean_then_stored(
    sessions: sessionmaker[Session], own_store: ObjectStoreServer, tmp_path: Path
) -> None:
    clock = Clock(T0)
    uploader = _setup(sessions, own_store, tmp_path, clock)
    _, before = add_recorded_call(sessions, tmp_path, "u-8.9")
    assert uploader.run_once().uploaded == 1  # only in the bucket now
    own_store.stop()
    try:
        ids = [add_recorded_call(sessions, tmp_path, f"u-8.{n}")[1] for n in range(3)]
        keys = [_key(sessions, i) for i in ids]
        done = uploader.run_once()
        assert (done.uploaded, done.waiting) == (0, 3) and done.errors
        rows = _rows(sessions)
        assert {rows[i].state for i in ids} == {PENDING}
        assert {rows[i].next_try_at for i in ids} == {T0 + dt.timedelta(seconds=5)}
        assert all(rows[i].attempts == 1 and rows[i].last_error for i in ids)
        assert all((tmp_path / key).exists() for key in keys)
        # Not due yet: nothing tried.
        assert uploader.run_once().waiting == 0
        # verify: the local copies are the files; the uploaded one cannot be re-hashed now,
        # which is said, and is not a problem.
        report = _verify(sessions, tmp_path, uploader)
        assert report.ok, report.problems
        assert report.files_checked == 3 and report.objects_unchecked == 1
        assert own_store.url.removeprefix("http://") in report.store_error
    finally:
        own_store.start()
    clock.advance(5)
    done = uploader.run_once()
    assert (done.uploaded, done.removed, done.waiting) == (3, 3, 0)
    assert {row.state for row in _rows(sessions).values()} == {STORED}
    assert not any((tmp_path / key).exists() for key in keys)
    report = _verify(sessions, tmp_path, uploader)
    assert report.ok and report.objects_checked == 4 and not report.store_error
    assert before in _rows(sessions)


def test_a_file_pending_on_another_node_is_not_missing(
    db_url: str, object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """Two data folders (two nodes) on one database: each uploads its own files only, and
    verify on one does not call the other's pending file missing."""
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    try:
        node_a, node_b = make_session_factory(engine), make_session_factory(engine)
        clock = Clock(T0)
        a = _setup(node_a, object_store, tmp_path / "a", clock)
        b = _setup(node_b, object_store, tmp_path / "b", clock, prefix=_s3(a).prefix)
        add_recorded_call(node_a, tmp_path / "a", "a-9.1")
        _, on_b = add_recorded_call(node_b, tmp_path / "b", "b-9.1")
        assert a.run_once().uploaded == 1
        assert _rows(node_a)[on_b].state == PENDING
        report = _verify(node_a, tmp_path / "a", a)
        assert report.ok, report.problems
        assert report.pending_elsewhere == 1 and report.objects_checked == 1
        assert b.run_once().uploaded == 1
        assert _verify(node_a, tmp_path / "a", a).ok
        assert _verify(node_b, tmp_path / "b", b).objects_checked == 2
    finally:
        engine.dispose()


HOTLINE = str(PROJECT_ROOT / ".venv/bin/hotline")


def _hotline(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOTLINE, "recordings", *args],
        env={**os.environ, **settings.to_env()},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_command_backfills_uploads_and_verifies_the_bucket(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """Files stored before the object store was set are queued by ``offload --backfill``,
    uploaded by ``--run``; ``verify`` re-hashes them in the bucket and names one altered
    there; wrong credentials are a clear error. (SQLite only: the commands run the code the
    tests above run on both databases.)"""
    db_url = f"sqlite:///{tmp_path / 'hotline.db'}"
    migrate.upgrade(db_url)
    engine = make_engine(db_url)
    sessions = make_session_factory(engine)
    ids = [add_recorded_call(sessions, tmp_path, f"u-10.{n}")[1] for n in range(2)]
    keys = [_key(sessions, i) for i in ids]
    settings = object_store.settings(
        data_dir=tmp_path, database_url=db_url, object_store_prefix=object_store.new_prefix()
    )

    done = _hotline(settings, "offload", "--backfill", "--run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "queued 2 file(s)" in done.stdout
    assert f"{offload.origin_of(tmp_path)}" in done.stdout and "stored   2" in done.stdout
    assert not any((tmp_path / key).exists() for key in keys)

    done = _hotline(settings, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 object(s) re-hashed" in done.stdout and "ok:" in done.stdout

    remote = objects.S3Store(
        object_store.url,
        object_store.bucket,
        objects.read_credentials(object_store.credentials),
        prefix=settings.object_store_prefix,
    )
    remote.client.put_object(remote.bucket, remote.object_name(keys[0]), io.BytesIO(b"x"), 1)
    done = _hotline(settings, "verify")
    assert done.returncode == 1
    assert f"ALTERED  {keys[0]}: the object in s3 " in done.stdout

    wrong = tmp_path / "wrong.json"
    objects.write_credentials(wrong)
    done = _hotline(settings.model_copy(update={"object_store_credentials": wrong}), "verify")
    assert done.returncode == 1
    assert "refused the credentials" in done.stderr and "Traceback" not in done.stderr
    engine.dispose()


def test_no_upload_row_without_its_manifest_entry(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """The row is written in the manifest entry's transaction: both or neither."""
    _setup(sessions, object_store, tmp_path, Clock(T0))
    item = manifest.Item(manifest.ATTACHMENT, "a" * 32, "ab/cd.pdf", "0" * 64, 10)
    with pytest.raises(RuntimeError, match="rolled back"), transaction(sessions) as session:
        manifest.append(session, manifest.STORED, item, T0, "test")
        assert session.scalar(select(ObjectUpload.key)) == "attachments/ab/cd.pdf"
        raise RuntimeError("rolled back")
    with sessions() as session:
        assert session.scalar(select(ObjectUpload)) is None
        assert session.scalar(select(ManifestEntry)) is None


def test_the_loop_uploads_as_files_arrive(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    uploader = _setup(sessions, object_store, tmp_path, Clock(T0))

    async def scenario() -> None:
        task = asyncio.create_task(uploader.run(interval=0.05))
        try:
            for n in range(2):
                _, recording_id = add_recorded_call(sessions, tmp_path, f"u-11.{n}")
                await async_wait_for(partial(_stored, sessions, recording_id), 20, "the upload")
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        assert task.cancelled()

    asyncio.run(scenario())
    assert not list((tmp_path / "recordings").rglob("*.wav"))


async def _stored(sessions: sessionmaker[Session], recording_id: str) -> bool:
    row = _rows(sessions).get(recording_id)
    return row is not None and row.local_removed_at is not None


def test_two_uploaders_of_one_folder_share_the_work(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """The ivr and the API of one machine both upload its folder: a row claimed by one is
    not taken by the other."""
    clock = Clock(T0)
    first = _setup(sessions, object_store, tmp_path, clock)
    second = offload.Offloader(
        sessions, first.storage, first.origin, clock, retry_seconds=5, batch=first.batch
    )
    for n in range(3):
        add_recorded_call(sessions, tmp_path, f"u-12.{n}")
    first.batch = 2
    taken = [row_id for row_id, *_ in first._claim()]
    assert len(taken) == 2
    assert [row_id for row_id, *_ in second._claim()] == [
        row.id for row in _rows(sessions).values() if row.id not in taken
    ]
    assert second._claim() == []


def test_a_stored_file_whose_object_went_is_uploaded_again_not_removed(
    sessions: sessionmaker[Session], object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """A pass that noted an upload and stopped before removing the local copy: if the
    object has gone meanwhile, the local copy (the only one) is uploaded again, not removed."""
    clock = Clock(T0)
    uploader = _setup(sessions, object_store, tmp_path, clock)
    _, recording_id = add_recorded_call(sessions, tmp_path, "u-13.1")
    key = _key(sessions, recording_id)
    row_id, *_ = uploader._claim()[0]
    uploader.remote.put_file(key, tmp_path / key, _rows(sessions)[recording_id].sha256)
    assert uploader._mark_stored(row_id) is False
    uploader.remote.delete(key)

    done = uploader.run_once()
    assert (done.uploaded, done.removed) == (1, 1)  # removed only once up again
    row = _rows(sessions)[recording_id]
    assert row.state == STORED and row.local_removed_at is not None
    assert uploader.remote.stat(key) is not None and not (tmp_path / key).exists()


def test_a_killed_store_keeps_what_it_confirmed(
    own_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """SIGKILL right after confirmed uploads: started again, every object is there, whole."""
    store = own_store.store(own_store.new_prefix())
    sent = {}
    for n in range(5):
        path = tmp_path / f"{n}.wav"
        path.write_bytes(os.urandom(200_000 + n))
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        store.put_file(f"recordings/k/{n}.wav", path, sha)
        sent[f"recordings/k/{n}.wav"] = sha
    pid = object_store_process.pid(own_store.root)
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not own_store.running(), 10, "weed to die")
    own_store.start()
    for key, sha in sent.items():
        assert hashlib.sha256(b"".join(store.read(key))).hexdigest() == sha
        info = store.stat(key)
        assert info is not None and info.sha256 == sha


def test_the_api_uploads_the_files_it_stores_and_verifies_them_on_its_schedule(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """The API process's sessions give what it enters in the manifest (an evidence file
    here) its upload row, its offloader uploads it, and its scheduled verify re-hashes it in
    the bucket (SQLite: the wiring, not the database, is under test)."""
    settings = object_store.settings(
        data_dir=tmp_path,
        object_store_prefix=object_store.new_prefix(),
        integrity_check_interval_seconds=0.2,
    )
    migrate.upgrade(settings.effective_database_url)
    app = create_app(settings)
    sessions: sessionmaker[Session] = app.state.sessions
    path = tmp_path / "attachments" / "2026" / "ab.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"%PDF-1.4 evidence")
    item = manifest.Item(
        manifest.ATTACHMENT,
        "b" * 32,
        "2026/ab.pdf",
        hashlib.sha256(path.read_bytes()).hexdigest(),
        path.stat().st_size,
    )

    def checks() -> list[IntegrityCheck]:
        with sessions() as session:
            return list(session.scalars(select(IntegrityCheck).order_by(IntegrityCheck.id)))

    with TestClient(app):
        with transaction(sessions) as session:
            manifest.append(session, manifest.STORED, item, T0, "test")

        def uploaded() -> ObjectUpload | None:
            found = _rows(sessions).get("b" * 32)
            return found if found is not None and found.local_removed_at else None

        row = wait_for(uploaded, 20, "the API to upload the evidence file")
        assert row.state == STORED and not path.exists()
        count = len(checks())
        wait_for(lambda: len(checks()) > count + 1, 20, "a scheduled check after the upload")
        assert checks()[-1].ok and checks()[-1].files_checked == 1
