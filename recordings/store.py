"""Move finished recordings from Asterisk's spool into the store and describe them."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from core import privacy, wav
from core.ids import new_id


@dataclass(frozen=True)
class StoredFile:
    id: str
    relative_path: str
    sha256: str
    size_bytes: int
    info: wav.WavInfo
    repaired: bool


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def store_path(call_started: dt.datetime, recording_id: str) -> str:
    """Where a recording lives in the store, relative to the store's root. Pure."""
    day = call_started.astimezone(dt.UTC)
    return f"{day:%Y/%m/%d}/{recording_id}.wav"


def ingest(
    spool_file: Path, store_root: Path, call_started: dt.datetime, interleaved: bool = True
) -> StoredFile:
    """Move a spool file into the store. The file is fsynced before the caller records it.
    ``interleaved``: the file was written by MixMonitor with ``D`` (two channels)."""
    if interleaved:
        wav.declare_interleaved_stereo(spool_file)
    repaired = wav.repair_header(spool_file)
    info = wav.inspect(spool_file)
    recording_id = new_id()
    relative = store_path(call_started, recording_id)
    target = store_root / relative
    store_root.mkdir(mode=0o700, parents=True, exist_ok=True)
    privacy.private_folders(store_root, Path(relative).parent)
    shutil.move(str(spool_file), target)
    with open(target, "rb") as handle:
        os.fchmod(handle.fileno(), 0o600)  # whoever wrote the spool file, only we read it
        os.fsync(handle.fileno())
    return StoredFile(
        id=recording_id,
        relative_path=relative,
        sha256=sha256_file(target),
        size_bytes=target.stat().st_size,
        info=info,
        repaired=repaired,
    )
