"""Following a call's transcript while the call is up: the operator's console shows each
speaker's utterances as the live recognisers store them, and the registration form's
suggestions drawn from the text so far, until the call's final transcript is stored.

The live text is the transcript it will become, so the transcript's rule decides who may
follow it (``custody.replay_rules``, through ``replay.decide_call``: the operator whose phone
answered, or any operator while nobody has, supervisors and investigators with a reason in
force, …), and every opened view is one entry (action ``transcript``, place :data:`LIVE`) in
the access log; the polls of an opened view log nothing more. The suggestions come from the
same function that pre-fills the form from a finished transcript
(``dispatch.intake.call_context.fill_from``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from asr import jobs, live_reads, records
from asr.live_models import LiveUtterance
from asr.models import TranscriptRecord
from asr.normalize import clean
from core.ids import is_id
from core.settings import Settings
from custody import replay_rules, transcript_reads
from custody.errors import Denied, NotFound
from custody.requester import Requester, may_ever_listen, unit_of
from dispatch.intake import call_context
from ivr import call_store
from ivr.models import Call
from recordings import lookup

LIVE = "live transcript"  # where it was shown (the access log's byte_range column)


@dataclass(frozen=True)
class View:
    """A live view someone was allowed to open (and which is in the access log)."""

    call_id: str
    call_uniqueid: str


@dataclass(frozen=True)
class Spoken:
    """One utterance row as the console shows it: ``text`` cleaned as a transcript's is."""

    id: int
    stream: str
    speaker: str
    final: bool
    start: float
    end: float
    text: str
    raw: str


@dataclass(frozen=True)
class Suggestions:
    """What the registration form would hold from the text so far."""

    form: dict[str, str]
    type_reason: str
    subjects: list[str]
    numbers: list[str]
    from_final: bool  # drawn from the stored transcript, not from the live text


@dataclass(frozen=True)
class Cursor:
    """Where a view is in the call's rows: every row up to ``after`` is final and was shown;
    ``shown`` holds the rows after it that were shown (partials, and finals after one), so
    that a partial deleted since can be taken back. A row never changes under its id (a
    newer partial or a final is a new row, its stream's partial deleted) and ids are never
    reused, so a row is new exactly when its id was not shown."""

    after: int = 0
    shown: tuple[tuple[int, Spoken], ...] = ()


@dataclass(frozen=True)
class Update:
    """What changed since the last poll: the rows new or changed since ``cursor``, the
    suggestions when a final utterance (or the final transcript) came, and the final
    transcript's segments once it is stored (then the view is over)."""

    utterances: list[Spoken]
    gone: list[Spoken]  # partials deleted with nothing of their stream in their place
    cursor: Cursor
    suggestions: Suggestions | None
    final: list[dict[str, Any]] | None


def _decide(
    session: Session, settings: Settings, who: Requester, call: Call, now: dt.datetime
) -> tuple[str | None, replay_rules.Decision]:
    """The transcript's rule for this call, before its recording is stored as after."""
    recording = lookup.of_call(session, call.id)
    decision = transcript_reads.decide(session, settings, who, call, recording, now)
    return (recording.id if recording is not None else None), decision


def open_view(
    sessions: sessionmaker[Session],
    settings: Settings,
    who: Requester,
    call_id: str,
    now: dt.datetime,
) -> View:
    """Open a live view of the call's transcript if this person may read it; allowed or
    refused, it is one entry in the access log. Raises NotFound or Denied."""
    if not is_id(call_id):
        raise NotFound("来电不存在", "call not found")
    with sessions() as session:
        unit_id = unit_of(session, who)
    if not may_ever_listen(who, unit_id):
        never = replay_rules.refusal(replay_rules.ROLE, replay_rules.TRANSCRIPT)
        transcript_reads.record(sessions, who, LIVE, [transcript_reads.Read(None, never)], now)
        raise Denied(never.refusal_zh, never.refusal_en)
    with sessions() as session:
        call = call_store.get_call(session, call_id)
        if call is None:
            raise NotFound("来电不存在", "call not found")
        recording_id, decision = _decide(session, settings, who, call, now)
        view = View(call.id, call.asterisk_uniqueid)
    transcript_reads.record(
        sessions, who, LIVE, [transcript_reads.Read(recording_id, decision)], now
    )
    if not decision.allowed:
        raise Denied(decision.refusal_zh, decision.refusal_en)
    return view


def _spoken(row: LiveUtterance) -> Spoken:
    return Spoken(
        row.id, row.stream_id, row.speaker, row.final, row.start, row.end, clean(row.text), row.text
    )


