"""The store's manifest: what was stored or deleted, when, with which hash; hash-chained."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from recordings import chain, ledger, offload
from recordings.models import ManifestEntry

STORED, PURGED = "stored", "purged"
RECORDING, ATTACHMENT, ARCHIVE = "recording", "attachment", "archive"
# Where each kind lives, relative to the data folder.
FOLDERS = {RECORDING: "recordings", ATTACHMENT: "attachments", ARCHIVE: "archives"}


@dataclass(frozen=True)
class Item:
    kind: str
    object_id: str
    path: str  # relative to the kind's folder
    sha256: str
    size_bytes: int
    call_id: str = ""
    case_id: str = ""


def data_path(kind: str, path: str) -> str:
    """The manifest's path: relative to the data folder, always with forward slashes."""
    return f"{FOLDERS[kind]}/{path}"


def fields(entry: ManifestEntry) -> dict[str, chain.Field]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "action": entry.action,
        "kind": entry.kind,
        "object_id": entry.object_id,
        "path": entry.path,
        "sha256": entry.sha256,
        "size_bytes": entry.size_bytes,
        "call_id": entry.call_id,
        "case_id": entry.case_id,
        "actor": entry.actor,
    }


def append(
    session: Session, action: str, item: Item, now: dt.datetime, actor: str = ""
) -> ManifestEntry:
    """Add one entry after the current tail, inside the caller's transaction; with an object
    store, the file's upload row goes in the same transaction (``offload.on_manifest``)."""
    ledger.lock(session, "manifest")
    tail = session.scalar(select(ManifestEntry).order_by(ManifestEntry.seq.desc()).limit(1))
    entry = ManifestEntry(
        seq=(tail.seq + 1) if tail else 1,
        at=now,
        action=action,
        kind=item.kind,
        object_id=item.object_id,
        path=data_path(item.kind, item.path),
        sha256=item.sha256,
        size_bytes=item.size_bytes,
        call_id=item.call_id,
        case_id=item.case_id,
        actor=actor,
        prev_hash=tail.entry_hash if tail else chain.GENESIS,
    )
    entry.entry_hash = chain.entry_hash(entry.prev_hash, fields(entry))
    session.add(entry)
    offload.on_manifest(session, entry)
    session.flush()
    return entry


def entries(session: Session, after_seq: int = 0) -> Iterator[ManifestEntry]:
    query = (
        select(ManifestEntry)
        .where(ManifestEntry.seq > after_seq)
        .order_by(ManifestEntry.seq)
        .execution_options(yield_per=2000)
    )
    yield from session.scalars(query)


def links(rows: Iterator[ManifestEntry]) -> Iterator[chain.Link]:
    for row in rows:
        yield chain.Link(row.seq, fields(row), row.prev_hash, row.entry_hash)


def of_objects(session: Session, object_ids: list[str]) -> list[ManifestEntry]:
    if not object_ids:
        return []
    return list(
        session.scalars(
            select(ManifestEntry)
            .where(ManifestEntry.object_id.in_(object_ids))
            .order_by(ManifestEntry.seq)
        )
    )
