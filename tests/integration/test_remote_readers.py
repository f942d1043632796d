"""Readers of stored files through the object store (Issue 18): replay with Range, the waveform,
evidence files, the evidence package and the 立卷归档 bundle, all from bytes that are only in
the bucket (a real SeaweedFS), with their hashes checked and every access logged; the store
out of reach answered 503 and logged. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import contextlib
import hashlib
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable

from api import stored_files
from api.app import create_app
from core.settings import Settings
from core.waiting import wait_for
from custody import case_archive, evidence_files
from custody.models import CaseArchive, RecordingAccess
from dispatch.cases import attachment_files
from dispatch.cases.models import Attachment
from recordings import lookup
from recordings.models import Recording
from recordings.storage import Storage, storage_for
from recordings.store import sha256_file
from tests.api_actor import Actor
from tests.conftest import free_port
from tests.integration import test_custody_doors, test_replay
from tests.object_store_server import ObjectStoreServer
from tests.replay_people import settings_with_people

# The replay tests' people and case (a recorded call answered by op1, its case dispatched).
people, case = test_replay.people, test_replay.case
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


@pytest.fixture
def settings(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, object_store: ObjectStoreServer
) -> Settings:
    """The replay tests' settings, pointed at the object store."""
    plain = settings_with_people(db_url, sessions, tmp_path)
    return plain.model_copy(update=object_store.settings_fields())


def bucket_only(storage: Storage, key: str, sha256: str) -> None:
    """Upload the file (if it is still local) and remove the local copy: its bytes are then
    only in the bucket. (The API's own uploader may be doing the same for the files it
    wrote, attachments and archive bundles: whichever comes first, the end is the same.)"""
    remote = storage.remote
    assert remote is not None
    local = storage.local_path(key)
    if local.exists():
        # FileNotFoundError: the API's uploader confirmed it and removed the local copy.
        with contextlib.suppress(FileNotFoundError):
            remote.put_file(key, local, sha256)
        local.unlink(missing_ok=True)
    wait_for(lambda: remote.stat(key) is not None, 30, f"{key} in the bucket", 0.1)
    assert not local.exists()


def recording_of(sessions: sessionmaker[Session], recording_id: str) -> Recording:
    with sessions() as session:
        found = session.get(Recording, recording_id)
        assert found is not None
        return found


def logged(sessions: sessionmaker[Session], recording_id: str) -> list[tuple[str, str, str]]:
    """(action, outcome, byte range) of the recording's access-log entries, oldest first."""
    with sessions() as session:
        rows = session.scalars(
            select(RecordingAccess)
            .where(RecordingAccess.recording_id == recording_id)
            .order_by(RecordingAccess.id)
        )
        return [(r.action, r.outcome, r.byte_range) for r in rows]


