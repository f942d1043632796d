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
from custody import access, bundle, case_archive, dossier, replay, replay_rules
from custody.errors import Denied, NotFound
from custody.models import CaseArchive
from custody.requester import Requester
from dispatch.cases.models import Case
from dispatch.intake import case_lookup

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
    data_dir: Path,
    zone: tzinfo,
) -> Delivery:
    """Write the case's evidence package (recordings, transcripts, the record and its
    history, the access log, SHA256SUMS; the times for people in ``zone``) to a temporary
    file. A missing or altered file refuses it (DossierProblem) before anything is logged as
    delivered."""
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
    with sessions() as session:  # files checked first: a refused export delivers nothing
        members = dossier.members(session, case_lookup.find(session, case.id), data_dir, zone)
    with transaction(sessions) as session:
        exported: list[str | None] = [*recording_ids] or [None]  # one entry at least
        for recording_id in exported:
            access.log(
                session,
                who.attempt(access.EXPORT, access.ALLOWED, recording_id, case.id, reason.reason),
                now,
            )
        rows = access.entries(session, case.id, recording_ids)
        members.append(bundle.Member("access_log.csv", dossier.access_log_csv(rows)))
    return Delivery(
        _written(folder, members, dossier.readme(case, folder, "证据包", zone)),
        f"{folder}.zip",
        temporary=True,
    )


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
    sessions: sessionmaker[Session], who: Requester, case_key: str, now: dt.datetime, data_dir: Path
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
    return _bundle_file(case, record, reason is not None, data_dir)


def _bundle_file(
    case: Case, record: CaseArchive | None, reason_given: bool, data_dir: Path
) -> Delivery:
    if record is None:
        raise NotFound("本案件尚未立卷归档", "no archive bundle")
    if not reason_given:
        raise Denied(*NEEDS_REASON)
    path = case_archive.file_of(data_dir, record)
    if path is None:
        raise NotFound("归档卷宗文件缺失", "archive bundle missing")
    return Delivery(path, f"{case.number}-archive.zip", temporary=False)
