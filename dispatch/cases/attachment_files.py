"""A case's evidence files (证据材料) as the console hands them out: the row and the file it
names in the attachment store. Who may have which is decided by the door: any case worker
may have any case's (:func:`find`); a handling unit only what its disclosure allows
(``dispatch.handling.unit_desk.readable_attachment``). The file's bytes are in the data
folder, else in the object store behind it (``recordings.storage.Storage``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ids import is_id
from dispatch.cases.models import Attachment
from recordings import evidence, lookup, manifest
from recordings.storage import Storage

FOLDER = manifest.FOLDERS[manifest.ATTACHMENT]


@dataclass(frozen=True)
class AttachmentFile:
    """An attachment and where its file is kept (the data folder, else the object store)."""

    attachment: Attachment
    stored: lookup.Located


def key_of(attachment: Attachment) -> str:
    """The attachment's key: its path under the data folder and its object's name."""
    return manifest.data_path(manifest.ATTACHMENT, attachment.path)


def file_of(storage: Storage, attachment: Attachment) -> AttachmentFile | None:
    """The attachment with its file; None if the file is in neither the data folder nor
    the object store (``StoreUnavailable`` if the store cannot be reached to say)."""
    if not is_id(attachment.id):
        return None
    local = evidence.file_of(storage.data_dir / FOLDER, attachment.id, attachment.path)
    if local is None and storage.remote is None:
        return None
    stored = lookup.locate(storage, key_of(attachment), local)
    return AttachmentFile(attachment, stored) if stored is not None else None


def find(session: Session, storage: Storage, attachment_id: str) -> AttachmentFile | None:
    """Any case's attachment by its id, with its file; None if there is no such attachment
    or its file is missing."""
    attachment = session.get(Attachment, attachment_id) if is_id(attachment_id) else None
    return file_of(storage, attachment) if attachment is not None else None


def listed(session: Session, attachment_ids: Iterable[str]) -> list[Attachment]:
    """The attachments with these ids, in the order given (unknown ids left out)."""
    ids = list(attachment_ids)
    found = {a.id: a for a in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))}
    return [found[i] for i in ids if i in found]
