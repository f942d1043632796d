"""Verification of the store: every file re-hashed against the manifest, the manifest's
chain checked, and the last check's anchor still in place."""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from core.db import transaction
from custody import access
from custody.models import IntegrityCheck, RecordingAccess
from dispatch.cases.models import Attachment
from recordings import chain, manifest
from recordings.models import ManifestEntry, Recording
from recordings.store import sha256_file

MISSING, ALTERED, UNKNOWN, CHAIN, RECORD = "missing", "altered", "unknown", "chain", "record"


@dataclass(frozen=True)
class Problem:
    kind: str
    name: str
    detail: str

    def line(self) -> str:
        return f"{self.kind.upper():8} {self.name}: {self.detail}"


@dataclass
class Report:
    files_checked: int = 0
    problems: list[Problem] = field(default_factory=list)
    head_seq: int = 0
    head_hash: str = chain.GENESIS
    access_head_id: int = 0
    access_head_hash: str = chain.GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Expected:
    sha256: str
    size_bytes: int
    object_id: str


def replay(entries: Iterable[ManifestEntry], into: dict[str, Expected]) -> None:
    """What the store should hold after these entries: stored adds, purged removes. Pure."""
    for entry in entries:
        if entry.action == manifest.STORED:
            into[entry.path] = Expected(entry.sha256, entry.size_bytes, entry.object_id)
        else:
            into.pop(entry.path, None)


def compare(expected: Mapping[str, Expected], found: Mapping[str, str]) -> list[Problem]:
    """Missing, altered and unknown files, by name. ``found``: path → sha256. Pure."""
    problems = []
    for path in sorted(expected.keys() | found.keys()):
        want, have = expected.get(path), found.get(path)
        if want is None:
            problems.append(Problem(UNKNOWN, path, "not in the manifest"))
        elif have is None:
            problems.append(Problem(MISSING, path, f"expected sha256 {want.sha256}"))
        elif have != want.sha256:
            problems.append(
                Problem(ALTERED, path, f"sha256 {have}, the manifest says {want.sha256}")
            )
    return problems


def store_files(data_dir: Path) -> list[str]:
    """Every file in the stores, relative to the data folder; hidden folders (uploads in
    progress) are skipped."""
    found = []
    for folder in manifest.FOLDERS.values():
        root = data_dir / folder
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for name in filenames:
                if not name.startswith("."):
                    found.append(Path(dirpath, name).relative_to(data_dir).as_posix())
    return sorted(found)


def hash_files(data_dir: Path, paths: Iterable[str]) -> dict[str, str]:
    hashes = {}
    for path in paths:
        try:
            hashes[path] = sha256_file(data_dir / path)
        except FileNotFoundError:
            continue
    return hashes


def _anchor_problems(session: Session) -> list[Problem]:
    """The heads the last check with whole chains saw must still be there, unchanged:
    otherwise the newest entries were cut off (which no chain can show by itself)."""
    last = session.scalar(
        select(IntegrityCheck)
        .where(IntegrityCheck.chains_ok.is_(True))
        .order_by(IntegrityCheck.id.desc())
        .limit(1)
    )
    if last is None:
        return []
    problems = []
    when = f"{last.checked_at:%Y-%m-%d %H:%M} UTC"
    if last.head_seq:
        entry = session.get(ManifestEntry, last.head_seq)
        if entry is None or entry.entry_hash != last.head_hash:
            problems.append(
                Problem(
                    CHAIN,
                    f"manifest entry {last.head_seq}",
                    f"the check of {when} saw it with hash {last.head_hash}; it is gone or changed",
                )
            )
    if last.access_head_id:
        row = session.get(RecordingAccess, last.access_head_id)
        if row is None or row.entry_hash != last.access_head_hash:
            problems.append(
                Problem(
                    CHAIN,
                    f"access log entry {last.access_head_id}",
                    f"the check of {when} saw it with hash "
                    f"{last.access_head_hash}; it is gone or changed",
                )
            )
    return problems


