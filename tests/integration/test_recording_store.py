"""The store as evidence: every stored file in a hash-chained manifest, ``hotline recordings
verify`` naming what is missing, altered or unknown, retention with a 5-year floor, legal
holds, and purge. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from asr import jobs
from core.db import transaction
from core.settings import PROJECT_ROOT, Settings
from custody import access, holds, integrity, purge
from dispatch.cases.models import Case
from dispatch.cases.recording_links import link_recording
from dispatch.intake import register
from ivr import call_store
from ivr.call_state import CallState
from recordings import ingest, links, manifest, store
from recordings.models import ManifestEntry, Recording
from tests.builders import T0, add_recorded_call, drop_append_only_guards, flip_byte, tone_wav

HOTLINE = str(PROJECT_ROOT / ".venv/bin/hotline")
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


@pytest.fixture
def settings(db_url: str, sessions: sessionmaker[Session], tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, database_url=db_url)


def hotline(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOTLINE, "recordings", *args],
        env={**os.environ, **settings.to_env(), **env},
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def register_case(
    sessions: sessionmaker[Session],
    settings: Settings,
    call_id: str | None = None,
    files: int = 0,
    received: str = "2026-11-20T08:30",
) -> Case:
    form = {
        "received_at": received,
        "channel": "phone" if call_id else "walk_in",
        "case_type": "complaint",
        "complainant_name": "王芳",
        "complainant_phone": "13800138000",
        "subject_unit": "某街道办",
        "title": "路灯不亮",
        "content": "小区门口路灯坏了一个月。",
        "decision": "accept",
    }
    config = register.IntakeConfig(
        ZoneInfo(settings.timezone),
        settings.case_number_format,
        settings.attachments_dir,
        settings.attachment_max_bytes,
        settings.attachment_max_files,
    )
    uploads = [register.Upload(f"证据{i}.pdf", io.BytesIO(PDF + bytes([i]))) for i in range(files)]
    return register.register(sessions, config, form, uploads, "op1", T0, call_id=call_id)


def entries(sessions: sessionmaker[Session]) -> list[ManifestEntry]:
    with sessions() as session:
        return list(manifest.entries(session))


def test_stored_recordings_and_attachments_enter_the_chained_manifest(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, recording_id = add_recorded_call(sessions, settings.data_dir, "1.1")
    case = register_case(sessions, settings, call_id=call_id, files=2)
    rows = entries(sessions)
    assert [(e.seq, e.kind, e.action) for e in rows] == [
        (1, "recording", "stored"),
        (2, "attachment", "stored"),
        (3, "attachment", "stored"),
    ]
    with sessions() as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        assert rows[0].object_id == recording_id and rows[0].sha256 == recording.sha256
        assert rows[0].path == f"recordings/{recording.path}" and rows[0].call_id == call_id
        assert store.sha256_file(settings.data_dir / rows[0].path) == rows[0].sha256
        report = integrity.verify(session, settings.data_dir)
    assert rows[1].case_id == case.id and rows[1].prev_hash == rows[0].entry_hash
    assert report.ok and report.files_checked == 3 and report.head_seq == 3
    done = hotline(settings, "verify")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "files checked: 3" in done.stdout and "ok:" in done.stdout


def test_verify_names_the_altered_missing_and_unknown_files(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    paths = []
    for uid in ("2.1", "2.2", "2.3"):
        recording_id = add_recorded_call(sessions, settings.data_dir, uid)[1]
        with sessions() as session:
            recording = session.get(Recording, recording_id)
            assert recording is not None
            paths.append(f"recordings/{recording.path}")
    altered, missing, _fine = (settings.data_dir / p for p in paths)
    flip_byte(altered, 100)
    missing.unlink()
    unknown = settings.recordings_dir / "2026" / "11" / "20" / "planted.wav"
    tone_wav(unknown)

    done = hotline(settings, "verify")
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("ALTERED") and paths[0] in line for line in lines), lines
    assert any(line.startswith("MISSING") and paths[1] in line for line in lines), lines
    assert any(
        line.startswith("UNKNOWN") and "recordings/2026/11/20/planted.wav" in line for line in lines
    ), lines
    assert not any(paths[2] in line for line in lines[1:]), "the intact file is not reported"
    assert "3 problem(s) found" in done.stderr
    with sessions() as session:
        check = integrity.latest(session)
        assert check is not None and not check.ok
        assert {p.kind for p in integrity.problems_of(check)} == {"altered", "missing", "unknown"}


def test_editing_an_old_manifest_entry_breaks_the_chain(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    for uid in ("3.1", "3.2", "3.3"):
        add_recorded_call(sessions, settings.data_dir, uid)
    assert hotline(settings, "verify").returncode == 0
    drop_append_only_guards(sessions)
    with transaction(sessions) as session:  # someone with database access edits entry 1
        session.execute(
            update(ManifestEntry).where(ManifestEntry.seq == 1).values(actor="someone else")
        )
    done = hotline(settings, "verify")
    assert done.returncode == 1
    assert "CHAIN    manifest entry 1: content does not match its hash (edited)" in done.stdout


def test_the_manifest_and_the_access_log_refuse_updates_and_deletes(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    recording_id = add_recorded_call(sessions, settings.data_dir, "3.9")[1]
    with transaction(sessions) as session:
        access.log(
            session,
            access.Attempt(
                "op1", "operator", "127.0.0.1", access.PLAY, access.ALLOWED, recording_id
            ),
            T0,
        )
    for statement in (
        "UPDATE store_manifest SET actor = 'x'",
        "DELETE FROM store_manifest",
        "UPDATE recording_access SET actor = 'x'",
        "DELETE FROM recording_access",
    ):
        with pytest.raises(DBAPIError, match="append-only"), transaction(sessions) as session:
            session.execute(text(statement))
    with sessions() as session:
        assert [e.actor for e in manifest.entries(session)] == ["ivr"]
        assert [r.actor for r in access.entries(session)] == ["op1"]


def test_cutting_the_manifest_behind_the_last_check_is_found(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    for uid in ("4.1", "4.2"):
        add_recorded_call(sessions, settings.data_dir, uid)
    assert hotline(settings, "verify").returncode == 0
    drop_append_only_guards(sessions)
    with transaction(sessions) as session:  # the last entry and its file, gone together
        last = session.get(ManifestEntry, 2)
        assert last is not None
        (settings.data_dir / last.path).unlink()
        session.delete(last)
        session.execute(
            update(Recording).where(Recording.id == last.object_id).values(purged_at=T0)
        )
    done = hotline(settings, "verify")
    assert done.returncode == 1
    assert "manifest entry 2" in done.stdout and "gone or changed" in done.stdout


def test_cutting_the_access_log_behind_the_last_check_is_found(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    recording_id = add_recorded_call(sessions, settings.data_dir, "4.5")[1]
    for who in ("sup1", "sup2", "inv1"):
        with transaction(sessions) as session:
            access.log(
                session,
                access.Attempt(
                    who, "supervisor", "127.0.0.1", access.PLAY, access.ALLOWED, recording_id
                ),
                T0,
            )
    assert hotline(settings, "verify").returncode == 0
    drop_append_only_guards(sessions)
    with transaction(sessions) as session:  # the newest listen, erased
        session.execute(text("DELETE FROM recording_access WHERE id = 3"))
    done = hotline(settings, "verify")
    assert done.returncode == 1
    assert "CHAIN    access log entry 3: the check of" in done.stdout
    assert "gone or changed" in done.stdout


def test_a_case_registered_during_the_call_is_linked_when_the_recording_is_stored(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    spool = settings.spool_dir / "5.1.wav"
    tone_wav(spool)
    with transaction(sessions) as session:
        call = call_store.save_state(
            session, CallState("5.1", caller_number="13800138000", started_at=T0, answered_at=T0)
        )
        call_id = call.id
    case = register_case(sessions, settings, call_id=call_id)
    with transaction(sessions) as session:
        found = call_store.get_call(session, call_id)
        assert found is not None
        stored = store.ingest(spool, settings.recordings_dir, T0, interleaved=False)
        recording = ingest.attach(
            session, found, stored, T0, link_case=link_recording, on_stored=jobs.enqueue
        )
    with sessions() as session:
        linked = session.get(Case, case.id)
        assert linked is not None and linked.recording_id == recording.id
        assert [e.case_id for e in manifest.entries(session)] == [case.id]


def test_a_recording_whose_links_disagree_is_not_stored(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    other_call, other_recording = add_recorded_call(sessions, settings.data_dir, "6.0")
    with transaction(sessions) as session:
        call = call_store.save_state(
            session, CallState("6.1", caller_number="13800138000", started_at=T0, answered_at=T0)
        )
        call_id = call.id
    case = register_case(sessions, settings, call_id=call_id)
    with transaction(sessions) as session:  # a case pointing at another call's recording
        session.execute(update(Case).where(Case.id == case.id).values(recording_id=other_recording))
    spool = tone_wav(settings.spool_dir / "6.1.wav")
    stored = store.ingest(spool, settings.recordings_dir, T0, interleaved=False)
    with (
        pytest.raises(links.LinkError, match="points at recording"),
        transaction(sessions) as session,
    ):
        found = call_store.get_call(session, call_id)
        assert found is not None
        ingest.attach(session, found, stored, T0, link_case=link_recording, on_stored=jobs.enqueue)
    assert [e.object_id for e in entries(sessions)] == [other_recording], (
        "nothing entered the manifest"
    )
    assert other_call


# -- retention and purge -------------------------------------------------------------------


def age(sessions: sessionmaker[Session], recording_id: str, years: float) -> None:
    with transaction(sessions) as session:
        session.execute(
            update(Recording)
            .where(Recording.id == recording_id)
            .values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=365.25 * years))
        )


def test_purge_lists_then_deletes_only_old_recordings_that_nothing_holds(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    old_free = add_recorded_call(sessions, settings.data_dir, "7.1")[1]
    young = add_recorded_call(sessions, settings.data_dir, "7.2")[1]
    held_call, held = add_recorded_call(sessions, settings.data_dir, "7.3")
    open_call, open_case_recording = add_recorded_call(sessions, settings.data_dir, "7.4")
    merged_call, merged = add_recorded_call(sessions, settings.data_dir, "7.5")
    age(sessions, young, 4.9)
    for recording_id in (old_free, held, open_case_recording, merged):
        age(sessions, recording_id, 6)
    held_case = register_case(sessions, settings, call_id=held_call)
    open_case = register_case(sessions, settings, call_id=open_call)  # still being handled
    merged_case = register_case(sessions, settings, call_id=merged_call)
    with transaction(sessions) as session:  # 并单 into the open case: it lives on there
        session.execute(
            update(Case)
            .where(Case.id == merged_case.id)
            .values(status="merged", merged_into_id=open_case.id)
        )
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == held_case.id).values(status="closed"))
        found = session.get(Case, held_case.id)
        assert found is not None
        holds.place(session, found, "纪检调查中，保留录音", "sup1", T0)

    listed = hotline(settings, "purge")
    assert listed.returncode == 0, listed.stderr
    assert "past retention (5 years) and not on hold: 1" in listed.stdout
    assert old_free in listed.stdout and "run again with --yes" in listed.stdout
    for kept in (young, held, open_case_recording, merged):
        assert kept not in listed.stdout
    with sessions() as session:
        recording = session.get(Recording, old_free)
        assert recording is not None and recording.purged_at is None
        path = settings.recordings_dir / recording.path
    assert path.exists(), "nothing is deleted without --yes"

    done = hotline(settings, "purge", "--yes")
    assert done.returncode == 0, done.stderr
    assert "deleted 1 recording(s)" in done.stdout
    assert not path.exists()
    last = entries(sessions)[-1]
    assert (last.action, last.object_id) == ("purged", old_free)
    for kept in (young, held, open_case_recording, merged):
        with sessions() as session:
            recording = session.get(Recording, kept)
            assert recording is not None and recording.purged_at is None
            assert (settings.recordings_dir / recording.path).exists()
    assert hotline(settings, "verify").returncode == 0, "a purge leaves the store consistent"

    with transaction(sessions) as session:  # released: the held one may go next time
        hold = holds.of_case(session, held_case.id)[0]
        found = session.get(Case, held_case.id)
        assert found is not None
        holds.release(session, found, hold.id, "调查结束", "sup1", T0)
    assert held in hotline(settings, "purge").stdout


def test_a_retention_below_five_years_is_refused_by_the_command(settings: Settings) -> None:
    done = hotline(settings, "purge", "--yes", HOTLINE_RECORDING_RETENTION_YEARS="3")
    assert done.returncode != 0
    assert "recording_retention_years must be at least 5" in done.stderr
    longer = hotline(settings, "purge", HOTLINE_RECORDING_RETENTION_YEARS="10")
    assert longer.returncode == 0 and "(10 years)" in longer.stdout


def test_purge_skips_a_recording_held_meanwhile(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, recording_id = add_recorded_call(sessions, settings.data_dir, "8.1")
    age(sessions, recording_id, 6)
    case = register_case(sessions, settings, call_id=call_id)
    with transaction(sessions) as session:
        session.execute(update(Case).where(Case.id == case.id).values(status="closed"))
    now = dt.datetime.now(dt.UTC)
    with sessions() as session:
        assert [c.recording_id for c in purge.candidates(session, 5, now)] == [recording_id]
    with transaction(sessions) as session:
        found = session.get(Case, case.id)
        assert found is not None
        holds.place(session, found, "复核中", "sup1", now)
    assert purge.purge(sessions, settings.recordings_dir, 5, now, "test") == []
    with sessions() as session:
        assert (
            session.scalar(select(Recording.purged_at).where(Recording.id == recording_id)) is None
        )
