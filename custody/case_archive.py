"""立卷归档: a closed case's bundle, kept in the archive store and in the manifest."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from core.ids import new_id
from custody import bundle, dossier
from custody.evidence_files import Copies
from custody.models import CaseArchive
from dispatch.cases.models import Case
from dispatch.handling import steps
from recordings import manifest
from recordings.storage import Storage

# The zone of the hotline when the caller does not say (the settings' default timezone).
HOTLINE_ZONE: dt.tzinfo = ZoneInfo("Asia/Shanghai")


@contextmanager
def written_files() -> Iterator[list[Path]]:
    """Files written inside a transaction; removed again if it does not commit."""
    written: list[Path] = []
    try:
        yield written
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise


def archive_case(
    session: Session,
    case: Case,
    storage: Storage,
    actor: str,
    now: dt.datetime,
    written: list[Path],
    zone: dt.tzinfo = HOTLINE_ZONE,
) -> None:
    """立卷归档, the one step both doors take: the closed case moves to archived (its
    history says who and when) and its bundle (registration form, history, unit replies,
    feedback, recordings, transcripts, evidence files) goes to the archive store and the
    manifest. Run inside ``written_files()`` around the transaction, so a bundle whose
    transaction fails is removed again. Its times for people are in ``zone`` (the
    settings' ``timezone``). The recordings and evidence files are read from ``storage``
    (the data folder, else the object store); the bundle is written to the data folder,
    where the uploader finds it like any stored file."""
    steps.archive(session, case, actor, now)
    session.flush()
    session.refresh(case, ["history"])
    archive_bundle(session, case, storage, actor, now, written, zone)


def archive_bundle(
    session: Session,
    case: Case,
    storage: Storage,
    actor: str,
    now: dt.datetime,
    written: list[Path],
    zone: dt.tzinfo = HOTLINE_ZONE,
) -> CaseArchive:
    """Write the bundle of ``case`` (already moved to archived in this transaction) and
    record it."""
    archive_id = new_id()
    relative = f"{now.astimezone(dt.UTC):%Y/%m/%d}/{archive_id}.zip"
    target = storage.data_dir / manifest.FOLDERS[manifest.ARCHIVE] / relative
    folder = f"{case.number}-archive"
    written.append(target)
    with Copies(storage) as files:
        members = dossier.members(session, case, files, zone)
        digest = bundle.write(
            target, folder, members, dossier.readme(case, folder, "立卷归档卷宗", zone)
        )
    size = target.stat().st_size
    record = CaseArchive(
        case_id=case.id,
        id=archive_id,
        path=relative,
        sha256=digest,
        size_bytes=size,
        created_by=actor,
        created_at=now,
    )
    session.add(record)
    manifest.append(
        session,
        manifest.STORED,
        manifest.Item(
            manifest.ARCHIVE,
            archive_id,
            relative,
            digest,
            size,
            call_id=case.call_id or "",
            case_id=case.id,
        ),
        now,
        actor,
    )
    return record


def key_of(record: CaseArchive) -> str:
    """The bundle's key: its path under the data folder and its object's name."""
    return manifest.data_path(manifest.ARCHIVE, record.path)


def file_of(data_dir: Path, record: CaseArchive) -> Path | None:
    """The bundle's file in the data folder (None: not there, perhaps only in the object
    store: ``custody.exports`` reads it wherever it is)."""
    root = (data_dir / manifest.FOLDERS[manifest.ARCHIVE]).resolve()
    path = (root / record.path).resolve()
    return path if path.is_relative_to(root) and path.is_file() else None