def _record_problems(session: Session, expected: Mapping[str, Expected]) -> list[Problem]:
    """Database rows whose file the manifest does not vouch for."""
    by_object = {want.object_id: (path, want) for path, want in expected.items()}
    problems = []
    rows: list[tuple[str, str, str, str]] = [
        *(
            (manifest.RECORDING, r.id, r.path, r.sha256)
            for r in session.scalars(select(Recording).where(Recording.purged_at.is_(None)))
        ),
        *(
            (manifest.ATTACHMENT, a.id, a.path, a.sha256)
            for a in session.scalars(select(Attachment))
        ),
    ]
    for kind, object_id, path, sha256 in rows:
        name = manifest.data_path(kind, path)
        entry = by_object.get(object_id)
        if entry is None:
            problems.append(Problem(RECORD, name, f"{kind} {object_id} has no manifest entry"))
        elif entry[0] != name or entry[1].sha256 != sha256:
            problems.append(
                Problem(RECORD, name, f"{kind} {object_id} differs from its manifest entry")
            )
    return problems


def verify(session: Session, data_dir: Path) -> Report:
    report = Report()
    expected: dict[str, Expected] = {}
    rows = list(manifest.entries(session))
    for gap in chain.check(manifest.links(iter(rows))):
        report.problems.append(Problem(CHAIN, f"manifest entry {gap.position}", gap.problem))
    report.problems += _anchor_problems(session)
    for gap in access.breaks(session):
        report.problems.append(Problem(CHAIN, f"access log entry {gap.position}", gap.problem))
    tail = session.scalar(select(RecordingAccess).order_by(RecordingAccess.id.desc()).limit(1))
    if tail is not None:
        report.access_head_id, report.access_head_hash = tail.id, tail.entry_hash
    replay(rows, expected)
    if rows:
        report.head_seq, report.head_hash = rows[-1].seq, rows[-1].entry_hash
    session.commit()  # no transaction held open while hashing
    found = hash_files(data_dir, store_files(data_dir))
    report.files_checked = len(found)
    file_problems = compare(expected, found) + _record_problems(session, expected)
    if file_problems:
        # Files are moved in just before their rows commit: whatever was stored or purged
        # meanwhile is looked at again, and only what is still wrong is reported.
        session.commit()
        replay(manifest.entries(session, after_seq=report.head_seq), expected)
        flagged = {p.name for p in file_problems}
        found.update(hash_files(data_dir, flagged))
        for path in flagged - set(store_files(data_dir)):
            found.pop(path, None)
        again = compare(
            {k: v for k, v in expected.items() if k in flagged},
            {k: v for k, v in found.items() if k in flagged},
        )
        again += [p for p in _record_problems(session, expected) if p.name in flagged]
        file_problems = again
    report.problems += file_problems
    return report


def record(session: Session, report: Report, now: dt.datetime) -> IntegrityCheck:
    check = IntegrityCheck(
        checked_at=now,
        ok=report.ok,
        files_checked=report.files_checked,
        problems=json.dumps([p.__dict__ for p in report.problems], ensure_ascii=False),
        head_seq=report.head_seq,
        head_hash=report.head_hash,
        chains_ok=not any(p.kind == CHAIN for p in report.problems),
        access_head_id=report.access_head_id,
        access_head_hash=report.access_head_hash,
    )
    session.add(check)
    return check


def check_and_record(sessions: sessionmaker[Session], data_dir: Path, now: dt.datetime) -> Report:
    """Verify in a read-only session (hashing takes a while; writers are not held up),
    then record the result."""
    with sessions() as session:
        report = verify(session, data_dir)
    with transaction(sessions) as session:
        record(session, report, now)
    return report


def latest(session: Session) -> IntegrityCheck | None:
    return session.scalar(select(IntegrityCheck).order_by(IntegrityCheck.id.desc()).limit(1))


def problems_of(check: IntegrityCheck) -> list[Problem]:
    return [Problem(**item) for item in json.loads(check.problems or "[]")]
