"""Where the bytes of stored files live, by key, when an S3-compatible object store is set.

A key is the manifest's data path (``manifest.data_path(kind, path)``, e.g.
``recordings/2026/12/03/<id>.wav``): the same string names the file under the data folder and
the object in the bucket. Each object carries its SHA-256 in its metadata (``x-amz-meta-sha256``)
so the bucket's listing can be checked against the manifest without the manifest's help.

The S3 client (minio) is imported only when a store is built: the default (no object store)
never loads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from minio import Minio
    from urllib3 import BaseHTTPResponse

    from core.settings import Settings

SHA256_META = "sha256"
# Files up to this size go up in one PUT, whose ETag is the MD5 of the bytes; larger ones in
# parts of this size (their ETag, md5 of the parts' md5s + "-N", is checked the same way).
PART_SIZE = 64 * 1024 * 1024
CHUNK = 256 * 1024
# S3 error codes that mean "no such object" / "the store refused who we are".
_MISSING = {"NoSuchKey", "NoSuchObject", "ResourceNotFound"}
_DENIED = {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken"}


class StoreUnavailable(Exception):
    """The object store cannot be reached now (or would not do what was asked); try later."""


class StoreDenied(StoreUnavailable):
    """The object store refused the credentials: nothing will work until the settings or the
    store's identities are fixed. Still "unavailable" for callers that retry."""


class ObjectMissing(Exception):
    """No object under that key (nor, for ``Storage``, a local file)."""


class NotConfirmed(StoreUnavailable):
    """An upload finished but the object read back does not match the local file."""


class FileChanged(Exception):
    """The local file no longer has the SHA-256 it was recorded with: it is not uploaded."""


class BadRange(ValueError):
    """A byte range that starts at or past the end of the object."""


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    sha256: str  # from the object's metadata, "" if it has none


