"""The live transcript use case (custody.live_transcript) on SQLite and PostgreSQL: the rows
after an id in order, a partial replaced by its final, the form's suggestions from the text
so far, the transcript's rule and one access-log entry per opened view; and a case
registered while the call is up ends up with the call's final transcript."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from accounts.models import Role, User
from api.app import create_app
from asr import jobs
from asr.live_models import LiveUtterance
from asr.models import TranscriptRecord
from core.db import transaction
from core.settings import Settings
from custody import access, live_transcript
from custody.errors import Denied, NotFound
from custody.models import RecordingAccess
from custody.requester import Requester
from dispatch.cases.recording_links import link_recording
from dispatch.intake import case_store, register
from ivr import call_store
from ivr.call_state import CallState
from recordings import ingest, lookup, store
from recordings.models import Recording
from tests.api_actor import Actor
from tests.builders import add_live_streams, add_user, tone_wav

UID = "1700000000.42"


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@pytest.fixture
def settings(sessions: sessionmaker[Session], db_url: str, tmp_path: Path) -> Settings:
    add_user(sessions, "op1", "operator", phone="8001")
    add_user(sessions, "op2", "operator", phone="8002")
    add_user(sessions, "admin1", "admin")
    return Settings(data_dir=tmp_path, database_url=db_url, operator_replay_days=7)


def who(sessions: sessionmaker[Session], username: str) -> Requester:
    with sessions() as session:
        user = session.scalar(select(User).where(User.username == username))
        assert user is not None
        return Requester(user.id, user.username, Role(user.role), user.phone, "127.0.0.1")


def live_state(started: dt.datetime, ended: dt.datetime | None = None) -> CallState:
    return CallState(
        UID,
        caller_number="",  # withheld: the phone comes from the words
        started_at=started,
        notice_finished_at=started,
        recording_started_at=started,
        answered_at=started + dt.timedelta(seconds=2),
        operator="8001",
        ended_at=ended,
    )


def start_call(sessions: sessionmaker[Session]) -> tuple[str, dt.datetime]:
    """A call answered by phone 8001 and still up, with its two live streams."""
    started = now().replace(microsecond=0) - dt.timedelta(seconds=30)
    with transaction(sessions) as session:
        call = call_store.save_state(session, live_state(started))
        add_live_streams(session, UID, started)
        return call.id, started


def say(
    sessions: sessionmaker[Session],
    stream: str,
    speaker: str,
    text: str,
    start: float,
    end: float,
    final: bool,
) -> int:
    """Store a row as the live listener does (asr.live_listener): its stream's partials
    deleted first, then the row (a new id: ids are never reused)."""
    with transaction(sessions) as session:
        session.execute(
            delete(LiveUtterance).where(
                LiveUtterance.stream_id == stream, LiveUtterance.final.is_(False)
            )
        )
        row = LiveUtterance(
            stream_id=stream,
            call_uniqueid=UID,
            speaker=speaker,
            final=final,
            start=start,
            end=end,
            text=text,
            words=[],
            at=now(),
        )
        session.add(row)
        session.flush()
        return row.id


def hang_up(
    sessions: sessionmaker[Session], settings: Settings, started: dt.datetime, tmp_path: Path
) -> str:
    """The call ends and its recording is stored (and linked to its case, if any), as the
    ivr's ingest does at hang-up; the recording's id."""
    spool = tone_wav(tmp_path / "spool" / f"{UID}.wav")
    with transaction(sessions) as session:
        call = call_store.save_state(session, live_state(started, started + dt.timedelta(30)))
        stored = store.ingest(spool, settings.data_dir / "recordings", started, interleaved=False)
        recording = ingest.attach(
            session, call, stored, now(), link_case=link_recording, on_stored=jobs.enqueue
        )
        return recording.id


def store_transcript(sessions: sessionmaker[Session], recording_id: str, text: str) -> str:
    """The recording's final transcript, one caller segment; its id."""
    with transaction(sessions) as session:
        recording = session.get(Recording, recording_id)
        assert recording is not None
        transcript = TranscriptRecord(
            recording_sha256=recording.sha256,
            model="test",
            engine="vosk",
            status="ok",
            reason="",
            resampling="vosk",
            audio_seconds=30.0,
            decode_seconds=0.1,
            channels=["caller", "operator"],
            text=text,
            clean_text=text,
            created_at=now(),
            segments=[
                {
                    "channel": "caller",
                    "start": 0.5,
                    "end": 2.0,
                    "text": text,
                    "clean_text": text,
                    "words": [],
                }
            ],
        )
        session.add(transcript)
        session.flush()
        return transcript.id


def live_entries(sessions: sessionmaker[Session]) -> list[RecordingAccess]:
    with sessions() as session:
        return list(
            session.scalars(
                select(RecordingAccess)
                .where(RecordingAccess.byte_range == live_transcript.LIVE)
                .order_by(RecordingAccess.id)
            )
        )


