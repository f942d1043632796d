"""How fast the evidence store works: storing recordings with their manifest entries,
verifying the whole store (re-hashing every file, checking both chains), appending to the
access log, and building an evidence package; with the process's peak memory.

    .venv/bin/python -m bench.evidence [--recordings 300] [--seconds 60] [--plays 2000]
                                       [--database-url URL]

Recordings are stereo 8 kHz 16-bit WAV (a 60 s call is 1.9 MB), stored through the same
path as at hang-up (``store.ingest`` + ``recordings.ingest.attach``, with the links to cases
and the transcription job).
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import shutil
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

from asr import jobs
from core.db import make_engine, make_session_factory, transaction
from custody import access, bundle, dossier, integrity
from custody.evidence_files import Copies
from dispatch.cases.recording_links import link_recording
from dispatch.intake import register
from hotline import migrate
from ivr import call_store
from ivr.call_state import CallState
from recordings import ingest, store
from recordings.storage import Storage
from tests.builders import tone_wav

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=int, default=300)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--plays", type=int, default=2000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="bench-evidence-"))
    try:
        url = args.database_url or f"sqlite:///{data / 'hotline.db'}"
        migrate.upgrade(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        source = tone_wav(data / "source.wav", seconds=args.seconds)
        recording_ids, call_ids = [], []
        took = 0.0
        for n in range(args.recordings):
            spool = data / "spool" / f"{n}.wav"
            spool.parent.mkdir(exist_ok=True)
            shutil.copyfile(source, spool)  # what Asterisk wrote (not timed)
            started = time.perf_counter()
            with transaction(sessions) as session:
                call = call_store.save_state(
                    session,
                    CallState(
                        f"b.{n}",
                        caller_number="13800138000",
                        started_at=T0,
                        answered_at=T0,
                        ended_at=T0 + dt.timedelta(seconds=args.seconds),
                    ),
                )
                stored = store.ingest(spool, data / "recordings", T0, interleaved=False)
                ingest.attach(
                    session, call, stored, T0, link_case=link_recording, on_stored=jobs.enqueue
                )
                recording_ids.append(stored.id)
                call_ids.append(call.id)
            took += time.perf_counter() - started
        size_mb = source.stat().st_size / 1e6
        print(
            f"store: {args.recordings} recordings of {args.seconds:.0f} s ({size_mb:.1f} MB "
            f"each) in {took:.1f} s: {args.recordings / took:.0f} recordings/s, "
            f"{took / args.recordings * 1000:.1f} ms each (call row, move from the spool, "
            "fsync, sha256, links, manifest entry, commit)"
        )

        started = time.perf_counter()
        with transaction(sessions) as session:
            for n in range(args.plays):
                access.log(
                    session,
                    access.Attempt(
                        "sup1",
                        "supervisor",
                        "127.0.0.1",
                        access.PLAY,
                        access.ALLOWED,
                        recording_ids[n % len(recording_ids)],
                        None,
                        "核查",
                        f"bytes={n}-",
                    ),
                    dt.datetime.now(dt.UTC),
                )
        took = time.perf_counter() - started
        print(
            f"access log: {args.plays} chained entries in one transaction in {took:.2f} s "
            f"({args.plays / took:.0f}/s)"
        )
        started = time.perf_counter()
        for n in range(200):
            with transaction(sessions) as session:
                access.log(
                    session,
                    access.Attempt(
                        "sup1",
                        "supervisor",
                        "127.0.0.1",
                        access.PLAY,
                        access.ALLOWED,
                        recording_ids[0],
                        None,
                        "核查",
                        f"bytes={n}-",
                    ),
                    dt.datetime.now(dt.UTC),
                )
        took = time.perf_counter() - started
        print(
            f"access log: 200 entries one transaction each (as the stream logs them): "
            f"{took / 200 * 1000:.2f} ms each"
        )

        started = time.perf_counter()
        report = integrity.check_and_record(sessions, data, dt.datetime.now(dt.UTC))
        took = time.perf_counter() - started
        total_mb = args.recordings * size_mb
        print(
            f"verify (files just written, so in the page cache): {report.files_checked} "
            f"files, {total_mb:.0f} MB, manifest "
            f"{report.head_seq} entries, access log {args.plays + 200} entries in {took:.2f} "
            f"s ({total_mb / took:.0f} MB/s); problems: {len(report.problems)}"
        )

        settings_zone = ZoneInfo("Asia/Shanghai")
        config = register.IntakeConfig(
            settings_zone, "TS{date:%Y%m%d}{seq:04d}", data / "attachments", 1 << 24, 10
        )
        case = register.register(
            sessions,
            config,
            {
                "received_at": "2026-11-20T08:30",
                "channel": "phone",
                "case_type": "complaint",
                "complainant_name": "王芳",
                "complainant_phone": "13800138000",
                "subject_unit": "某街道办",
                "title": "路灯不亮",
                "content": "小区门口路灯坏了。",
                "decision": "accept",
            },
            [],
            "op1",
            T0,
            call_id=call_ids[0],
        )
        started = time.perf_counter()
        with sessions() as session, Copies(Storage(data)) as files:
            case = session.merge(case)
            members = dossier.members(session, case, files, settings_zone, access.entries(session))
            bundle.write(data / "package.zip", "p", members, "readme")
        took = time.perf_counter() - started
        print(
            f"evidence package with one {size_mb:.1f} MB recording and "
            f"{args.plays + 200} access-log entries: {took * 1000:.0f} ms, "
            f"{(data / 'package.zip').stat().st_size / 1e6:.1f} MB"
        )
        print(f"peak RSS of this process: {peak_rss_mb():.0f} MB")
        engine.dispose()
    finally:
        shutil.rmtree(data, ignore_errors=True)


if __name__ == "__main__":
    main()
