"""Purging recordings past retention and not on hold; each deletion goes to the manifest."""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from custody import holds, retention
from dispatch.cases.models import Case
from recordings import manifest, objects
from recordings.models import Recording

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    recording_id: str
    created_at: dt.datetime
    kept_until: dt.datetime
    path: str
    size_bytes: int
    case_numbers: tuple[str, ...]


def candidates(
    session: Session, years: int, now: dt.datetime, only: str | None = None
) -> list[Candidate]:
    """Recordings past retention and held by nothing, oldest first (``only``: just that
    one, if it is)."""
    oldest_kept = retention.kept_until(now, -years)
    query = select(Recording).where(
        Recording.purged_at.is_(None), Recording.created_at <= oldest_kept
    )
    if only is not None:
        query = query.where(Recording.id == only)
    rows = list(session.scalars(query.order_by(Recording.created_at)))
    if not rows:
        return []
    held_cases = holds.active_case_ids(session)
    cases_by_call: dict[str, list[Case]] = defaultdict(list)
    cases_by_recording: dict[str, list[Case]] = defaultdict(list)
    for case in session.scalars(select(Case).where(Case.call_id.in_([r.call_id for r in rows]))):
        cases_by_call[case.call_id or ""].append(case)
    for case in session.scalars(select(Case).where(Case.recording_id.in_([r.id for r in rows]))):
        cases_by_recording[case.recording_id or ""].append(case)
    targets = _merge_targets(
        session,
        [c for group in (*cases_by_call.values(), *cases_by_recording.values()) for c in group],
    )
    found = []
    for row in rows:
        cases = {c.id: c for c in cases_by_call[row.call_id] + cases_by_recording[row.id]}
        for case in list(cases.values()):  # a merged case lives on in the one it joined
            for target in targets.get(case.id, []):
                cases[target.id] = target
        on_hold = sum(1 for case_id in cases if case_id in held_cases)
        if retention.held([c.status for c in cases.values()], on_hold):
            continue
        if not retention.due(row.created_at, years, now):
            continue
        found.append(
            Candidate(
                row.id,
                row.created_at,
                retention.kept_until(row.created_at, years),
                row.path,
                row.size_bytes,
                tuple(sorted(c.number for c in cases.values())),
            )
        )
    return found


def _merge_targets(session: Session, cases: list[Case]) -> dict[str, list[Case]]:
    """For each merged case, the chain of cases it was merged into."""
    found: dict[str, list[Case]] = {}
    for case in cases:
        chain: list[Case] = []
        current = case
        while current.merged_into_id and len(chain) < 20:
            target = session.get(Case, current.merged_into_id)
            if target is None:
                break
            chain.append(target)
            current = target
        if chain:
            found[case.id] = chain
    return found


def purge(
    sessions: sessionmaker[Session],
    recordings_dir: Path,
    years: int,
    now: dt.datetime,
    actor: str,
    remote: objects.ObjectStore | None = None,
) -> list[Candidate]:
    """Delete what ``candidates`` lists, one recording per transaction: the manifest entry
    and the row's purge mark are committed first, then the file goes (a file that could
    not be removed is then reported by verify as unknown, never silently kept), and its
    object in the bucket (``remote``). The upload row (``purging``) is closed by the
    offloader of the file's data folder, which deletes the object again (an object the store
    could not delete now) and any local copy that folder still holds."""
    with sessions() as session:
        found = candidates(session, years, now)
    purged = []
    for item in found:
        with transaction(sessions) as session:
            row = session.get(Recording, item.recording_id)
            # Checked again inside the transaction: a hold may have come meanwhile.
            if row is None or not candidates(session, years, now, only=row.id):
                continue
            manifest.append(
                session,
                manifest.PURGED,
                manifest.Item(
                    manifest.RECORDING,
                    row.id,
                    row.path,
                    row.sha256,
                    row.size_bytes,
                    call_id=row.call_id,
                ),
                now,
                actor,
            )
            row.purged_at, row.status = now, "purged"
        (recordings_dir / item.path).unlink(missing_ok=True)
        if remote is not None:
            key = manifest.data_path(manifest.RECORDING, item.path)
            try:
                remote.delete(key)
            except objects.StoreUnavailable as exc:
                log.warning("purge: %s stays in the bucket until the store answers: %s", key, exc)
        log.info("purged recording %s (%s)", item.recording_id, item.path)
        purged.append(item)
    return purged