def as_transcript(finals: Sequence[LiveUtterance]) -> TranscriptRecord:
    """The final utterances so far as the transcript they will become (never stored): its
    segments in time order, each cleaned, and the whole call's clean text."""
    segments: list[dict[str, Any]] = [
        {
            "channel": row.speaker,
            "start": row.start,
            "end": row.end,
            "text": row.text,
            "clean_text": clean(row.text),
            "words": row.words,
        }
        for row in sorted(finals, key=lambda r: (r.start, r.id))
    ]
    return TranscriptRecord(
        segments=segments,
        text=" ".join(s["text"] for s in segments),
        clean_text=records.clean_text(segments),
    )


def _suggestions(fill: call_context.TranscriptFill, from_final: bool) -> Suggestions:
    return Suggestions(fill.form, fill.type_reason, fill.subjects, fill.numbers, from_final)


def live_suggestions(call: Call, finals: Sequence[LiveUtterance]) -> Suggestions:
    """The form's transcript fields from the final utterances so far, as the call page
    fills them from a stored transcript (``call_context.fill_from``)."""
    return _suggestions(call_context.fill_from(as_transcript(finals), call.caller_number), False)


def _final_suggestions(transcript: TranscriptRecord, call: Call) -> Suggestions:
    """The form's transcript fields from the stored transcript, exactly as the call page
    pre-fills them (the view was allowed to read it when it opened)."""
    return _suggestions(call_context.fill_from(transcript, call.caller_number), True)


def _final_segments(transcript: TranscriptRecord) -> list[dict[str, Any]]:
    return [
        {
            "speaker": s.get("channel", ""),
            "start": s.get("start", 0.0),
            "end": s.get("end", 0.0),
            "text": s.get("clean_text") or s.get("text", ""),
            "raw": s.get("text", ""),
        }
        for s in transcript.segments
    ]


@dataclass(frozen=True)
class Step:
    shown: list[Spoken]  # rows not shown before
    gone: list[Spoken]  # partials shown before that were deleted without a row in their place
    cursor: Cursor


def advance(cursor: Cursor, rows: Sequence[Spoken]) -> Step:
    """Given the rows after ``cursor.after`` (in id order): those not shown yet, the shown
    partials deleted since (their stream's recogniser heard nothing after all), and the
    cursor past them: ``after`` moves over the finals up to the first partial."""
    before = dict(cursor.shown)
    present = {row.id for row in rows}
    new = [row for row in rows if row.id not in before]
    streams = {row.stream for row in new}
    gone = [
        old
        for old in before.values()
        if old.id not in present
        and old.stream not in streams  # a new row of its stream takes its place anyway
    ]
    after = cursor.after
    for row in rows:
        if not row.final:
            break
        after = row.id
    return Step(new, gone, Cursor(after, tuple((row.id, row) for row in rows if row.id > after)))


def poll(sessions: sessionmaker[Session], view: View, cursor: Cursor) -> Update:
    """The rows new since ``cursor`` and, when a final utterance came, the
    suggestions; once the call's transcript is stored, its segments and the suggestions
    drawn from it."""
    with sessions() as session:
        call = call_store.get_call(session, view.call_id)
        if call is None:  # purged while watched
            raise NotFound("来电不存在", "call not found")
        rows = live_reads.utterances_after(session, view.call_uniqueid, cursor.after)
        step = advance(cursor, [_spoken(row) for row in rows])
        shown, gone, cursor = step.shown, step.gone, step.cursor
        recording = lookup.of_call(session, call.id)
        transcript = jobs.transcript_of(session, recording) if recording is not None else None
        if transcript is not None:
            return Update(
                shown,
                gone,
                cursor,
                _final_suggestions(transcript, call),
                _final_segments(transcript),
            )
        suggestions = None
        if any(spoken.final for spoken in shown):
            finals = [
                row
                for row in live_reads.utterances_after(session, view.call_uniqueid, 0)
                if row.final
            ]
            suggestions = live_suggestions(call, finals)
        return Update(shown, gone, cursor, suggestions, None)


def has_streams(session: Session, call: Call) -> bool:
    """Whether a live recogniser took the call's audio (then it is transcribed, whatever
    this process knows of the models)."""
    return bool(live_reads.streams_of(session, call.asterisk_uniqueid))


def worth_following(session: Session, call: Call) -> bool:
    """Whether the call's page should follow it live: the call is up, or it has ended with
    live streams and its transcript is not stored yet."""
    if call.ended_at is None:
        return True
    if not live_reads.streams_of(session, call.asterisk_uniqueid):
        return False
    recording = lookup.of_call(session, call.id)
    return recording is None or jobs.transcript_of(session, recording) is None
