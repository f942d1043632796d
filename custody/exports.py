"""Taking evidence out: a case's evidence package (证据包) and its 立卷归档 bundle. Only
supervisors and investigators, only with a reason (调听事由) in force for the case; every
attempt, allowed or refused, is an entry in the access log."""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from datetime import tzinfo
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from custody import access, bundle, case_archive, dossier, evidence_files, replay, replay_rules
from custody.errors import Denied, NotFound
from custody.evidence_files import Copies
from custody.models import CaseArchive
from custody.requester import Requester
from dispatch.cases.models import Case
from dispatch.intake import case_lookup
from recordings.storage import Storage

ROLE_REFUSAL = ("您的角色无权导出或下载证据", "your role may not do this")
NEEDS_REASON = ("请先在案件中填写调听事由", "give a reason (调听事由) for this case first")
ARCHIVE_RANGE = "archive bundle"  # the access log's byte_range for a bundle's download


@dataclass(frozen=True)
class Delivery:
    path: Path  # a temporary file for a package (the caller removes it), the store's for a bundle
    filename: str
    temporary: bool


def _refuse_role(
    sessions: sessionmaker[Session], who: Requester, case_key: str, action: str, now: dt.datetime
) -> None:
    """Not a supervisor or an investigator: the attempt is logged (with the case, if there
    is one by that key), then Denied."""
    if who.role in replay_rules.INVESTIGATORS:
        return
    with transaction(sessions) as session:
        access.log(
            session, who.attempt(action, access.DENIED, case_id=_case_id(session, case_key)), now
        )
    raise Denied(*ROLE_REFUSAL)


def _case_id(session: Session, key: str) -> str | None:
    try:
        return case_lookup.find(session, key).id
    except case_lookup.CaseNotFound:
        return None


def export_package(
    sessions: sessionmaker[Session],
    who: Requester,
    case_key: str,
    now: dt.datetime,
    storage: Storage,
    zone: tzinfo,
) -> Delivery:
    """Write the case's evidence package (recordings, transcripts, the record and its
    history, the access log, SHA256SUMS; the times for people in ``zone``) to a temporary
    file. The files come from ``storage`` (the data folder, else the object store). A
    missing or altered file refuses it (DossierProblem), the object store out of reach too
    (StoreDown), before anything is logged as delivered."""
    _refuse_role(sessions, who, case_key, access.EXPORT, now)
    with transaction(sessions) as session:
        case = case_lookup.find(session, case_key)
        reason = replay.active_reason(session, who.user_id, [case.id], now)
        recording_ids = [r.id for r in replay.recordings_of(session, case)]
        if reason is None:
            access.log(session, who.attempt(access.EXPORT, access.DENIED, case_id=case.id), now)
    if reason is None:
        raise Denied(*NEEDS_REASON)
    folder = f"{case.number}-evidence"
    with Copies(storage) as files:
        with sessions() as session:  # files checked first: a refused export delivers nothing
            members = dossier.members(session, case_lookup.find(session, case.id), files, zone)
        with transaction(sessions) as session:
            exported: list[str | None] = [*recording_ids] or [None]  # one entry at least
            for recording_id in exported:
                access.log(
                    session,
                    who.attempt(
                        access.EXPORT, access.ALLOWED, recording_id, case.id, reason.reason
                    ),
                    now,
                )
            rows = access.entries(session, case.id, recording_ids)
            members.append(bundle.Member("access_log.csv", dossier.access_log_csv(rows)))
        written = _written(folder, members, dossier.readme(case, folder, "证据包", zone))
    return Delivery(written, f"{folder}.zip", temporary=True)


def _written(folder: str, members: list[bundle.Member], readme: str) -> Path:
    handle, name = tempfile.mkstemp(suffix=".zip")
    os.close(handle)
    target = Path(name)
    try:
        bundle.write(target, folder, members, readme)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return target


def archived_bundle(
    sessions: sessionmaker[Session],
    who: Requester,
    case_key: str,
    now: dt.datetime,
    storage: Storage,
) -> Delivery:
    """The case's 立卷归档 bundle as it was archived."""
    _refuse_role(sessions, who, case_key, access.DOWNLOAD, now)
    with transaction(sessions) as session:
        case = case_lookup.find(session, case_key)
        record = session.get(CaseArchive, case.id)
        reason = replay.active_reason(session, who.user_id, [case.id], now)
        if record is not None:
            outcome = access.ALLOWED if reason else access.DENIED
            access.log(
                session,
                who.attempt(
                    access.DOWNLOAD,
                    outcome,
                    case_id=case.id,
                    reason=reason.reason if reason else "",
                    byte_range=ARCHIVE_RANGE,
                ),
                now,
            )
    return _bundle_file(case, record, reason is not None, storage)


def _bundle_file(
    case: Case, record: CaseArchive | None, reason_given: bool, storage: Storage
) -> Delivery:
    """The bundle's file: the data folder's own when there is no object store (as it always
    was); with one, a temporary copy of its bytes (from the data folder or the bucket)
    checked against the bundle's recorded SHA-256."""
    if record is None:
        raise NotFound("本案件尚未立卷归档", "no archive bundle")
    if not reason_given:
        raise Denied(*NEEDS_REASON)
    filename = f"{case.number}-archive.zip"
    if storage.remote is None:
        path = case_archive.file_of(storage.data_dir, record)
        if path is None:
            raise NotFound("归档卷宗文件缺失", "archive bundle missing")
        return Delivery(path, filename, temporary=False)
    handle, name = tempfile.mkstemp(prefix="hotline-archive-", suffix=".zip")
    os.close(handle)
    copy = Path(name)
    try:
        if not evidence_files.copy_checked(
            storage, case_archive.key_of(record), record.sha256, copy
        ):
            raise NotFound("归档卷宗文件缺失或已被改动", "archive bundle missing or altered")
    except BaseException:
        copy.unlink(missing_ok=True)
        raise
    return Delivery(copy, filename, temporary=True)
