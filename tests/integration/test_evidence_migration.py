"""Migration 0007 on a database that already holds recordings, evidence and accesses: each
gets its manifest entry with the hash recorded when it was stored, the access log its chain,
and ``verify`` finds the store whole. SQLite and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from alembic import command
from sqlalchemy import text

from core.db import make_engine, make_session_factory
from custody import access, integrity
from hotline import migrate
from recordings import manifest, store
from tests.builders import T0, tone_wav


def test_existing_files_and_accesses_are_chained(db_url: str, tmp_path: Path) -> None:
    command.upgrade(migrate.alembic_config(db_url), "0006")
    wav = tone_wav(tmp_path / "recordings" / "2026" / "11" / "20" / ("a" * 32 + ".wav"))
    pdf = tmp_path / "attachments" / "2026" / "11" / "20" / ("b" * 32 + ".pdf")
    pdf.parent.mkdir(parents=True)
    pdf.write_bytes(b"%PDF-1.4\n%%EOF\n")
    engine = make_engine(db_url)
    values = {
        "call": "c" * 32,
        "rec": "a" * 32,
        "case": "d" * 32,
        "att": "b" * 32,
        "at": T0,
        "later": T0 + dt.timedelta(minutes=5),
        "wav_sha": store.sha256_file(wav),
        "pdf_sha": store.sha256_file(pdf),
        "wav_size": wav.stat().st_size,
        "pdf_size": pdf.stat().st_size,
        "wav_path": f"2026/11/20/{'a' * 32}.wav",
        "pdf_path": f"2026/11/20/{'b' * 32}.pdf",
    }
    with engine.begin() as connection:
        for statement in (
            "INSERT INTO calls (id, asterisk_uniqueid, linkedid, channel, caller_number,"
            " caller_name, dialled_number, started_at) VALUES (:call, '1.1', '', '', '', '',"
            " '', :at)",
            "INSERT INTO recordings (id, call_id, path, sha256, size_bytes, duration_seconds,"
            " sample_rate, channels, status, created_at) VALUES (:rec, :call,"
            " :wav_path, :wav_sha, :wav_size, 1.0, 8000, 2, 'complete', :at)",
            "INSERT INTO cases (id, number, status, received_at, registered_at, registered_by,"
            " channel, case_type, complainant_name, complainant_phone, complainant_address,"
            " complainant_org, anonymous, confidential, subject_unit, subject_window,"
            " subject_person, title, content, request, verified_with_caller, call_id,"
            " transcript_text, decision, decision_reason, refer_to, reply_text)"
            " VALUES (:case, 'TS1', 'closed', :at, :at, 'op1', 'phone', 'complaint', '', '',"
            " '', '', false, false, '', '', '', 't', 'c', '', false, :call, '', '', '', '', '')",
            "INSERT INTO attachments (id, case_id, filename, content_type, size_bytes, sha256,"
            " path, uploaded_by, created_at) VALUES (:att, :case, 'x.pdf', 'application/pdf',"
            " :pdf_size, :pdf_sha, :pdf_path, 'op1', :later)",
            "INSERT INTO recording_access (recording_id, accessed_at, actor, client, action,"
            " byte_range) VALUES (:rec, :at, 'op1', '127.0.0.1', 'play', '')",
            "INSERT INTO recording_access (recording_id, accessed_at, actor, client, action,"
            " byte_range) VALUES (:rec, :later, 'sup1', '127.0.0.1', 'play', 'bytes=0-')",
        ):
            connection.execute(text(statement), values)
    migrate.upgrade(db_url)
    sessions = make_session_factory(engine)
    with sessions() as session:
        entries = list(manifest.entries(session))
        assert [(e.seq, e.kind, e.object_id, e.sha256, e.call_id, e.case_id) for e in entries] == [
            (1, "recording", "a" * 32, values["wav_sha"], "c" * 32, "d" * 32),
            (2, "attachment", "b" * 32, values["pdf_sha"], "c" * 32, "d" * 32),
        ]
        assert access.breaks(session) == []
        assert [(r.id, r.actor) for r in reversed(access.entries(session))] == [
            (1, "op1"),
            (2, "sup1"),
        ]
        report = integrity.verify(session, tmp_path)
    assert report.ok, [p.line() for p in report.problems]
    assert report.files_checked == 2
    engine.dispose()
