"""A case's evidence files (证据材料) as the console hands them out: the row and the file it
names in the attachment store. Who may have which is decided by the door: any case worker
may have any case's (:func:`find`); a handling unit only what its disclosure allows
(``dispatch.handling.unit_desk.readable_attachment``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.ids import is_id
from dispatch.cases.models import Attachment
from recordings import evidence


@dataclass(frozen=True)
class AttachmentFile:
    """An attachment and where its file is kept."""

    attachment: Attachment
    path: Path


def file_of(attachments_dir: Path, attachment: Attachment) -> AttachmentFile | None:
    """The attachment with its file; None if the file is not in the store."""
    path = evidence.file_of(attachments_dir, attachment.id, attachment.path)
    return AttachmentFile(attachment, path) if path is not None else None


def find(session: Session, attachments_dir: Path, attachment_id: str) -> AttachmentFile | None:
    """Any case's attachment by its id, with its file; None if there is no such attachment
    or its file is missing."""
    attachment = session.get(Attachment, attachment_id) if is_id(attachment_id) else None
    return file_of(attachments_dir, attachment) if attachment is not None else None


def listed(session: Session, attachment_ids: Iterable[str]) -> list[Attachment]:
    """The attachments with these ids, in the order given (unknown ids left out)."""
    ids = list(attachment_ids)
    found = {a.id: a for a in session.scalars(select(Attachment).where(Attachment.id.in_(ids)))}
    return [found[i] for i in ids if i in found]