def test_the_view_gives_the_rows_in_order_and_the_suggestions_from_the_text_so_far(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, _ = start_call(sessions)
    operator = who(sessions, "op1")
    view = live_transcript.open_view(sessions, settings, operator, call_id, now())

    empty = live_transcript.poll(sessions, view, live_transcript.Cursor())
    assert empty.utterances == [] and empty.gone == [] and empty.cursor.after == 0
    assert empty.suggestions is None and empty.final is None

    partial = say(sessions, "s-caller", "caller", "我 要 投诉", 0.5, 1.2, final=False)
    greeting = say(sessions, "s-op", "operator", "您好 这里 是 热线", 0.0, 1.0, final=True)
    first = live_transcript.poll(sessions, view, empty.cursor)
    assert [(u.id, u.speaker, u.final, u.text) for u in first.utterances] == [
        (partial, "caller", False, "我要投诉"),
        (greeting, "operator", True, "您好这里是热线"),
    ]
    assert first.cursor.after == 0  # a partial comes first: its row may still change
    assert first.suggestions is not None  # a final came: the form follows the text so far
    assert first.suggestions.form["content"] == ""  # the caller has finished nothing yet
    assert first.suggestions.form["transcript_text"] == "您好这里是热线"

    # The partial grows, then its final replaces it (and deletes it): each a new row.
    grown = say(sessions, "s-caller", "caller", "我 要 投诉 城管局", 0.5, 2.0, final=False)
    growing = live_transcript.poll(sessions, view, first.cursor)
    assert [(u.id, u.stream, u.final, u.text) for u in growing.utterances] == [
        (grown, "s-caller", False, "我要投诉城管局")
    ]
    assert growing.gone == [] and growing.suggestions is None
    said = say(
        sessions,
        "s-caller",
        "caller",
        "我 要 投诉 城管局 的 窗口 态度差 我 的 电话 是 幺 三 九 一 二 三 四 五 六 七 八",
        0.5,
        6.0,
        final=True,
    )
    later = live_transcript.poll(sessions, view, growing.cursor)
    assert [(u.id, u.stream, u.final) for u in later.utterances] == [(said, "s-caller", True)]
    assert later.cursor.after == said and later.gone == []
    with sessions() as session:
        kept = session.scalars(select(LiveUtterance.id).order_by(LiveUtterance.id)).all()
    assert list(kept) == [greeting, said]  # the partials are gone
    suggested = later.suggestions
    assert suggested is not None and not suggested.from_final
    assert suggested.numbers == ["13912345678"]
    assert suggested.form["complainant_phone"] == "13912345678"  # the caller ID is withheld
    assert suggested.form["case_type"] == "complaint" and suggested.type_reason == "投诉"
    assert suggested.subjects[0] == "城管局" and suggested.form["subject_unit"] == "城管局"
    assert suggested.form["content"] == "我要投诉城管局的窗口态度差我的电话是13912345678"
    assert suggested.form["title"] == suggested.form["content"][:30]
    # The whole text in time order: the operator's greeting first, then the caller.
    assert suggested.form["transcript_text"].startswith("您好这里是热线 我要投诉")

    # Polls after the last row: nothing new, nothing to suggest again.
    quiet = live_transcript.poll(sessions, view, later.cursor)
    assert quiet.utterances == [] and quiet.suggestions is None and quiet.cursor == later.cursor
    # A partial alone changes no suggestion.
    maybe = say(sessions, "s-op", "operator", "好 的", 7.0, 7.5, final=False)
    partial_only = live_transcript.poll(sessions, view, later.cursor)
    assert [u.id for u in partial_only.utterances] == [maybe]
    assert partial_only.suggestions is None
    # The operator's recogniser heard nothing after all (its partials deleted, no row),
    # while the caller went on.
    with transaction(sessions) as session:
        session.execute(
            delete(LiveUtterance).where(
                LiveUtterance.stream_id == "s-op", LiveUtterance.final.is_(False)
            )
        )
    going_on = say(sessions, "s-caller", "caller", "喂", 8.0, 8.5, final=False)
    after_gone = live_transcript.poll(sessions, view, partial_only.cursor)
    assert [(g.id, g.stream) for g in after_gone.gone] == [(maybe, "s-op")]
    assert [(u.id, u.stream) for u in after_gone.utterances] == [(going_on, "s-caller")]

    # One entry for the opened view, however many polls.
    [entry] = live_entries(sessions)
    assert (entry.actor, entry.action, entry.outcome) == ("op1", access.TRANSCRIPT, access.ALLOWED)
    assert entry.recording_id is None  # nothing stored yet while the call is up
    live_transcript.open_view(sessions, settings, operator, call_id, now())
    assert len(live_entries(sessions)) == 2  # a second view is a second entry


def test_who_may_not_read_the_transcript_may_not_follow_it_and_the_refusal_is_logged(
    sessions: sessionmaker[Session], settings: Settings
) -> None:
    call_id, _ = start_call(sessions)
    with pytest.raises(Denied) as other:
        live_transcript.open_view(sessions, settings, who(sessions, "op2"), call_id, now())
    assert "本人受理" in other.value.zh
    with pytest.raises(Denied):
        live_transcript.open_view(sessions, settings, who(sessions, "admin1"), call_id, now())
    entries = live_entries(sessions)
    assert [(e.actor, e.outcome) for e in entries] == [
        ("op2", access.DENIED),
        ("admin1", access.DENIED),
    ]
    with pytest.raises(NotFound):
        live_transcript.open_view(sessions, settings, who(sessions, "op1"), "0" * 32, now())
    with pytest.raises(NotFound):
        live_transcript.open_view(sessions, settings, who(sessions, "op1"), "nonsense", now())


def test_a_case_registered_during_the_call_gets_the_calls_final_transcript(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    call_id, started = start_call(sessions)
    view = live_transcript.open_view(sessions, settings, who(sessions, "op1"), call_id, now())
    say(sessions, "s-caller", "caller", "我 要 投诉 城管局", 0.5, 2.0, final=True)
    with sessions() as session:
        call = call_store.get_call(session, call_id)
        assert call is not None and live_transcript.worth_following(session, call)
    during = live_transcript.poll(sessions, view, live_transcript.Cursor())
    assert during.suggestions is not None
    case = register.register(
        sessions,
        register.IntakeConfig(
            ZoneInfo(settings.timezone),
            settings.case_number_format,
            settings.attachments_dir,
            settings.attachment_max_bytes,
            settings.attachment_max_files,
        ),
        {
            **during.suggestions.form,
            "received_at": started.astimezone(ZoneInfo(settings.timezone)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "channel": "phone",
            "complainant_name": "王五",
            "complainant_phone": "13912345678",
        },
        [],
        "op1",
        now(),
        call_id,
    )
    with sessions() as session:
        assert case_store.current_links(session, case) == (None, None)

    # Hang-up: the recording is stored (and linked), then its final transcript.
    recording_id = hang_up(sessions, settings, started, tmp_path)
    with sessions() as session:
        ended = call_store.get_call(session, call_id)
        assert ended is not None and live_transcript.worth_following(session, ended)
    assert live_transcript.poll(sessions, view, during.cursor).final is None
    text = "我要投诉城管局的窗口"
    transcript_id = store_transcript(sessions, recording_id, text)

    final = live_transcript.poll(sessions, view, during.cursor)
    assert final.final == [
        {"speaker": "caller", "start": 0.5, "end": 2.0, "text": text, "raw": text}
    ]
    assert final.suggestions is not None and final.suggestions.from_final
    assert final.suggestions.form["content"] == text
    assert final.suggestions.subjects[0] == "城管局"
    with sessions() as session:
        registered = case_store.case_for_call(session, call_id)
        assert registered is not None and registered.id == case.id
        assert case_store.current_links(session, registered) == (recording_id, transcript_id)
        assert lookup.of_call(session, call_id) is not None
        ended = call_store.get_call(session, call_id)
        assert ended is not None and not live_transcript.worth_following(session, ended)
    assert len(live_entries(sessions)) == 1


def test_the_stream_refuses_before_any_event_and_ends_with_the_final_transcript(
    sessions: sessionmaker[Session], settings: Settings, tmp_path: Path
) -> None:
    call_id, started = start_call(sessions)
    say(
        sessions,
        "s-caller",
        "caller",
        "我 的 电话 是 幺 三 九 一 二 三 四 五 六 七 八",
        0.5,
        3.0,
        True,
    )
    with TestClient(create_app(settings)) as app:
        other, operator = Actor(app.app, "op2"), Actor(app.app, "op1")
        refused = other.fetch(f"/api/calls/{call_id}/live")
        assert refused.status_code == 403
        assert refused.json() == {
            "detail": "operators may read the transcripts of the calls they handled only"
        }
        assert other.fetch(f"/api/calls/{'0' * 32}/live").status_code == 404
        # Once the transcript is stored the stream gives what there is, then ends.
        store_transcript(sessions, hang_up(sessions, settings, started, tmp_path), "我要投诉")
        answer = operator.fetch(f"/api/calls/{call_id}/live")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith("text/event-stream")
        events = [block.split("\n") for block in answer.text.strip().split("\n\n")]
        assert [lines[-2] for lines in events] == [
            "event: utterance",
            "event: suggestions",
            "event: final",
        ]
        assert "13912345678" in events[0][-1] and '"speaker": "caller"' in events[0][-1]
        assert '"content": "我要投诉"' in events[1][-1]
        assert events[2][-1] == (
            'data: {"segments": [{"speaker": "caller", "start": 0.5, "end": 2.0, '
            '"text": "我要投诉", "raw": "我要投诉"}]}'
        )
        doc = operator.fetch("/openapi.json").json()["paths"]["/api/calls/{call_id}/live"]
        assert doc["get"]["tags"] == ["calls"]
        assert "text/event-stream" in doc["get"]["responses"]["200"]["content"]
    assert [(e.actor, e.outcome) for e in live_entries(sessions)] == [
        ("op2", access.DENIED),
        ("op1", access.ALLOWED),
    ]
