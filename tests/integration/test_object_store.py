"""The object store itself against a real SeaweedFS (S3 on loopback): uploads confirmed, Range
reads, deletes, the local-then-bucket reader, wrong credentials and a changed binary refused."""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

from core.settings import Settings
from hotline import object_store_process
from recordings import objects
from recordings.objects import ObjectMissing, StoreDenied, StoreUnavailable
from recordings.storage import Storage, storage_for
from tests.object_store_server import ObjectStoreServer


def _file(folder: Path, size: int, name: str = "a.wav") -> tuple[Path, str]:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def _key(name: str) -> str:
    return f"recordings/2026/12/03/{name}-{os.urandom(6).hex()}.wav"


def test_put_stat_read_ranges_delete(object_store: ObjectStoreServer, tmp_path: Path) -> None:
    store = object_store.store()
    path, sha = _file(tmp_path, 300_000)
    data = path.read_bytes()
    key = _key("put")

    assert store.stat(key) is None
    info = store.put_file(key, path, sha)
    assert info == objects.ObjectInfo(key, len(data), sha)
    assert store.stat(key) == info
    assert b"".join(store.read(key)) == data
    assert b"".join(store.read(key, 1000, 4096)) == data[1000:5096]
    assert b"".join(store.read(key, len(data) - 10)) == data[-10:]
    assert b"".join(store.read(key, 5, 0)) == b""
    with pytest.raises(objects.BadRange):
        store.read(key, len(data) + 1)
    with pytest.raises(ObjectMissing):
        store.read(_key("never"))

    store.delete(key)
    assert store.stat(key) is None
    with pytest.raises(ObjectMissing):
        store.read(key)


