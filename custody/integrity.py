"""Verification of the store: every file re-hashed against the manifest, the manifest's
chain checked, and the last check's anchor still in place.

With an object store (``remote``), a file is re-hashed wherever its bytes are: the local copy
if this data folder holds one, else the object in the bucket; when both exist (an upload
confirmed, the local copy kept or not yet removed), the object is re-hashed too, so an object
altered in the bucket is named. A file still waiting to be uploaded from another data folder
(another node) is not a problem here: its own node's check sees it. Objects in the bucket
that the manifest does not list are unknown, as files are."""

from __future__ import annotations

import datetime as dt
import hashlib
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
from recordings import chain, manifest, objects, offload
from recordings.models import ManifestEntry, Recording
from recordings.offload_models import PENDING, PURGING, STORED
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
    objects_checked: int = 0  # objects re-hashed in the bucket
    pending_elsewhere: int = 0  # files still on another data folder, waiting for upload
    objects_unchecked: int = 0  # uploaded files not re-hashed: the store was unreachable
    store_error: str = ""  # why the object store could not be reached
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


@dataclass
class _Bucket:
    """What the object store holds, as verify sees it. ``error``: the store could not be
    reached (then nothing in it is re-hashed, and nothing is said missing for that)."""

    remote: objects.ObjectStore
    keys: set[str]
    uploads: dict[str, tuple[str, str, str]]  # key -> (state, origin, last_error)
    here: str  # this data folder's origin
    error: str = ""

    @classmethod
    def look(cls, session: Session, remote: objects.ObjectStore, data_dir: Path) -> _Bucket:
        uploads = offload.placed(session)
        session.commit()
        bucket = cls(remote, set(), uploads, offload.origin_of(data_dir))
        try:
            bucket.keys = {
                info.key
                for folder in manifest.FOLDERS.values()
                for info in remote.keys(f"{folder}/")
            }
        except objects.StoreDenied:
            raise  # wrong credentials: a configuration error, not an outage
        except objects.StoreUnavailable as exc:
            bucket.error = str(exc)
        return bucket

    def hash(self, path: str) -> str | None:
        """The object's SHA-256; None when it is missing (or the store went away)."""
        if self.error:
            return None
        try:
            digest = hashlib.sha256()
            for chunk in self.remote.read(path):
                digest.update(chunk)
        except objects.ObjectMissing:
            return None
        except objects.StoreDenied:
            raise
        except objects.StoreUnavailable as exc:
            self.error = str(exc)
            return None
        return digest.hexdigest()


def _look(
    data_dir: Path,
    bucket: _Bucket | None,
    expected: Mapping[str, Expected],
    report: Report,
    only: set[str] | None = None,
) -> tuple[dict[str, str], list[Problem]]:
    """path -> sha256 of the bytes where they are (the local file, else the object), and the
    problems of the bucket's own copies (altered or lost objects, uploads that failed on
    another data folder). Files waiting for their upload elsewhere, and uploaded files when
    the store cannot be reached, are left out (counted in the report)."""
    local = set(store_files(data_dir))
    names = local | set(expected) | (bucket.keys if bucket else set())
    if only is not None:
        names &= only
    found = hash_files(data_dir, sorted(names & local))
    problems: list[Problem] = []
    report.pending_elsewhere = report.objects_unchecked = 0
    if bucket is None:
        return found, problems
    name = bucket.remote.name
    for path in sorted(names):
        want = expected.get(path)
        state, origin, error = bucket.uploads.get(path, ("", "", ""))
        if state == PURGING:
            continue  # purged: its object is being deleted
        if path in found:
            if want is None or (state != STORED and path not in bucket.keys):
                continue
            have = bucket.hash(path)
            if bucket.error:
                report.objects_unchecked += 1
                continue
            report.objects_checked += 1
            if have is None:
                problems.append(Problem(MISSING, path, f"the object in {name} is missing"))
            elif have != want.sha256:
                problems.append(
                    Problem(
                        ALTERED,
                        path,
                        f"the object in {name} has sha256 {have}, the manifest says {want.sha256}",
                    )
                )
            continue
        if path in bucket.keys or (state == STORED and bucket.error):
            have = bucket.hash(path)
            if have is not None:
                report.objects_checked += 1
                if want is not None and have != want.sha256:
                    problems.append(
                        Problem(
                            ALTERED,
                            path,
                            f"the object in {name} has sha256 {have}, "
                            f"the manifest says {want.sha256}",
                        )
                    )
                    have = want.sha256  # named above, not again by compare
                found[path] = have
                continue
            if bucket.error and want is not None and state == STORED:
                report.objects_unchecked += 1
                found[path] = want.sha256  # uploaded; not reachable to re-hash now
                continue
        if want is not None and origin and origin != bucket.here and state != STORED:
            if state == PENDING:
                report.pending_elsewhere += 1
                found[path] = want.sha256  # not here to hash: its own folder's check does
            else:
                problems.append(Problem(MISSING, path, f"only on {origin}: {error}"))
                found[path] = want.sha256
    report.store_error = bucket.error
    return found, problems


def verify(session: Session, data_dir: Path, remote: objects.ObjectStore | None = None) -> Report:
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
    bucket = _Bucket.look(session, remote, data_dir) if remote is not None else None
    found, bucket_problems = _look(data_dir, bucket, expected, report)
    report.files_checked = len(found) - report.pending_elsewhere - report.objects_unchecked
    file_problems = compare(expected, found) + bucket_problems + _record_problems(session, expected)
    if file_problems:
        # Files are moved in just before their rows commit, and leave for the bucket after
        # theirs: whatever was stored, uploaded or purged meanwhile is looked at again, and
        # only what is still wrong is reported.
        session.commit()
        replay(manifest.entries(session, after_seq=report.head_seq), expected)
        flagged = {p.name for p in file_problems}
        if remote is not None:
            bucket = _Bucket.look(session, remote, data_dir)
        found, bucket_problems = _look(data_dir, bucket, expected, Report(), flagged)
        again = compare({k: v for k, v in expected.items() if k in flagged}, found)
        again += bucket_problems
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


def check_and_record(
    sessions: sessionmaker[Session],
    data_dir: Path,
    now: dt.datetime,
    remote: objects.ObjectStore | None = None,
) -> Report:
    """Verify in a read-only session (hashing takes a while; writers are not held up),
    then record the result."""
    with sessions() as session:
        report = verify(session, data_dir, remote)
    with transaction(sessions) as session:
        record(session, report, now)
    return report


def latest(session: Session) -> IntegrityCheck | None:
    return session.scalar(select(IntegrityCheck).order_by(IntegrityCheck.id.desc()).limit(1))


def problems_of(check: IntegrityCheck) -> list[Problem]:
    return [Problem(**item) for item in json.loads(check.problems or "[]")]
