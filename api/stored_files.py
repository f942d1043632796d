"""Stored files over HTTP (recordings, evidence files), wherever their bytes are.

With no object store (the default) a file is answered by Starlette's ``FileResponse`` from
the data folder, exactly as before. With one, the bytes are streamed through
``recordings.storage.Storage`` (the local file if it is still there, else the object, read
with an HTTP Range of its own), never loaded whole, and a ``Range`` request is answered the
way ``FileResponse`` answers it for a local file: 206 with ``Content-Range`` for one range,
416 (``Content-Range: bytes */size``) for a range past the end, 400 for a malformed header.
Several ranges that do not merge into one are answered with the whole file (200), which
RFC 9110 allows, rather than a multipart body. The ETag is the file's recorded SHA-256: the
bytes cannot change under it, so ``If-Range`` with it resumes a download safely.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response, StreamingResponse

from recordings.lookup import Located
from recordings.objects import ObjectMissing, StoreUnavailable
from recordings.storage import Storage, storage_for

MAX_RANGES = 100  # as FileResponse: more parts than this and the header is ignored
UNAVAILABLE = "the object store holding the file is unavailable; try again later"


def get_storage(request: Request) -> Storage:
    """The app's stored files: its data folder and, when set, the object store behind it
    (built on the first request that needs it, then kept for the app's life)."""
    storage: Storage | None = getattr(request.app.state, "storage", None)
    if storage is None:
        storage = storage_for(request.app.state.settings)
        request.app.state.storage = storage
    return storage


StorageDep = Annotated[Storage, Depends(get_storage)]


@contextmanager
def store_errors() -> Iterator[None]:
    """The object store out of reach, as HTTP: 503 (the request may be tried again)."""
    try:
        yield
    except StoreUnavailable as exc:
        raise HTTPException(status_code=503, detail=UNAVAILABLE) from exc


class MalformedRange(ValueError):
    pass


class UnsatisfiableRange(ValueError):
    pass


def byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range [start, end) a ``Range`` header asks of ``size`` bytes; None for the
    whole file (several ranges that do not merge, or too many). Read as Starlette's
    FileResponse reads it: parts that are not numbers are ignored, a start past the end is
    UnsatisfiableRange, no usable part or a start after its end MalformedRange."""
    units, sep, spec = header.partition("=")
    if not sep:
        raise MalformedRange("Malformed range header.")
    if units.strip().lower() != "bytes":
        raise MalformedRange("Only support bytes range")
    if spec.count(",") + 1 > MAX_RANGES:
        return None
    ranges: list[tuple[int, int]] = []
    for raw in spec.split(","):
        part = raw.strip()
        if not part or part == "-" or "-" not in part:
            continue
        first, last = (p.strip() for p in part.split("-", 1))
        try:
            start = int(first) if first else max(size - int(last), 0)
            end = int(last) + 1 if first and last and int(last) < size else size
        except ValueError:
            continue
        ranges.append((start, end))
    if not ranges:
        raise MalformedRange("Range header: range must be requested")
    if any(not 0 <= start < size for start, _ in ranges):
        raise UnsatisfiableRange(str(size))
    if any(start >= end for start, end in ranges):
        raise MalformedRange("Range header: start must be less than end")
    ranges.sort()
    merged = [ranges[0]]
    for start, end in ranges[1:]:
        last_start, last_end = merged[-1]
        if start <= last_end:
            merged[-1] = (last_start, max(last_end, end))
        else:
            merged.append((start, end))
    return merged[0] if len(merged) == 1 else None


def disposition(kind: str, filename: str) -> str:
    quoted = quote(filename)
    if quoted != filename:
        return f"{kind}; filename*=utf-8''{quoted}"
    return f'{kind}; filename="{filename}"'


def stored_response(
    request: Request,
    storage: Storage,
    stored: Located,
    sha256: str,
    media_type: str,
    headers: dict[str, str],
    filename: str | None = None,
    content_disposition_type: str = "attachment",
) -> Response:
    """The stored file as the answer to ``request`` (its Range and If-Range honoured)."""
    if storage.remote is None and stored.local is not None:
        return FileResponse(
            stored.local,
            media_type=media_type,
            filename=filename,
            headers=headers,
            content_disposition_type=content_disposition_type,
        )
    etag = f'"{sha256}"'
    answer = {**headers, "accept-ranges": "bytes", "etag": etag}
    if filename is not None:
        answer["content-disposition"] = disposition(content_disposition_type, filename)
    wanted = request.headers.get("range")
    if_range = request.headers.get("if-range")
    span: tuple[int, int] | None = None
    if wanted is not None and (if_range is None or if_range == etag):
        try:
            span = byte_range(wanted, stored.size)
        except MalformedRange as exc:
            return PlainTextResponse(str(exc), status_code=400)
        except UnsatisfiableRange:
            return PlainTextResponse(
                "", status_code=416, headers={"content-range": f"bytes */{stored.size}"}
            )
    start, end = span if span is not None else (0, stored.size)
    with store_errors():
        try:
            body = storage.read(stored.key, start, end - start)
        except ObjectMissing:
            raise HTTPException(status_code=404, detail="file not found") from None
    answer["content-length"] = str(end - start)
    if span is None:
        return StreamingResponse(body, media_type=media_type, headers=answer)
    answer["content-range"] = f"bytes {start}-{end - 1}/{stored.size}"
    return StreamingResponse(body, status_code=206, media_type=media_type, headers=answer)
