"""What the 调听与证据 page and the auditors' page show, read in one place: a case's
recordings, the reader's reason in force, its holds, grants and access log (the JSON route
shows the same), the units the recordings may be granted to, whether the case is archived;
and the access log with its chain's breaks and the numbers of the cases it names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from custody import access, holds, replay
from custody.models import CaseArchive, LegalHold, RecordingAccess, RecordingGrant, ReplayReason
from dispatch.cases.handling_models import Assignment, Unit
from dispatch.cases.models import Case
from recordings import chain
from recordings.models import Recording

CASE_ACCESS_LIMIT = 200


@dataclass(frozen=True)
class CaseEvidence:
    """A case's evidence as one reader sees it."""

    case: Case
    recordings: list[Recording]
    reason: ReplayReason | None  # the reader's reason in force
    holds: list[LegalHold]
    grants: list[RecordingGrant]
    access: list[RecordingAccess]  # newest first


@dataclass(frozen=True)
class EvidencePage:
    """The case's evidence, and what the page needs around it."""

    evidence: CaseEvidence
    units: list[Unit]  # the units handling the case, to whom its recordings may be granted
    unit_names: dict[str, str]  # the names of the units holding a grant
    archived: CaseArchive | None


@dataclass(frozen=True)
class AuditLog:
    """The access log, newest first, and where its hash chain is broken."""

    entries: list[RecordingAccess]
    breaks: list[chain.Break]


def of_case(session: Session, case: Case, user_id: str, now: dt.datetime) -> CaseEvidence:
    recordings = replay.recordings_of(session, case)
    return CaseEvidence(
        case=case,
        recordings=recordings,
        reason=replay.active_reason(session, user_id, [case.id], now),
        holds=holds.of_case(session, case.id),
        grants=replay.grants_of(session, case),
        access=access.entries(
            session, case.id, [r.id for r in recordings], limit=CASE_ACCESS_LIMIT
        ),
    )


def handling_units(session: Session, case: Case) -> list[Unit]:
    """The units with an active assignment on the case."""
    return list(
        session.scalars(
            select(Unit)
            .join(Assignment, Assignment.unit_id == Unit.id)
            .where(Assignment.case_id == case.id, Assignment.active.is_(True))
        )
    )


def unit_names(session: Session, unit_ids: Iterable[str]) -> dict[str, str]:
    ids = set(unit_ids)
    if not ids:
        return {}
    rows = session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
    return {row.id: row.name for row in rows}


def page(session: Session, case: Case, user_id: str, now: dt.datetime) -> EvidencePage:
    evidence = of_case(session, case, user_id, now)
    return EvidencePage(
        evidence=evidence,
        units=handling_units(session, case),
        unit_names=unit_names(session, (g.unit_id for g in evidence.grants)),
        archived=session.get(CaseArchive, case.id),
    )


def audit_log(session: Session, limit: int) -> AuditLog:
    return AuditLog(access.entries(session, limit=limit), access.breaks(session))


def case_numbers(session: Session, entries: Iterable[RecordingAccess]) -> dict[str, str]:
    """The numbers of the cases the entries name, by case id."""
    ids = {e.case_id for e in entries if e.case_id}
    if not ids:
        return {}
    rows = session.execute(select(Case.id, Case.number).where(Case.id.in_(ids)))
    return {row.id: row.number for row in rows}