class ObjectStore(Protocol):
    name: str  # for logs and status, e.g. "s3 http://127.0.0.1:8333/hotline"

    def put_file(self, key: str, path: Path, sha256: str) -> ObjectInfo:
        """Upload a file; returns only once the store confirms the object (size, SHA-256
        metadata and ETag all match the file)."""
        ...

    def stat(self, key: str) -> ObjectInfo | None: ...

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        """The bytes of [start, start+length) (to the end when length is None), as an HTTP
        Range read. The request is made at call time: a missing object or an unreachable store
        raises here, before the first chunk."""
        ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under a prefix (sha256 "": a listing has no metadata)."""
        ...


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str


def write_credentials(path: Path) -> Credentials:
    """Generate the bucket's access key and secret once (mode 0600); later calls keep them."""
    if path.exists():
        return read_credentials(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    made = Credentials("hotline-" + secrets.token_hex(8), secrets.token_urlsafe(30))
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump({"access_key": made.access_key, "secret_key": made.secret_key}, handle)
    os.replace(tmp, path)
    return made


def read_credentials(path: Path) -> Credentials:
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FileNotFoundError(
            f"{path} is missing: it holds the object store's access_key and secret_key "
            "('hotline cluster up' makes it for the store it runs; else the store's "
            "administrator gives them)"
        ) from None
    if path.stat().st_mode & 0o077:
        raise PermissionError(f"{path} must be readable by its owner only (chmod 600)")
    try:
        return Credentials(str(stored["access_key"]), str(stored["secret_key"]))
    except (KeyError, TypeError):
        raise ValueError(f"{path} must hold access_key and secret_key") from None


def file_digests(path: Path, part_size: int = PART_SIZE) -> tuple[str, str]:
    """The file's SHA-256 and the ETag an S3 store gives it uploaded in parts of
    ``part_size`` (the MD5 of the bytes for one part, else the MD5 of the parts' MD5s and
    "-<count>"), in one pass over the file."""
    sha = hashlib.sha256()
    parts: list[bytes] = []
    with open(path, "rb") as handle:
        while True:
            digest, got = hashlib.md5(usedforsecurity=False), 0
            while got < part_size:
                block = handle.read(min(CHUNK * 4, part_size - got))
                if not block:
                    break
                sha.update(block)
                digest.update(block)
                got += len(block)
            if got == 0 and parts:
                break
            parts.append(digest.digest())
            if got < part_size:
                break
    if len(parts) == 1:
        return sha.hexdigest(), parts[0].hex()
    etag = hashlib.md5(b"".join(parts), usedforsecurity=False).hexdigest() + f"-{len(parts)}"
    return sha.hexdigest(), etag


class S3Store:
    """An S3 bucket through the minio client, with short timeouts and few retries, so an
    unreachable store is known in seconds (callers retry later, nothing waits minutes).
    The bucket is created if missing the first time an upload needs it, once per process."""

    def __init__(
        self,
        url: str,
        bucket: str,
        credentials: Credentials,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
        part_size: int = PART_SIZE,
        prefix: str = "",
    ) -> None:
        from minio import Minio  # noqa: PLC0415 - heavy (0.2 s); only when a store is set
        from urllib3 import PoolManager, Retry, Timeout  # noqa: PLC0415 - with minio

        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"object store URL must be http(s)://host[:port], got {url!r}")
        self.bucket = bucket
        self.part_size = part_size
        self.prefix = prefix  # objects are named prefix + key
        self.name = f"s3 {parts.scheme}://{parts.netloc}/{bucket}/{prefix}".rstrip("/")
        http = PoolManager(
            timeout=Timeout(connect=connect_timeout, read=read_timeout),
            maxsize=16,
            retries=Retry(total=2, backoff_factor=0.1, status_forcelist=[500, 502, 503, 504]),
        )
        self.client: Minio = Minio(
            parts.netloc,
            access_key=credentials.access_key,
            secret_key=credentials.secret_key,
            secure=parts.scheme == "https",
            region="us-east-1",
            http_client=http,
        )
        self._bucket_ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"S3Store({self.name!r})"

    def object_name(self, key: str) -> str:
        """The object's name in the bucket."""
        return self.prefix + key

    def ensure_bucket(self) -> None:
        """Create the bucket if it is missing (once per process)."""
        if self._bucket_ready:
            return
        with self._lock, self._errors(""):
            if not self.client.bucket_exists(self.bucket):
                self.client.make_bucket(self.bucket)
            self._bucket_ready = True

    def put_file(self, key: str, path: Path, sha256: str) -> ObjectInfo:
        """Upload a file whose bytes hash to ``sha256`` (FileChanged if they do not), and
        confirm it: the object's size and SHA-256 metadata, and its ETag (the MD5 of the
        bytes the store received, of each part for a multipart upload) equal the file's."""
        self.ensure_bucket()
        size = path.stat().st_size
        local_sha, expected = file_digests(path, self.part_size)
        if local_sha != sha256:
            raise FileChanged(f"{path}: SHA-256 {local_sha}, recorded as {sha256}")
        with self._errors(key):
            self.client.fput_object(
                self.bucket,
                self.prefix + key,
                str(path),
                metadata={SHA256_META: sha256},
                part_size=self.part_size,
            )
            stat = self.client.stat_object(self.bucket, self.prefix + key)
        found = _info(key, stat.size, stat.metadata)
        etag = (stat.etag or "").strip('"')
        if found.size != size or found.sha256 != sha256 or etag != expected:
            raise NotConfirmed(
                f"{self.name}: {key} does not match the file sent "
                f"(size {found.size}/{size}, sha256 {found.sha256[:12]}/{sha256[:12]}, "
                f"etag {etag}/{expected})"
            )
        return found

    def stat(self, key: str) -> ObjectInfo | None:
        try:
            with self._errors(key):
                stat = self.client.stat_object(self.bucket, self.prefix + key)
        except ObjectMissing:
            return None
        return _info(key, stat.size, stat.metadata)

    def read(self, key: str, start: int = 0, length: int | None = None) -> Iterator[bytes]:
        if start < 0 or (length is not None and length < 0):
            raise ValueError(f"bad range start={start} length={length}")
        if length == 0:
            return iter(())
        with self._errors(key):
            response = self.client.get_object(
                self.bucket, self.prefix + key, offset=start, length=length or 0
            )
        return self._stream(key, response)

    def _stream(self, key: str, response: BaseHTTPResponse) -> Iterator[bytes]:
        try:
            with self._errors(key):
                yield from response.stream(CHUNK)
        finally:
            response.close()
            response.release_conn()

    def delete(self, key: str) -> None:
        with self._errors(key):
            self.client.remove_object(self.bucket, self.prefix + key)

    def keys(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object under a prefix of keys (size only: the listing has no metadata)."""
        with self._errors(prefix):
            listing = self.client.list_objects(
                self.bucket, prefix=self.prefix + prefix, recursive=True
            )
            for item in listing:
                if item.object_name and not item.is_dir:
                    key = item.object_name.removeprefix(self.prefix)
                    yield ObjectInfo(key, item.size or 0, "")

    def _errors(self, key: str) -> contextlib.AbstractContextManager[None]:
        return _translate(self.name, key)


@contextlib.contextmanager
def _translate(name: str, key: str) -> Iterator[None]:
    """Turn the client's errors into this layer's: missing, denied, bad range, unavailable."""
    from minio.error import MinioException, S3Error  # noqa: PLC0415 - loaded with minio
    from urllib3.exceptions import HTTPError  # noqa: PLC0415 - loaded with minio

    where = f"{name}/{key}" if key else name
    try:
        yield
    except S3Error as exc:
        if exc.code in _MISSING:
            raise ObjectMissing(where) from exc
        if exc.code in _DENIED:
            raise StoreDenied(
                f"{name} refused the credentials ({exc.code}): check "
                "object_store_credentials against the store's identities"
            ) from exc
        if exc.code == "InvalidRange":
            raise BadRange(f"{where}: {exc.message}") from exc
        if exc.code == "NoSuchBucket":
            raise StoreUnavailable(f"{name}: the bucket does not exist") from exc
        raise StoreUnavailable(f"{where}: {exc.code}: {exc.message}") from exc
    except (MinioException, HTTPError, ConnectionError, TimeoutError) as exc:
        raise StoreUnavailable(f"{where}: {type(exc).__name__}: {exc}") from exc


def _info(key: str, size: int | None, metadata: object) -> ObjectInfo:
    sha = ""
    if metadata is not None:
        getter = getattr(metadata, "get", None)
        if getter is not None:
            sha = str(getter("x-amz-meta-" + SHA256_META) or getter(SHA256_META) or "")
    return ObjectInfo(key, size or 0, sha)


def s3_store(settings: Settings) -> ObjectStore | None:
    """The object store the settings name; None when ``object_store_url`` is empty."""
    if not settings.object_store_url:
        return None
    return S3Store(
        settings.object_store_url,
        settings.object_store_bucket,
        read_credentials(settings.object_store_credentials_file),
        prefix=settings.object_store_prefix,
    )