def test_replay_from_the_bucket_honours_range_and_every_request_is_logged(
    people: dict[str, Actor],
    case: dict[str, Any],
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    storage = storage_for(settings)
    recording = recording_of(sessions, case["recording_id"])
    bucket_only(storage, lookup.key_of(recording), recording.sha256)
    audio: bytes = case["audio"]
    size = len(audio)
    url = f"/api/recordings/{recording.id}/audio"
    inv = people["inv1"]
    inv.post(f"/api/cases/{case['id']}/replay-reason", {"reason": "纪检调查：核实通话"}, status=201)

    part = inv.fetch(url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206, part.text
    assert part.content == audio[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{size}"
    assert part.headers["content-length"] == "1024"
    assert part.headers["accept-ranges"] == "bytes"
    assert part.headers["cache-control"] == "no-store, private"
    assert part.headers["etag"] == f'"{recording.sha256}"'

    tail = inv.fetch(url, headers={"Range": "bytes=-16"})
    assert tail.status_code == 206 and tail.content == audio[-16:]
    whole = inv.fetch(url)
    assert whole.status_code == 200 and whole.content == audio
    assert hashlib.sha256(whole.content).hexdigest() == recording.sha256
    stale = inv.fetch(url, headers={"Range": "bytes=0-9", "If-Range": '"other"'})
    assert stale.status_code == 200 and stale.content == audio, "another version: the whole"
    past = inv.fetch(url, headers={"Range": f"bytes={size}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{size}"
    download = inv.fetch(f"{url}?download=true")
    assert download.content == audio
    assert download.headers["content-disposition"] == f'attachment; filename="{recording.id}.wav"'
    peaks = inv.fetch(f"/api/recordings/{recording.id}/waveform?buckets=50")
    assert peaks.status_code == 200 and len(peaks.json()["channels"]) == 2

    entries = logged(sessions, recording.id)
    assert len(entries) == 7, "every request is in the access log"
    assert {outcome for _, outcome, _ in entries} == {"allowed"}
    assert entries[0] == ("play", "allowed", "bytes=100-1123")
    assert [r for _, _, r in entries][1:5] == ["bytes=-16", "", "bytes=0-9", f"bytes={size}-"]
    assert [a for a, _, _ in entries][-2:] == ["download", "waveform"]
    assert not storage.local_path(lookup.key_of(recording)).exists(), "nothing put back"


def test_the_store_out_of_reach_is_answered_503_and_logged(
    people: dict[str, Actor],
    case: dict[str, Any],
    settings: Settings,
    sessions: sessionmaker[Session],
) -> None:
    recording = recording_of(sessions, case["recording_id"])
    bucket_only(storage_for(settings), lookup.key_of(recording), recording.sha256)
    people["sup1"].post(
        f"/api/cases/{case['id']}/replay-reason", {"reason": "核查服务态度"}, status=201
    )
    gone = settings.model_copy(update={"object_store_url": f"http://127.0.2.1:{free_port()}"})
    with TestClient(create_app(gone)) as client:
        sup = Actor(client.app, "sup1")
        answer = sup.fetch(f"/api/recordings/{recording.id}/audio")
        assert answer.status_code == 503, answer.text
        assert sup.fetch(f"/api/cases/{case['id']}/evidence-package").status_code == 503
        sup.client.close()
    assert logged(sessions, recording.id)[-1][:2] == ("play", "unavailable")


def test_evidence_package_archive_bundle_and_attachments_from_bucket_only_bytes(
    people: dict[str, Actor],
    case: dict[str, Any],
    settings: Settings,
    sessions: sessionmaker[Session],
    tmp_path: Path,
) -> None:
    storage = storage_for(settings)
    sup, inv = people["sup1"], people["inv1"]
    [added] = sup.post(
        f"/api/cases/{case['id']}/attachments",
        files=[("files", ("来信.pdf", PDF, "application/pdf"))],
        status=201,
    )
    recording = recording_of(sessions, case["recording_id"])
    with sessions() as session:
        attachment = session.get(Attachment, added["id"])
        assert attachment is not None
    bucket_only(storage, lookup.key_of(recording), recording.sha256)
    bucket_only(storage, attachment_files.key_of(attachment), attachment.sha256)

    got = sup.fetch(f"/api/attachments/{attachment.id}")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-disposition"].startswith("attachment")
    assert got.headers["x-content-type-options"] == "nosniff"

    inv.post(f"/api/cases/{case['id']}/replay-reason", {"reason": "纪检调查：核实办理"}, status=201)
    package = inv.fetch(f"/api/cases/{case['number']}/evidence-package")
    assert package.status_code == 200, package.text
    folder = unzipped(package.content, tmp_path / "package", f"{case['number']}-evidence")
    assert (folder / f"recordings/{recording.id}.wav").read_bytes() == case["audio"]
    assert (folder / f"attachments/{Path(attachment.path).name}").read_bytes() == PDF

    test_custody_doors.close(people, case["number"])
    sup.post(f"/api/cases/{case['id']}/archive")  # its members read from the bucket
    with sessions() as session:
        archived = session.scalars(
            select(CaseArchive).where(CaseArchive.case_id == case["id"])
        ).one()
    bucket_only(storage, case_archive.key_of(archived), archived.sha256)
    sup.post(f"/api/cases/{case['id']}/replay-reason", {"reason": "核查归档材料"}, status=201)
    bundle = sup.fetch(f"/cases/{case['id']}/evidence/archive")
    assert bundle.status_code == 200, bundle.text
    assert hashlib.sha256(bundle.content).hexdigest() == archived.sha256
    folder = unzipped(bundle.content, tmp_path / "bundle", f"{case['number']}-archive")
    assert sha256_file(folder / f"recordings/{recording.id}.wav") == recording.sha256

    assert storage.remote is not None  # other bytes under the recording's key: refused
    altered = tmp_path / "altered.wav"
    altered.write_bytes(case["audio"][:-1] + b"\x00")
    storage.remote.put_file(lookup.key_of(recording), altered, sha256_file(altered))
    refused = inv.fetch(f"/api/cases/{case['number']}/evidence-package")
    assert refused.status_code == 409 and "altered" in refused.text


def unzipped(content: bytes, where: Path, folder: str) -> Path:
    """The package unpacked, its SHA256SUMS checked by sha256sum itself."""
    where.mkdir()
    (where / "p.zip").write_bytes(content)
    with zipfile.ZipFile(where / "p.zip") as archive:
        archive.extractall(where)
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=where / folder, check=True)
    return where / folder


RANGES = [
    "bytes=0-0",
    "bytes=100-199",
    "bytes=100-",
    "bytes=-16",
    "bytes=-5000",
    "bytes=0-99999",
    "bytes=999-",
    "bytes=1000-",
    "bytes=5-2",
    "bytes=0-9,5-20",
    "bytes=0-9,50-60",
    "bytes= 3 - 7 , x-y",
    "bytes=a-b",
    "bytes=",
    "items=0-9",
    "0-9",
    "BYTES=1-2",
    "bytes=" + ",".join(["1-2"] * 101),
]


@pytest.mark.parametrize("header", RANGES)
def test_a_range_from_the_bucket_is_read_as_a_local_file_s_range(header: str) -> None:
    """The bucket's answer to a Range header is FileResponse's for the same bytes locally
    (several ranges left whole: 200 instead of a multipart 206)."""
    size = 1000
    try:
        local: object = FileResponse._parse_range_header(header, size)
    except MalformedRangeHeader:
        local = "400"
    except RangeNotSatisfiable:
        local = "416"
    try:
        remote: object = stored_files.byte_range(header, size)
    except stored_files.MalformedRange:
        remote = "400"
    except stored_files.UnsatisfiableRange:
        remote = "416"
    if isinstance(local, list):
        local = local[0] if len(local) == 1 else None
    assert remote == local


def test_a_local_file_is_found_only_inside_its_kind_s_folder(tmp_path: Path) -> None:
    """The recordings folder may be a link to another disk; a link out of it is not read."""
    data, disk = tmp_path / "data", tmp_path / "disk"
    (disk / "2026").mkdir(parents=True)
    (disk / "2026" / "a.wav").write_bytes(b"RIFF")
    (data / "attachments").mkdir(parents=True)
    (data / "recordings").symlink_to(disk)
    (data / "attachments" / "out.pdf").symlink_to(disk / "2026" / "a.wav")
    storage = Storage(data)
    assert lookup.local_file(storage, "recordings/2026/a.wav") == (disk / "2026" / "a.wav")
    assert lookup.local_file(storage, "attachments/out.pdf") is None
    assert lookup.local_file(storage, "recordings/2026/../2026/a.wav") is None
    assert lookup.local_file(storage, "recordings/2026/none.wav") is None
    with evidence_files.Copies(storage) as files:
        assert files.checked("recordings/2026/a.wav", hashlib.sha256(b"RIFF").hexdigest())
        assert files.checked("attachments/out.pdf", hashlib.sha256(b"RIFF").hexdigest()) is None
