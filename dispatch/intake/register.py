"""Registering a case as one unit of work: validate, store the evidence, write the case in
one transaction; if anything fails, nothing is left behind (no case, no file)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from dispatch.cases import registration
from dispatch.cases.events import add_event
from dispatch.cases.lifecycle import (
    STATUS_LABELS,
    Action,
    IllegalTransition,
    Status,
    next_status,
)
from dispatch.cases.models import Attachment, Case
from dispatch.cases.registration import Channel, FieldError, Invalid
from dispatch.deadlines.stage_clocks import Rules
from dispatch.intake import case_store, decisions
from recordings import evidence, manifest

PHONE_NEEDS_CALL = FieldError(
    "电话来电请从工作台的来电登记", "register phone calls from their call"
)
"""A hotline call is always on record (its row exists even when its audio failed), and a phone
complaint's text, transcript and recording stay linked: a phone case is registered from its call."""


@dataclass(frozen=True)
class Upload:
    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class IntakeConfig:
    zone: ZoneInfo
    number_format: str
    attachments_dir: Path
    max_bytes: int
    max_files: int
    rules: Rules | None = None


def store_uploads(
    uploads: Sequence[Upload],
    attachments_dir: Path,
    max_bytes: int,
    now: dt.datetime,
    field: str = "attachments",
) -> list[evidence.StoredEvidence]:
    """Store every upload, or none of them: the first one refused (empty, too large, of a
    kind not allowed) is named in ``field``'s error and those stored before it are removed."""
    stored: list[evidence.StoredEvidence] = []
    try:
        for upload in uploads:
            stored.append(
                evidence.store(upload.stream, upload.filename, attachments_dir, now, max_bytes)
            )
    except evidence.EvidenceRefused as exc:
        for item in stored:
            evidence.discard(attachments_dir, item)
        name = evidence.safe_filename(uploads[len(stored)].filename)
        raise Invalid({field: FieldError(f"{name}：{exc.zh}", f"{name}: {exc}")}) from exc
    return stored


def _store_all(
    uploads: Sequence[Upload], config: IntakeConfig, now: dt.datetime
) -> list[evidence.StoredEvidence]:
    return store_uploads(uploads, config.attachments_dir, config.max_bytes, now)


def attach(
    session: Session,
    case: Case,
    item: evidence.StoredEvidence,
    actor: str,
    now: dt.datetime,
    reply_id: str | None = None,
) -> Attachment:
    """One stored file as an attachment of the case (of a unit's reply with ``reply_id``),
    with its manifest entry."""
    attachment = Attachment(
        id=item.id,
        case_id=case.id,
        filename=item.filename,
        content_type=item.content_type,
        size_bytes=item.size_bytes,
        sha256=item.sha256,
        path=item.relative_path,
        uploaded_by=actor,
        reply_id=reply_id,
        created_at=now,
    )
    session.add(attachment)
    manifest.append(
        session,
        manifest.STORED,
        manifest.Item(
            manifest.ATTACHMENT,
            item.id,
            item.relative_path,
            item.sha256,
            item.size_bytes,
            call_id=case.call_id or "",
            case_id=case.id,
        ),
        now,
        actor,
    )
    return attachment


def register(
    sessions: sessionmaker[Session],
    config: IntakeConfig,
    form: Mapping[str, object],
    uploads: Sequence[Upload],
    actor: str,
    now: dt.datetime,
    call_id: str | None = None,
) -> Case:
    """Validate ``form``, store ``uploads``, and create the case: all or nothing."""
    reg = registration.validate(form, config.zone, now)
    if reg.channel == Channel.PHONE and call_id is None:
        raise Invalid({"channel": PHONE_NEEDS_CALL})
    uploads = [u for u in uploads if u.filename]
    if len(uploads) > config.max_files:
        raise Invalid(
            {
                "attachments": FieldError(
                    f"最多上传 {config.max_files} 个文件", f"at most {config.max_files} files"
                )
            }
        )
    stored = _store_all(uploads, config, now)
    try:
        with transaction(sessions) as session:
            case = case_store.register(
                session,
                reg,
                actor,
                now,
                config.number_format,
                config.zone,
                call_id=call_id,
                rules=config.rules,
            )
            for item in stored:
                attach(session, case, item, actor, now)
            if stored:
                add_event(
                    session,
                    case,
                    actor,
                    Action.ATTACH,
                    now,
                    "、".join(item.filename for item in stored),
                    Status(case.status),
                )
            if reg.merge_into:
                _merge_new(session, case, reg, actor, now)
            return case
    except BaseException:
        for item in stored:
            evidence.discard(config.attachments_dir, item)
        raise


def _merge_new(
    session: Session, case: Case, reg: registration.Registration, actor: str, now: dt.datetime
) -> None:
    """并单 of the case just registered into the unfinished case the form names; a case
    that cannot take it is the field's error (nothing is saved)."""
    try:
        decisions.merge(session, case, reg.merge_into, reg.merge_reason, actor, now)
    except IllegalTransition as exc:
        raise Invalid(
            {
                "merge_into": FieldError(
                    f"该案件{STATUS_LABELS[exc.status] if exc.status else ''}，不能再并入",
                    "that case is finished: nothing can be merged into it",
                )
            }
        ) from exc


def room_for_attachments(case: Case, max_files: int, adding: int = 1) -> int:
    """How many more files this case may take; refused if ``adding`` do not fit."""
    room = max_files - len(case.attachments)
    if adding > room:
        raise Invalid(
            {
                "attachments": FieldError(
                    f"每个案件最多 {max_files} 个文件", f"at most {max_files} files per case"
                )
            }
        )
    return room


def add_attachments(
    sessions: sessionmaker[Session],
    config: IntakeConfig,
    case_id: str,
    uploads: Sequence[Upload],
    actor: str,
    now: dt.datetime,
) -> list[str]:
    """More evidence for an open case; returns the new attachments' ids. The per-case limit
    is checked before any file is stored, and again when they are attached."""
    uploads = [u for u in uploads if u.filename]
    if not uploads:
        raise Invalid({"attachments": FieldError("请选择文件", "no file")})
    with sessions() as session:
        case = case_store.get(session, case_id)
        if case is None:
            raise case_store.NotFound("case not found")
        room_for_attachments(case, config.max_files, len(uploads))
    stored = _store_all(uploads, config, now)
    try:
        with transaction(sessions) as session:
            case = case_store.get(session, case_id)
            if case is None:
                raise case_store.NotFound("case not found")
            room_for_attachments(case, config.max_files, len(stored))
            status = Status(case.status)
            next_status(Action.ATTACH, status)
            for item in stored:
                attach(session, case, item, actor, now)
            add_event(
                session,
                case,
                actor,
                Action.ATTACH,
                now,
                "、".join(item.filename for item in stored),
                status,
            )
            return [item.id for item in stored]
    except BaseException:
        for item in stored:
            evidence.discard(config.attachments_dir, item)
        raise