def test_multipart_upload_confirmed_by_its_etag(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    """A file larger than a part goes up in parts; the ETag of parts is checked too."""
    store = objects.S3Store(
        object_store.url,
        object_store.bucket,
        objects.read_credentials(object_store.credentials),
        part_size=5 * 1024 * 1024,
    )
    path, sha = _file(tmp_path, 11 * 1024 * 1024 + 17)
    key = _key("multi")
    assert store.put_file(key, path, sha).size == path.stat().st_size
    assert objects.file_digests(path, store.part_size) == (sha, _etag(store, key))
    assert _etag(store, key).endswith("-3")
    assert hashlib.sha256(b"".join(store.read(key))).hexdigest() == sha


def _etag(store: objects.S3Store, key: str) -> str:
    return (store.client.stat_object(store.bucket, key).etag or "").strip('"')


def test_a_file_that_lost_its_hash_is_not_uploaded(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    store = object_store.store()
    path, _ = _file(tmp_path, 1000)
    key = _key("changed")
    with pytest.raises(objects.FileChanged, match="recorded as 0000"):
        store.put_file(key, path, "0" * 64)
    assert store.stat(key) is None


def test_storage_reads_the_local_file_first_then_the_bucket(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    key = _key("storage")
    local, sha = _file(data_dir, 200_000, key)
    data = local.read_bytes()
    storage = storage_for(object_store.settings(data_dir=data_dir))
    assert isinstance(storage.remote, objects.S3Store)

    # Only local (not uploaded yet).
    assert storage.local_path(key) == local
    assert storage.size(key) == len(data)
    assert b"".join(storage.read(key, 10, 20)) == data[10:30]
    assert storage.sha256(key) == sha
    assert storage.fetch(key, tmp_path / "fetched") == local

    # Only in the bucket.
    storage.remote.put_file(key, local, sha)
    local.unlink()
    assert storage.size(key) == len(data)
    assert b"".join(storage.read(key, 10, 20)) == data[10:30]
    assert storage.sha256(key) == sha
    fetched = storage.fetch(key, tmp_path / "fetched")
    assert fetched.parent == tmp_path / "fetched" and fetched.read_bytes() == data
    assert [p.name for p in fetched.parent.iterdir()] == [fetched.name]

    # Nowhere.
    storage.remote.delete(key)
    with pytest.raises(ObjectMissing):
        storage.size(key)
    with pytest.raises(ObjectMissing):
        storage.read(key)


def test_storage_without_a_store_is_the_data_folder(tmp_path: Path) -> None:
    storage = storage_for(Settings(data_dir=tmp_path))
    assert storage == Storage(tmp_path, None)
    key = "attachments/ab/cd.pdf"
    with pytest.raises(ObjectMissing):
        storage.read(key)
    with pytest.raises(ObjectMissing):
        storage.fetch(key, tmp_path / "x")
    _, sha = _file(tmp_path, 5000, key)
    assert storage.sha256(key) == sha
    with pytest.raises(objects.BadRange):
        storage.read(key, 5000)
    for bad in ("../secrets.json", "/etc/passwd", "recordings/../../x", ""):
        with pytest.raises(ValueError):
            storage.local_path(bad)


def test_wrong_credentials_are_a_clear_error(
    object_store: ObjectStoreServer, tmp_path: Path
) -> None:
    path, sha = _file(tmp_path, 100)
    right = objects.read_credentials(object_store.credentials)
    wrong = objects.S3Store(
        object_store.url, object_store.bucket, objects.Credentials(right.access_key, "not-it")
    )
    with pytest.raises(StoreDenied, match="refused the credentials"):
        wrong.put_file(_key("denied"), path, sha)
    with pytest.raises(StoreDenied, match="refused the credentials"):
        wrong.stat(_key("denied"))
    # The identity is the bucket's only: another bucket is refused even with the right keys.
    other = objects.S3Store(object_store.url, "not-ours", right)
    with pytest.raises(StoreDenied):
        other.put_file(_key("other"), path, sha)


def test_an_unreachable_store_is_unavailable_in_seconds(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.1.9", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        store = objects.S3Store(
            f"http://127.0.1.9:{port}", "hotline", objects.Credentials("a", "b")
        )
        path, sha = _file(tmp_path, 100)
        with pytest.raises(StoreUnavailable) as caught:
            store.put_file(_key("down"), path, sha)
        assert not isinstance(caught.value, StoreDenied)
        with pytest.raises(StoreUnavailable):
            store.stat(_key("down"))


def test_credentials_file_is_generated_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "object-store.json"
    object_store_process.write_credentials(path)
    first = objects.read_credentials(path)
    object_store_process.write_credentials(path)
    assert objects.read_credentials(path) == first
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first.secret_key) >= 30
    path.chmod(0o644)
    with pytest.raises(PermissionError, match="chmod 600"):
        objects.read_credentials(path)


def test_a_changed_weed_binary_is_refused(tmp_path: Path) -> None:
    assert object_store_process.check_binary() == object_store_process.weed_binary()
    fake = tmp_path / "weed"
    fake.write_bytes(b"#!/bin/sh\n")
    with pytest.raises(object_store_process.ObjectStoreError, match="refusing to run"):
        object_store_process.check_binary(fake)


def test_file_digests_are_the_sha256_and_the_s3_etag(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abcdefghij")
    md5 = hashlib.md5
    assert objects.file_digests(path, 64) == (
        hashlib.sha256(b"abcdefghij").hexdigest(),
        md5(b"abcdefghij", usedforsecurity=False).hexdigest(),
    )
    parts = [md5(p, usedforsecurity=False).digest() for p in (b"abcd", b"efgh", b"ij")]
    etag = md5(b"".join(parts), usedforsecurity=False).hexdigest() + "-3"
    assert objects.file_digests(path, 4)[1] == etag
    path.write_bytes(b"abcdefgh")  # an exact number of parts: no empty last part
    assert objects.file_digests(path, 4)[1].endswith("-2")


def test_the_store_listens_on_loopback_with_one_identity(object_store: ObjectStoreServer) -> None:
    """weed is told its address and every port (none of its defaults, no WebDAV, admin UI,
    Iceberg or Lance), listens on loopback only, and knows one S3 identity, the bucket's."""
    pid = object_store_process.pid(object_store.root)
    listening = subprocess.run(
        ["ss", "-Hltnp"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    addresses = {line.split()[3].rpartition(":")[0] for line in listening if f"pid={pid}," in line}
    assert addresses and all(a.startswith("127.") for a in addresses), addresses
    ports = object_store_process.ports(object_store.root)
    assert set(ports) == {"s3", *object_store_process.INTERNAL_PORTS}
    line = object_store_process.command(
        Path("weed"), object_store.root, "127.0.1.9", 8333, dict.fromkeys(ports, 1)
    )
    assert "-ip.bind=127.0.1.9" in line and "-master.telemetry=false" in line
    assert not [arg for arg in line if arg.startswith(("-webdav", "-admin"))]
    assert "-s3.port.iceberg=0" in line and "-s3.port.lance=0" in line
    config = json.loads((object_store.root / "run" / "s3.json").read_text())
    [identity] = config["identities"]
    assert sorted(identity["actions"]) == [
        f"{a}:{object_store.bucket}" for a in ("List", "Read", "Tagging", "Write")
    ]
    assert (object_store.root / "run" / "s3.json").stat().st_mode & 0o777 == 0o600


def test_a_start_whose_port_was_taken_meanwhile_tries_other_ports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An internal port picked free and taken by another program before weed binds it:
    weed exits, and the start is tried again with other ports."""
    host = "127.0.1.8"
    with socket.socket() as taken:
        taken.bind((host, 0))
        taken.listen()
        picks: list[list[int]] = []
        real = object_store_process.free_ports

        def first_one_taken(on: str, count: int) -> list[int]:
            found = real(on, count)
            if not picks:
                found[0] = taken.getsockname()[1]  # the master's port
            picks.append(found)
            return found

        monkeypatch.setattr(object_store_process, "free_ports", first_one_taken)
        credentials = tmp_path / "object-store.json"
        object_store_process.write_credentials(credentials)
        root = tmp_path / "store"
        port = real(host, 1)[0]
        object_store_process.start(root, host, port, credentials)
        try:
            assert len(picks) == 2
            assert object_store_process.ports(root)["master"] == picks[1][0]
            store = objects.S3Store(
                f"http://{host}:{port}", "hotline", objects.read_credentials(credentials)
            )
            assert store.stat("recordings/none") is None
        finally:
            object_store_process.stop(root)
    assert not object_store_process.running(root)
